"""Reverse geocoding, vectorised: a whole chunk of points is answered with array operations.

For each point: the nearest address within :data:`ADDRESS_RADIUS_M`; else the nearest street
within :data:`STREET_RADIUS_M`; else the locality (its polygon, or the nearest settlement); else the
admin area or country containing the point. Admin parts always come from the polygons that
contain the point, not from the nearest town, so points near a border get the right country.
A point outside every imported and built-in polygon, with nothing near, gets no result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geobatch.geocode.formatting import format_address
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary
from geobatch.index.read import PlaceRow
from geobatch.index.schema import BUILTIN_NAME
from geobatch.index.spatial import FloatArray, IntArray, PointTree, PolygonIndex
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

ADDRESS_RADIUS_M = 100.0
STREET_RADIUS_M = 250.0
PLACE_RADIUS_M = 10_000.0
# Near a border, a town this close outweighs a coarse built-in country outline.
TRUST_PLACE_COUNTRY_M = 1_500.0
# Vertices are added along long street segments so the nearest vertex is near the nearest point.
DENSIFY_DEG = 0.0003  # about 30 m

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


class ReverseEngine:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        data = vocab.data
        self._addresses = PointTree(data.addr_lat, data.addr_lon)
        self._vertex_street, v_lat, v_lon = _street_vertices(vocab)
        self._streets = PointTree(v_lat, v_lon)
        self._areas = [a for a in data.areas]
        self._polygons = PolygonIndex([shapely.from_wkb(a.wkb) for a in self._areas])
        self._places = [i for i, p in enumerate(data.places) if p.kind in SETTLEMENT_KINDS]
        self._place_tree = PointTree(
            np.array([data.places[i].lat for i in self._places], dtype=np.float64),
            np.array([data.places[i].lon for i in self._places], dtype=np.float64),
        )

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
        near = _Near(
            areas=self._containing(lat, lon),
            addr=self._addresses.nearest(lat, lon, ADDRESS_RADIUS_M),
            street=self._streets.nearest(lat, lon, STREET_RADIUS_M),
            place=self._place_tree.nearest(lat, lon, PLACE_RADIUS_M),
        )
        limit = max(max_results, len(include))
        out: list[Answer] = []
        for i in range(n):
            found: list[GeocodeResult] = []
            for etype, result in self._levels(i, float(lat[i]), float(lon[i]), near):
                if include and etype not in include:
                    continue
                if not include and etype in (EntityType.NEIGHBORHOOD, EntityType.POSTCODE):
                    continue  # by default the finest of address, street, place, admin, country
                found.append(result)
                if len(found) >= (limit if include else 1):
                    break
            if found:
                out.append(Answer(ResultStatus.OK, tuple(found)))
            else:
                out.append(Answer(ResultStatus.NO_RESULT, reason=_no_result_reason(include)))
        return out

    def _levels(
        self, i: int, lat: float, lon: float, near: _Near
    ) -> Iterator[tuple[EntityType, GeocodeResult]]:
        """Every result the point can have, finest first, tagged with the type it answers for
        (a street answers for Address when no address is near)."""
        areas = near.areas[i]
        addr, addr_m = int(near.addr[0][i]), float(near.addr[1][i])
        vertex, street_m = int(near.street[0][i]), float(near.street[1][i])
        if addr >= 0:
            yield EntityType.ADDRESS, self._address_result(addr, addr_m, areas)
        elif vertex >= 0:
            street = int(self._vertex_street[vertex])
            yield EntityType.ADDRESS, self._street_result(street, street_m, lat, lon, areas)
        prow = int(near.place[0][i])
        place = self.vocab.data.places[self._places[prow]] if prow >= 0 else None
        place_m = float(near.place[1][i])
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
        postcode = areas.postcode or (self.vocab.data.addr_postcode[addr] if addr >= 0 else None)
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

    def _containing(self, lat: FloatArray, lon: FloatArray) -> list[_Areas]:
        result = [_Areas(best_level={}) for _ in range(len(lat))]
        hits = self._polygons.containing(lat, lon)
        for p, a in zip(hits.points.tolist(), hits.polygons.tolist(), strict=True):
            area = self._areas[a]
            got = result[p]
            assert got.best_level is not None
            if area.kind == "postcode":
                got.postcode = got.postcode or area.name
                continue
            if area.country_code:
                # The finest area that knows its country decides it (a municipality beats a
                # coarse built-in outline near a border); a data set's own beats the built-in.
                country_rank = (area.level, area.source != BUILTIN_NAME)
                if got.country_code is None or country_rank > got.country_rank:
                    got.country_rank = country_rank
                    got.country_code = area.country_code
            slot = _LEVEL_SLOTS.get(area.level)
            if slot is not None and slot != "country":
                rank = _SLOT_PREFERENCE[slot].index(area.level)
                if rank < got.best_level.get(slot, 99):
                    got.best_level[slot] = rank
                    setattr(got, slot, area.name)
        return result

    def _address_result(self, a: int, metres: float, areas: _Areas) -> GeocodeResult:
        d = self.vocab.data
        street = d.streets[d.addr_street[a]]
        cc = street.country_code or areas.country_code
        country = self.vocab.country_name(cc)
        postcode = d.addr_postcode[a] or street.postcode or areas.postcode
        locality = street.locality or areas.locality
        admin1 = areas.admin1 or street.admin1
        address = Address(
            house_number=d.addr_number[a], street=street.name, unit=d.addr_unit[a],
            neighborhood=street.neighborhood or areas.neighborhood, locality=locality,
            postal_code=postcode, admin_district2=areas.admin2 or street.admin2,
            admin_district=admin1, country=country, country_code=cc,
            formatted=format_address(
                house_number=d.addr_number[a], street=street.name, unit=None, locality=locality,
                postal_code=postcode, admin_district=admin1, country=country, country_code=cc,
            ),
        )  # fmt: skip
        lat, lon = float(d.addr_lat[a]), float(d.addr_lon[a])
        conf = Confidence.HIGH if metres <= 30 else Confidence.MEDIUM
        return _result(address, lat, lon, EntityType.ADDRESS, conf, metres, street.source,
                       BoundingBox.around(lat, lon, 25.0))  # fmt: skip

    def _street_result(
        self, s: int, metres: float, lat: float, lon: float, areas: _Areas
    ) -> GeocodeResult:
        street = self.vocab.data.streets[s]
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
        return _result(address, float(lat), float(lon), EntityType.ROAD_BLOCK, conf, metres,
                       street.source, BoundingBox(*street.bbox))  # fmt: skip

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
        from_polygon = {
            EntityType.NEIGHBORHOOD: areas.neighborhood,
            EntityType.POPULATED_PLACE: areas.locality,
            EntityType.POSTCODE: areas.postcode,
            EntityType.ADMIN_DIVISION2: areas.admin2,
            EntityType.ADMIN_DIVISION1: areas.admin1,
            EntityType.COUNTRY: areas.country_code,
        }[etype]
        nearest_place = etype is EntityType.POPULATED_PLACE and not from_polygon and place
        conf = Confidence.MEDIUM if from_polygon else Confidence.LOW
        bbox = (
            BoundingBox(*place.bbox)
            if nearest_place and place
            else BoundingBox.around(lat, lon, 1_000.0)
        )
        source = place.source if place else ""
        return _result(address, lat, lon, etype, conf, metres if nearest_place else 0.0, source,
                       bbox)  # fmt: skip


_AREA_LEVEL = {
    EntityType.NEIGHBORHOOD: 0,
    EntityType.POSTCODE: 1,
    EntityType.POPULATED_PLACE: 2,
    EntityType.ADMIN_DIVISION2: 3,
    EntityType.ADMIN_DIVISION1: 4,
    EntityType.COUNTRY: 5,
}


@dataclass(frozen=True, slots=True)
class _Near:
    """What the vectorised look-ups found for a chunk of points."""

    areas: list[_Areas]
    addr: tuple[IntArray, FloatArray]
    street: tuple[IntArray, FloatArray]
    place: tuple[IntArray, FloatArray]


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


def _result(
    address: Address,
    lat: float,
    lon: float,
    etype: EntityType,
    conf: Confidence,
    metres: float,
    source: str,
    bbox: BoundingBox,
) -> GeocodeResult:
    return GeocodeResult(
        point=Point(lat, lon),
        address=address,
        entity_type=etype,
        confidence=conf,
        match_codes=(MatchCode.GOOD,),
        bbox=bbox,
        calculation_method=CalculationMethod.ROOFTOP,
        name=address.formatted or "",
        source=source,
        distance_m=round(metres, 1),
    )


def _street_vertices(vocab: Vocabulary) -> tuple[np.ndarray, FloatArray, FloatArray]:
    streets: list[np.ndarray] = []
    coords: list[np.ndarray] = []
    for i, s in enumerate(vocab.data.streets):
        if s.wkb is None:
            continue
        geom = shapely.segmentize(shapely.from_wkb(s.wkb), DENSIFY_DEG)
        xy = shapely.get_coordinates(geom)
        coords.append(xy)
        streets.append(np.full(len(xy), i, dtype=np.int64))
    if not coords:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    xy = np.concatenate(coords)
    return np.concatenate(streets), xy[:, 1].copy(), xy[:, 0].copy()


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
