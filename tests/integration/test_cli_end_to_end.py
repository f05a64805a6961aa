"""The real ``geobatch`` command in a subprocess, on a real index with the built-in gazetteer."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_file
from tests.integration.conftest import index_with


def run_geobatch(*args: str, index: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GEOBATCH_INDEX": str(index)}
    # The console script installed beside this interpreter, whatever PATH says.
    command = str(Path(sys.executable).with_name("geobatch"))
    return subprocess.run(
        [command, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def index(builtin_index: Path, tmp_path: Path) -> Path:
    """A fresh index holding a copy of the session's built-in gazetteer."""
    return index_with(builtin_index, tmp_path / "index")


def test_end_to_end_geocode_with_the_builtin_gazetteer(index: Path, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(
        "id,address,country\n1,Paris,France\n2,Berlin,Germany\n3,,\n4,Tokyo,Japan\n"
    )
    done = run_geobatch("geocode", "in.csv", "-o", "out.csv", index=index, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = {row["id"]: row for row in read_csv(tmp_path / "out.csv")}
    expected = {"1": (48.86, 2.35, "FR"), "2": (52.52, 13.40, "DE"), "4": (35.69, 139.69, "JP")}
    for row_id, (lat, lon, country) in expected.items():
        row = rows[row_id]
        assert row["status"] == "OK", row
        assert abs(float(row["lat"]) - lat) < 0.5, row
        assert abs(float(row["lon"]) - lon) < 0.5, row
        assert row["country_code"].upper() == country, row
    assert rows["3"]["status"] == "Failed"


def test_end_to_end_reverse_with_the_builtin_gazetteer(index: Path, tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("id,lat,lon\n1,48.8566,2.3522\n2,95,0\n3,-33.87,151.21\n")
    args = ("reverse", "pts.csv", "-o", "-", "--workers", "2", "--chunk-size", "1")
    done = run_geobatch(*args, index=index, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [row["status"] for row in rows] == ["OK", "Failed", "OK"]
    assert rows[0]["gb_lat"] and rows[0]["country_code"].upper() == "FR"
    assert rows[2]["country_code"].upper() == "AU"


@pytest.mark.shared_data
def test_end_to_end_import_then_info(index: Path, tmp_path: Path) -> None:
    pbf = shared_file("osm/liechtenstein-2024-03-03.osm.pbf")
    done = run_geobatch("import", str(pbf), index=index, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "liechtenstein" in done.stdout
    info = run_geobatch("info", index=index, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert f"index: {index}" in info.stdout
    assert "total" in info.stdout
