"""Give points their country, admin areas, locality and postcode, by point in polygon.

Many OSM addresses carry no ``addr:city`` (all of Queens) and many no postcode, so every address,
street and place is placed inside the polygons of its own source and of the built-in gazetteer at
import time. Where no polygon names a locality, the nearest settlement within a few kilometres does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geobatch.index.spatial import FloatArray, PointTree, PolygonIndex
from geobatch.sources.records import AreaKind

# Which admin_level fills which slot, best first.
_LOCALITY_LEVELS = (8, 7, 9)
_NEIGHBOURHOOD_LEVELS = (10, 9)
_ADMIN1_LEVELS = (4, 3)
_ADMIN2_LEVELS = (6, 5)

LOCALITY_FALLBACK_M = 3_000.0
COUNTRY_FALLBACK_M = 30_000.0


@dataclass(frozen=True, slots=True)
class AreaInfo:
    name: str
    kind: AreaKind
    level: int
    country_code: str | None
    geometry: shapely.Geometry


@dataclass(frozen=True, slots=True)
class PlacePoint:
    """A settlement that can name the locality of points around it."""

    name: str
    lat: float
    lon: float
    country_code: str | None
    is_neighbourhood: bool
    admin1: str | None = None


@dataclass(slots=True)
class Assigned:
    """What point in polygon found for each point; ``None`` where nothing did."""

    country_code: list[str | None]
    admin1: list[str | None]
    admin2: list[str | None]
    locality: list[str | None]
    neighborhood: list[str | None]
    postcode: list[str | None]

    @classmethod
    def empty(cls, n: int) -> Assigned:
        return cls([None] * n, [None] * n, [None] * n, [None] * n, [None] * n, [None] * n)


class Assigner:
    """Built once per import from the polygons and places that can locate points."""

    def __init__(
        self,
        areas: Sequence[AreaInfo],
        places: Sequence[PlacePoint],
        countries_by_place: Sequence[PlacePoint] = (),
    ) -> None:
        self._areas = list(areas)
        self._polygons = PolygonIndex([a.geometry for a in self._areas])
        self._places = [p for p in places if not p.is_neighbourhood]
        self._hoods = [p for p in places if p.is_neighbourhood]
        self._place_tree = _tree(self._places)
        self._hood_tree = _tree(self._hoods)
        self._country_places = [p for p in countries_by_place if p.country_code]
        self._country_tree = _tree(self._country_places)

    def assign(self, lat: FloatArray, lon: FloatArray) -> Assigned:
        n = len(lat)
        out = Assigned.empty(n)
        best: dict[str, list[int]] = {k: [99] * n for k in ("a1", "a2", "loc", "hood")}
        # The country comes from the finest containing area that knows its country (a
        # municipality of the source beats a coarse built-in outline near a border), and
        # between equals from the first listed (the source's own before the built-in ones).
        country_from = [(0, 0)] * n
        hits = self._polygons.containing(lat, lon)
        for p, a in zip(hits.points.tolist(), hits.polygons.tolist(), strict=True):
            area = self._areas[a]
            if area.kind is AreaKind.ADMIN and area.country_code:
                rank = (area.level, -a)
                if out.country_code[p] is None or rank > country_from[p]:
                    country_from[p] = rank
                    out.country_code[p] = area.country_code
            if area.kind is AreaKind.ADMIN and area.level == 2:
                continue
            self._take(out, best, p, area)
        self._fallback_places(out, lat, lon)
        return out

    def _take(self, out: Assigned, best: dict[str, list[int]], p: int, area: AreaInfo) -> None:
        if area.kind is AreaKind.POSTCODE:
            out.postcode[p] = out.postcode[p] or area.name
            return
        level = area.level
        for slot, levels, target in (
            ("a1", _ADMIN1_LEVELS, out.admin1),
            ("a2", _ADMIN2_LEVELS, out.admin2),
            ("loc", _LOCALITY_LEVELS, out.locality),
            ("hood", _NEIGHBOURHOOD_LEVELS, out.neighborhood),
        ):
            if level in levels and levels.index(level) < best[slot][p]:
                best[slot][p] = levels.index(level)
                target[p] = area.name

    def _fallback_places(self, out: Assigned, lat: FloatArray, lon: FloatArray) -> None:
        need = np.array([loc is None for loc in out.locality], dtype=bool)
        if need.any() and self._place_tree.size:
            idx, _ = self._place_tree.nearest(lat[need], lon[need], LOCALITY_FALLBACK_M)
            for p, i in zip(np.flatnonzero(need).tolist(), idx.tolist(), strict=True):
                if i >= 0:
                    out.locality[p] = self._places[i].name
        need = np.array([h is None for h in out.neighborhood], dtype=bool)
        if need.any() and self._hood_tree.size:
            idx, _ = self._hood_tree.nearest(lat[need], lon[need], LOCALITY_FALLBACK_M / 2)
            for p, i in zip(np.flatnonzero(need).tolist(), idx.tolist(), strict=True):
                if i >= 0:
                    out.neighborhood[p] = self._hoods[i].name
        # Where no settlement is near (Queens has only neighbourhood nodes), the neighbourhood
        # is the locality people write.
        for p, loc in enumerate(out.locality):
            if loc is None and out.neighborhood[p] is not None:
                out.locality[p] = out.neighborhood[p]
        need = np.array([c is None for c in out.country_code], dtype=bool)
        if need.any() and self._country_tree.size:
            idx, _ = self._country_tree.nearest(lat[need], lon[need], COUNTRY_FALLBACK_M)
            for p, i in zip(np.flatnonzero(need).tolist(), idx.tolist(), strict=True):
                if i >= 0:
                    out.country_code[p] = self._country_places[i].country_code
        # No state polygon (the Queens extract has none): the nearest town of the same country
        # knows its state.
        need = np.array([a is None for a in out.admin1], dtype=bool)
        if need.any() and self._country_tree.size:
            idx, _ = self._country_tree.nearest(lat[need], lon[need], COUNTRY_FALLBACK_M)
            for p, i in zip(np.flatnonzero(need).tolist(), idx.tolist(), strict=True):
                near = self._country_places[i] if i >= 0 else None
                if near is not None and near.country_code == out.country_code[p]:
                    out.admin1[p] = near.admin1


def _tree(places: Sequence[PlacePoint]) -> PointTree:
    return PointTree(
        np.array([p.lat for p in places], dtype=np.float64),
        np.array([p.lon for p in places], dtype=np.float64),
    )
