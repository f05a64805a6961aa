"""Read US house-number ranges (TIGER/Line) in the layout the Nominatim project publishes.

One semicolon-separated CSV per county, ``from;to;interpolation;street;city;state;postcode;
geometry`` (``interpolation`` odd, even or all; ``geometry`` a WKT LINESTRING in WGS84; ``city``
is the county), either alone (``.csv``, ``.csv.gz``) or many in the ``.tar.gz`` that covers the
whole US. Each range becomes:

- an :class:`InterpolationRecord` along its line, numbered ``from`` at the first vertex and
  ``to`` at the last, with its parity, street and ZIP: a house number inside it is placed in
  proportion along the line (as Nominatim does);
- a :class:`StreetRecord` of the same line, so the data set holds the streets its ranges belong
  to (the ranges of one street in one place become one street entity), with the state and
  county of the range;
- and per ZIP one :class:`PostcodeRecord` at the middle of its ranges, so "…, AL 36067" is
  read as a postcode.

A row that does not parse (no geometry, numbers that are not numbers) is skipped and counted in
:attr:`TigerSource.skipped`. TIGER/Line is public domain (US Census Bureau).
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO

import pycountry

from geobatch.errors import SourceError
from geobatch.sources.files import (
    PROGRESS_EVERY,
    ByteProgress,
    FileSource,
    TextFile,
    translated_errors,
)
from geobatch.sources.records import (
    InterpolationRecord,
    PostcodeRecord,
    Progress,
    Record,
    StreetRecord,
)

TIGER_COLUMNS = ("from", "to", "interpolation", "street", "city", "state", "postcode", "geometry")
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
SCHEMES = frozenset({"odd", "even", "all"})
_LINESTRING = re.compile(r"^\s*LINESTRING\s*\((.*)\)\s*$", re.IGNORECASE)


def is_tiger_header(line: str) -> bool:
    return tuple(c.strip().lower() for c in line.split(";")) == TIGER_COLUMNS


def parse_linestring(wkt: str) -> tuple[tuple[float, float], ...] | None:
    """The (lon, lat) vertices of a WKT LINESTRING, or None when it is not one."""
    m = _LINESTRING.match(wkt)
    if not m:
        return None
    coords = []
    try:
        for pair in m.group(1).split(","):
            lon_text, lat_text = pair.split()
            lon, lat = float(lon_text), float(lat_text)
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                return None
            coords.append((lon, lat))
    except ValueError:
        return None
    return tuple(coords) if len(coords) >= 2 else None


def state_name(code: str) -> str | None:
    """The name of a US state from its postal code ("AL": Alabama), None for an unknown one."""
    return _us_states().get(f"US-{code.strip().upper()}")


@lru_cache(maxsize=1)
def _us_states() -> dict[str, str]:
    return {str(s.code): str(s.name) for s in pycountry.subdivisions if s.country_code == "US"}


class TigerSource(FileSource):
    """A Nominatim TIGER CSV, or the tar archive of many."""

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        self.skipped = 0
        zips: dict[str, list[float]] = {}  # ZIP -> [lon sum, lat sum, count]
        with translated_errors(self.path):
            if self.path.name.lower().endswith(TAR_SUFFIXES):
                yield from self._read_tar(zips, progress)
            else:
                with TextFile(self.path) as source:
                    bytes_read = ByteProgress(progress, source, self.size_hint)
                    yield from self._read_csv(source.text, zips, bytes_read, str(self.path))
                    bytes_read.finish()
        for zip_code, (lon, lat, n) in zips.items():
            yield PostcodeRecord(zip_code, lon / n, lat / n, country_code="US")

    def _read_tar(
        self, zips: dict[str, list[float]], progress: Progress | None
    ) -> Iterator[Record]:
        with tarfile.open(self.path, mode="r:*") as archive:
            found = False
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(".csv"):
                    continue
                raw = archive.extractfile(member)
                if raw is None:
                    continue
                found = True
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                yield from self._read_csv(text, zips, None, f"{self.path}:{member.name}")
                if progress is not None:
                    progress.advance(member.size)
            if not found:
                raise SourceError(f"{self.path} holds no TIGER .csv file.")

    def _read_csv(
        self,
        text: IO[str],
        zips: dict[str, list[float]],
        bytes_read: ByteProgress | None,
        where: str,
    ) -> Iterator[Record]:
        rows = csv.reader(text, delimiter=";")
        header = next(rows, None)
        if header is None or not is_tiger_header(";".join(header)):
            raise SourceError(
                f"{where} is not a TIGER range file: expected the header {';'.join(TIGER_COLUMNS)}."
            )
        states: dict[str, str | None] = {}
        for count, row in enumerate(rows, start=1):
            made = self._records(row, states)
            if made is None:
                self.skipped += 1
            else:
                yield from made
                line = made[0]
                assert isinstance(line, InterpolationRecord)
                if line.postcode:
                    lon, lat = line.coords[len(line.coords) // 2]
                    acc = zips.setdefault(line.postcode, [0.0, 0.0, 0.0])
                    acc[0] += lon
                    acc[1] += lat
                    acc[2] += 1
            if bytes_read is not None and count % PROGRESS_EVERY == 0:
                bytes_read.update()

    def _records(
        self, row: list[str], states: dict[str, str | None]
    ) -> tuple[InterpolationRecord, StreetRecord] | None:
        if len(row) != len(TIGER_COLUMNS):
            return None
        start, end, scheme, street, county, state, postcode, wkt = (c.strip() for c in row)
        coords = parse_linestring(wkt)
        if coords is None or not street or scheme not in SCHEMES:
            return None
        if not (start.isdigit() and end.isdigit()):
            return None
        if state not in states:
            states[state] = state_name(state)
        zip_code = postcode or None
        line = InterpolationRecord(
            coords=coords,
            scheme=scheme,
            numbered=((0, start), (len(coords) - 1, end)),
            street=street,
            postcode=zip_code,
        )
        way = StreetRecord(
            name=street,
            coords=coords,
            postcode=zip_code,
            admin1=states[state],
            admin2=county or None,
        )
        return line, way


def is_tiger_archive(path: Path) -> bool:
    """Whether ``path`` is a tar archive (the whole-US file): judged by its name."""
    return path.name.lower().endswith(TAR_SUFFIXES)
