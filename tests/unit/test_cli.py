"""The ``geobatch`` command line: CSV in, CSV out, one clear line for every error.

Most tests run the command in-process through :func:`geobatch.cli.main.run` with a fake geocoder
and a fake index builder. The end-to-end tests at the bottom run the real command in a
subprocess against the real engine and its built-in gazetteer.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import geobatch
from geobatch import native
from geobatch.batch import worker as executor
from geobatch.cli import main as cli_main
from geobatch.errors import IndexError_, SourceError
from geobatch.index import build as real_build
from geobatch.index.build import ImportSummary
from geobatch.index.format import FORMAT_VERSION, OLD_SUFFIX, SUFFIX
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
    ReverseRequest,
)
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import Progress

# --- fakes -------------------------------------------------------------------------------------


def _result(lat: float, lon: float, locality: str) -> GeocodeResult:
    return GeocodeResult(
        point=Point(lat, lon),
        address=Address(locality=locality, country_code="XX", formatted=locality),
        entity_type=EntityType.POPULATED_PLACE,
        confidence=Confidence.MEDIUM,
        match_codes=(MatchCode.GOOD,),
        bbox=BoundingBox(lat - 1, lon - 1, lat + 1, lon + 1),
    )


class FakeGeocoder:
    """'nowhere' finds nothing, 'boom' raises; otherwise lat = len(text), one result per rank."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]:
        return [self._one(request) for request in requests]

    def _one(self, request: GeocodeRequest) -> Answer:
        text = request.query or request.address_line or request.locality or ""
        if "boom" in text:
            raise RuntimeError("the engine exploded")
        if "ctrl-c" in text:
            raise KeyboardInterrupt
        if "nowhere" in text:
            return Answer(ResultStatus.NO_RESULT, reason="nothing matched")
        ranks = range(request.max_results)
        return Answer(ResultStatus.OK, tuple(_result(len(text), rank, text) for rank in ranks))

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        return [Answer(ResultStatus.OK, (_result(r.lat, r.lon, "near"),)) for r in requests]


def fake_opener(index_dir: Path) -> FakeGeocoder:
    return FakeGeocoder()


def failing_opener(index_dir: Path) -> FakeGeocoder:
    raise IndexError_(f"the index at {index_dir} is corrupt")


class FakeBuilder:
    """Stands in for geobatch.index.build: records what it was asked to do."""

    def __init__(self) -> None:
        self.builtin_calls: list[Path] = []
        self.imported: list[str] = []

    def ensure_builtin(self, index_dir: Path, progress: Progress | None = None) -> None:
        self.builtin_calls.append(index_dir)

    def import_source(
        self,
        index_dir: Path,
        source: FakeSource,
        progress: Progress | None = None,
        **options: object,
    ) -> ImportSummary:
        if progress is not None:
            progress.advance(source.size_hint)
        self.imported.append(source.name)
        return ImportSummary(source.name, {"address": 12, "street": 3}, 0.25, index_dir / "x")


class FakeSource:
    def __init__(self, path: Path) -> None:
        self.name = path.stem
        self.size_hint = 10


def fake_open_source(path: Path) -> FakeSource:
    if path.suffix != ".pbf":
        raise SourceError(f"{path.name}: not a data set geobatch can read")
    return FakeSource(path)


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBuilder:
    fake = FakeBuilder()
    monkeypatch.setattr(executor, "open_geocoder", fake_opener)
    monkeypatch.setattr(cli_main, "ensure_builtin", fake.ensure_builtin)
    monkeypatch.setattr(cli_main, "import_source", fake.import_source)
    monkeypatch.setattr(cli_main, "open_source", fake_open_source)
    monkeypatch.setenv("GEOBATCH_INDEX", str(tmp_path / "env-index"))
    monkeypatch.setenv("GEOBATCH_WORKERS", "1")
    monkeypatch.chdir(tmp_path)
    return fake


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main.run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


# --- geocode -----------------------------------------------------------------------------------


