"""The input and output files of ``geobatch geocode`` and ``geobatch reverse``.

Every input becomes UTF-8 CSV bytes for the one batch pipeline (:mod:`geobatch.batch`):

- a UTF-8 CSV (with or without BOM) is read as it is: the fast path, unchanged;
- a CSV in another encoding (detected, or named with ``--encoding``) is transcoded on the fly;
- an ``.xlsx`` sheet or a Parquet table is streamed as CSV rows.

Every output is written to ``OUTPUT.partial`` and renamed when complete: CSV as the pipeline
writes it, GeoJSON, GeoPackage and Parquet through a sink that reads the pipeline's CSV
slices back (:mod:`geobatch.batch.sinks`).
"""

from __future__ import annotations

import codecs
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import click

from geobatch.batch.csvsplit import RecordSplitter, Slice
from geobatch.batch.csvtask import read_header
from geobatch.batch.sinks import RowWriter, TableSink, open_writer
from geobatch.batch.tables import CsvStream, Table, open_parquet, open_xlsx
from geobatch.batch.transcode import Utf8Reader, scan_stream
from geobatch.errors import InputError
from geobatch.formats import encoding as encodings
from geobatch.formats import plaincsv
from geobatch.formats.cells import ColumnType
from geobatch.formats.encoding import Encoding
from geobatch.formats.filekinds import InputKind, OutputKind, input_kind
from geobatch.formats.plaincsv import OutputLayout
from geobatch.formats.tablegeo import OutputTable

SAMPLE_BYTES = 64 * 1024


@dataclass
class BatchInput:
    """An opened input: its header, the splitter over the rest, and how to show progress."""

    header: list[str]
    slices: RecordSplitter
    delimiter: str
    bom_out: bool  # write the output CSV with a UTF-8 BOM (the input came from a spreadsheet)
    total: int | None  # for the progress bar: input bytes, or rows
    unit: str
    position: Callable[[Slice], int]  # where the progress bar stands after a slice
    encoding: str = "UTF-8"  # the input's, for the reason of a row that is not valid text
    types: tuple[ColumnType, ...] | None = None  # what the input's columns held, if known
    arrow_schema: Any = None  # a Parquet input's schema, kept by a Parquet output


@dataclass(frozen=True, slots=True)
class InputOptions:
    chunk_size: int
    encoding: str | None = None  # --encoding
    sheet: str | None = None  # --sheet


@contextmanager
def open_input(path: Path, options: InputOptions) -> Iterator[BatchInput]:
    """Open ``path`` ('-': standard input) as a :class:`BatchInput`."""
    with ExitStack() as stack:
        if str(path) == "-":
            raw: BinaryIO = sys.stdin.buffer
            name, size = "-", None
        else:
            raw = stack.enter_context(path.open("rb"))
            name, size = str(path), os.fstat(raw.fileno()).st_size
        head = raw.read(SAMPLE_BYTES)
        kind = input_kind(name, head)
        _check_options(kind, options)
        if kind is InputKind.CSV:
            yield _csv_input(raw, head, size, options)
            return
        if size is None:  # a workbook or a Parquet file on a pipe: both need to seek
            path = stack.enter_context(_spooled(raw, head))
        table = open_xlsx(path, options.sheet) if kind is InputKind.XLSX else open_parquet(path)
        stack.callback(table.close)
        yield _table_input(table, options.chunk_size, bom_out=kind is InputKind.XLSX)


def _check_options(kind: InputKind, options: InputOptions) -> None:
    if options.encoding is not None and kind is not InputKind.CSV:
        raise click.UsageError(f"--encoding is for CSV inputs; this input is {kind.value}")
    if options.sheet is not None and kind is not InputKind.XLSX:
        raise click.UsageError(f"--sheet is for .xlsx inputs; this input is {kind.value}")


@contextmanager
def _spooled(raw: BinaryIO, head: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="geobatch-") as folder:
        spool = Path(folder) / "stdin"
        with spool.open("wb") as out:
            out.write(head)
            shutil.copyfileobj(raw, out)
        yield spool


# --- CSV ---------------------------------------------------------------------------------------


