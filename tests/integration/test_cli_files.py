"""``geobatch geocode`` and ``geobatch reverse`` on every file format they read and write, with
the real engine and the built-in gazetteer: the same rows given as CSV, as CSV in Excel's
encodings, as an .xlsx workbook and as a Parquet file give the same results as the CSV run,
and the GeoJSON, GeoPackage and GeoParquet outputs hold the same rows as the CSV output.

Most runs go through :func:`geobatch.cli.main.run` in this process (one worker: the index is
loaded once); a few run the installed ``geobatch`` command in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geobatch.cli.main import run
from tests.integration.conftest import index_with

openpyxl = pytest.importorskip("openpyxl")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pyogrio = pytest.importorskip("pyogrio")

FORWARD = [
    ["id", "address", "country"],
    ["1", "Paris", "France"],
    ["2", "Zürich", "Switzerland"],
    ["3", "", ""],
    ["4", "São Paulo", "Brazil"],
    ["5", "Köln", "Deutschland"],
    ["6", "Nowhereville Qqq", ""],
    ["7", "Tokyo", "Japan"],
]
REVERSE = [
    ["name", "lat", "lon"],
    ["Paris", "48.8566", "2.3522"],
    ["bad", "95", "0"],
    ["Sydney – Harbour", "-33.87", "151.21"],
    ["text", "north", "east"],
]


@pytest.fixture(scope="module")
def index(builtin_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return index_with(builtin_index, tmp_path_factory.mktemp("files") / "index")


@pytest.fixture
def workdir(tmp_path: Path, index: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GEOBATCH_INDEX", str(index))
    monkeypatch.setenv("GEOBATCH_WORKERS", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def geobatch(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = run(list(args))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    return err


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def read_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Addresses"
    for row in rows:
        sheet.append(row)
    book.save(path)


def write_parquet(path: Path, rows: list[list[str]]) -> None:
    header, data = rows[0], rows[1:]
    columns = {name: [row[i] for row in data] for i, name in enumerate(header)}
    pq.write_table(pa.table(columns), path)


def make_inputs(folder: Path, rows: list[list[str]]) -> dict[str, Path]:
    """The same rows in every input format the CLI reads."""
    paths = {
        "csv": folder / "in.csv",
        "cp1252 ;": folder / "in-excel.csv",
        "utf-16 tab": folder / "in-unicode.txt",
        "utf-8 BOM": folder / "in-bom.csv",
        "xlsx": folder / "in.xlsx",
        "parquet": folder / "in.parquet",
    }
    paths["csv"].write_text(csv_text(rows), encoding="utf-8")
    paths["cp1252 ;"].write_bytes(csv_text(rows, ";").encode("cp1252"))
    paths["utf-16 tab"].write_bytes(csv_text(rows, "\t").encode("utf-16"))
    paths["utf-8 BOM"].write_bytes(csv_text(rows).encode("utf-8-sig"))
    write_xlsx(paths["xlsx"], rows)
    write_parquet(paths["parquet"], rows)
    return paths


@pytest.mark.parametrize("command", ["geocode", "reverse"])
def test_every_input_format_gives_the_csv_runs_rows(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    rows = FORWARD if command == "geocode" else REVERSE
    inputs = make_inputs(workdir, rows)
    geobatch(capsys, command, "in.csv", "-o", "baseline.csv")
    baseline = read_rows(workdir / "baseline.csv")
    assert len(baseline) == len(rows)
    statuses = [row[-2] for row in baseline[1:]]
    assert "OK" in statuses and "Failed" in statuses
    for case, path in inputs.items():
        out = workdir / f"out-{path.stem}.csv"
        geobatch(capsys, command, path.name, "-o", out.name)
        delimiter = {"cp1252 ;": ";", "utf-16 tab": "\t"}.get(case, ",")
        assert read_rows(out, delimiter) == baseline, case
        # Spreadsheet inputs give a CSV that Excel reads back as UTF-8: with its BOM.
        has_bom = out.read_bytes().startswith(b"\xef\xbb\xbf")
        assert has_bom is (case in ("cp1252 ;", "utf-16 tab", "utf-8 BOM", "xlsx")), case


def _numbers(value: str) -> float | None:
    return float(value) if value else None


NUMERIC = ("lat", "lon", "bbox_south", "bbox_west", "bbox_north", "bbox_east")


def _expected(baseline: list[list[str]]) -> list[dict[str, object]]:
    """The CSV output's rows as typed records: coordinates as numbers, the rest as text."""
    header = baseline[0]
    width = header.index("formatted_address") - 2  # the input columns come first
    records = []
    for row in baseline[1:]:
        record: dict[str, object] = {}
        for at, (name, value) in enumerate(zip(header, row, strict=True)):
            base = name.removeprefix("gb_") if at >= width else name
            record[name] = _numbers(value) if at >= width and base in NUMERIC else value
        records.append(record)
    return records


