"""Decode csv / tab / pipe batch files, schema v1.0 (31 positional columns) and v2.0 (version
line, then a header naming the columns in any order), streaming one line at a time.

Quoting follows spec §11: optional double quotes around any value, ``""`` for a literal quote,
spaces before a value skipped, trailing spaces kept — the csv module with ``skipinitialspace``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow, EntityOptions
from geobatch.formats.bing import schema as s
from geobatch.formats.bing.entity import build_entity

# A physical line longer than this is refused outright: no real row comes near it, and reading
# it whole would let one hostile line take the memory of the process.
MAX_LINE_CHARS = 1_000_000


# A quoted field may hold line breaks, but no entity spans more lines than this.
MAX_QUOTED_LINES = 10


class TextBatch:
    """A decoded text file: the header is read at once, the rows lazily (one pass only)."""

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        self._delimiter = s.DELIMITERS[fmt]
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self._line_no = 0  # physical lines read so far, for messages
        self._lines = self._read_lines()
        self._pending: list[str] = []
        first = self._next_line()
        match = s.VERSION_LINE_RE.match(first)
        self._columns: list[str | None]
        if match is None:
            self._pending.append(first)
            self.header = BatchHeader(format=fmt, version="1.0")
            self._columns = [s.V1_INPUT_POSITIONS.get(i) for i in range(s.V1_WIDTH)]
            self._v1 = True
            return
        version = match.group(1)
        if version in ("1", "1.0"):
            self.header = BatchHeader(format=fmt, version="1.0")
            self._columns = [s.V1_INPUT_POSITIONS.get(i) for i in range(s.V1_WIDTH)]
            self._v1 = True
            return
        if version not in ("2", "2.0"):
            raise InputError(
                f"the first line names schema version {version}; Bing batch files are version "
                "1.0 or 2.0 ('Bing Spatial Data Services, 2.0')"
            )
        self._v1 = False
        header_line = self._next_line().rstrip("\r\n")
        self._columns = self._parse_header(header_line)
        self.header = BatchHeader(
            format=fmt,
            version="2.0",
            details={"header_line": header_line, "columns": json.dumps(self._columns)},
        )

    def _read_lines(self) -> Iterator[str]:
        """Physical lines with their endings, each at most MAX_LINE_CHARS long."""
        while True:
            try:
                line = self._text.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError as error:
                raise InputError(
                    f"the file is not UTF-8 text ({error.reason} near line {self._line_no + 1}); "
                    "Bing batch files must be UTF-8 encoded"
                ) from None
            if not line:
                return
            self._line_no += 1
            if len(line) > MAX_LINE_CHARS:
                raise InputError(
                    f"line {self._line_no} is longer than {MAX_LINE_CHARS:,} characters; "
                    "no batch row can be that long"
                )
            yield line

    def _next_line(self) -> str:
        for line in self._lines:
            if line.strip():
                return line
        raise InputError("the file has no data: after its version line it is empty")

    def _parse_header(self, line: str) -> list[str | None]:
        names = next(csv.reader([line], delimiter=self._delimiter, skipinitialspace=True), [])
        columns = [s.canonical_column(name) for name in names]
        # No Id column is allowed (every entity then echoes an empty Id, as an XML entity without
        # an Id attribute does); a header naming no request column is not a header at all.
        if not any(c in s.V2_INPUT_COLUMNS and c != s.ID for c in columns):
            raise InputError(
                "the header (second line) names no request column (GeocodeRequest/Query, "
                "GeocodeRequest/Address/..., ReverseGeocodeRequest/Location/Latitude, ...); a "
                "version 2.0 file names its columns on line 2, separated by the file's "
                f"delimiter, e.g. 'Id{self._delimiter} GeocodeRequest/Query'. "
                f"Found: {_show(names)}"
            )
        return columns

    def rows(self) -> Iterator[BatchRow]:
        seq = 0
        for record in self._records():
            try:
                values = next(
                    csv.reader([record], delimiter=self._delimiter, skipinitialspace=True), []
                )
            except csv.Error as error:
                yield self._unreadable(seq, record, str(error))
                seq += 1
                continue
            if not any(v.strip() for v in values):
                continue
            if self._v1 and seq == 0 and values[0].strip().casefold() in s.V1_HEADER_FIRST_CELLS:
                continue  # an optional v1 header row (the toolkit writes one)
            yield self._row(seq, values)
            seq += 1
        if seq == 0:
            raise InputError("the file has no entities: there is no data row to geocode")

    def _records(self) -> Iterator[str]:
        """One entity's text at a time: a line, or a few lines joined where a quoted field
        holds line breaks. A quote still open after :data:`MAX_QUOTED_LINES` lines (or at the
        end of the file) is a stray one: its line stands alone and the lines after it are
        read again, so one bad row never swallows the rows that follow."""
        pending: deque[str] = deque()
        lines = _chain(iter(self._pending), self._lines)
        while True:
            first = pending.popleft() if pending else next(lines, None)
            if first is None:
                return
            if first.count('"') % 2 == 0:
                yield first
                continue
            taken = [first]
            quotes = first.count('"')
            while quotes % 2 == 1 and len(taken) <= MAX_QUOTED_LINES:
                more = pending.popleft() if pending else next(lines, None)
                if more is None:
                    break
                taken.append(more)
                quotes += more.count('"')
            if quotes % 2 == 0:
                yield "".join(taken)  # each line keeps its own line break
            else:
                yield first
                pending.extendleft(reversed(taken[1:]))

    def _unreadable(self, seq: int, line: str, reason: str) -> BatchRow:
        entity_id = line.split(self._delimiter, 1)[0].strip().strip('"')[:100]
        fault = (
            f"Line {self._line_no} cannot be read as {self._delimiter!r}-separated fields: "
            f"{reason}."
        )
        return BatchRow(seq, entity_id, None, fault=fault, echo={s.ID: entity_id})

    def _row(self, seq: int, values: list[str]) -> BatchRow:
        width = len(self._columns)
        extra_fault = None
        surplus = values[width:]
        if any(v.strip() for v in surplus):
            extra_fault = (
                f"The row has {len(values)} fields; schema version 1.0 has {width}."
                if self._v1
                else f"The row has {len(values)} fields but the header names {width}."
            )
        fields: dict[str, str] = {}
        echo: dict[str, str] = {}
        for index, value in enumerate(values[:width]):
            if value:
                echo[str(index)] = value
            column = self._columns[index]
            if column is not None and column not in fields:
                fields[column] = value
        entity = build_entity(fields, v1_text=self._v1, extra_fault=extra_fault)
        return BatchRow(
            seq=seq,
            id=fields.get(s.ID, "").strip(),
            request=entity.request,
            options=_text_options(entity.options, self._columns),
            fault=entity.fault,
            echo=echo,
        )


def _text_options(options: EntityOptions, columns: list[str | None]) -> EntityOptions:
    """Text files have no IncludeNeighborhood/IncludeQueryParse: asking for the column asks."""
    return replace(
        options,
        include_neighborhood=s.R_NEIGHBORHOOD in columns,
        include_query_parse=s.R_QUERY_PARSE in columns,
    )


def _chain(first: Iterator[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _show(names: list[str]) -> str:
    shown = ", ".join(repr(n.strip()) for n in names[:8])
    return f"[{shown}{', ...' if len(names) > 8 else ''}]"
