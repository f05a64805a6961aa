"""Output files other than CSV: the run's CSV bytes, read back a slice at a time, written as
GeoJSON, GeoPackage or GeoParquet.

The CSV pipeline (:func:`geobatch.batch.csvrun.run_csv`) writes each slice's output bytes in
input order; a :class:`TableSink` stands where the CSV file would and hands the slice's rows
to a :class:`RowWriter`. So every format gets the same rows, in the same order, with the same
Failed rows and reasons as a CSV output, and memory stays at a slice (a row group for
Parquet). Rows reach the writer with their values exact (no spreadsheet-formula quotes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from geobatch.batch.gpkg import GeoPackageWriter, layer_name
from geobatch.batch.parquetout import ParquetWriter
from geobatch.errors import require
from geobatch.formats.filekinds import OutputKind
from geobatch.formats.tablegeo import GeoJsonWriter, OutputTable

TABLE_DELIMITER = ","  # the delimiter of the CSV bytes a sink reads


class RowWriter(Protocol):
    """A file being written a batch of output rows (CSV cells) at a time."""

    def write_rows(self, rows: Sequence[Sequence[str]], /) -> None: ...

    def close(self) -> None:
        """Finish the file; after a failure too, so that the rows written so far are usable."""


class TableSink:
    """``write(csv_bytes)`` of whole output records, parsed and handed to ``writer``."""

    def __init__(self, writer: RowWriter) -> None:
        self.writer = writer

    def write(self, data: bytes, /) -> int:
        text = io.StringIO(data.decode("utf-8"), newline="")
        rows = [row for row in csv.reader(text, delimiter=TABLE_DELIMITER) if row]
        if rows:
            self.writer.write_rows(rows)
        return len(data)


def check_available(kind: OutputKind) -> None:
    """Raise :class:`~geobatch.errors.MissingExtra` before any work when the output format's
    optional dependency is not installed."""
    if kind is OutputKind.PARQUET:
        require("pyarrow.parquet", "parquet", "writing a Parquet file")


def open_writer(kind: OutputKind, path: Path, table: OutputTable, arrow_schema: Any) -> RowWriter:
    """A writer of ``kind`` making a new file at ``path``."""
    if kind is OutputKind.GEOJSON:
        return GeoJsonWriter(path.open("wb"), table)
    if kind is OutputKind.GPKG:
        return GeoPackageWriter(path, table, layer_name(path))
    if kind is OutputKind.PARQUET:
        return ParquetWriter(path, table, arrow_schema)
    raise ValueError(f"no table writer for {kind}")