class _Prefixed:
    """``head`` then the rest of ``raw`` (standard input, whose first bytes were read)."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            data = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(data) :]
            return data
        return self._raw.read(size)


def _encoding_of(raw: BinaryIO, head: bytes, size: int | None, forced: str | None) -> Encoding:
    """The input's encoding: as forced, else detected from the whole file (from its first
    bytes on standard input)."""
    if forced is not None:
        return encodings.forced(forced)
    if size is None:
        return encodings.detect(encodings.scan([head]))
    found = encodings.detect(scan_stream(_Prefixed(head, raw)))  # type: ignore[arg-type]
    raw.seek(0)
    return found


def _csv_input(raw: BinaryIO, head: bytes, size: int | None, options: InputOptions) -> BatchInput:
    encoding = _encoding_of(raw, head, size, options.encoding)
    if size is not None:
        raw.seek(0)
        stream: Any = raw
    else:
        stream = _Prefixed(head, raw)
    if encoding.is_utf8:
        source = _read_csv(stream, options.chunk_size)
        bom = source.bom
        position = _byte_position if size is not None else _line_counter()
    else:
        reader = Utf8Reader(stream, encoding)
        source = _read_csv(reader, options.chunk_size)
        bom = True  # Excel reads UTF-8 only with its mark; the input came from Excel's encodings

        def position(piece: Slice) -> int:
            return reader.source_offset(piece.end)

        if size is None:
            position = _line_counter()
    return BatchInput(
        header=source.header,
        slices=source.splitter,
        delimiter=source.delimiter,
        bom_out=bom,
        total=size,
        unit="B" if size is not None else "rows",
        position=position,
        encoding=encoding.label.removesuffix(" with BOM"),
    )


def _byte_position(piece: Slice) -> int:
    return piece.end


def _line_counter() -> Callable[[Slice], int]:
    done = 0

    def position(piece: Slice) -> int:
        nonlocal done
        done += piece.lines
        return done

    return position


@dataclass(frozen=True, slots=True)
class _Csv:
    header: list[str]
    splitter: RecordSplitter
    delimiter: str
    bom: bool


def _read_csv(stream: Any, chunk_size: int, delimiter: str | None = None) -> _Csv:
    """Detect the delimiter (unless given), read the header, and cut the rest into slices."""
    sample = stream.read(SAMPLE_BYTES)
    has_bom = sample.startswith(codecs.BOM_UTF8)
    body = sample[len(codecs.BOM_UTF8) :] if has_bom else sample
    text = body.decode("utf-8", errors="replace")
    found = delimiter or plaincsv.sniff_delimiter(text)
    # Files with bare carriage returns (old Mac exports) are cut at those.
    newline = b"\r" if b"\r" in body and b"\n" not in body else b"\n"
    splitter = RecordSplitter(
        stream,
        lines_per_slice=chunk_size,
        newline=newline,
        offset=len(sample),
        buffered=body,
    )
    record = splitter.next_record()
    header = read_header(record.data.decode("utf-8", "replace") if record else "", found)
    return _Csv(header, splitter, found, has_bom)


# --- tables ------------------------------------------------------------------------------------


def _table_input(table: Table, chunk_size: int, *, bom_out: bool) -> BatchInput:
    if not any(name.strip() for name in table.header):
        raise InputError(f"the {table.label} has no header row (its first row is empty)")
    stream = CsvStream(table.header, table.rows, f"the {table.label}")
    source = _read_csv(stream, chunk_size, delimiter=",")
    return BatchInput(
        header=source.header,
        slices=source.splitter,
        delimiter=",",
        bom_out=bom_out,
        total=table.total,
        unit="rows",
        position=_line_counter(),
        encoding=table.label,
        types=table.types,
        arrow_schema=table.arrow_schema,
    )


# --- output ------------------------------------------------------------------------------------


class BatchOutput:
    """Where results go: standard output, or ``OUTPUT.partial``, renamed to ``OUTPUT`` when the
    run is complete. A run that fails keeps the partial file under its own name (closed as a
    valid file of its format)."""

    def __init__(
        self,
        path: Path,
        kind: OutputKind,
        layout: OutputLayout,
        source: BatchInput,
    ) -> None:
        self.path = path
        self.kind = kind
        self.partial: Path | None = None
        self.lines = 0  # input lines whose output is written
        self._writer: RowWriter | None = None
        if str(path) == "-":
            self.stream: Any = sys.stdout.buffer
            return
        self.partial = path.with_name(path.name + ".partial")
        if kind is OutputKind.CSV:
            self.stream = self.partial.open("wb")
            return
        table = OutputTable.build(
            layout.input_header,
            layout.result_names,
            source.types,
            reserved=_reserved(kind),
        )
        self._writer = open_writer(kind, self.partial, table, source.arrow_schema)
        self.stream = TableSink(self._writer)

    def write_header(self, data: bytes) -> None:
        """The CSV header line (a table format names its columns itself)."""
        if self._writer is None:
            self.stream.write(data)

    def flush_if_stdout(self) -> None:
        if self.partial is None:
            self.stream.flush()  # a reader of stdout sees the results as they come

    def abandon(self) -> str | None:
        """Stop writing after a failure; what the user must be told about the output (None:
        no row had been written, and a partial file without rows is removed)."""
        if self.partial is None:
            with suppress(OSError, ValueError):
                self.stream.flush()
            return "the output on stdout is incomplete" if self.lines else None
        with suppress(Exception):
            self._close()
        if not self.lines:
            self.partial.unlink(missing_ok=True)
            return None
        return f"the rows done so far are in {self.partial}; {self.path} was not written"

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        else:
            self.stream.close()

    def finish(self) -> None:
        if self.partial is None:
            self.stream.flush()
            return
        self._close()
        os.replace(self.partial, self.path)


def _reserved(kind: OutputKind) -> tuple[str, ...]:
    """Column names a format keeps for itself (the GeoPackage's feature id and geometry)."""
    if kind is OutputKind.GPKG:
        from geobatch.batch.gpkg import FID, GEOMETRY

        return (FID, GEOMETRY)
    return ()
