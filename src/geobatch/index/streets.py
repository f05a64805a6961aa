"""Street entities: one per street name per locality, built from OSM ways and from addresses.

A street that runs through two villages becomes two entities, so "Landstrasse, Triesen" and
"Landstrasse, Vaduz" are told apart. Sources without street geometry (OpenAddresses) get
entities made from their address points alone.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geobatch.index.assign import Assigner
from geobatch.index.schema import NAME_SEPARATOR
from geobatch.sources.records import AddressRecord, StreetRecord
from geobatch.text.abbreviations import name_key, name_keys
from geobatch.text.normalize import fold

if TYPE_CHECKING:
    from geobatch.index.build import AddressContext

# An address joins an entity of its street name this far away at most, when localities differ.
ATTACH_M = 1_500.0
# An interpolation line without a street name belongs to the nearest street this close.
INTERPOLATION_M = 100.0
_M_PER_DEG = 111_320.0


@dataclass(slots=True)
class _Entity:
    id: int
    key: str
    country_code: str | None
    names: Counter[str] = field(default_factory=Counter)
    alt_keys: set[str] = field(default_factory=set)
    way_locality: str | None = None
    localities: Counter[str] = field(default_factory=Counter)
    neighborhoods: Counter[str] = field(default_factory=Counter)
    postcodes: Counter[str] = field(default_factory=Counter)
    admin1: Counter[str] = field(default_factory=Counter)
    admin2: Counter[str] = field(default_factory=Counter)
    lines: list[tuple[tuple[float, float], ...]] = field(default_factory=list)
    points: list[tuple[float, float]] = field(default_factory=list)  # (lon, lat) of addresses
    _vertices: np.ndarray | None = None

    def vertices(self) -> np.ndarray:
        """(n, 2) lon/lat of every way vertex and address point, cached until the next change."""
        if self._vertices is None:
            coords = [c for line in self.lines for c in line] + self.points
            self._vertices = np.array(coords, dtype=np.float64).reshape(-1, 2)
        return self._vertices

    def distance_m(self, lon: float, lat: float) -> float:
        v = self.vertices()
        if len(v) == 0:
            return float("inf")
        dx = (v[:, 0] - lon) * np.cos(np.radians(lat))
        dy = v[:, 1] - lat
        return float(np.sqrt((dx * dx + dy * dy).min()) * _M_PER_DEG)

    def locality_keys(self) -> set[str]:
        keys = {fold(n) for n in self.localities}
        if self.way_locality:
            keys.add(fold(self.way_locality))
        return keys


class StreetTable:
    """Collects street entities during one import and writes them at the end."""

    def __init__(self, assigner: Assigner) -> None:
        self._assigner = assigner
        self._entities: list[_Entity] = []
        self._by_key: dict[str, list[_Entity]] = {}

    def add_ways(self, ways: Sequence[StreetRecord]) -> None:
        usable = [w for w in ways if w.coords and name_key(w.name)]
        if not usable:
            return
        mids = np.array([w.coords[len(w.coords) // 2] for w in usable], dtype=np.float64)
        found = self._assigner.assign(mids[:, 1], mids[:, 0])
        for i, way in enumerate(usable):
            key = name_key(way.name)
            locality = found.locality[i]
            cc = found.country_code[i]
            entity = self._find_way_entity(key, locality, cc, way)
            if entity is None:
                entity = self._new(key, cc)
                entity.way_locality = locality
            entity.names[way.name] += 1
            names = (way.name, *way.alt_names)
            entity.alt_keys.update(k for n in names for k in name_keys(n) if k != key)
            entity.lines.append(way.coords)
            entity._vertices = None
            for slot, value in (
                (entity.admin1, found.admin1[i]),
                (entity.admin2, found.admin2[i]),
                (entity.neighborhoods, found.neighborhood[i]),
                (entity.postcodes, way.postcode or found.postcode[i]),
            ):
                if value:
                    slot[value] += 1

    def _find_way_entity(
        self, key: str, locality: str | None, cc: str | None, way: StreetRecord
    ) -> _Entity | None:
        for entity in self._by_key.get(key, []):
            if entity.way_locality == locality and entity.country_code == cc:
                lon, lat = way.coords[0]
                # Same name in the same locality, but far apart: a different street.
                if locality is not None or entity.distance_m(lon, lat) < ATTACH_M:
                    return entity
        return None

    def _new(self, key: str, cc: str | None) -> _Entity:
        entity = _Entity(id=len(self._entities) + 1, key=key, country_code=cc)
        self._entities.append(entity)
        self._by_key.setdefault(key, []).append(entity)
        return entity

    def street_for_address(self, a: AddressRecord, ctx: AddressContext) -> int:
        assert a.street is not None
        key = name_key(a.street) or fold(a.street).replace(" ", "") or a.street
        entity = self._match(key, ctx.locality, ctx.country_code, a.lon, a.lat)
        if entity is None:
            entity = self._new(key, ctx.country_code)
        entity.names[a.street] += 1
        entity.alt_keys.update(k for k in name_keys(a.street) if k != entity.key)
        entity.points.append((a.lon, a.lat))
        entity._vertices = None
        for slot, value in (
            (entity.localities, ctx.locality),
            (entity.neighborhoods, ctx.neighborhood),
            (entity.postcodes, ctx.postcode),
            (entity.admin1, ctx.admin1),
            (entity.admin2, ctx.admin2),
        ):
            if value:
                slot[value] += 1
        return entity.id

    def street_for_line(
        self, name: str | None, coords: Sequence[tuple[float, float]], locality: str | None
    ) -> int | None:
        """The street an interpolation line belongs to: by name, or else the nearest street
        within :data:`INTERPOLATION_M` (end nodes often carry no addr:street)."""
        lon, lat = coords[len(coords) // 2]
        if name:
            entity = self._match(name_key(name), locality, None, lon, lat)
            return entity.id if entity else None
        near = [(e.distance_m(lon, lat), e.id) for e in self._entities if e.lines]
        best = min(near, default=(float("inf"), 0))
        return best[1] if best[0] <= INTERPOLATION_M else None

    def _match(
        self, key: str, locality: str | None, cc: str | None, lon: float, lat: float
    ) -> _Entity | None:
        candidates = [
            e for e in self._by_key.get(key, []) if cc is None or e.country_code in (cc, None)
        ]
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda e: e.distance_m(lon, lat))
        if locality:
            wanted = fold(locality)
            for e in ranked:
                if wanted in e.locality_keys() and e.distance_m(lon, lat) < 4 * ATTACH_M:
                    return e
        best = ranked[0]
        if best.distance_m(lon, lat) < ATTACH_M and not (
            locality and best.localities and fold(locality) not in best.locality_keys()
        ):
            return best
        return None

    def write(self, con: sqlite3.Connection) -> int:
        rows = [_row(e) for e in self._entities]
        con.executemany(
            "INSERT INTO streets (id, name, key, locality, other_localities, neighborhood,"
            " postcode, admin1, admin2, country_code, lat, lon, south, west, north, east,"
            " alt_keys, wkb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)


def _top(counter: Counter[str]) -> str | None:
    return counter.most_common(1)[0][0] if counter else None


def _row(e: _Entity) -> tuple[object, ...]:
    v = e.vertices()
    west, south = v.min(axis=0)
    east, north = v.max(axis=0)
    centre = v.mean(axis=0)
    rep = v[np.argmin(((v - centre) ** 2).sum(axis=1))]  # a real point on the street
    locality = _top(e.localities) or e.way_locality
    others = {n for n in e.localities} | ({e.way_locality} if e.way_locality else set())
    others.discard(locality or "")
    lines = [shapely.linestrings(ln) for ln in e.lines if len(ln) >= 2]
    wkb = shapely.to_wkb(shapely.multilinestrings(lines)) if lines else None
    return (
        e.id, _top(e.names) or e.key, e.key, locality, NAME_SEPARATOR.join(sorted(others)),
        _top(e.neighborhoods), _top(e.postcodes), _top(e.admin1), _top(e.admin2),
        e.country_code, float(rep[1]), float(rep[0]),
        float(south), float(west), float(north), float(east),
        NAME_SEPARATOR.join(sorted(e.alt_keys)), wkb,
    )  # fmt: skip
