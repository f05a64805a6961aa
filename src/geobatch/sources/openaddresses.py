"""Read address points from OpenAddresses-layout CSV files (``.csv`` or ``.csv.gz``).

The layout is ``LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH`` in WGS84.
Header names are matched case-insensitively; extra columns (``SOURCE``...) are ignored and only
``LON``, ``LAT``, ``NUMBER`` and ``STREET`` are required. Rows are streamed, never loaded at once.
A row whose coordinates do not parse or lie outside the globe, or that has no house number, is
skipped and counted in :attr:`OpenAddressesSource.skipped`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from geobatch.errors import SourceError
from geobatch.sources.files import (
    PROGRESS_EVERY,
    ByteProgress,
    FileSource,
    TextFile,
    translated_errors,
)
from geobatch.sources.records import AddressRecord, Progress, Record

REQUIRED_COLUMNS = ("LON", "LAT", "NUMBER", "STREET")
OPTIONAL_COLUMNS = ("UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE")


def is_openaddresses_header(line: str) -> bool:
    """True when a CSV header line has every required OpenAddresses column."""
    names = {name.strip().upper() for name in next(csv.reader([line]), [])}
    return all(column in names for column in REQUIRED_COLUMNS)


def parse_point(lon_text: str, lat_text: str) -> tuple[float, float] | None:
    """``(lon, lat)`` from two strings, or None when unparseable, not finite or off the globe."""
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        return None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        return None
    # (0, 0) in an address file is a failed geocode or reprojection, never a real address.
    if lon == 0.0 and lat == 0.0:
        return None
    return lon, lat


def column_index(header: Sequence[str]) -> dict[str, int]:
    """Upper-cased, stripped column name -> position (the first one wins on duplicates)."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip().upper(), position)
    return index


class OpenAddressesSource(FileSource):
    """One OpenAddresses CSV file. ``country_code`` is stamped on every address when given."""

    def __init__(self, path: Path, *, country_code: str | None = None) -> None:
        super().__init__(path)
        self.country_code = country_code.upper() if country_code else None

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        self.skipped = 0
        with translated_errors(self.path), TextFile(self.path) as source:
            rows = csv.reader(source.text)
            columns = self._columns(next(rows, []))
            bytes_read = ByteProgress(progress, source, self.size_hint)
            for count, row in enumerate(rows, start=1):
                record = self._record(row, columns)
                if record is None:
                    self.skipped += 1
                else:
                    yield record
                if count % PROGRESS_EVERY == 0:
                    bytes_read.update()
            bytes_read.finish()

    def _columns(self, header: Sequence[str]) -> dict[str, int]:
        index = column_index(header)
        missing = [column for column in REQUIRED_COLUMNS if column not in index]
        if missing:
            raise SourceError(
                f"{self.path} is not an OpenAddresses CSV: it has no "
                f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}."
            )
        return index

    def _record(self, row: Sequence[str], columns: dict[str, int]) -> AddressRecord | None:
        def field(column: str) -> str | None:
            position = columns.get(column)
            if position is None or position >= len(row):
                return None
            return row[position].strip() or None

        point = parse_point(field("LON") or "", field("LAT") or "")
        number = field("NUMBER")
        if point is None or number is None:
            return None
        return AddressRecord(
            lon=point[0],
            lat=point[1],
            housenumber=number,
            street=field("STREET"),
            unit=field("UNIT"),
            postcode=field("POSTCODE"),
            locality=field("CITY"),
            district=field("DISTRICT"),
            region=field("REGION"),
            country_code=self.country_code,
        )
