"""The output rows of a batch run as typed, located records, for the machine formats the CLI
writes beside CSV: GeoJSON, GeoPackage and (Geo)Parquet.

An output row is the CSV row (every input column, then the result columns of
:data:`geobatch.formats.plaincsv.RESULT_COLUMNS`). :class:`OutputTable` gives the same row as
typed values under unique column names (coordinates and bounding box as numbers; the input's
own types where it had them, as a Parquet input does) and its point, where the row has a
result. Values are written exactly as they are: spreadsheet-formula neutralisation is for CSV
files people open in spreadsheets, not for these formats.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from geobatch.formats.cells import ColumnType, typed, unique_names
from geobatch.formats.plaincsv import RESULT_COLUMNS

NUMERIC_RESULTS = frozenset({"lat", "lon", "bbox_south", "bbox_west", "bbox_north", "bbox_east"})

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class OutputTable:
    """Column names (unique, case-insensitively; never ``reserved``), their types, and where
    the result's latitude and longitude are in a row."""

    names: tuple[str, ...]
    types: tuple[ColumnType, ...]
    lat_at: int
    lon_at: int

    @classmethod
    def build(
        cls,
        input_header: Sequence[str],
        result_names: Sequence[str],
        input_types: Sequence[ColumnType] | None = None,
        *,
        reserved: Sequence[str] = (),
    ) -> OutputTable:
        """For the input's columns (typed as ``input_types``, else text) and the result columns
        named ``result_names`` (in the order of RESULT_COLUMNS)."""
        width = len(input_header)
        kinds = list(input_types) if input_types is not None else [ColumnType.TEXT] * width
        results = [
            ColumnType.REAL if column in NUMERIC_RESULTS else ColumnType.TEXT
            for column in RESULT_COLUMNS
        ]
        names = unique_names([*input_header, *result_names], reserved=reserved)
        return cls(
            tuple(names),
            tuple([*kinds, *results]),
            width + RESULT_COLUMNS.index("lat"),
            width + RESULT_COLUMNS.index("lon"),
        )

    def values(self, row: Sequence[str]) -> list[Value]:
        """The typed values of an output row (short rows padded with empty cells)."""
        cells = list(row[: len(self.names)])
        cells += [""] * (len(self.names) - len(cells))
        return [typed(cell, kind) for cell, kind in zip(cells, self.types, strict=True)]

    def point(self, row: Sequence[str]) -> tuple[float, float] | None:
        """(longitude, latitude) of the row's result, or None for a row without one."""
        try:
            lat, lon = float(row[self.lat_at]), float(row[self.lon_at])
        except (IndexError, ValueError):
            return None
        if math.isfinite(lat) and math.isfinite(lon):
            return lon, lat
        return None


# --- GeoJSON -----------------------------------------------------------------------------------


def _json_safe(value: Value) -> Value:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def feature(table: OutputTable, row: Sequence[str]) -> dict[str, Any]:
    """A row as a GeoJSON Feature: a Point at its result ([lon, lat]), or a null geometry."""
    point = table.point(row)
    geometry = None if point is None else {"type": "Point", "coordinates": list(point)}
    properties = {
        name: _json_safe(value) for name, value in zip(table.names, table.values(row), strict=True)
    }
    return {"type": "Feature", "geometry": geometry, "properties": properties}


class GeoJsonWriter:
    """A FeatureCollection streamed to ``out``, one Feature a line (RFC 7946). :meth:`close`
    ends the collection, so a file closed after a failure is valid GeoJSON too."""

    def __init__(self, out: BinaryIO, table: OutputTable) -> None:
        self._out = out
        self._table = table
        self._count = 0
        out.write(b'{"type":"FeatureCollection","features":[\n')

    def write_rows(self, rows: Sequence[Sequence[str]]) -> None:
        parts: list[str] = []
        for row in rows:
            text = json.dumps(
                feature(self._table, row),
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
            )
            parts.append(("" if not self._count and not parts else ",\n") + text)
        self._count += len(parts)
        self._out.write("".join(parts).encode("utf-8"))

    def close(self) -> None:
        self._out.write(b"\n]}\n")
        self._out.close()


# --- binary geometry ---------------------------------------------------------------------------

WGS84_SRS_ID = 4326
_WKB_POINT = struct.Struct("<BIdd")
_GPKG_HEADER = struct.Struct("<2sBBi")
_GPKG_LITTLE_ENDIAN_NO_ENVELOPE = 0b0000_0001


def wkb_point(lon: float, lat: float) -> bytes:
    """OGC Well-Known Binary of a 2D point, little-endian (21 bytes)."""
    return _WKB_POINT.pack(1, 1, lon, lat)


def gpkg_point(lon: float, lat: float, srs_id: int = WGS84_SRS_ID) -> bytes:
    """A GeoPackage geometry blob (GeoPackage 1.2, clause 2.1.3): the ``GP`` header (version
    0, little-endian, no envelope: a point is its own), the SRS id, then the WKB point."""
    header = _GPKG_HEADER.pack(b"GP", 0, _GPKG_LITTLE_ENDIAN_NO_ENVELOPE, srs_id)
    return header + wkb_point(lon, lat)


def geoparquet_metadata(column: str, bbox: Sequence[float] | None = None) -> bytes:
    """The ``geo`` key of a GeoParquet 1.1 file whose ``column`` holds WKB points in
    longitude/latitude (no ``crs`` member: OGC:CRS84 is the default)."""
    description: dict[str, Any] = {"encoding": "WKB", "geometry_types": ["Point"]}
    if bbox is not None:
        description["bbox"] = list(bbox)
    document = {"version": "1.1.0", "primary_column": column, "columns": {column: description}}
    return json.dumps(document).encode("utf-8")
