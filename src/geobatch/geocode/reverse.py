"""Reverse geocoding, vectorised: a whole chunk of points is answered with array operations.

For each point: the nearest address within :data:`ADDRESS_RADIUS_M`; else the nearest street
within :data:`STREET_RADIUS_M`; else the locality (its polygon, or the nearest settlement); else the
admin area or country containing the point. Admin parts always come from the polygons that
contain the point, not from the nearest town, so points near a border get the right country.
A point outside every imported and built-in polygon, with nothing near, gets no result.

A result's point is the found entity's, never the point asked for (as Bing's, whose sample
answers a point in Redmond's south with Redmond's own point): the address point (Rooftop), the
street's point nearest to the one asked for (Interpolation), the place's own point (Rooftop) —
the gazetteer's point of the town, state or country of that name, else a point inside its
polygon — with the entity's bounding box.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from geobatch.geocode.formatting import format_address
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary
from geobatch.index.format import BUILTIN_NAME
from geobatch.index.geodesy import EARTH_RADIUS_M
from geobatch.index.layout import ADDRESS_RADIUS_M, PLACE_KIND_CODES, STREET_RADIUS_M
from geobatch.index.read import IndexData, PlaceRow
from geobatch.index.spatial import FloatArray, IntArray, PointTree, PolygonIndex, unit_vectors
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
)
from geobatch.text.abbreviations import name_key
from geobatch.text.postcodes import postcode_key

PLACE_RADIUS_M = 10_000.0
# Near a border, a town this close outweighs a coarse built-in country outline.
TRUST_PLACE_COUNTRY_M = 1_500.0

_LEVEL_SLOTS = {2: "country", 3: "admin1", 4: "admin1", 5: "admin2", 6: "admin2", 7: "locality",
                8: "locality", 9: "neighborhood", 10: "neighborhood"}  # fmt: skip
_SLOT_PREFERENCE = {"admin1": (4, 3), "admin2": (6, 5), "locality": (8, 7), "neighborhood": (10, 9)}


@dataclass(slots=True)
class _Areas:
    """What the polygons containing one point say."""

    country_code: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    locality: str | None = None
    neighborhood: str | None = None
    postcode: str | None = None
    best_level: dict[str, int] | None = None
    country_rank: tuple[int, bool] = (0, False)  # (admin level, from a data set of its own)
    # The polygon each slot was read from (slot name -> index into the engine's areas).
    polygon: dict[str, int] = dataclasses.field(default_factory=dict)


class ReverseEngine:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        data = vocab.data
        self.data = data
        # The nearest address and street vertex come from each data set's grid (mapped).
        self._address_sets = [d for d, ds in enumerate(data.datasets) if ds.address_count]
        self._vertex_sets = [d for d, ds in enumerate(data.datasets) if ds.vertex_grid().size]
        self._areas = list(data.areas)
        self._geometries = [shapely.from_wkb(a.wkb) for a in self._areas]
        self._polygons = PolygonIndex(self._geometries)
        # Where a place result stands, by (type, name, country, polygon): its point and box.
        self._centres: dict[tuple[object, ...], tuple[float, float, BoundingBox] | None] = {}
        self._places, p_lat, p_lon = _settlements(data)
        self._place_tree = PointTree(p_lat, p_lon)
        # Most points of a chunk lie in the same few polygons: what a set of containing polygons
        # says is worked out once per distinct set (keyed by the polygon indices) and shared.
        self._area_ids: dict[tuple[int, ...], int] = {}
        self._area_sets: list[_Areas] = []
        # What an address result takes from its street and its polygons: per area set, by street.
        self._street_parts: list[dict[int, _StreetParts]] = []
        self._number_first: dict[str | None, bool] = {}

    def _nearest_address(self, pos: FloatArray) -> tuple[IntArray, FloatArray]:
        """Global row of the nearest address within ADDRESS_RADIUS_M of each position, and
        metres (-1 and inf where none), over every data set (the nearer wins; then the first)."""
        return self._nearest(pos, self._address_sets, "address")

    def _nearest_street(
        self, pos: FloatArray, wanted: npt.NDArray[np.bool_]
    ) -> tuple[IntArray, FloatArray]:
        n = len(pos)
        rows = np.full(n, -1, dtype=np.int64)
        metres = np.full(n, np.inf)
        if wanted.any():
            at = np.flatnonzero(wanted)
            rows[at], metres[at] = self._nearest(pos[at], self._vertex_sets, "street")
        return rows, metres

    def _nearest(self, pos: FloatArray, sets: list[int], kind: str) -> tuple[IntArray, FloatArray]:
        n = len(pos)
        rows = np.full(n, -1, dtype=np.int64)
        metres = np.full(n, np.inf)
        data = self.data
        for d in sets:
            ds = data.datasets[d]
            if kind == "address":
                hits = ds.address_grid().nearest(pos, ADDRESS_RADIUS_M)
                offset = data.address_offsets[d]
            else:
                hits = ds.vertex_grid().nearest(pos, STREET_RADIUS_M)
                offset = data.street_offsets[d]
            better = (hits.rows >= 0) & (hits.metres < metres)
            rows[better] = hits.rows[better] + offset
            metres[better] = hits.metres[better]
        return rows, metres

    def reverse_many(
        self,
        lat: FloatArray,
        lon: FloatArray,
        include: frozenset[EntityType] = frozenset(),
        max_results: int = 1,
    ) -> list[Answer]:
        """Answer every point. ``include`` is Bing's IncludeEntityTypes: the kinds of result
        wanted (one of each that exists, finest first); empty means the finest available."""
        n = len(lat)
        xyz = unit_vectors(lat, lon)
        area_ids = self._containing(lat, lon)
        pos = xyz * EARTH_RADIUS_M
        addr, addr_m = self._nearest_address(pos)
        # A street only matters where no address is near, and by default a place only where
        # neither is: the other points skip those look-ups.
        no_addr = addr < 0
        vertex, street_m = self._nearest_street(pos, no_addr)
        need_place = np.ones(n, dtype=bool) if include else no_addr & (vertex < 0)
        prow, place_m = _nearest_where(self._place_tree, xyz, need_place, PLACE_RADIUS_M)
        # An address result does not depend on what was asked: build them all in one go.
        by_point: list[GeocodeResult | None] = [None] * n
        has = np.flatnonzero(~no_addr)
        for i, result in zip(
            has.tolist(),
            self._address_results(addr[has], addr_m[has], [area_ids[i] for i in has.tolist()]),
            strict=True,
        ):
            by_point[i] = result
        lat_l, lon_l = lat.tolist(), lon.tolist()
        addr_l = addr.tolist()
        vertex_l, street_m_l = vertex.tolist(), street_m.tolist()
        prow_l, place_m_l = prow.tolist(), place_m.tolist()
        areas_of = self._area_sets
        limit = max(max_results, len(include)) if include else 1
        # Where the address alone answers (the default, or only Address wanted once), the
        # hierarchy is not walked.
        address_only = limit == 1 and (not include or EntityType.ADDRESS in include)
        ok = ResultStatus.OK
        out: list[Answer] = []
        append = out.append
        for i in range(n):
            address = by_point[i]
            if address is not None and address_only:
                append(Answer(ok, (address,)))
                continue
            found: list[GeocodeResult] = []
            for etype, result in self._levels(
                lat_l[i], lon_l[i], areas_of[area_ids[i]], address, addr_l[i], vertex_l[i],
                street_m_l[i], prow_l[i], place_m_l[i],
            ):  # fmt: skip
                if include and etype not in include:
                    continue
                if not include and etype in (EntityType.NEIGHBORHOOD, EntityType.POSTCODE):
                    continue  # by default the finest of address, street, place, admin, country
                found.append(result)
                if len(found) >= limit:
                    break
            if found:
                append(Answer(ResultStatus.OK, tuple(found)))
            else:
                append(Answer(ResultStatus.NO_RESULT, reason=_no_result_reason(include)))
        return out

    def _levels(
        self, lat: float, lon: float, areas: _Areas, address: GeocodeResult | None, addr: int,
        vertex: int, street_m: float, prow: int, place_m: float,
    ) -> Iterator[tuple[EntityType, GeocodeResult]]:  # fmt: skip
        """Every result the point can have, finest first, tagged with the type it answers for
        (a street answers for Address when no address is near). Lazy, so that a caller wanting
        only the finest never looks further."""
        if address is not None:
            yield EntityType.ADDRESS, address
        elif vertex >= 0:
            yield EntityType.ADDRESS, self._street_result(vertex, street_m, lat, lon, areas)
        place = self.data.places[self._places[prow]] if prow >= 0 else None
        if place is not None and areas.country_code and place.country_code != areas.country_code:
            if areas.country_rank[1] or place_m > TRUST_PLACE_COUNTRY_M:
                place = None  # the nearest town is across a border we know: not this locality
            else:
                # Only a coarse built-in outline says otherwise; a town this near knows better.
                areas = _with_country(areas, place.country_code)
        if areas.neighborhood:
            yield (
                EntityType.NEIGHBORHOOD,
                self._area_result(EntityType.NEIGHBORHOOD, areas, None, 0.0, lat, lon),
            )
        if areas.locality or place is not None:
            yield (
                EntityType.POPULATED_PLACE,
                self._area_result(EntityType.POPULATED_PLACE, areas, place, place_m, lat, lon),
            )
        postcode = areas.postcode or (self.data.address_postcode(addr) if addr >= 0 else None)
        if postcode:
            yield (
                EntityType.POSTCODE,
                self._area_result(
                    EntityType.POSTCODE, _with_postcode(areas, postcode), place, place_m, lat, lon
                ),
            )
        for etype, present in (
            (EntityType.ADMIN_DIVISION2, areas.admin2 or (place and place.admin2)),
            (EntityType.ADMIN_DIVISION1, areas.admin1 or (place and place.admin1)),
            (EntityType.COUNTRY, areas.country_code or (place and place.country_code)),
        ):
            if present:
                yield etype, self._area_result(etype, areas, place, place_m, lat, lon)

    def _containing(self, lat: FloatArray, lon: FloatArray) -> list[int]:
        """For each point, the id (into ``_area_sets``) of what its containing polygons say."""
        n = len(lat)
        hits = self._polygons.containing(lat, lon)
        if len(hits.points) == 0:
            return [self._area_set(())] * n
        # One row per point holding its polygons in hit order (-1 pads). The rows are numbered
        # a column at a time (np.unique on int64, far cheaper than np.unique(axis=0)), so that
        # each distinct set is resolved once instead of a dictionary walk per point.
        counts = np.bincount(hits.points, minlength=n)
        starts = np.cumsum(counts) - counts
        column = np.arange(len(hits.points)) - starts[hits.points]
        rows = np.full((n, int(counts.max())), -1, dtype=np.int64)
        rows[hits.points, column] = hits.polygons
        code = np.zeros(n, dtype=np.int64)
        base = len(self._areas) + 1
        for c in range(rows.shape[1]):
            _, code = np.unique(code * base + rows[:, c] + 1, return_inverse=True)
        first = np.unique(code, return_index=True)[1]
        ids = [self._area_set(tuple(p for p in rows[f].tolist() if p >= 0)) for f in first.tolist()]
        return [ids[k] for k in code.tolist()]

    def _area_set(self, polygons: tuple[int, ...]) -> int:
        found = self._area_ids.get(polygons)
        if found is None:
            found = self._area_ids[polygons] = len(self._area_sets)
            self._area_sets.append(self._resolve(polygons))
            self._street_parts.append({})
        return found

    def _resolve(self, polygons: tuple[int, ...]) -> _Areas:
        """What the polygons containing a point say, read in the order the polygon index
        returns them (ascending polygon index): the first of equal rank wins."""
        got = _Areas(best_level={})
        assert got.best_level is not None
        for a in polygons:
            area = self._areas[a]
            if area.kind == "postcode":
                if not got.postcode:
                    got.postcode = area.name
                    got.polygon["postcode"] = a
                continue
            if area.country_code:
                # The finest area that knows its country decides it (a municipality beats a
                # coarse built-in outline near a border); a data set's own beats the built-in.
                country_rank = (area.level, area.source != BUILTIN_NAME)
                if got.country_code is None or country_rank > got.country_rank:
                    got.country_rank = country_rank
                    got.country_code = area.country_code
                    got.polygon["country_code"] = a
            slot = _LEVEL_SLOTS.get(area.level)
            if slot is not None and slot != "country":
                rank = _SLOT_PREFERENCE[slot].index(area.level)
                if rank < got.best_level.get(slot, 99):
                    got.best_level[slot] = rank
                    setattr(got, slot, area.name)
                    got.polygon[slot] = a
        return got

    def _address_results(
        self, rows: IntArray, metres: FloatArray, area_ids: list[int]
    ) -> list[GeocodeResult]:
        """The address result for each (address row, metres away, area set) of a chunk. The
        arithmetic is done for the whole chunk with numpy; what depends on the street and
        area set only is built once per pair (``_street_parts``), so that the per-point loop
        does little more than build the result objects."""
        cols = self.data.address_columns(rows)
        lat, lon = cols.lat, cols.lon
        # BoundingBox.around(lat, lon, 25.0), the same operations done for the whole chunk.
        dlat = _ADDRESS_BOX_M / 111_320.0
        dlon = _ADDRESS_BOX_M / (111_320.0 * np.maximum(np.cos(np.radians(lat)), 0.01))
        south, north = (lat - dlat).tolist(), (lat + dlat).tolist()
        west, east = (lon - dlon).tolist(), (lon + dlon).tolist()
        confidence = [
            Confidence.HIGH if near else Confidence.MEDIUM for near in (metres <= 30).tolist()
        ]
        by_area = self._street_parts
        address_type, rooftop = EntityType.ADDRESS, CalculationMethod.ROOFTOP
        out: list[GeocodeResult] = []
        append = out.append
        for s, number, unit, own_postcode, m, aid, la, lo, s_, w_, n_, e_, conf in zip(
            cols.street, cols.number, cols.unit, cols.postcode, metres.tolist(), area_ids,
            lat.tolist(), lon.tolist(), south, west, north, east, confidence, strict=True,
        ):  # fmt: skip
            parts = by_area[aid].get(s)
            if parts is None:
                parts = by_area[aid][s] = self._parts(s, self._area_sets[aid])
            postcode = own_postcode or parts.postcode
            tail = parts.tails.get(postcode)
            if tail is None:
                tail = parts.tail(postcode)
            name = parts.street
            if not name:
                line = ""
            elif not number:
                line = name
            elif parts.number_first:
                line = f"{number} {name}"
            else:
                line = f"{name} {number}"
            formatted = f"{line}, {tail}" if line and tail else line or tail
            address = Address(
                number, name, unit, parts.neighborhood, parts.locality, postcode,
                parts.admin2, parts.admin1, parts.country, parts.country_code, formatted,
            )  # fmt: skip
            append(
                GeocodeResult(
                    Point(la, lo),
                    address,
                    address_type,
                    conf,
                    _GOOD,
                    BoundingBox(s_, w_, n_, e_),
                    rooftop,
                    formatted or "",
                    parts.source,
                    0.0,
                    round(m, 1),
                )
            )
        return out

    def _parts(self, s: int, areas: _Areas) -> _StreetParts:
        street = self.data.streets[s]
        cc = street.country_code or areas.country_code
        number_first = self._number_first.get(cc)
        if number_first is None:
            # formatting.py owns the rule of which countries write the number first: ask it.
            probe = format_address(
                house_number="1", street="s", unit=None, locality=None, postal_code=None,
                admin_district=None, country=None, country_code=cc,
            )  # fmt: skip
            number_first = self._number_first[cc] = probe == "1 s"
        return _StreetParts(
            street=street.name,
            neighborhood=street.neighborhood or areas.neighborhood,
            locality=street.locality or areas.locality,
            postcode=street.postcode or areas.postcode,
            admin2=areas.admin2 or street.admin2,
            admin1=areas.admin1 or street.admin1,
            country=self.vocab.country_name(cc),
            country_code=cc,
            source=street.source,
            number_first=number_first,
        )

    def _street_result(
        self, s: int, metres: float, lat: float, lon: float, areas: _Areas
    ) -> GeocodeResult:
        street = self.data.streets[s]
        cc = street.country_code or areas.country_code
        country = self.vocab.country_name(cc)
        locality = street.locality or areas.locality
        admin1 = areas.admin1 or street.admin1
        address = Address(
            street=street.name, neighborhood=street.neighborhood or areas.neighborhood,
            locality=locality, postal_code=street.postcode or areas.postcode,
            admin_district2=areas.admin2 or street.admin2, admin_district=admin1,
            country=country, country_code=cc,
            formatted=format_address(
                house_number=None, street=street.name, unit=None, locality=locality,
                postal_code=street.postcode, admin_district=admin1, country=country,
                country_code=cc,
            ),
        )  # fmt: skip
        conf = Confidence.MEDIUM if metres <= 100 else Confidence.LOW
        on_lat, on_lon = _nearest_on_line(street.wkb, lat, lon)
        return _result(address, on_lat, on_lon, EntityType.ROAD_BLOCK, conf, metres,
                       street.source, BoundingBox(*street.bbox),
                       CalculationMethod.INTERPOLATION)  # fmt: skip

    def _area_result(
        self,
        etype: EntityType,
        areas: _Areas,
        place: PlaceRow | None,
        metres: float,
        lat: float,
        lon: float,
    ) -> GeocodeResult:
        """A result at one level of the hierarchy: its parts up to that level, nothing finer."""
        cc = areas.country_code or (place.country_code if place else None)
        level = _AREA_LEVEL[etype]
        locality = (areas.locality or (place.name if place else None)) if level <= 2 else None
        admin2 = (areas.admin2 or (place.admin2 if place else None)) if level <= 3 else None
        admin1 = (areas.admin1 or (place.admin1 if place else None)) if level <= 4 else None
        country = self.vocab.country_name(cc)
        address = Address(
            neighborhood=areas.neighborhood if level <= 0 else None,
            locality=locality,
            postal_code=areas.postcode if level <= 1 else None,
            admin_district2=admin2,
            admin_district=admin1,
            country=country,
            country_code=cc,
            formatted=", ".join(
                dict.fromkeys(
                    p
                    for p in (
                        areas.neighborhood if level <= 0 else None,
                        areas.postcode if level == 1 else None,
                        locality,
                        admin1,
                        country,
                    )
                    if p
                )
            ),
        )
        slot = _AREA_SLOT[etype]
        from_polygon = getattr(areas, slot)
        nearest_place = etype is EntityType.POPULATED_PLACE and not from_polygon and place
        conf = Confidence.MEDIUM if from_polygon else Confidence.LOW
        source = place.source if place else ""
        name = {
            EntityType.NEIGHBORHOOD: address.neighborhood,
            EntityType.POPULATED_PLACE: locality,
            EntityType.POSTCODE: address.postal_code,
            EntityType.ADMIN_DIVISION2: admin2,
            EntityType.ADMIN_DIVISION1: admin1,
            EntityType.COUNTRY: cc,
        }[etype]
        if nearest_place and place:
            centre: tuple[float, float, BoundingBox] | None = (
                place.lat, place.lon, BoundingBox(*place.bbox),
            )  # fmt: skip
        else:
            centre = self._centre(
                etype, name, cc, areas.polygon.get(slot) if from_polygon else None
            )
        if centre is None:  # nothing says where it is: the point asked for, as before
            centre = (lat, lon, BoundingBox.around(lat, lon, 1_000.0))
        return _result(address, centre[0], centre[1], etype, conf,
                       metres if nearest_place else 0.0, source, centre[2])  # fmt: skip

    def _centre(
        self, etype: EntityType, name: str | None, cc: str | None, polygon: int | None
    ) -> tuple[float, float, BoundingBox] | None:
        """Where a place result stands: the gazetteer's place of that name, type and country
        (Redmond's own point), else a point inside the polygon that named it; with its box."""
        key = (etype, name, cc, polygon)
        if key in self._centres:
            return self._centres[key]
        found: tuple[float, float, BoundingBox] | None = None
        kinds = _PLACE_KINDS[etype]
        if name:
            places = self.data.places
            for row in self.vocab.place_rows(
                name_key(
                    name
                    if etype is not EntityType.COUNTRY
                    else self.vocab.country_name(name) or name
                )
            ):
                p = places[row]
                if p.kind in kinds and (cc is None or p.country_code == cc):
                    found = (p.lat, p.lon, BoundingBox(*p.bbox))
                    break
            if found is None and etype is EntityType.POSTCODE:
                rows = self.vocab.postcode_rows(postcode_key(name))
                pcs = [self.data.postcodes[r] for r in rows]
                pc = next((p for p in pcs if cc is None or p.country_code == cc), None)
                if pc is not None:
                    found = (pc.lat, pc.lon, BoundingBox(*pc.bbox))
        if found is None and polygon is not None:
            geometry = self._geometries[polygon]
            inside = shapely.point_on_surface(geometry)
            west, south, east, north = geometry.bounds
            found = (float(inside.y), float(inside.x), BoundingBox(south, west, north, east))
        if len(self._centres) >= _CENTRE_CACHE:
            self._centres.clear()
        self._centres[key] = found
        return found


# Which field of _Areas says that a result of this type comes from a polygon.
_AREA_SLOT = {
    EntityType.NEIGHBORHOOD: "neighborhood",
    EntityType.POPULATED_PLACE: "locality",
    EntityType.POSTCODE: "postcode",
    EntityType.ADMIN_DIVISION2: "admin2",
    EntityType.ADMIN_DIVISION1: "admin1",
    EntityType.COUNTRY: "country_code",
}

# The place kinds a result of each type is found among (_centre).
_PLACE_KINDS = {
    EntityType.NEIGHBORHOOD: frozenset({"suburb", "neighbourhood"}),
    EntityType.POPULATED_PLACE: SETTLEMENT_KINDS,
    EntityType.POSTCODE: frozenset(),
    EntityType.ADMIN_DIVISION2: frozenset({"county"}),
    EntityType.ADMIN_DIVISION1: frozenset({"state"}),
    EntityType.COUNTRY: frozenset({"country"}),
}
_CENTRE_CACHE = 50_000

_AREA_LEVEL = {
    EntityType.NEIGHBORHOOD: 0,
    EntityType.POSTCODE: 1,
    EntityType.POPULATED_PLACE: 2,
    EntityType.ADMIN_DIVISION2: 3,
    EntityType.ADMIN_DIVISION1: 4,
    EntityType.COUNTRY: 5,
}


@dataclass(slots=True)
class _StreetParts:
    """The parts of an address result that depend on its street and area set, not its row."""

    street: str
    neighborhood: str | None
    locality: str | None
    postcode: str | None  # when the row has none of its own
    admin2: str | None
    admin1: str | None
    country: str | None
    country_code: str | None
    source: str
    number_first: bool
    tails: dict[str | None, str] = dataclasses.field(default_factory=dict)  # by postcode

    def tail(self, postcode: str | None) -> str:
        """Everything of the formatted address after the street line (kept in ``tails``): it
        depends on the address row only through its postcode."""
        self.tails[postcode] = found = format_address(
            house_number=None, street=None, unit=None, locality=self.locality,
            postal_code=postcode, admin_district=self.admin1, country=self.country,
            country_code=self.country_code,
        )  # fmt: skip
        return found


_GOOD = (MatchCode.GOOD,)
_ADDRESS_BOX_M = 25.0  # half the side of an address result's bounding box


def _nearest_where(
    tree: PointTree, xyz: FloatArray, wanted: np.ndarray, max_metres: float
) -> tuple[IntArray, FloatArray]:
    """:meth:`PointTree.nearest_vectors` for the wanted points only; -1 and inf elsewhere."""
    if wanted.all():
        return tree.nearest_vectors(xyz, max_metres)
    idx = np.full(len(xyz), -1, dtype=np.int64)
    metres = np.full(len(xyz), np.inf)
    if wanted.any():
        idx[wanted], metres[wanted] = tree.nearest_vectors(xyz[wanted], max_metres)
    return idx, metres


def _with_postcode(areas: _Areas, postcode: str) -> _Areas:
    return _Areas(
        areas.country_code, areas.admin1, areas.admin2, areas.locality, areas.neighborhood,
        postcode, areas.best_level, areas.country_rank,
    )  # fmt: skip


def _with_country(areas: _Areas, country_code: str | None) -> _Areas:
    return dataclasses.replace(areas, country_code=country_code)


def _no_result_reason(include: frozenset[EntityType]) -> str:
    if include:
        kinds = ", ".join(sorted(t.value for t in include))
        return f"nothing of the requested entity types ({kinds}) at this point"
    return (
        "no address, street or place near this point "
        "(at sea, or outside the imported and built-in data)"
    )


def _nearest_on_line(wkb: bytes | None, lat: float, lon: float) -> tuple[float, float]:
    """The point of a street's lines nearest to (lat, lon) (planar in degrees, with longitude
    scaled to the latitude: exact enough within the street radius); the point itself when the
    street has no geometry."""
    if not wkb:
        return lat, lon
    scale = max(float(np.cos(np.radians(lat))), 0.01)
    factor = np.array([scale, 1.0])
    scaled = shapely.transform(shapely.from_wkb(wkb), lambda c: c * factor)
    if scaled.is_empty:
        return lat, lon
    at = shapely.line_locate_point(scaled, shapely.Point(lon * scale, lat))
    on = shapely.line_interpolate_point(scaled, at)
    return float(on.y), float(on.x) / scale


def _result(
    address: Address,
    lat: float,
    lon: float,
    etype: EntityType,
    conf: Confidence,
    metres: float,
    source: str,
    bbox: BoundingBox,
    method: CalculationMethod = CalculationMethod.ROOFTOP,
) -> GeocodeResult:
    return GeocodeResult(
        point=Point(lat, lon),
        address=address,
        entity_type=etype,
        confidence=conf,
        match_codes=(MatchCode.GOOD,),
        bbox=bbox,
        calculation_method=method,
        name=address.formatted or "",
        source=source,
        distance_m=round(metres, 1),
    )


def _settlements(data: IndexData) -> tuple[list[int], FloatArray, FloatArray]:
    """Global rows of the places that can name a point's locality, and their points."""
    kinds = {PLACE_KIND_CODES.index(k) for k in SETTLEMENT_KINDS}
    rows: list[IntArray] = []
    points: list[FloatArray] = []
    for d, ds in enumerate(data.datasets):
        keep = np.flatnonzero(np.isin(ds.place_kinds(), list(kinds)))
        rows.append(keep + data.place_offsets[d])
        points.append(ds.place_points()[keep])
    at = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    xy = np.concatenate(points) if points else np.zeros((0, 2))
    return at.tolist(), xy[:, 0].copy(), xy[:, 1].copy()


def invalid_points(lat: FloatArray, lon: FloatArray) -> dict[int, str]:
    """:func:`validate_points` for arrays: only the bad points, by index, with their reason.
    The check is vectorised; the reasons are worded by ``validate_points`` itself."""
    with np.errstate(invalid="ignore"):
        good = (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)  # False for NaN
    bad = np.flatnonzero(~good).tolist()
    reasons = validate_points([float(lat[i]) for i in bad], [float(lon[i]) for i in bad])
    return {i: r for i, r in zip(bad, reasons, strict=True) if r is not None}


def validate_points(lat: Sequence[float], lon: Sequence[float]) -> list[str | None]:
    """A reason for each point that cannot be reverse geocoded, None for the good ones."""
    out: list[str | None] = []
    for la, lo in zip(lat, lon, strict=True):
        if not (np.isfinite(la) and np.isfinite(lo)):
            out.append("latitude and longitude must be numbers")
        elif not -90.0 <= la <= 90.0:
            out.append(f"latitude {la} is outside -90..90")
        elif not -180.0 <= lo <= 180.0:
            out.append(f"longitude {lo} is outside -180..180")
        else:
            out.append(None)
    return out
