"""The index builder: one file per data set, replaced on re-import, untouched by a failed import."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geobatch.errors import IndexError_, SourceError
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import clean_stale_work, import_source
from geobatch.index.dataset import DataSet
from geobatch.index.format import FORMAT_VERSION, OLD_SUFFIX, SUFFIX, data_set_files
from geobatch.index.read import load_index
from geobatch.sources.detect import open_source
from geobatch.sources.osm import OsmSource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "geocode" / "twovillages.osm"


def _counts(path: Path) -> dict[str, int]:
    data = DataSet.open(path)
    return {
        "addresses": data.address_count,
        "streets": data.street_count,
        "places": data.place_count,
        "areas": data.area_count,
        "postcodes": data.postcode_count,
    }


def test_reimport_replaces_instead_of_duplicating(tmp_path: Path) -> None:
    first = import_source(tmp_path, OsmSource(FIXTURE))
    before = _counts(first.path)
    second = import_source(tmp_path, OsmSource(FIXTURE))
    assert second.path == first.path
    assert data_set_files(tmp_path) == [first.path]
    assert _counts(second.path) == before
    assert before["addresses"] == 12
    assert first.counts["addresses"] == 12
    assert first.counts["interpolations"] == 1


def test_addresses_get_locality_by_point_in_polygon(tmp_path: Path) -> None:
    import_source(tmp_path, OsmSource(FIXTURE))
    data = load_index(tmp_path)
    kirchweg = [s for s in data.streets if s.name == "Kirchweg"]
    # Kirchweg's addresses carry no addr:city: the Oberdorf polygon names their locality.
    assert [s.locality for s in kirchweg] == ["Oberdorf"]
    assert {s.country_code for s in data.streets} == {"LI"}
    haupt = sorted(s.locality or "" for s in data.streets if s.name == "Hauptstrasse")
    assert haupt == ["Oberdorf", "Unterdorf"]


def test_several_sources_live_in_one_index(tmp_path: Path) -> None:
    import_source(tmp_path, OsmSource(FIXTURE))
    csv = tmp_path / "extra-oa.csv"
    csv.write_text(
        "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"
        "9.0301,47.0301,7,Seeweg,,Oberdorf,,,9401,,\n",
        encoding="utf-8",
    )
    import_source(tmp_path, open_source(csv))
    assert len(data_set_files(tmp_path)) == 2
    geocoder = Geocoder.open(tmp_path)
    for query in ("Seeweg 7, Oberdorf", "Hauptstrasse 3, Oberdorf"):
        best = geocoder.geocode(query).best
        assert best is not None
        assert best.address.house_number is not None


def test_failed_import_leaves_the_index_intact(tmp_path: Path) -> None:
    good = import_source(tmp_path, OsmSource(FIXTURE)).path
    before = good.read_bytes()
    broken = tmp_path / "twovillages.osm"  # same name: would replace the good data set
    broken.write_text(FIXTURE.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    with pytest.raises(SourceError):
        import_source(tmp_path, OsmSource(broken))
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_bad_csv_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "addresses.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write("name,value\nx,1\n")
    with pytest.raises(SourceError, match=r"(?i)column|format"):
        import_source(tmp_path, open_source(bad))
    assert data_set_files(tmp_path) == []


def test_empty_index_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="no index"):
        load_index(tmp_path)


def _oa_file(path: Path, rows: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("LON,LAT,NUMBER,STREET,CITY,POSTCODE\n")
        for i in range(rows):
            f.write(f"{9.0 + (i % 500) * 1e-4:.7f},{47.0 + (i // 500) * 1e-4:.7f},{i % 90 + 1},"
                    f"Weg {i // 90},Oberdorf,9401\n")  # fmt: skip
    return path


def _answers(index: Path) -> str | None:
    best = Geocoder.open(index).geocode("Kirchweg 12a, Oberdorf").best
    return best.address.formatted if best else None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a complete geobatch index file"),  # cut short at once
        (b"GBXFILE\n" + b"\0" * 500, "not a complete geobatch index file"),  # cut short later
        (b"PK\x03\x04 a zip file, say" * 10, "not a complete geobatch index file"),  # foreign
    ],
)
def test_a_broken_file_is_left_out_with_one_line(
    tmp_path: Path, content: bytes, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    import_source(tmp_path, OsmSource(FIXTURE))
    before = _answers(tmp_path)
    (tmp_path / f"broken{SUFFIX}").write_bytes(content)
    data = load_index(tmp_path)
    assert len(data.problems) == 1
    assert message in data.problems[0] and f"broken{SUFFIX}" in data.problems[0]
    assert _answers(tmp_path) == before  # the rest of the index is as usable as before
    assert any(message in r.getMessage() for r in caplog.records)


def test_a_file_of_another_format_version_says_to_import_again(tmp_path: Path) -> None:
    good = import_source(tmp_path, OsmSource(FIXTURE)).path
    before = _answers(tmp_path)
    old = tmp_path / f"older{SUFFIX}"
    now, before_now = (
        f'"format_version": {FORMAT_VERSION}',
        f'"format_version": {FORMAT_VERSION - 1}',
    )
    old.write_bytes(good.read_bytes().replace(now.encode(), before_now.encode()))
    (tmp_path / f"ancient{OLD_SUFFIX}").write_bytes(b"SQLite format 3\0")
    problems = load_index(tmp_path).problems
    assert any(
        f"another version of geobatch (format {FORMAT_VERSION - 1}" in p and "import" in p
        for p in problems
    )
    assert any("older geobatch (SQLite)" in p for p in problems)
    assert _answers(tmp_path) == before


def test_only_broken_files_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / f"broken{SUFFIX}").write_bytes(b"nothing")
    with pytest.raises(IndexError_, match=r"no usable data set .* import its source again"):
        load_index(tmp_path)


_IMPORT = """
import resource, signal, sys
from pathlib import Path
from geobatch.index.build import clean_stale_work, import_source
from geobatch.sources.detect import open_source
if sys.argv[3] != "-":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
print(import_source(Path(sys.argv[1]), open_source(Path(sys.argv[2]))).counts, flush=True)
"""


def test_a_disk_that_fills_during_import_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    index = tmp_path / "index"
    import_source(index, OsmSource(FIXTURE))
    before = {p.name: p.read_bytes() for p in index.iterdir()}
    source = _oa_file(tmp_path / "more.csv.gz", 50_000)
    # Files may grow to 200 kB: the data set file (several MB) cannot be written.
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT, str(index), str(source), "200000"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "could not write the index" in last and "as it was before" in last
    assert {p.name: p.read_bytes() for p in index.iterdir()} == before
    assert _answers(index) is not None


def test_an_import_killed_midway_leaves_the_index_usable(tmp_path: Path) -> None:
    index = tmp_path / "index"
    import_source(index, OsmSource(FIXTURE))
    before = _answers(index)
    source = _oa_file(tmp_path / "big.csv.gz", 300_000)
    proc = subprocess.Popen(
        [sys.executable, "-c", _IMPORT, str(index), str(source), "-"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(index.glob(".import-*/raw-*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # killed once it has written work files
    proc.kill()  # SIGKILL
    proc.wait()
    assert _answers(index) == before
    assert data_set_files(index) == [index / f"twovillages.osm{SUFFIX}"]
    clean_stale_work(index)  # what the next import does first
    assert not [p for p in index.iterdir() if p.name.startswith(".import-") or ".tmp-" in p.name]
    assert import_source(index, open_source(source)).counts["addresses"] == 300_000


def test_the_budget_counts_what_the_import_holds_already() -> None:
    from geobatch.index import build

    resident = build._resident_bytes()
    assert resident > 10_000_000  # an interpreter with numpy loaded: /proc/self/statm was read
    budget = 3_000_000_000
    slack = 5_000_000  # the process's own memory moves a little between the two readings
    assert build._working_budget(budget, 0) <= budget - resident + slack
    with_workers = build._working_budget(budget, 2)
    assert with_workers <= budget - resident - 2 * build._WORKER_OWN_BYTES + slack
    # A budget smaller than what is held still leaves the import some room to work in.
    assert build._working_budget(1_000_000, 2) == build.MIN_MEMORY_MB * 1_000_000 // 2
