"""Street entities: one per street name per locality, built from OSM ways and from addresses.

A street that runs through two villages becomes two entities, so "Landstrasse, Triesen" and
"Landstrasse, Vaduz" are told apart. Sources without street geometry (OpenAddresses) get
entities made from their address points alone.

The rules (which entity a way or an address joins):
- a way joins the first entity of its name key made by a way in the same locality and country
  (with no locality: the first such within :data:`ATTACH_M`);
- an address with a locality joins the nearest entity of its key (and a compatible country)
  that has that locality, when within ``4 * ATTACH_M``; otherwise the nearest entity of its
  key within :data:`ATTACH_M`, unless that one belongs to other localities only; otherwise it
  starts a new entity.

Only entities of the same name key ever meet, so an import works on one partition of the keys
at a time (:mod:`geobatch.index.build`), and the rules are answered with look-ups instead of
scans: entities by (key, locality) and by (key, grid cell) — a name like "Hauptstraße" is a
street in thousands of German towns, and measuring every address against all of them made the
import quadratic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

from geobatch.text.normalize import fold

# An address joins an entity of its street name this far away at most, when localities differ.
ATTACH_M = 1_500.0
# An interpolation line without a street name belongs to the nearest street this close.
INTERPOLATION_M = 100.0
M_PER_DEG = 111_320.0
# Grid rows of this many degrees of latitude (more than ATTACH_M): a point's neighbours within
# ATTACH_M lie in its row and the rows above and below.
_ROW_DEG = 0.02

FloatArray = npt.NDArray[np.float64]


def _top(counts: dict[int, int]) -> int:
    """The most frequent code, the first seen among equals (as Counter.most_common); 0 if none."""
    best, best_n = 0, 0
    for code, n in counts.items():
        if n > best_n:
            best, best_n = code, n
    return best


def _count(counts: dict[int, int], code: int) -> None:
    if code:
        counts[code] = counts.get(code, 0) + 1


@dataclass(slots=True)
class Entity:
    id: int  # local, in creation order
    key: str
    country: int  # code of the country (0: unknown)
    created: int  # global creation order: way sequence, or ways + address sequence
    names: dict[str, int] = field(default_factory=dict)
    alt_keys: set[str] = field(default_factory=set)
    way_locality: int = 0
    localities: dict[int, int] = field(default_factory=dict)
    neighborhoods: dict[int, int] = field(default_factory=dict)
    postcodes: dict[int, int] = field(default_factory=dict)
    admin1: dict[int, int] = field(default_factory=dict)
    admin2: dict[int, int] = field(default_factory=dict)
    own_postcodes: set[int] = field(default_factory=set)  # postcodes its addresses carry
    lines: list[FloatArray] = field(default_factory=list)
    locality_keys: set[str] = field(default_factory=set)
    # Vertices (lon, lat): way vertices first as they come, then address points; as an array
    # only when a distance is asked for (rarely: most addresses join by locality).
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    _array: FloatArray | None = None
    cells: set[tuple[int, int]] = field(default_factory=set)
    last_alts: tuple[str, ...] | None = None  # the alternate keys last added (often the same)

    def vertices(self) -> FloatArray:
        if self._array is None or len(self._array) != len(self.xs):
            self._array = np.column_stack(
                (np.array(self.xs, dtype=np.float64), np.array(self.ys, dtype=np.float64))
            )
        return self._array

    def distance_m(self, lon: float, lat: float) -> float:
        """Metres to the nearest vertex (equirectangular at ``lat``: exact enough at this range)."""
        if not self.xs:
            return math.inf
        v = self.vertices()
        dx = (v[:, 0] - lon) * math.cos(math.radians(lat))
        dy = v[:, 1] - lat
        return float(np.sqrt((dx * dx + dy * dy).min()) * M_PER_DEG)

    def last_distance_m(self, lon: float, lat: float) -> float:
        """Metres to the last vertex added: at least :meth:`distance_m`, and far cheaper."""
        if not self.xs:
            return math.inf
        dx = (self.xs[-1] - lon) * math.cos(math.radians(lat))
        return math.sqrt(dx * dx + (self.ys[-1] - lat) ** 2) * M_PER_DEG


def _row_width(row: int) -> float:
    """Degrees of longitude of one cell in grid row ``row``: at least ATTACH_M wide everywhere
    in the row (measured at its edge nearer the pole)."""
    edge = max(abs(row * _ROW_DEG), abs((row + 1) * _ROW_DEG))
    return _ROW_DEG / max(math.cos(math.radians(min(edge, 89.0))), 0.02)


_WIDTHS: dict[int, float] = {}


def _cell(lon: float, lat: float) -> tuple[int, int]:
    row = math.floor(lat / _ROW_DEG)
    width = _WIDTHS.get(row)
    if width is None:
        width = _WIDTHS[row] = _row_width(row)
    return row, math.floor(lon / width)


class EntityTable:
    """The street entities of one partition of name keys, made in the order the rules need:
    ways first (in their source order), then addresses (in theirs)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = names  # code -> locality / admin / postcode / country name
        self.entities: list[Entity] = []
        self._by_key: dict[str, list[Entity]] = {}
        self._by_way_locality: dict[tuple[str, int, int], list[Entity]] = {}
        self._by_locality: dict[tuple[str, str], list[Entity]] = {}
        self._by_cell: dict[tuple[str, int, int], list[Entity]] = {}
        self._folded: dict[int, str] = {}

    def _fold(self, code: int) -> str:
        found = self._folded.get(code)
        if found is None:
            found = self._folded[code] = fold(self._names[code])
        return found

    def _new(self, key: str, country: int, created: int) -> Entity:
        entity = Entity(id=len(self.entities), key=key, country=country, created=created)
        self.entities.append(entity)
        self._by_key.setdefault(key, []).append(entity)
        return entity

    def _place_line(self, entity: Entity, xy: FloatArray) -> None:
        """Add a way's vertices and register their grid cells."""
        for lon, lat in xy.tolist():
            self._place(entity, lon, lat)

    def _place(self, entity: Entity, lon: float, lat: float) -> None:
        entity.xs.append(lon)
        entity.ys.append(lat)
        cell = _cell(lon, lat)
        if cell not in entity.cells:
            entity.cells.add(cell)
            self._by_cell.setdefault((entity.key, *cell), []).append(entity)

    def _add_locality_key(self, entity: Entity, code: int) -> None:
        folded = self._fold(code)
        if folded not in entity.locality_keys:
            entity.locality_keys.add(folded)
            self._by_locality.setdefault((entity.key, folded), []).append(entity)

    # --- ways ------------------------------------------------------------------------------

    def add_way(
        self,
        created: int,
        key: str,
        name: str,
        alt_keys: Sequence[str],
        coords: FloatArray,
        locality: int,
        country: int,
        admin1: int,
        admin2: int,
        neighborhood: int,
        postcode: int,
        own_postcode: int = 0,
    ) -> None:
        entity = self._find_way_entity(key, locality, country, coords)
        if entity is None:
            entity = self._new(key, country, created)
            entity.way_locality = locality
            self._by_way_locality.setdefault((key, locality, country), []).append(entity)
            if locality:
                self._add_locality_key(entity, locality)
        entity.names[name] = entity.names.get(name, 0) + 1
        entity.alt_keys.update(k for k in alt_keys if k != entity.key)
        entity.lines.append(coords)
        self._place_line(entity, coords)
        _count(entity.admin1, admin1)
        _count(entity.admin2, admin2)
        _count(entity.neighborhoods, neighborhood)
        _count(entity.postcodes, postcode)
        if own_postcode:
            # A street whose ranges lie in several ZIPs answers to each of them.
            entity.own_postcodes.add(own_postcode)

    def _find_way_entity(
        self, key: str, locality: int, country: int, coords: FloatArray
    ) -> Entity | None:
        for entity in self._by_way_locality.get((key, locality, country), ()):
            # Same name in the same locality, but far apart: a different street.
            if locality or entity.distance_m(float(coords[0, 0]), float(coords[0, 1])) < ATTACH_M:
                return entity
        return None

    # --- addresses -------------------------------------------------------------------------

    def add_address(
        self,
        created: int,
        key: str,
        name: str,
        alt_keys: Sequence[str],
        lon: float,
        lat: float,
        locality: int,
        neighborhood: int,
        postcode: int,
        admin1: int,
        admin2: int,
        country: int,
        own_postcode: int,
    ) -> int:
        entity = self._match(key, locality, country, lon, lat)
        if entity is None:
            entity = self._new(key, country, created)
        names = entity.names
        names[name] = names.get(name, 0) + 1
        if alt_keys and alt_keys is not entity.last_alts:
            entity.alt_keys.update(k for k in alt_keys if k != entity.key)
            entity.last_alts = tuple(alt_keys)
        self._place(entity, lon, lat)
        if locality:
            counts = entity.localities
            n = counts.get(locality)
            if n is None:
                self._add_locality_key(entity, locality)
                counts[locality] = 1
            else:
                counts[locality] = n + 1
        if neighborhood:
            entity.neighborhoods[neighborhood] = entity.neighborhoods.get(neighborhood, 0) + 1
        if postcode:
            entity.postcodes[postcode] = entity.postcodes.get(postcode, 0) + 1
        if admin1:
            entity.admin1[admin1] = entity.admin1.get(admin1, 0) + 1
        if admin2:
            entity.admin2[admin2] = entity.admin2.get(admin2, 0) + 1
        if own_postcode:
            entity.own_postcodes.add(own_postcode)
        return entity.id

    def _match(
        self, key: str, locality: int, country: int, lon: float, lat: float
    ) -> Entity | None:
        same_key = self._by_key.get(key)
        if not same_key:
            return None
        if locality:
            wanted = self._fold(locality)
            group = [
                e
                for e in self._by_locality.get((key, wanted), ())
                if not country or e.country in (country, 0)
            ]
            if len(group) == 1:
                e = group[0]
                if e.last_distance_m(lon, lat) < 4 * ATTACH_M or e.distance_m(lon, lat) < (
                    4 * ATTACH_M
                ):
                    return e
            elif group:
                # The nearest, the first made among equals (a stable sort by distance).
                dist, _, e = min((g.distance_m(lon, lat), g.id, g) for g in group)
                if dist < 4 * ATTACH_M:
                    return e
        best = self._nearest(key, country, lon, lat)
        if best is None:
            return None
        if locality and best.localities and self._fold(locality) not in best.locality_keys:
            return None
        return best

    def _nearest(self, key: str, country: int, lon: float, lat: float) -> Entity | None:
        """The nearest entity of ``key`` (and a compatible country) if within ATTACH_M."""
        row = math.floor(lat / _ROW_DEG)
        reach = ATTACH_M / (M_PER_DEG * max(math.cos(math.radians(min(abs(lat), 89.0))), 0.02))
        seen: set[int] = set()
        best: Entity | None = None
        best_d = ATTACH_M
        for r in (row - 1, row, row + 1):
            width = _WIDTHS.get(r) or _row_width(r)
            for col in range(
                math.floor((lon - reach) / width), math.floor((lon + reach) / width) + 1
            ):
                for e in self._by_cell.get((key, r, col), ()):
                    if e.id in seen or (country and e.country not in (country, 0)):
                        continue
                    seen.add(e.id)
                    d = e.distance_m(lon, lat)
                    if d < best_d or (d == best_d and best is not None and e.id < best.id):
                        best, best_d = e, d
        return best

    # --- interpolation lines ---------------------------------------------------------------

    def line_street(self, key: str, locality: int, lon: float, lat: float) -> Entity | None:
        """The street a named interpolation line belongs to (the address rules, any country)."""
        return self._match(key, locality, 0, lon, lat)

    def nearest_with_lines(self, lon: float, lat: float) -> tuple[float, Entity] | None:
        """The nearest entity made from ways within INTERPOLATION_M (an unnamed line's street)."""
        found: tuple[float, Entity] | None = None
        for e in self.entities:
            if not e.lines:
                continue
            d = e.distance_m(lon, lat)
            if d <= INTERPOLATION_M and (found is None or d < found[0]):
                found = (d, e)
        return found


