"""The plain CSV batch codec: a CSV in any layout the CLI reads, run as a server job, whose result
file is byte for byte what ``geobatch geocode``/``geobatch reverse`` would write.

The job's input format names the direction (``forward`` or ``reverse``). Decoding finds the
columns with :mod:`geobatch.formats.plaincsv` (the CLI's rules) and keeps each row's values, so
the encoder can write every input column and then the result columns. Nothing here opens a file.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from geobatch.errors import InputError
from geobatch.formats import plaincsv
from geobatch.formats.batch import BatchHeader, BatchRow, DecodedBatch, Outcome
from geobatch.formats.counting import count_lines
from geobatch.formats.plaincsv import ForwardColumns, OutputLayout, ReverseColumns
from geobatch.model import Answer, GeocodeRequest, ReverseRequest

DIRECTIONS = ("forward", "reverse")
SAMPLE_BYTES = 64 * 1024
VERSION = "1"
# BatchHeader.details keys
COLUMNS = "columns"  # the input header, JSON list
DELIMITER = "delimiter"
BOM = "bom"  # "1" when the input started with a UTF-8 byte order mark (the output gets one too)
MAPPING = "mapping"  # JSON object: request field -> input column


def check_utf8(sample: bytes) -> None:
    """Refuse a file that is not UTF-8, as the CLI does (a cut character at the end is fine)."""
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the file is not UTF-8 text (byte 0x{sample[exc.start]:02x} at offset "
            f"{exc.start}); save it as CSV UTF-8"
        ) from None


def detect_columns(direction: str, header: list[str]) -> ForwardColumns | ReverseColumns:
    if direction == "forward":
        return plaincsv.detect_forward_columns(header)
    if direction == "reverse":
        return plaincsv.detect_reverse_columns(header)
    raise InputError(f"a CSV job is forward or reverse, not {direction!r}")


def request_of(
    row: plaincsv.CsvRow, columns: ForwardColumns | ReverseColumns
) -> tuple[GeocodeRequest | ReverseRequest | None, str | None]:
    """The request a row asks for, or None and the reason it cannot be asked (as the CLI)."""
    if isinstance(columns, ReverseColumns):
        reverse = plaincsv.row_to_reverse(row.cells, columns)
        return (None, reverse) if isinstance(reverse, str) else (reverse, None)
    request = plaincsv.row_to_request(row.cells, columns)
    if request.is_empty():
        return None, plaincsv.EMPTY_REQUEST_REASON
    return request, None


@dataclass(slots=True)
class CsvBatch:
    """A decoded CSV: the header at once, the rows lazily (one pass)."""

    header: BatchHeader
    _text: io.TextIOWrapper
    _rows: Iterator[plaincsv.CsvRow]
    _columns: ForwardColumns | ReverseColumns

    def rows(self) -> Iterator[BatchRow]:
        for seq, row in enumerate(self._rows):
            request, fault = request_of(row, self._columns)
            echo = {str(i): value for i, value in enumerate(row.values)}
            yield BatchRow(seq=seq, id=str(seq + 1), request=request, fault=fault, echo=echo)


class PlainCsvCodec:
    """Plain CSV files (see the module docstring); ``fmt`` is ``forward`` or ``reverse``.
    With ``excel_safe`` (the default) values a spreadsheet would run as formulas are written
    with a leading ``'``, as the CLI does (formats/excelsafe.py)."""

    def __init__(self, excel_safe: bool = True) -> None:
        self.excel_safe = excel_safe

    def decode(self, stream: BinaryIO, fmt: str) -> DecodedBatch:
        direction = fmt.strip().lower()
        buffered = io.BufferedReader(cast(io.RawIOBase, stream), SAMPLE_BYTES)
        sample = buffered.peek(SAMPLE_BYTES)[:SAMPLE_BYTES]
        if not sample.removeprefix(codecs.BOM_UTF8).strip():
            raise InputError("the file is empty: it holds no rows to geocode")
        check_utf8(sample)
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")
        delimiter = plaincsv.sniff_delimiter(sample.decode("utf-8-sig", errors="replace"))
        header, rows = plaincsv.read_rows(text, delimiter)
        columns = detect_columns(direction, header)
        mapping = (
            {"lat": columns.lat, "lon": columns.lon}
            if isinstance(columns, ReverseColumns)
            else columns.mapping()
        )
        details = {
            COLUMNS: json.dumps(header, ensure_ascii=False),
            DELIMITER: delimiter,
            BOM: "1" if sample.startswith(codecs.BOM_UTF8) else "",
            MAPPING: json.dumps(mapping, ensure_ascii=False),
        }
        batch_header = BatchHeader(format=direction, version=VERSION, details=details)
        return CsvBatch(batch_header, text, rows, columns)

    def entity_bound(self, stream: BinaryIO, fmt: str) -> int:
        """The physical lines less the header (a row takes one line at least)."""
        return max(count_lines(stream) - 1, 0)

    def outcome(self, row: BatchRow, answer: Answer) -> Outcome:
        """A row with a result succeeded; no match and unusable rows are the failed ones."""
        return "succeeded" if row.fault is None and answer.best is not None else "failed"

    def encode(
        self,
        out: BinaryIO,
        header: BatchHeader,
        rows: Iterable[tuple[BatchRow, Answer]],
        outcome: Outcome,
    ) -> int:
        """Write ``rows`` in the CLI's layout (the ``outcome`` files and the whole output alike)."""
        return write_csv(out, header, rows, excel_safe=self.excel_safe)


def input_header(header: BatchHeader) -> list[str]:
    names: list[str] = json.loads(header.details[COLUMNS])
    return names


def write_csv(
    out: BinaryIO,
    header: BatchHeader,
    rows: Iterable[tuple[BatchRow, Answer]],
    *,
    excel_safe: bool = True,
) -> int:
    """The CLI's output for these rows: every input column, then the result columns."""
    names = input_header(header)
    layout = OutputLayout.for_header(names)
    encoding = "utf-8-sig" if header.details.get(BOM) else "utf-8"
    text = io.TextIOWrapper(out, encoding=encoding, newline="", write_through=True)
    try:
        delimiter = plaincsv.output_delimiter(header.details[DELIMITER])
        writer = plaincsv.CsvWriter(text, delimiter, excel_safe=excel_safe)
        writer.writerow(layout.header)
        count = 0
        for row, answer in rows:
            values = [row.echo.get(str(i), "") for i in range(len(row.echo))]
            for result in plaincsv.answer_to_rows(answer, 1):
                writer.writerow(layout.row(values, result))
            count += 1
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``
    return count
