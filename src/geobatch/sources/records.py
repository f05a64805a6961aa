"""Plain records that every source reader yields and the index builder consumes.

Coordinates are WGS84 degrees; sequences of coordinates are ``(lon, lat)`` pairs (GeoJSON order).
Country codes are ISO 3166-1 alpha-2, upper case. Names are kept as the source spells them;
normalisation happens in :mod:`geobatch.text` when the index is built.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


class PlaceKind(StrEnum):
    """Kinds of named places, coarsest first in :data:`PLACE_RANK` order."""

    COUNTRY = "country"
    STATE = "state"  # first-level subdivision (Bing AdminDivision1)
    COUNTY = "county"  # second-level subdivision (Bing AdminDivision2)
    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"
    HAMLET = "hamlet"
    SUBURB = "suburb"
    NEIGHBOURHOOD = "neighbourhood"
    LOCALITY = "locality"  # named place with no settlement (isolated_dwelling, locality, farm)


@dataclass(frozen=True, slots=True)
class AddressRecord:
    lon: float
    lat: float
    housenumber: str
    street: str | None  # addr:street, or addr:place when the address hangs off a place
    unit: str | None = None
    postcode: str | None = None
    locality: str | None = None  # addr:city / OA CITY
    district: str | None = None  # addr:suburb / OA DISTRICT
    region: str | None = None  # addr:state / OA REGION
    country_code: str | None = None
    street_is_place: bool = False  # True when ``street`` came from addr:place


@dataclass(frozen=True, slots=True)
class AddressBatch:
    """Many addresses as columns: what a tabular reader of millions of rows hands the importer
    (one object per few thousand rows instead of one per row). Same fields as AddressRecord."""

    lon: Sequence[float] | npt.NDArray[np.float64]
    lat: Sequence[float] | npt.NDArray[np.float64]
    housenumber: list[str]
    street: list[str | None]
    unit: list[str | None]
    postcode: list[str | None]
    locality: list[str | None]
    district: list[str | None]
    region: list[str | None]
    country_code: list[str | None]

    def __len__(self) -> int:
        return len(self.housenumber)

    def records(self) -> Iterator[AddressRecord]:
        for i, (lon, lat) in enumerate(zip(self.lon, self.lat, strict=True)):
            yield AddressRecord(
                lon=float(lon),
                lat=float(lat),
                housenumber=self.housenumber[i],
                street=self.street[i],
                unit=self.unit[i],
                postcode=self.postcode[i],
                locality=self.locality[i],
                district=self.district[i],
                region=self.region[i],
                country_code=self.country_code[i],
            )


@dataclass(frozen=True, slots=True)
class StreetRecord:
    name: str
    coords: tuple[tuple[float, float], ...]  # a way's line, (lon, lat) pairs, at least one
    highway: str = ""  # OSM highway=* value, for ranking (residential, primary, ...)
    alt_names: tuple[str, ...] = ()  # old_name, alt_name, short_name, name:xx ...
    postcode: str | None = None
    # What the source says of the street's areas (TIGER ranges know their state and county);
    # point in polygon fills what is not given.
    admin1: str | None = None
    admin2: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceRecord:
    name: str
    kind: PlaceKind
    lon: float
    lat: float
    alt_names: tuple[str, ...] = ()
    population: int = 0
    country_code: str | None = None
    admin1: str | None = None  # name of the first-level subdivision it lies in, when known
    admin1_code: str | None = None  # its short code (ISO 3166-2 suffix: "WA", "ENG"), when known
    admin2: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # (west, south, east, north)


class AreaKind(StrEnum):
    ADMIN = "admin"
    POSTCODE = "postcode"


@dataclass(frozen=True, slots=True)
class AreaRecord:
    """A polygon: an administrative boundary (with its OSM admin_level) or a postcode area."""

    name: str
    kind: AreaKind
    level: int  # OSM admin_level: 2 country, 4 state, 6 county, 8 municipality, ...
    wkb: bytes  # (multi)polygon in lon/lat, well-known binary
    country_code: str | None = None  # for level 2, the ISO code of the country itself
    alt_names: tuple[str, ...] = ()
    code: str | None = None  # ISO 3166-2 code or similar short code where tagged ("US-WA")


@dataclass(frozen=True, slots=True)
class InterpolationRecord:
    """An addr:interpolation way, with the house numbers found on its nodes."""

    coords: tuple[tuple[float, float], ...]
    scheme: str  # even | odd | all | alphabetic | a number (step)
    numbered: tuple[tuple[int, str], ...]  # (index into coords, housenumber) of tagged nodes
    street: str | None = None
    postcode: str | None = None
    locality: str | None = None


@dataclass(frozen=True, slots=True)
class PostcodeRecord:
    """A postcode with a representative point (from a centroid file or a postal_code area)."""

    postcode: str
    lon: float
    lat: float
    country_code: str | None = None
    locality: str | None = None


Record = (
    AddressRecord | StreetRecord | PlaceRecord | AreaRecord | InterpolationRecord | PostcodeRecord
)


class Progress(Protocol):
    """Told how far a reader has come; implemented by the CLI's progress bar."""

    def advance(self, amount: int) -> None: ...


class Source(Protocol):
    """A readable data set. ``name`` identifies it in the index: re-importing replaces it."""

    @property
    def name(self) -> str: ...

    @property
    def size_hint(self) -> int:
        """Roughly how many units ``read`` will report to its progress (bytes or rows)."""
        ...

    def read(self, progress: Progress | None = None) -> Iterator[Record]: ...


@runtime_checkable
class BatchSource(Source, Protocol):
    """A source that can also hand its addresses over in batches (the importer's fast path)."""

    def read_batches(self, progress: Progress | None = None) -> Iterator[Record | AddressBatch]: ...
