"""Value types shared by every layer: requests, results, and the Bing-style enums they carry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value_type(cls: type[_T]) -> type[_T]:
    """Declare a value class made in bulk on the hot paths: a slotted dataclass, immutable to
    the type checker (``mypy --strict`` rejects any assignment to a field) but not frozen at
    run time, because a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__`` and costs about five times as much (1.5 µs instead of 0.3 µs for
    eleven fields). Equal values hash alike, as frozen dataclasses do.

    Results cross process boundaries by the hundred thousand (batch workers to the job runner),
    so they pickle as (class, field values): one ``__init__`` call per object to unpickle
    instead of a state dictionary (a reverse answer: 6 µs instead of 24 µs to unpickle, 8 µs
    instead of 22 µs to pickle, and 10 % fewer bytes than as frozen dataclasses)."""
    make: Callable[[type[_T]], type[_T]] = dataclass(slots=True, unsafe_hash=True)
    made = make(cls)
    names = [f.name for f in fields(made)]  # type: ignore[arg-type]
    if len(names) > 1:
        values: Callable[[object], tuple[object, ...]] = attrgetter(*names)
    else:
        one = attrgetter(names[0])
        values = lambda obj: (one(obj),)  # noqa: E731

    def __reduce__(self: object) -> tuple[type[_T], tuple[object, ...]]:
        return made, values(self)

    made.__reduce__ = __reduce__  # type: ignore[method-assign]
    return made


class EntityType(StrEnum):
    """What a result is, in Bing's vocabulary."""

    ADDRESS = "Address"
    ROAD_BLOCK = "RoadBlock"
    POSTCODE = "Postcode1"
    NEIGHBORHOOD = "Neighborhood"
    POPULATED_PLACE = "PopulatedPlace"
    ADMIN_DIVISION2 = "AdminDivision2"
    ADMIN_DIVISION1 = "AdminDivision1"
    COUNTRY = "CountryRegion"


class Confidence(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


class MatchCode(StrEnum):
    GOOD = "Good"
    AMBIGUOUS = "Ambiguous"
    UP_HIERARCHY = "UpHierarchy"


class CalculationMethod(StrEnum):
    ROOFTOP = "Rooftop"
    INTERPOLATION = "Interpolation"
    INTERPOLATION_OFFSET = "InterpolationOffset"
    PARCEL = "Parcel"


class ResultStatus(StrEnum):
    OK = "OK"
    NO_RESULT = "NoResult"
    FAILED = "Failed"


@value_type
class Point:
    lat: float
    lon: float

    @property
    def __geo_interface__(self) -> dict[str, object]:
        """GeoJSON geometry (longitude first), as shapely and geopandas read it."""
        return {"type": "Point", "coordinates": (self.lon, self.lat)}


@value_type
class BoundingBox:
    south: float
    west: float
    north: float
    east: float

    @classmethod
    def around(cls, lat: float, lon: float, metres: float) -> BoundingBox:
        """A box of about ``metres`` on each side of a point."""
        import math

        dlat = metres / 111_320.0
        dlon = metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
        return cls(lat - dlat, lon - dlon, lat + dlat, lon + dlon)


@value_type
class Address:
    """The parts of an address; any may be missing."""

    house_number: str | None = None
    street: str | None = None
    unit: str | None = None
    neighborhood: str | None = None
    locality: str | None = None
    postal_code: str | None = None
    admin_district2: str | None = None
    admin_district: str | None = None
    country: str | None = None
    country_code: str | None = None
    formatted: str | None = None


@value_type
class GeocodeRequest:
    """One forward request: free text, structured fields, or both."""

    query: str | None = None
    address_line: str | None = None
    locality: str | None = None
    admin_district: str | None = None
    admin_district2: str | None = None
    postal_code: str | None = None
    postal_town: str | None = None
    country: str | None = None
    max_results: int = 1

    def is_empty(self) -> bool:
        # Asked of every request of a batch: plain tests, no generator.
        for v in (
            self.query,
            self.address_line,
            self.locality,
            self.admin_district,
            self.admin_district2,
            self.postal_code,
            self.postal_town,
            self.country,
        ):
            if v and not v.isspace():
                return False
        return True


@value_type
class ReverseRequest:
    """One reverse request. ``include_entity_types`` is Bing's IncludeEntityTypes: the kinds of
    result wanted (one of each that exists); empty means the finest result available."""

    lat: float
    lon: float
    max_results: int = 1
    include_entity_types: tuple[EntityType, ...] = ()


@value_type
class GeocodeResult:
    """One candidate answer; a request may get several, best first."""

    point: Point
    address: Address
    entity_type: EntityType
    confidence: Confidence
    match_codes: tuple[MatchCode, ...]
    bbox: BoundingBox
    calculation_method: CalculationMethod = CalculationMethod.ROOFTOP
    name: str = ""
    source: str = ""
    score: float = 0.0
    distance_m: float | None = None

    @property
    def __geo_interface__(self) -> dict[str, object]:
        """A GeoJSON Feature: the point, its bounding box and the result's facts."""
        a = self.address
        parts = {
            "formatted_address": a.formatted,
            "house_number": a.house_number,
            "street": a.street,
            "unit": a.unit,
            "neighborhood": a.neighborhood,
            "locality": a.locality,
            "postal_code": a.postal_code,
            "admin_district2": a.admin_district2,
            "admin_district": a.admin_district,
            "country": a.country,
            "country_code": a.country_code,
        }
        properties: dict[str, object] = {k: v for k, v in parts.items() if v}
        properties.update(
            entity_type=str(self.entity_type),
            confidence=str(self.confidence),
            match_codes=[str(code) for code in self.match_codes],
            calculation_method=str(self.calculation_method),
        )
        b = self.bbox
        return {
            "type": "Feature",
            "geometry": self.point.__geo_interface__,
            "bbox": (b.west, b.south, b.east, b.north),
            "properties": properties,
        }


@value_type
class Answer:
    """What a request got: a status, zero or more results, and the reason when there are none."""

    status: ResultStatus
    results: tuple[GeocodeResult, ...] = field(default_factory=tuple)
    reason: str = ""

    @property
    def best(self) -> GeocodeResult | None:
        return self.results[0] if self.results else None
