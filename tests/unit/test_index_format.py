"""The pieces of the mapped index format: the container file, string columns, the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geobatch.errors import IndexError_
from geobatch.index.container import Container, ContainerWriter
from geobatch.index.grid import Grid, positions_m, write_grid
from geobatch.index.spatial import haversine_m
from geobatch.index.spool import Spool
from geobatch.index.strings import StringColumn, write_strings


def _container(path: Path) -> Path:
    with ContainerWriter(path) as out:
        out.meta["format_version"] = 99
        out.array("ints", np.arange(10, dtype=np.int32))
        out.array("pairs", np.arange(12, dtype=np.float64).reshape(6, 2))
        write_strings(out, "words", ["Städtle", None, "", "Москва", "x"])
        stream = out.stream("streamed", np.int64)
        stream.write(np.arange(3))
        stream.write(np.arange(3, 7))
        stream.finish()
    return path


def test_a_container_reads_back_what_was_written(tmp_path: Path) -> None:
    box = Container(_container(tmp_path / "a.gbx"))
    assert box.meta == {"format_version": 99}
    assert box.array("ints").tolist() == list(range(10))
    assert box.array("pairs").shape == (6, 2)
    assert box.array("streamed").tolist() == list(range(7))
    words = StringColumn(box, "words")
    assert len(words) == 5
    assert [words[i] for i in range(5)] == ["Städtle", "", "", "Москва", "x"]
    assert words.get(1) is None and words.get(3) == "Москва"
    assert list(words) == ["Städtle", "", "", "Москва", "x"]
    with pytest.raises(IndexError_, match="no section"):
        box.array("missing")
    # Sections are views of the mapping, not copies.
    assert not box.array("ints").flags.writeable


@pytest.mark.parametrize("cut", [0, 5, 100, -30, -1])
def test_a_container_cut_short_is_refused_in_one_line(tmp_path: Path, cut: int) -> None:
    data = _container(tmp_path / "a.gbx").read_bytes()
    broken = tmp_path / "cut.gbx"
    broken.write_bytes(data[:cut])
    with pytest.raises(IndexError_, match="import its source again") as caught:
        Container(broken)
    assert "\n" not in str(caught.value)


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "x.gbx"
    foreign.write_bytes(b"SQLite format 3\0" + b"\0" * 200)
    with pytest.raises(IndexError_, match="not a geobatch index file"):
        Container(foreign)


def test_a_spool_writes_columns_in_pieces_as_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "s")
    spool.strings("names", ["a", None])
    spool.array("points", [(1.0, 2.0)], np.float64)
    spool.strings("names", ["ß", "long name"])
    spool.array("points", [(3.0, 4.0), (5.0, 6.0)], np.float64)
    spool.blobs("blobs", [b"\x00\x01", b""])
    with ContainerWriter(tmp_path / "b.gbx") as out:
        spool.into(out, widths={"points": 2})
    box = Container(tmp_path / "b.gbx")
    assert list(StringColumn(box, "names")) == ["a", "", "ß", "long name"]
    assert box.array("points").tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert bytes(box.raw("blobs.blob")) == b"\x00\x01"
    assert list(tmp_path.glob("s-*")) == []  # temporary files removed


def _brute(
    lat: np.ndarray, lon: np.ndarray, qlat: float, qlon: float, radius: float
) -> tuple[int, float]:
    best, best_m = -1, float("inf")
    for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True)):
        d = haversine_m(qlat, qlon, la, lo)
        if d < radius and d < best_m:
            best, best_m = i, d
    return best, best_m


@pytest.mark.parametrize("centre", [(47.14, 9.52), (64.1, -21.9), (-33.9, 151.2), (0.0, 179.999)])
def test_the_grid_finds_the_nearest_point_within_the_radius(
    tmp_path: Path, centre: tuple[float, float]
) -> None:
    rng = np.random.default_rng(4)
    lat = centre[0] + rng.uniform(-0.01, 0.01, 2_000)
    lon = centre[1] + rng.uniform(-0.01, 0.01, 2_000)
    with ContainerWriter(tmp_path / "g.gbx") as out:
        write_grid(out, "grid", lat, lon, 100.0)
    grid = Grid(Container(tmp_path / "g.gbx"), "grid")
    qlat = centre[0] + rng.uniform(-0.012, 0.012, 300)
    qlon = centre[1] + rng.uniform(-0.012, 0.012, 300)
    hits = grid.nearest(positions_m(qlat, qlon), 100.0)
    found = 0
    for k in range(300):
        want, metres = _brute(lat, lon, float(qlat[k]), float(qlon[k]), 100.0)
        assert int(hits.rows[k]) == want
        if want >= 0:
            found += 1
            assert abs(float(hits.metres[k]) - metres) < 0.01
    assert found > 100  # the test asks where points are, not only where they are not


def test_the_grid_of_nothing_finds_nothing(tmp_path: Path) -> None:
    with ContainerWriter(tmp_path / "g.gbx") as out:
        write_grid(out, "grid", np.zeros(0), np.zeros(0), 100.0)
    grid = Grid(Container(tmp_path / "g.gbx"), "grid")
    hits = grid.nearest(positions_m(np.array([1.0]), np.array([2.0])), 100.0)
    assert hits.rows.tolist() == [-1]
