"""Read Excel workbooks and Parquet tables as the CSV pipeline's UTF-8 CSV bytes.

Both are read a part at a time (openpyxl's read-only mode streams a sheet's rows; a Parquet
file is read in record batches) and written as CSV rows as the splitter asks for bytes, so
memory stays flat whatever the size of the table and no temporary file is written. The
pipeline then runs exactly as for a CSV file: the same columns, slices, ordering, Failed rows.

openpyxl and pyarrow are optional (``geobatch[excel]``, ``geobatch[parquet]``); a missing one
is one line naming the extra. A file the library cannot read (a corrupt workbook, a truncated
Parquet file) is an :class:`~geobatch.errors.InputError`, also when found midway.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geobatch.errors import InputError, require
from geobatch.formats.cells import ColumnType, python_text, xlsx_text

PARQUET_BATCH_ROWS = 10_000


@dataclass
class Table:
    """An opened table: its header, its data rows as text (lazily), how many rows it has when
    the file says, what its columns held (for typed outputs), and how to close it."""

    header: list[str]
    rows: Iterator[list[str]]
    total: int | None
    label: str
    types: tuple[ColumnType, ...] | None = None
    arrow_schema: Any = None  # a Parquet input's own schema, for a Parquet output
    close: Callable[[], None] = field(default=lambda: None)


class CsvStream:
    """``read(n)`` of the CSV text of ``header`` and ``rows``, as UTF-8 bytes. An error of the
    library reading the rows becomes an :class:`InputError` naming the file."""

    def __init__(self, header: Sequence[str], rows: Iterator[list[str]], what: str) -> None:
        self._rows = rows
        self._what = what
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\n")
        self._writer.writerow(header)
        self._buffer = bytearray(self._flush())
        self._eof = False
        self.rows_read = 0

    def _flush(self) -> bytes:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        return data

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            try:
                for _ in range(1000):
                    self._writer.writerow(next(self._rows))
                    self.rows_read += 1
            except StopIteration:
                self._eof = True
            except InputError:
                raise
            except Exception as exc:
                raise InputError(f"{self._what} cannot be read further: {_reason(exc)}") from None
            self._buffer += self._flush()
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        return data


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{text[0]} ({type(exc).__name__})" if text else type(exc).__name__


def _trimmed(values: list[str]) -> list[str]:
    end = len(values)
    while end and values[end - 1] == "":
        end -= 1
    return values[:end]


# --- Excel -------------------------------------------------------------------------------------


def open_xlsx(path: Path, sheet: str | None = None) -> Table:
    """The first sheet of the workbook at ``path`` (or the one named ``sheet``); its first row
    that is not empty is the header."""
    require("openpyxl", "excel", "reading an Excel workbook (.xlsx)")
    import openpyxl

    # openpyxl warns about parts of a workbook it ignores (data validation, default styles):
    # nothing a geocoding run should print.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
    # A file object, not the name: openpyxl refuses names that do not end in .xlsx, and a
    # workbook is known by its content (formats/filekinds.py).
    handle = path.open("rb")
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:
        handle.close()
        raise InputError(f"{path.name} is not a readable Excel workbook: {_reason(exc)}") from None

    def close() -> None:
        book.close()
        handle.close()

    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            listed = ", ".join(repr(name) for name in names)
            raise InputError(f"the workbook has no sheet {sheet!r}; its sheets: {listed}")
        chosen = book[sheet] if sheet is not None else book.worksheets[0]
        if not hasattr(chosen, "iter_rows"):
            raise InputError(f"the sheet {chosen.title!r} is a chart, not a table")
        rows = _sheet_rows(chosen)
        header = next(rows, None)
        if header is None:
            raise InputError(f"the sheet {chosen.title!r} is empty: it has no header row")
    except InputError:
        close()
        raise
    except Exception as exc:
        close()
        raise InputError(f"{path.name} is not a readable Excel workbook: {_reason(exc)}") from None
    total = chosen.max_row if isinstance(chosen.max_row, int) else None
    return Table(
        header=header,
        rows=rows,
        total=None if total is None else max(total - 1, 0),
        label=f"sheet {chosen.title!r}",
        close=close,
    )


def _sheet_rows(sheet: Any) -> Iterator[list[str]]:
    """Each row of ``sheet`` as text, trailing empty cells dropped; empty rows before the
    header are skipped, later ones kept as blank lines (which the CSV tasks skip)."""
    started = False
    for row in sheet.iter_rows():
        values = _trimmed([xlsx_text(cell.value, cell.number_format) for cell in row])
        if not started and not values:
            continue
        started = True
        yield values


# --- Parquet -----------------------------------------------------------------------------------


def open_parquet(path: Path) -> Table:
    """The Parquet file at ``path``, read in record batches."""
    require("pyarrow.parquet", "parquet", "reading a Parquet file")
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
        schema = reader.schema_arrow
        total = reader.metadata.num_rows
    except Exception as exc:
        raise InputError(f"{path.name} is not a readable Parquet file: {_reason(exc)}") from None
    header = [str(name) for name in schema.names]
    if not header:
        reader.close()
        raise InputError(f"{path.name} has no columns")
    return Table(
        header=header,
        rows=_parquet_rows(reader),
        total=total,
        label="Parquet",
        types=tuple(column_type(schema.field(i).type) for i in range(len(header))),
        arrow_schema=schema,
        close=reader.close,
    )


def _parquet_rows(reader: Any) -> Iterator[list[str]]:
    for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        columns = [arrow_texts(batch.column(i)) for i in range(batch.num_columns)]
        yield from (list(values) for values in zip(*columns, strict=True))


def arrow_texts(array: Any) -> list[str]:
    """The values of an Arrow array as text ("" for null): Arrow's own cast to string where it
    has one (exact, and cast back losslessly for a Parquet output), else :func:`python_text`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    with suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if pa.types.is_floating(array.type):
            # Arrow writes 1e-7 and 12 as Python does not; the number as a person writes it.
            return [python_text(v) for v in array.to_pylist()]
        texts = pc.cast(array, pa.string()).to_pylist()
        return ["" if value is None else value for value in texts]
    return [python_text(value) for value in array.to_pylist()]


def column_type(arrow_type: Any) -> ColumnType:
    """What a column of ``arrow_type`` holds, for GeoJSON and GeoPackage outputs."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return ColumnType.BOOLEAN
    if pa.types.is_integer(arrow_type):
        return ColumnType.INTEGER
    if pa.types.is_floating(arrow_type):
        return ColumnType.REAL
    return ColumnType.TEXT