@dataclass(frozen=True, slots=True)
class StreetSummary:
    """What the index stores of one entity."""

    created: int
    name: str
    key: str
    locality: int
    other_localities: tuple[int, ...]
    neighborhood: int
    postcode: int
    admin1: int
    admin2: int
    country: int
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]  # south, west, north, east
    alt_keys: tuple[str, ...]
    wkb: bytes
    own_postcodes: tuple[int, ...]


def summarise(e: Entity) -> StreetSummary:
    v = e.vertices()
    west, south = v.min(axis=0)
    east, north = v.max(axis=0)
    centre = v.mean(axis=0)
    rep = v[np.argmin(((v - centre) ** 2).sum(axis=1))]  # a real point on the street
    locality = _top(e.localities) or e.way_locality
    others = set(e.localities) | ({e.way_locality} if e.way_locality else set())
    others.discard(locality)
    lines = [shapely.linestrings(ln) for ln in e.lines if len(ln) >= 2]
    wkb = shapely.to_wkb(shapely.multilinestrings(lines)) if lines else b""
    name = max(e.names.items(), key=lambda item: item[1])[0] if e.names else e.key
    return StreetSummary(
        created=e.created,
        name=name,
        key=e.key,
        locality=locality,
        other_localities=tuple(others),
        neighborhood=_top(e.neighborhoods),
        postcode=_top(e.postcodes),
        admin1=_top(e.admin1),
        admin2=_top(e.admin2),
        country=e.country,
        lat=float(rep[1]),
        lon=float(rep[0]),
        bbox=(float(south), float(west), float(north), float(east)),
        alt_keys=tuple(sorted(e.alt_keys)),
        wkb=bytes(wkb),
        own_postcodes=tuple(sorted(e.own_postcodes)),
    )


def summaries(table: EntityTable) -> Iterator[StreetSummary]:
    return (summarise(e) for e in table.entities)


Densify = Callable[[bytes], FloatArray]
