"""Write batch results as a GeoParquet file (Parquet 2 with the GeoParquet 1.1 ``geo`` key).

Columns: every input column — with its own Arrow type when the input was a Parquet file (its
values went through the pipeline as Arrow's text of them and are cast back), else as text —
then the result columns (``lat``, ``lon`` and ``bbox_*`` as doubles, the rest text), then a
``geometry`` column of WKB points that geopandas, DuckDB, QGIS and GDAL read as the rows'
locations. Rows are written in row groups as they come, so memory stays flat; closing the
writer after a failure still gives a valid file of the rows done so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geobatch.errors import InputError, require
from geobatch.formats.cells import ColumnType
from geobatch.formats.tablegeo import OutputTable, geoparquet_metadata, wkb_point

ROW_GROUP_ROWS = 64 * 1024
GEOMETRY = "geometry"


def restorable(arrow_type: Any) -> bool:
    """Whether text that Arrow made of ``arrow_type`` values casts back to them exactly."""
    import pyarrow as pa

    t = pa.types
    return bool(
        t.is_integer(arrow_type)
        or t.is_floating(arrow_type)
        or t.is_boolean(arrow_type)
        or t.is_decimal(arrow_type)
        or t.is_date(arrow_type)
        or t.is_timestamp(arrow_type)
        or t.is_string(arrow_type)
        or t.is_large_string(arrow_type)
    )


class ParquetWriter:
    """Rows of ``table`` into a new GeoParquet file at ``path``. ``input_schema`` is the Arrow
    schema of a Parquet input, whose column types the output keeps."""

    def __init__(self, path: Path, table: OutputTable, input_schema: Any = None) -> None:
        require("pyarrow.parquet", "parquet", "writing a Parquet file")
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._table = table
        width = len(table.names)
        self._geometry = _free_name(GEOMETRY, table.names)
        types: list[Any] = []
        self._plain: set[int] = set()  # columns of text (or doubles) made here, not restored
        for at, kind in enumerate(table.types):
            field_type = None
            if input_schema is not None and at < len(input_schema):
                original = input_schema.field(at).type
                if restorable(original):
                    field_type = original
            if field_type is None:
                field_type = pa.float64() if kind is ColumnType.REAL else pa.string()
                self._plain.add(at)
            types.append(field_type)
        self._types = types
        fields = [pa.field(name, kind) for name, kind in zip(table.names, types, strict=True)]
        fields.append(pa.field(self._geometry, pa.binary()))
        self._schema = pa.schema(fields, metadata={b"geo": geoparquet_metadata(self._geometry)})
        self._width = width
        self._pending: list[Sequence[str]] = []
        self._writer = pq.ParquetWriter(path, self._schema)

    def write_rows(self, rows: Sequence[Sequence[str]]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pa = self._pa
        rows, self._pending = self._pending, []
        columns = []
        for at, arrow_type in enumerate(self._types):
            texts = [row[at] if at < len(row) else "" for row in rows]
            if at in self._plain and arrow_type == pa.string():
                columns.append(pa.array(texts, type=pa.string()))
            else:
                columns.append(self._column(texts, arrow_type, self._table.names[at]))
        points = [self._table.point(row) for row in rows]
        columns.append(
            pa.array([None if p is None else wkb_point(*p) for p in points], type=pa.binary())
        )
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def _column(self, texts: list[str], arrow_type: Any, name: str) -> Any:
        pa = self._pa
        import pyarrow.compute as pc

        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            # A Parquet input's text column: its nulls went through the CSV pipeline as "".
            return pa.array([text or None for text in texts], type=arrow_type)
        values = pa.array([text or None for text in texts], type=pa.string())
        try:
            return pc.cast(values, arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(
                f"the column {name!r} holds a value that is not {arrow_type}: {exc}"
            ) from None

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self._writer.close()


def _free_name(name: str, taken: Sequence[str]) -> str:
    folded = {other.casefold() for other in taken}
    candidate, counter = name, 1
    while candidate.casefold() in folded:
        counter += 1
        candidate = f"{name}_{counter}"
    return candidate