@pytest.mark.parametrize("command", ["geocode", "reverse"])
def test_every_output_format_holds_the_csv_runs_rows(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    rows = FORWARD if command == "geocode" else REVERSE
    (workdir / "in.csv").write_text(csv_text(rows), encoding="utf-8")
    geobatch(capsys, command, "in.csv", "-o", "baseline.csv", "--no-excel-safe")
    baseline = read_rows(workdir / "baseline.csv")
    expected = _expected(baseline)
    lat_name, lon_name = ("lat", "lon") if command == "geocode" else ("gb_lat", "gb_lon")

    geobatch(capsys, command, "in.csv", "-o", "out.geojson")
    features = json.loads((workdir / "out.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["properties"] for f in features] == expected
    for feature, record in zip(features, expected, strict=True):
        point = None if record[lat_name] is None else [record[lon_name], record[lat_name]]
        assert (feature["geometry"] or {}).get("coordinates") == point

    geobatch(capsys, command, "in.csv", "-o", "out.parquet")
    table = pq.read_table(workdir / "out.parquet")
    assert table.drop_columns(["geometry"]).to_pylist() == expected
    assert table.schema.metadata[b"geo"]

    geobatch(capsys, command, "in.csv", "-o", "out.gpkg")
    frame = pyogrio.read_dataframe(workdir / "out.gpkg")
    assert pyogrio.read_info(workdir / "out.gpkg")["crs"] == "EPSG:4326"
    got = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        for record in frame.drop(columns="geometry").to_dict("records")
    ]
    assert got == expected
    points = [None if g is None else [g.x, g.y] for g in frame.geometry]
    assert points == [None if r[lat_name] is None else [r[lon_name], r[lat_name]] for r in expected]


def test_parquet_in_parquet_out_keeps_column_types(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pa.table(
        {
            "id": pa.array([10, 20, 30], pa.int64()),
            "address": ["Paris", None, "Tokyo"],
            "score": [0.5, None, 1e-7],
            "checked": [True, False, None],
        }
    )
    pq.write_table(table, workdir / "in.parquet")
    geobatch(capsys, "geocode", "in.parquet", "-o", "out.parquet", "--max-results", "2")
    out = pq.read_table(workdir / "out.parquet")
    for name in table.column_names:
        assert out.schema.field(name).type == table.schema.field(name).type
    ids = out.column("id").to_pylist()
    assert sorted(set(ids)) == [10, 20, 30] and ids == sorted(ids)  # in input order
    first = [row for row in out.to_pylist() if row["id"] == 20]
    assert first[0]["address"] is None and first[0]["checked"] is False
    assert first[0]["status"] == "Failed"
    scores = {row["id"]: row["score"] for row in out.to_pylist()}
    assert scores == {10: 0.5, 20: None, 30: 1e-7}


def test_excel_safe_quotes_only_csv(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [["address"], ['=HYPERLINK("http://x")'], ["Paris"]]
    write_xlsx(workdir / "in.xlsx", [["address"], ["@SUM(1)"], ["Paris"]])
    (workdir / "in.csv").write_text(csv_text(rows), encoding="utf-8")
    geobatch(capsys, "geocode", "in.csv", "-o", "out.csv")
    assert read_rows(workdir / "out.csv")[1][0] == '\'=HYPERLINK("http://x")'
    geobatch(capsys, "geocode", "in.csv", "-o", "out.geojson")
    features = json.loads((workdir / "out.geojson").read_text())["features"]
    assert features[0]["properties"]["address"] == '=HYPERLINK("http://x")'
    geobatch(capsys, "geocode", "in.xlsx", "-o", "x.csv")
    assert read_rows(workdir / "x.csv")[1][0] == "'@SUM(1)"
    geobatch(capsys, "geocode", "in.xlsx", "-o", "x.parquet")
    assert pq.read_table(workdir / "x.parquet").column("address").to_pylist()[0] == "@SUM(1)"


def test_a_cp1252_file_whose_first_accent_is_far_in(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Detection reads the whole file, not its first 64 KB."""
    rows = [["q"]] + [["Paris"]] * 20_000 + [["Köln, Deutschland"]]
    (workdir / "in.csv").write_bytes(csv_text(rows).encode("cp1252"))
    geobatch(capsys, "geocode", "in.csv", "-o", "out.csv", "--chunk-size", "5000")
    last = read_rows(workdir / "out.csv")[-1]
    assert last[0] == "Köln, Deutschland" and last[-2] == "OK"


def test_forced_encoding(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Latin text in another code page is read as named."""
    (workdir / "in.csv").write_bytes("q\nŁódź, Poland\n".encode("cp1250"))
    geobatch(capsys, "geocode", "in.csv", "-o", "out.csv", "--encoding", "cp1250")
    row = read_rows(workdir / "out.csv")[1]
    assert row[0] == "Łódź, Poland" and row[-2] == "OK" and row[-11] == "PL"


def test_a_damaged_utf8_row_fails_alone(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = "q\nZürich\n".encode() + b"K\xf6ln\n" + b"Paris\n"
    (workdir / "in.csv").write_bytes(data)
    geobatch(capsys, "geocode", "in.csv", "-o", "out.csv")
    rows = read_rows(workdir / "out.csv")
    assert [row[-2] for row in rows[1:]] == ["OK", "Failed", "OK"]
    assert rows[2][0] == "K\ufffdln"
    assert "line 3 holds bytes that are not UTF-8 text" in rows[2][-1]


# --- the installed command in a subprocess -----------------------------------------------------


def run_command(*args: str, index: Path, cwd: Path, stdin: bytes | None = None,
                prelude: str = "") -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    env = {**os.environ, "GEOBATCH_INDEX": str(index)}
    code = f"{prelude}\nfrom geobatch.cli.main import main\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_subprocess_xlsx_on_stdin_to_geopackage(index: Path, tmp_path: Path) -> None:
    write_xlsx(tmp_path / "in.xlsx", FORWARD)
    done = run_command(
        "geocode", "-", "-o", "out.gpkg", "--workers", "2",
        index=index, cwd=tmp_path, stdin=(tmp_path / "in.xlsx").read_bytes(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"7 rows" in done.stderr
    frame = pyogrio.read_dataframe(tmp_path / "out.gpkg")
    assert frame["id"].tolist() == [row[0] for row in FORWARD[1:]]
    assert not list(tmp_path.glob("*.partial"))


BLOCK_PYARROW = "import sys; sys.modules['pyarrow'] = None  # as if pyarrow were not installed"
BLOCK_OPENPYXL = "import sys; sys.modules['openpyxl'] = None"


@pytest.mark.parametrize(
    ("args", "prelude", "fragment"),
    [
        (["in.csv", "-o", "out.parquet"], BLOCK_PYARROW, "pip install 'geobatch[parquet]'"),
        (["in.parquet", "-o", "out.csv"], BLOCK_PYARROW, "pip install 'geobatch[parquet]'"),
        (["in.xlsx", "-o", "out.csv"], BLOCK_OPENPYXL, "pip install 'geobatch[excel]'"),
        (["bad.xlsx", "-o", "out.csv"], "", "bad.xlsx is not a readable Excel workbook"),
        (["cols.parquet", "-o", "out.csv"], "", "no address column in header ['name', 'phone']"),
        (["ru.csv", "-o", "out.csv"], "", "the encoding of the input cannot be told"),
        (["in.csv", "-o", "out.kml"], "", "unknown output extension '.kml'"),
        (["old.xls", "-o", "out.csv"], "", "Excel 97-2003"),
    ],
)
def test_subprocess_bad_files_are_one_line(
    index: Path, tmp_path: Path, args: list[str], prelude: str, fragment: str
) -> None:
    write_xlsx(tmp_path / "in.xlsx", FORWARD)
    write_parquet(tmp_path / "in.parquet", FORWARD)
    (tmp_path / "in.csv").write_text(csv_text(FORWARD), encoding="utf-8")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)  # a broken zip
    pq.write_table(pa.table({"name": ["Bob"], "phone": ["555"]}), tmp_path / "cols.parquet")
    (tmp_path / "ru.csv").write_bytes("адрес\nМосква, Тверская улица 7\n".encode("cp1251"))
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    before = sorted(tmp_path.iterdir())
    done = run_command("geocode", *args, index=index, cwd=tmp_path, prelude=prelude)
    err = done.stderr.decode()
    assert done.returncode in (1, 2), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geobatch: error: "), err
    assert fragment in lines[0]
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # no output, not even a partial one
