"""The CLI's non-CSV outputs when a run stops midway, with the fake engine of test_cli.py: the
rows done so far are kept in ``OUTPUT.partial``, closed as a valid file of its format, and the
output asked for is not written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.unit.test_cli import FakeBuilder, builder, invoke

__all__ = ["builder"]  # the fixture, used by name

pq = pytest.importorskip("pyarrow.parquet")

QUERIES = [f"place {n}" for n in range(20)] + ["ctrl-c"] + ["after"] * 5


def _partial_queries(path: Path, suffix: str) -> list[str]:
    if suffix == ".geojson":
        return [f["properties"]["q"] for f in json.loads(path.read_text())["features"]]
    if suffix == ".parquet":
        return [str(q) for q in pq.read_table(path).column("q").to_pylist()]
    with sqlite3.connect(path) as db:
        return [q for (q,) in db.execute('SELECT q FROM "out" ORDER BY fid')]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_an_interrupted_run_keeps_a_valid_partial_file(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    (tmp_path / "in.csv").write_text("q\n" + "\n".join(QUERIES) + "\n")
    out = f"out{suffix}"
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", out, "--chunk-size", "1")
    assert code == 130
    assert f"the rows done so far are in {out}.partial; {out} was not written" in err
    assert not (tmp_path / out).exists()
    done = _partial_queries(tmp_path / f"{out}.partial", suffix)
    assert 0 < len(done) < 21
    assert done == QUERIES[: len(done)]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_a_complete_run_renames_its_output(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    (tmp_path / "in.csv").write_text("q\n" + "\n".join(QUERIES[:20]) + "\nnowhere\n")
    code, _, err = invoke(capsys, "geocode", "in.csv", "-o", f"out{suffix}")
    assert code == 0, err
    assert "21 rows" in err and "20 OK, 1 no result" in err
    assert _partial_queries(tmp_path / f"out{suffix}", suffix) == [*QUERIES[:20], "nowhere"]
    assert not list(tmp_path.glob("*.partial"))


def test_standard_output_is_csv(
    builder: FakeBuilder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("q\nVaduz\n")
    code, out, err = invoke(capsys, "geocode", "in.csv", "-o", "-")
    assert code == 0, err
    assert out.startswith("q,lat,lon,")
