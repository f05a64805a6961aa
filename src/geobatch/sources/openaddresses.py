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
from itertools import islice
from pathlib import Path

import numpy as np
import numpy.typing as npt

from geobatch.errors import SourceError
from geobatch.sources.files import (
    ByteProgress,
    FileSource,
    TextFile,
    translated_errors,
)
from geobatch.sources.records import AddressBatch, AddressRecord, Progress, Record

BATCH_ROWS = 50_000

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
        for batch in self.read_batches(progress):
            yield from batch.records()

    def read_batches(self, progress: Progress | None = None) -> Iterator[AddressBatch]:
        """The addresses in batches of columns: a country's millions of rows without a Python
        object per row."""
        self.skipped = 0
        with translated_errors(self.path), TextFile(self.path) as source:
            rows = csv.reader(source.text)
            columns = self._columns(next(rows, []))
            bytes_read = ByteProgress(progress, source, self.size_hint)
            while True:
                chunk = list(islice(rows, BATCH_ROWS))
                if not chunk:
                    break
                batch = self._batch(chunk, columns)
                self.skipped += len(chunk) - len(batch)
                if len(batch):
                    yield batch
                bytes_read.update()
            bytes_read.finish()

    def _batch(self, rows: list[list[str]], columns: dict[str, int]) -> AddressBatch:
        width = max(columns[c] for c in REQUIRED_COLUMNS) + 1
        if any(len(r) < width for r in rows):
            return self._slow_batch(rows, columns)
        lon = _floats([r[columns["LON"]] for r in rows])
        lat = _floats([r[columns["LAT"]] for r in rows])
        with np.errstate(invalid="ignore"):
            good = (
                np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
                & ((lon != 0.0) | (lat != 0.0))
            )  # fmt: skip
        number = [r[columns["NUMBER"]].strip() for r in rows]
        keep = [i for i in np.flatnonzero(good).tolist() if number[i]]
        if len(keep) < len(rows):
            rows = [rows[i] for i in keep]
            number = [number[i] for i in keep]
            lon, lat = lon[keep], lat[keep]

        def column(name: str) -> list[str | None]:
            position = columns.get(name)
            if position is None:
                return [None] * len(rows)
            return [r[position].strip() or None if position < len(r) else None for r in rows]

        return AddressBatch(
            lon=lon,
            lat=lat,
            housenumber=number,
            street=column("STREET"),
            unit=column("UNIT"),
            postcode=column("POSTCODE"),
            locality=column("CITY"),
            district=column("DISTRICT"),
            region=column("REGION"),
            country_code=[self.country_code] * len(rows),
        )

    def _slow_batch(self, rows: list[list[str]], columns: dict[str, int]) -> AddressBatch:
        """Row by row, for a chunk with short rows."""
        records = [r for row in rows if (r := self._record(row, columns)) is not None]
        return AddressBatch(
            lon=np.array([r.lon for r in records], dtype=np.float64),
            lat=np.array([r.lat for r in records], dtype=np.float64),
            housenumber=[r.housenumber for r in records],
            street=[r.street for r in records],
            unit=[r.unit for r in records],
            postcode=[r.postcode for r in records],
            locality=[r.locality for r in records],
            district=[r.district for r in records],
            region=[r.region for r in records],
            country_code=[r.country_code for r in records],
        )

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


def _floats(texts: list[str]) -> npt.NDArray[np.float64]:
    """The texts as floats, NaN where one is not a number (that row is skipped)."""
    try:
        return np.array(texts, dtype=np.float64)
    except ValueError:
        return np.array([_float(t) for t in texts], dtype=np.float64)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
