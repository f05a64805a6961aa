"""Spatial helpers shared by the builder and the geocoders: unit vectors, KD-trees, polygons.

Distances on the sphere are answered by a KD-tree over 3-D unit vectors: the chord between two
unit vectors is monotonic in the great-circle distance, so nearest-neighbour queries are exact
and vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

# Re-exported: callers measuring single pairs find them here, with the rest.
from geobatch.index.geodesy import EARTH_RADIUS_M as EARTH_RADIUS_M
from geobatch.index.geodesy import haversine_m as haversine_m

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """(n, 3) unit vectors for degrees of latitude and longitude."""
    la = np.radians(lat)
    lo = np.radians(lon)
    cos_la = np.cos(la)
    return np.column_stack((cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la)))


def chord_for(metres: float) -> float:
    """The chord length (on the unit sphere) of a great-circle distance in metres."""
    return float(2.0 * np.sin(min(metres / EARTH_RADIUS_M, np.pi) / 2.0))


def metres_for(chord: FloatArray) -> FloatArray:
    """Great-circle metres for chord lengths on the unit sphere."""
    return np.asarray(2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)) * EARTH_RADIUS_M)


class PointTree:
    """Nearest-point queries over a fixed set of points."""

    def __init__(self, lat: FloatArray, lon: FloatArray) -> None:
        self.size = len(lat)
        self._tree = cKDTree(unit_vectors(lat, lon)) if self.size else None

    def nearest(
        self, lat: FloatArray, lon: FloatArray, max_metres: float
    ) -> tuple[IntArray, FloatArray]:
        """Index of the nearest point (``-1`` where none is within ``max_metres``) and metres."""
        return self.nearest_vectors(unit_vectors(lat, lon), max_metres)

    def nearest_vectors(self, xyz: FloatArray, max_metres: float) -> tuple[IntArray, FloatArray]:
        """:meth:`nearest` for points already given as unit vectors, so that a caller querying
        several trees converts its points once."""
        n = len(xyz)
        if self._tree is None or n == 0:
            return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
        chord, idx = self._tree.query(xyz, k=1, distance_upper_bound=chord_for(max_metres))
        found = np.isfinite(chord)
        out = np.where(found, idx, -1).astype(np.int64)
        metres = np.where(found, metres_for(np.where(found, chord, 0.0)), np.inf)
        return out, metres


@dataclass(frozen=True, slots=True)
class Containment:
    """Pairs (point index, polygon index) where the point lies in the polygon."""

    points: IntArray
    polygons: IntArray


class PolygonIndex:
    """Which polygons contain which points, in one vectorised call."""

    def __init__(self, geometries: Sequence[shapely.Geometry]) -> None:
        self.geometries = list(geometries)
        for geom in self.geometries:
            shapely.prepare(geom)
        self._tree = shapely.STRtree(self.geometries) if self.geometries else None

    def containing(self, lat: FloatArray, lon: FloatArray) -> Containment:
        """Bounding boxes from the STR-tree, then one vectorised ``contains_xy`` per polygon on
        its candidate points: a prepared polygon tests about a million points a second, where
        the tree's own ``within`` predicate re-tests the full polygon for every point."""
        if self._tree is None or len(lat) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Containment(empty, empty)
        pts = shapely.points(lon, lat)
        cand_pt, cand_poly = self._tree.query(pts)
        if len(cand_pt) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Containment(empty, empty)
        order = np.argsort(cand_poly, kind="stable")
        cand_pt, cand_poly = cand_pt[order], cand_poly[order]
        bounds = np.flatnonzero(np.diff(cand_poly)) + 1
        keep = np.zeros(len(cand_pt), dtype=bool)
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(cand_pt)], strict=True):
            idx = cand_pt[lo:hi]
            geom = self.geometries[int(cand_poly[lo])]
            keep[lo:hi] = shapely.contains_xy(geom, lon[idx], lat[idx])
        points, polygons = cand_pt[keep].astype(np.int64), cand_poly[keep].astype(np.int64)
        order = np.argsort(points, kind="stable")
        return Containment(points[order], polygons[order])
