"""The CSV task: one slice of input records in, the same rows with their results out, as CSV
bytes. Runs in a worker process; everything it needs travels in a small :class:`CsvSpec`.

Rows are read with the ``csv`` module in strict mode. A record that strict reading refuses (a
quote never closed, characters after a closing quote, a field over the ``csv`` size limit)
becomes a Failed row naming its line, and reading goes on at the next line: every input line
is accounted for, none is silently merged into another. A record holding bytes that are not
UTF-8 (a damaged file, or bytes the input's own encoding could not decode, which the
transcoding reader marks) is a Failed row too, its values shown with U+FFFD where they were:
it is never geocoded on a guessed text.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from geobatch.batch.csvout import LineBuilder
from geobatch.batch.worker import IndexLocation, Kind, Request, answer, geocoder_for
from geobatch.errors import InputError
from geobatch.formats import plaincsv
from geobatch.formats.plaincsv import ForwardColumns, OutputLayout, ReverseColumns
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

STATUSES = tuple(str(status) for status in ResultStatus)


@dataclass(frozen=True, slots=True)
class CsvSpec:
    """What every task of one run shares: the columns, the output layout, the index."""

    kind: Kind
    index: IndexLocation
    header: tuple[str, ...]
    columns: ForwardColumns | ReverseColumns
    delimiter: str
    out_delimiter: str
    max_results: int = 1
    # Cells a spreadsheet would run as formulas get a leading ' (formats/excelsafe.py).
    excel_safe: bool = True
    encoding: str = "UTF-8"  # the input's, as the reason of a row that is not valid text says

    @property
    def layout(self) -> OutputLayout:
        return OutputLayout.for_header(self.header)

    @property
    def coordinate_positions(self) -> tuple[int, int]:
        """Where the latitude and longitude are in a row (reverse runs)."""
        assert isinstance(self.columns, ReverseColumns)
        return self._position(self.columns.lat), self._position(self.columns.lon)

    @property
    def field_positions(self) -> tuple[tuple[str, int], ...]:
        """Request field and its position in a row, for each field found (forward runs)."""
        assert isinstance(self.columns, ForwardColumns)
        return tuple((name, self._position(h)) for name, h in self.columns.mapping().items())

    def _position(self, name: str) -> int:
        # The last column of a name: the header-keyed cells of plaincsv keep the last too.
        return len(self.header) - 1 - self.header[::-1].index(name)


@dataclass(frozen=True, slots=True)
class CsvPiece:
    """A task's output: CSV bytes (no header) and the count of input rows by status."""

    data: bytes
    ok: int = 0
    no_result: int = 0
    failed: int = 0

    @property
    def rows(self) -> int:
        return self.ok + self.no_result + self.failed


def geocode_slice(spec: CsvSpec, data: bytes, first_line: int) -> CsvPiece:
    """Read the records of ``data`` (whose first line is input line ``first_line``), answer
    them with the index of ``spec``, and write them out."""
    records = _decoded_records(spec, data, first_line)
    if spec.kind == "forward":
        positions = spec.field_positions
        prepared = [
            _prepare_forward(spec, values, positions) if fault is None else fault
            for values, fault in records
        ]
    else:
        coordinates = spec.coordinate_positions  # worked out once, not per row
        prepared = [
            _prepare_reverse(spec, values, coordinates) if fault is None else fault
            for values, fault in records
        ]
    requests = [item for item in prepared if not isinstance(item, str)]
    answers = iter(answer(geocoder_for(spec.index), spec.kind, requests) if requests else [])
    builder = LineBuilder(
        len(spec.header), spec.out_delimiter, spec.max_results, excel_safe=spec.excel_safe
    )
    counts = dict.fromkeys(STATUSES, 0)
    lines: list[str] = []
    for (values, _), item in zip(records, prepared, strict=True):
        if isinstance(item, str):
            result = Answer(status=ResultStatus.FAILED, reason=item)
        else:
            result = next(answers)
        text, status = builder.line(values, result)
        counts[status] += 1
        lines.append(text)
    return _piece("".join(lines), counts)


def oversize_line(spec: CsvSpec, head: bytes, line: int, size: int) -> CsvPiece:
    """The Failed row of a line too long to read (only its first bytes were kept)."""
    values = _lenient(head.decode("utf-8", errors="replace"), spec.delimiter)[:-1]
    reason = f"line {line} is {size:,} bytes long, more than a row may be; it was not read"
    out = io.StringIO()
    writer = plaincsv.CsvWriter(out, spec.out_delimiter, excel_safe=spec.excel_safe)
    failed = plaincsv.failure_columns(ResultStatus.FAILED, reason)
    writer.writerow(spec.layout.row(values, failed))
    return _piece(out.getvalue(), {str(ResultStatus.FAILED): 1})


def _piece(text: str, counts: dict[str, int]) -> CsvPiece:
    return CsvPiece(
        text.encode("utf-8"),
        ok=counts.get(str(ResultStatus.OK), 0),
        no_result=counts.get(str(ResultStatus.NO_RESULT), 0),
        failed=counts.get(str(ResultStatus.FAILED), 0),
    )


