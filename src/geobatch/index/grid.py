"""Nearest point within a radius, from a grid stored in the index and mapped from disk.

Points are placed on the sphere as 3-D vectors in metres (``EARTH_RADIUS_M`` times the unit
vector) and binned in cubes twice the radius on a side. Points within the radius of a query lie
in at most the 2 x 2 x 2 cubes around it: its own, and on each axis the neighbour on the side
it is nearer to. The index stores the points sorted by cube: the cube ids (sorted), where each
cube's points start, the row of each point, and each point's position relative to its cube's
corner (float32: a cube is a few hundred metres, so that is precise to the micrometre). A
query is a ``searchsorted`` per cube and one vectorised distance over the candidates; nothing
is built at open, and every process shares the pages.

Distances are chords in metres; at these radii a chord and its arc differ by less than a
millionth. Of points at exactly the same distance the first row wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geobatch.index.container import Container, ContainerWriter
from geobatch.index.geodesy import EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_BITS = 21
_BIAS = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


def positions_m(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """(n, 3) positions on the sphere in metres."""
    la = np.radians(lat)
    lo = np.radians(lon)
    cos_la = np.cos(la)
    return np.column_stack((cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la))) * EARTH_RADIUS_M


def _cube_ids(cubes: npt.NDArray[np.int64]) -> IntArray:
    """One int64 per (n, 3) cube coordinates."""
    c = cubes + _BIAS
    return np.asarray((c[:, 0] << (2 * _BITS)) | (c[:, 1] << _BITS) | c[:, 2], dtype=np.int64)


def write_grid(
    out: ContainerWriter,
    name: str,
    lat: npt.NDArray[Any],
    lon: npt.NDArray[Any],
    radius_m: float,
    ids: npt.NDArray[np.int32] | None = None,
    scale: float = 1.0,
) -> None:
    """Write the grid of these points as sections ``NAME.*``; a hit answers the point's row
    (or ``ids[row]`` when given). ``lat`` and ``lon`` are degrees times ``scale`` (int32 in
    1e-7 degrees, say: they may be mapped files). Worked in chunks: memory stays at a few
    arrays of int64 per point."""
    side = 2.0 * radius_m
    n = len(lat)
    cube_ids = np.empty(n, dtype=np.int64)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        pos = positions_m(lat[lo:hi] / scale, lon[lo:hi] / scale)
        cube_ids[lo:hi] = _cube_ids(np.floor(pos / side).astype(np.int64))
    order = np.argsort(cube_ids, kind="stable")
    sorted_ids = cube_ids[order]
    del cube_ids
    starts = (
        np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        if n
        else np.zeros(0, np.int64)
    )
    out.array(f"{name}.cells", sorted_ids[starts])
    out.array(f"{name}.start", np.r_[starts, n].astype(np.int64))
    del sorted_ids
    out.array(f"{name}.rows", (order if ids is None else ids[order]).astype(np.int32))
    xyz = out.stream(f"{name}.xyz", np.float32)
    for lo in range(0, n, _CHUNK):
        at = order[lo : lo + _CHUNK]
        pos = positions_m(lat[at] / scale, lon[at] / scale)
        xyz.write((pos - np.floor(pos / side) * side).astype(np.float32).ravel())
    xyz.finish()
    out.meta.setdefault("grids", {})[name] = {"side_m": side}


_CHUNK = 1_000_000


@dataclass(frozen=True, slots=True)
class GridHits:
    rows: IntArray  # -1 where nothing is within the radius
    metres: FloatArray  # inf there


class Grid:
    """A grid written by :func:`write_grid`, mapped."""

    def __init__(self, box: Container, name: str) -> None:
        self._cells = box.array(f"{name}.cells")
        self._start = box.array(f"{name}.start")
        self._rows = box.array(f"{name}.rows")
        self._xyz = box.array(f"{name}.xyz").reshape(-1, 3)
        self.side = float(box.meta["grids"][name]["side_m"])
        self.size = len(self._rows)

    def nearest(self, pos: FloatArray, radius_m: float) -> GridHits:
        """For each position (metres, from :func:`positions_m`), the nearest row within
        ``radius_m`` (at most half the cube side)."""
        n = len(pos)
        rows = np.full(n, -1, dtype=np.int64)
        metres = np.full(n, np.inf)
        if n == 0 or self.size == 0:
            return GridHits(rows, metres)
        side = self.side
        cube = np.floor(pos / side).astype(np.int64)
        frac = pos - cube * side
        # On each axis: the neighbour on the nearer side (-1 or +1).
        step = np.where(frac < side / 2, -1, 1).astype(np.int64)
        best_d2 = np.full(n, radius_m * radius_m)
        for corner in range(8):
            offset = np.column_stack([step[:, a] * ((corner >> a) & 1) for a in range(3)]).astype(
                np.int64
            )
            self._search(pos, cube + offset, rows, best_d2)
        found = rows >= 0
        # The chord in metres, as the arc it spans (a hair longer).
        chord = np.sqrt(best_d2[found])
        metres[found] = (
            2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(chord / (2 * EARTH_RADIUS_M), 1.0))
        )
        # Exactly at the radius counts as outside (as a KD-tree's upper bound does).
        out = found & (metres < radius_m)
        rows[~out] = -1
        metres[~out] = np.inf
        return GridHits(rows, metres)

    def _search(
        self, pos: FloatArray, cube: npt.NDArray[np.int64], rows: IntArray, best_d2: FloatArray
    ) -> None:
        ids = _cube_ids(cube)
        at = np.searchsorted(self._cells, ids)
        at_c = np.minimum(at, len(self._cells) - 1)
        hit = self._cells[at_c] == ids
        if not hit.any():
            return
        q = np.flatnonzero(hit)
        lo = self._start[at_c[q]]
        hi = self._start[at_c[q] + 1]
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return
        # Flat candidate list: for query q[k], points lo[k] .. hi[k]-1.
        owner = np.repeat(np.arange(len(q)), counts)
        first = np.cumsum(counts) - counts
        idx = np.arange(total) - np.repeat(first, counts) + np.repeat(lo, counts)
        rel = pos[q] - cube[q] * self.side  # the query relative to the candidates' cube
        diff = self._xyz[idx].astype(np.float64) - rel[owner]
        d2 = np.einsum("ij,ij->i", diff, diff)
        cand_rows = self._rows[idx].astype(np.int64)
        # Per query (its candidates are contiguous): the smallest distance, then the
        # smallest row among equals.
        best = np.minimum.reduceat(d2, first)
        at_best = d2 == np.repeat(best, counts)
        big = np.iinfo(np.int64).max
        r = np.minimum.reduceat(np.where(at_best, cand_rows, big), first)
        who = q
        better = (best < best_d2[who]) | (
            (best == best_d2[who]) & (rows[who] >= 0) & (r < rows[who])
        )
        best_d2[who[better]] = best[better]
        rows[who[better]] = r[better]


def grid_bytes(box: Container, name: str) -> int:
    return sum(box.section_bytes(f"{name}.{part}") for part in ("cells", "start", "rows", "xyz"))
