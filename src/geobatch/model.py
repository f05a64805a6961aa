"""Value types shared by every layer: requests, results, and the Bing-style enums they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
        return not any(
            (v or "").strip()
            for v in (
                self.query,
                self.address_line,
                self.locality,
                self.admin_district,
                self.admin_district2,
                self.postal_code,
                self.postal_town,
                self.country,
            )
        )


@dataclass(frozen=True, slots=True)
class ReverseRequest:
    """One reverse request. ``include_entity_types`` is Bing's IncludeEntityTypes: the kinds of
    result wanted (one of each that exists); empty means the finest result available."""

    lat: float
    lon: float
    max_results: int = 1
    include_entity_types: tuple[EntityType, ...] = ()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request got: a status, zero or more results, and the reason when there are none."""

    status: ResultStatus
    results: tuple[GeocodeResult, ...] = field(default_factory=tuple)
    reason: str = ""

    @property
    def best(self) -> GeocodeResult | None:
        return self.results[0] if self.results else None