def _prepare_reverse(spec: CsvSpec, values: list[str], at: tuple[int, int]) -> Request | str:
    fast = _quick_reverse(spec, values, at)
    if fast is not None:
        return fast
    assert isinstance(spec.columns, ReverseColumns)
    cells = dict(zip(spec.header, values, strict=False))
    return plaincsv.row_to_reverse(cells, spec.columns, max_results=spec.max_results)


def _prepare_forward(
    spec: CsvSpec, values: list[str], positions: tuple[tuple[str, int], ...]
) -> Request | str:
    fields = {}
    for name, at in positions:
        value = values[at].strip() if at < len(values) else ""
        if value:
            fields[name] = value
    request = GeocodeRequest(max_results=spec.max_results, **fields)
    return plaincsv.EMPTY_REQUEST_REASON if request.is_empty() else request


def _quick_reverse(spec: CsvSpec, values: list[str], at: tuple[int, int]) -> ReverseRequest | None:
    """The request of a row with plain in-range coordinates, else None (the general path then
    gives the same request, or the reason the row is unusable)."""
    lat_at, lon_at = at
    if lat_at >= len(values) or lon_at >= len(values):
        return None
    try:
        lat, lon = float(values[lat_at]), float(values[lon_at])
    except ValueError:
        return None
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:  # False for NaN too
        return ReverseRequest(lat=lat, lon=lon, max_results=spec.max_results)
    return None


def _decoded_records(
    spec: CsvSpec, data: bytes, first_line: int
) -> list[tuple[list[str], str | None]]:
    """The records of ``data``; one holding bytes that are not UTF-8 is a fault."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        plain = _plain_records(text, spec.delimiter)
        if plain is not None:
            return [(values, None) for values in plain]
        return [(values, fault) for values, fault, _ in _records(text, spec.delimiter, first_line)]
    # Rare: the bytes that are not UTF-8 become lone surrogates, found again in their record.
    text = data.decode("utf-8", errors="surrogateescape")
    found: list[tuple[list[str], str | None]] = []
    for values, fault, line in _records(text, spec.delimiter, first_line):
        if fault is None and any(_has_surrogate(value) for value in values):
            fault = (
                f"line {line} holds bytes that are not {spec.encoding} text; the row was not "
                f"geocoded (force another encoding with --encoding if the file is not "
                f"{spec.encoding})"
            )
        found.append(([_repaired(value) for value in values], fault))
    return found


def _plain_records(text: str, delimiter: str) -> list[list[str]] | None:
    """The records of a slice without quotes, split as ``csv`` would read them (a line is a
    record, a delimiter separates fields, a blank line is skipped); None for any other slice
    (quotes, bare carriage returns, a field ``csv`` would refuse as too long), which
    :func:`_records` reads. Most machine-written files are plain, and splitting is cheaper."""
    if '"' in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    return [line.split(delimiter) for line in lines if line]


def _has_surrogate(value: str) -> bool:
    return not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value)


def _repaired(value: str) -> str:
    """``value`` with its undecodable bytes shown as U+FFFD (so that it can be written)."""
    if not _has_surrogate(value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _records(
    text: str, delimiter: str, first_line: int
) -> Iterator[tuple[list[str], str | None, int]]:
    """(values, None, line) per record, or (the line's values read leniently, the reason,
    line) for a line that strict reading refuses. Blank lines are skipped; ``line`` is the
    record's first input line."""
    lines = list(io.StringIO(text, newline=""))
    start = 0
    while start < len(lines):
        reader = csv.reader(itertools.islice(lines, start, None), delimiter=delimiter, strict=True)
        before = 0
        try:
            for values in reader:
                if values:
                    yield values, None, first_line + start + before
                before = reader.line_num
            return
        except csv.Error as exc:
            bad = start + before
            number = first_line + bad
            yield _lenient(lines[bad], delimiter), f"line {number}: {_explain(str(exc))}", number
            start = bad + 1


def _lenient(line: str, delimiter: str) -> list[str]:
    """A line's values as the ``csv`` module reads them without strictness (for echoing)."""
    try:
        return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:
        return line.rstrip("\r\n").split(delimiter)


def _explain(message: str) -> str:
    if "unexpected end of data" in message or "expected after" in message:
        return (
            "a quote opened in this line does not close at the end of a field (a stray "
            "quote?); the row was not geocoded"
        )
    if "field larger than field limit" in message:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"the line cannot be read as CSV ({message})"


def read_header(text: str, delimiter: str) -> list[str]:
    """The column names of a header record; raises :class:`InputError` when there are none."""
    values = _lenient(text, delimiter) if text.strip() else []
    if not any(name.strip() for name in values):
        raise InputError("the input has no header row (it is empty or starts with a blank line)")
    return [name.lstrip("\ufeff").strip() for name in values]