def test_geocode_writes_input_and_result_columns(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(
        codecs.BOM_UTF8 + b"id;Address;lat\n1;Vaduz;x\n2;;\n3;nowhere;\n4;boom;\n5;Schaan, LI;\n"
    )
    code, out, err = invoke(capsys, "geocode", str(source), "-o", "out.csv")
    assert code == 0, err
    assert out == ""
    assert (tmp_path / "out.csv").read_bytes().startswith(codecs.BOM_UTF8)
    rows = read_csv(tmp_path / "out.csv", ";")
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert [row["status"] for row in rows] == ["OK", "Failed", "NoResult", "Failed", "OK"]
    assert rows[0]["lat"] == "x"  # the input column is kept; the result's is renamed
    assert rows[0]["gb_lat"] == "5.000000"
    assert rows[4]["locality"] == "Schaan, LI"
    assert rows[1]["reason"].startswith("empty request")
    assert rows[2]["reason"] == "nothing matched"
    assert rows[3]["reason"] == "the engine exploded"
    assert "5 rows" in err
    assert "2 OK, 1 no result, 2 failed" in err
    assert builder.builtin_calls == [tmp_path / "env-index"]


def test_geocode_to_stdout_single_column(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("Query\n1 Main St, Springfield\n")
    code, out, err = invoke(capsys, "geocode", "in.csv", "-o", "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert rows[0]["Query"] == "1 Main St, Springfield"
    assert rows[0]["formatted_address"] == "1 Main St, Springfield"


def test_geocode_max_results_gives_a_row_per_candidate(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("id,q\n1,abc\n2,nowhere\n")
    code, out, err = invoke(capsys, "geocode", "in.csv", "-o", "-", "--max-results", "3")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["id"], row["lon"]) for row in rows] == [
        ("1", "0.000000"),
        ("1", "1.000000"),
        ("1", "2.000000"),
        ("2", ""),
    ]
    assert "2 rows" in err


def test_geocode_with_a_process_pool(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    queries = [f"place {n}" for n in range(50)] + ["boom"]
    (tmp_path / "in.csv").write_text("q\n" + "\n".join(queries) + "\n")
    args = ["geocode", "in.csv", "-o", "out.csv", "--workers", "2", "--chunk-size", "4"]
    code, _, err = invoke(capsys, *args)
    assert code == 0, err
    rows = read_csv(tmp_path / "out.csv")
    assert [row["q"] for row in rows] == queries
    assert [row["status"] for row in rows] == ["OK"] * 50 + ["Failed"]


def test_index_option_precedence(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("q\na\n")
    assert invoke(capsys, "--index", "g", "geocode", "in.csv", "-o", "o.csv")[0] == 0
    assert (
        invoke(capsys, "--index", "g", "geocode", "in.csv", "-o", "o.csv", "--index", "l")[0] == 0
    )
    assert builder.builtin_calls == [Path("g"), Path("l")]


def test_geocode_output_is_excel_safe_unless_turned_off(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("=id,q,note\n1,=1+1,-5\n2,Vaduz,@x\n")
    code, out, err = invoke(capsys, "geocode", "in.csv", "-o", "-")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][0] == "'=id"
    # The fake geocoder answers with the query as the locality and len(query) as latitude.
    assert rows[1][:3] == ["1", "'=1+1", "-5"]  # -5 is a number: left alone
    assert rows[2][2] == "'@x"
    assert "'=1+1" in rows[1][3:]  # the result's own text columns too
    code, out, err = invoke(capsys, "geocode", "in.csv", "-o", "-", "--no-excel-safe")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][0] == "=id" and rows[1][1] == "=1+1" and rows[2][2] == "@x"


def test_reverse_output_keeps_negative_coordinates_as_numbers(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pts.csv").write_text("lat,lon\n-33.86,-151.2\n")
    code, out, err = invoke(capsys, "reverse", "pts.csv", "-o", "-")
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    assert (row["lat"], row["lon"]) == ("-33.86", "-151.2")  # the input's, as given
    assert (row["gb_lat"], row["gb_lon"], row["bbox_west"]) == (
        "-33.860000",
        "-151.200000",
        "-152.200000",
    )


# --- reverse -----------------------------------------------------------------------------------


def test_reverse_reports_bad_coordinates_and_goes_on(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pts.tsv").write_text(
        "name\tLatitude\tLng\na\t47.14\t9.52\nb\t91\t0\nc\tabc\t1\nd\tnan\t2\ne\t47,1\t9,5\n"
    )
    code, out, err = invoke(capsys, "reverse", "pts.tsv", "-o", "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out), delimiter="\t"))
    assert [row["status"] for row in rows] == ["OK", "Failed", "Failed", "Failed", "OK"]
    assert rows[0]["lat"] == "47.140000"
    assert "out of range" in rows[1]["reason"]
    assert "not a number" in rows[2]["reason"]
    assert "not a finite number" in rows[3]["reason"]
    assert rows[4]["lon"] == "9.500000"
    assert "2 OK, 0 no result, 3 failed" in err


# --- errors: one line on stderr, the right exit code -------------------------------------------


def assert_one_error_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("geobatch: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        (None, ["geocode", "missing.csv", "-o", "o.csv"], ["not found", "missing.csv"]),
        (b"id,name\n1,x\n", ["geocode", "in.csv", "-o", "o.csv"], ["no address column", "city"]),
        (b"id,lat\n1,2\n", ["reverse", "in.csv", "-o", "o.csv"], ["no longitude column"]),
        (b"", ["geocode", "in.csv", "-o", "o.csv"], ["no header row"]),
        (  # Russian in its Windows code page: not UTF-8, and not Western text in cp1252
            "q\nМосква, Тверская улица\n".encode("cp1251"),
            ["geocode", "in.csv", "-o", "o.csv"],
            ["encoding of the input cannot be told", "--encoding"],
        ),
        (b"q\na\n", ["geocode", "in.csv", "-o", "o.xlsx"], ["does not write .xlsx"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "o.dat"], ["unknown output extension '.dat'"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "o.csv", "--sheet", "x"], ["--sheet"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "o.csv", "--encoding", "nope"], ["nope"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "in.csv"], ["overwrite the input"]),
        (b"q\na\n", ["geocode", "in.csv"], ["Missing option", "--output"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "x", "--workers", "0"], ["--workers"]),
        (b"q\na\n", ["geocode", "in.csv", "-o", "x", "--bogus"], ["--bogus"]),
        (b"q\na\n", ["geocode", ".", "-o", "x"], ["is a directory"]),
        (b"q\na\n", ["frobnicate"], ["No such command"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    builder: FakeBuilder,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: bytes | None,
    args: list[str],
    fragments: list[str],
) -> None:
    if content is not None:
        (tmp_path / "in.csv").write_bytes(content)
    code, out, err = invoke(capsys, *args)
    assert code == 2
    assert out == ""
    assert_one_error_line(err, *fragments)
    assert not (tmp_path / "o.csv").exists()


def test_unusable_index_exits_1(
    builder: FakeBuilder,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executor, "open_geocoder", failing_opener)
    (tmp_path / "in.csv").write_text("q\na\n")
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", "o.csv")
    assert code == 1
    assert_one_error_line(err, "is corrupt")


def test_interrupt_exits_130(
    builder: FakeBuilder,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(index_dir: Path, progress: Progress | None = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "ensure_builtin", interrupted)
    (tmp_path / "in.csv").write_text("q\na\n")
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", "o.csv")
    assert code == 130
    assert "geobatch: error: interrupted" in err
    assert "Traceback" not in err


def test_a_quote_never_closed_fails_its_row_and_loses_no_other(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = "".join(f"{n},place {n}\n" for n in range(2, 101))
    (tmp_path / "in.csv").write_text('id,q\n1,"Vaduz\n' + rows)
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", "out.csv", "--chunk-size", "7")
    assert code == 0, err
    out = read_csv(tmp_path / "out.csv")
    assert [row["id"] for row in out] == [str(n) for n in range(1, 101)]
    assert out[0]["status"] == "Failed" and out[0]["reason"].startswith("line 2: a quote")
    assert all(row["status"] == "OK" for row in out[1:])
    assert "100 rows" in err and "99 OK" in err and "1 failed" in err


def test_an_over_long_line_fails_its_row_and_loses_no_other(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    long_line = "2," + "x" * (3 << 20)
    (tmp_path / "in.csv").write_text(f"id,q\n1,Vaduz\n{long_line}\n3,Schaan\n")
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", "out.csv")
    assert code == 0, err
    out = read_csv(tmp_path / "out.csv")
    assert [(row["id"], row["status"]) for row in out] == [
        ("1", "OK"),
        ("2", "Failed"),
        ("3", "OK"),
    ]
    assert out[1]["q"] == "" and "line 3 is 3,145,731 bytes long" in out[1]["reason"]


def test_an_interrupted_run_keeps_its_rows_in_a_partial_file(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "out.csv").write_text("an older complete output\n")
    queries = [f"place {n}" for n in range(20)] + ["ctrl-c"] + ["after"] * 5
    (tmp_path / "in.csv").write_text("q\n" + "\n".join(queries) + "\n")
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", "out.csv", "--chunk-size", "1")
    assert code == 130
    assert "the rows done so far are in out.csv.partial; out.csv was not written" in err
    assert (tmp_path / "out.csv").read_text() == "an older complete output\n"
    partial = read_csv(tmp_path / "out.csv.partial")
    assert 0 < len(partial) < 20
    assert [row["q"] for row in partial] == queries[: len(partial)]


# --- import, info, help ------------------------------------------------------------------------


def test_import_reports_each_source_and_goes_on_after_a_bad_one(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.pbf").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b"")
    (tmp_path / "c.pbf").write_bytes(b"")
    code, out, err = invoke(capsys, "import", "a.pbf", "b.txt", "missing.pbf", "c.pbf")
    assert code == 1
    assert builder.imported == ["a", "c"]
    assert out.splitlines() == [
        f"a: 12 address, 3 street in 0.2 s -> {tmp_path / 'env-index' / 'x'}",
        f"c: 12 address, 3 street in 0.2 s -> {tmp_path / 'env-index' / 'x'}",
    ]
    assert err.splitlines() == [
        "geobatch: error: b.txt: not a data set geobatch can read",
        "geobatch: error: source file not found: missing.pbf",
    ]
    assert builder.builtin_calls == [tmp_path / "env-index"]


def test_info_lists_data_sets(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    index = tmp_path / "idx"
    fixture = Path(__file__).parents[1] / "fixtures" / "geocode" / "twovillages.osm"
    real_build.import_source(index, OsmSource(fixture))
    (index / f"broken{SUFFIX}").write_bytes(b"x" * 100)  # cut short, or foreign
    (index / f"old{OLD_SUFFIX}").write_bytes(b"x" * 100)  # an older geobatch's SQLite file
    (index / "notes.txt").write_text("not a data set")
    code, out, _ = invoke(capsys, "--index", str(index), "info")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"engine: {native.describe()}"
    assert lines[1] == f"index: {index} (format {FORMAT_VERSION})"
    assert lines[2] == "data sets:"
    assert (
        lines[3]
        == f"  broken{SUFFIX}: unreadable (cut short or not an index file); import it again"
    )
    assert lines[4].startswith("  twovillages.osm: 12 addresses, ")
    assert f"; format {FORMAT_VERSION}; imported " in lines[4]
    assert re.search(r"; [0-9.]+ KB on disk;", lines[4])
    assert lines[5] == f"  old{OLD_SUFFIX}: written by an older geobatch (SQLite); import it again"
    assert lines[6].startswith("  vocabulary (lexicon of all data sets): ")
    assert lines[7].startswith("total on disk: ")


def test_info_on_a_missing_index(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = invoke(capsys, "info")
    assert code == 0
    assert out.splitlines()[1].startswith(f"index: {tmp_path / 'env-index'} (not built yet")


@pytest.mark.parametrize("command", ["import", "geocode", "reverse", "info"])
def test_help_has_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = invoke(capsys, command, "--help")
    assert code == 0
    assert "Example:" in out
    assert f"geobatch {command}" in out or "geobatch --index" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "--version")
    assert code == 0
    assert geobatch.__version__ in out


# --- the real command in a subprocess ---------------------------------------------------------


def run_geobatch(*args: str, index: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    src = str(Path(geobatch.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "GEOBATCH_INDEX": str(index)}
    command = [sys.executable, "-m", "geobatch.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_subprocess_missing_file(tmp_path: Path) -> None:
    done = run_geobatch("geocode", "nope.csv", "-o", "out.csv", index=tmp_path / "i", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr
        == "geobatch: error: input file not found: nope.csv (see 'geobatch geocode --help')\n"
    )


def test_subprocess_csv_without_usable_columns(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("name,phone\nBob,555\n")
    done = run_geobatch("geocode", "in.csv", "-o", "out.csv", index=tmp_path / "i", cwd=tmp_path)
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "no address column", "'name', 'phone'", "query")
