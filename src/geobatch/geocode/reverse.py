"""Reverse geocoding, vectorised: a whole chunk of points is answered with array operations.

For each point: the nearest address within :data:`ADDRESS_RADIUS_M`; else the nearest street
within :data:`STREET_RADIUS_M`; else the locality (its polygon, or the nearest settlement); else the
admin area or country containing the point. Admin parts always come from the polygons that
contain the point, not from the nearest town, so points near a border get the right country.
A point outside every imported and built-in polygon, with nothing near, gets no result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geobatch.geocode.formatting import format_address
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary
from geobatch.index.spatial import FloatArray, PointTree, PolygonIndex
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

    def reverse_many(self, lat: FloatArray, lon: FloatArray) -> list[Answer]:
        n = len(lat)
        areas = self._containing(lat, lon)
        addr, addr_m = self._addresses.nearest(lat, lon, ADDRESS_RADIUS_M)
        street_vertex, street_m = self._streets.nearest(lat, lon, STREET_RADIUS_M)
        place, place_m = self._place_tree.nearest(lat, lon, PLACE_RADIUS_M)
        out: list[Answer] = []
        for i in range(n):
            if addr[i] >= 0:
                out.append(self._address_answer(int(addr[i]), float(addr_m[i]), areas[i]))
            elif street_vertex[i] >= 0:
                street = int(self._vertex_street[street_vertex[i]])
                out.append(
                    self._street_answer(street, float(street_m[i]), lat[i], lon[i], areas[i])
                )
            elif areas[i].locality or place[i] >= 0 or areas[i].country_code:
                p = self._places[place[i]] if place[i] >= 0 else None
                out.append(self._area_answer(p, float(place_m[i]), lat[i], lon[i], areas[i]))
            else:
                out.append(
                    Answer(
                        ResultStatus.NO_RESULT,
                        reason="no address, street or place near this point "
                        "(at sea, or outside the imported and built-in data)",
                    )
                )
        return out

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
            slot = _LEVEL_SLOTS.get(area.level)
            if slot == "country":
                # Source polygons are loaded after the built-in ones; a finer one wins.
                if area.country_code and (
                    got.country_code is None or area.source != "builtin-world"
                ):
                    got.country_code = area.country_code
            elif slot is not None:
                rank = _SLOT_PREFERENCE[slot].index(area.level)
                if rank < got.best_level.get(slot, 99):
                    got.best_level[slot] = rank
                    setattr(got, slot, area.name)
        return result

    def _address_answer(self, a: int, metres: float, areas: _Areas) -> Answer:
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
        return _answer(address, lat, lon, EntityType.ADDRESS, conf, metres, street.source,
                       BoundingBox.around(lat, lon, 25.0))  # fmt: skip

    def _street_answer(
        self, s: int, metres: float, lat: float, lon: float, areas: _Areas
    ) -> Answer:
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
        return _answer(address, float(lat), float(lon), EntityType.ROAD_BLOCK, conf, metres,
                       street.source, BoundingBox(*street.bbox))  # fmt: skip

    def _area_answer(
        self, place_row: int | None, metres: float, lat: float, lon: float, areas: _Areas
    ) -> Answer:
        place = self.vocab.data.places[place_row] if place_row is not None else None
        cc = areas.country_code or (place.country_code if place else None)
        locality = areas.locality or (place.name if place else None)
        admin1 = areas.admin1 or (place.admin1 if place else None)
        admin2 = areas.admin2 or (place.admin2 if place else None)
        country = self.vocab.country_name(cc)
        if locality:
            etype, conf = (
                EntityType.POPULATED_PLACE,
                (Confidence.MEDIUM if areas.locality else Confidence.LOW),
            )
        elif admin2:
            etype, conf = EntityType.ADMIN_DIVISION2, Confidence.MEDIUM
        elif admin1:
            etype, conf = EntityType.ADMIN_DIVISION1, Confidence.MEDIUM
        else:
            etype, conf = EntityType.COUNTRY, Confidence.MEDIUM
        address = Address(
            neighborhood=areas.neighborhood, locality=locality, postal_code=areas.postcode,
            admin_district2=admin2, admin_district=admin1, country=country, country_code=cc,
            formatted=", ".join(dict.fromkeys(p for p in (locality, admin1, country) if p)),
        )  # fmt: skip
        bbox = (
            BoundingBox(*place.bbox)
            if place and not areas.locality
            else BoundingBox.around(float(lat), float(lon), 1_000.0)
        )
        distance = metres if place and not areas.locality else 0.0
        source = place.source if place else ""
        return _answer(address, float(lat), float(lon), etype, conf, distance, source, bbox)


def _answer(
    address: Address,
    lat: float,
    lon: float,
    etype: EntityType,
    conf: Confidence,
    metres: float,
    source: str,
    bbox: BoundingBox,
) -> Answer:
    result = GeocodeResult(
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
    return Answer(ResultStatus.OK, (result,))


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
