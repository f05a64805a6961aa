"""Decode csv / tab / pipe batch files, schema v1.0 (31 positional columns) and v2.0 (version
line, then a header naming the columns in any order), streaming one line at a time.

Fields are read by the rules of spec §11.6 (the official toolkit's reader, which every sample
agrees with): spaces before a value are skipped; a value whose first character is ``"`` is quoted
— it ends at the next single ``"`` (``""`` is a literal quote; delimiters and line breaks inside
are data) and anything after its closing quote up to the delimiter is ignored; a ``"`` inside an
unquoted value is an ordinary character; trailing spaces are kept.

Every physical line gets an entity. A line that cannot be read — a quote that is never closed
cleanly (``1,"Vaduz,Vaduz``), a line longer than :data:`MAX_LINE_CHARS` — becomes a failed
entity that names the line and keeps the line's Id where it can be read; it never swallows the
lines after it.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow, EntityOptions
from geobatch.formats.bing import schema as s
from geobatch.formats.bing.entity import MAX_FIELD_CHARS, build_entity

# A physical line longer than this is not read: no real row comes near it, and holding it whole
# would let one hostile line take the memory of the process. It is a failed entity.
MAX_LINE_CHARS = 1_000_000

# A quoted field may hold line breaks, but no entity spans more lines than this.
MAX_QUOTED_LINES = 10


@dataclass(frozen=True, slots=True)
class _Open:
    """A quoted value (opened in field ``column``, 0-based) still open at the end of the text
    given, or — ``unclean`` — one holding a line break whose closing quote is followed by more
    of a value: a stray quote that met another row's quote."""

    column: int
    unclean: bool = False


@dataclass(frozen=True, slots=True)
class _Line:
    """A physical line: its number (1-based), its text with its line break, and its length —
    longer than the text when the line was too long to keep (only its head is kept)."""

    number: int
    text: str
    length: int

    @property
    def overlong(self) -> bool:
        return self.length > MAX_LINE_CHARS


@dataclass(frozen=True, slots=True)
class _Record:
    """One entity's fields and the line it starts on; ``problem`` says why the fields are
    only a guess (then the entity fails with that reason)."""

    line: int
    fields: list[str]
    problem: str | None = None


class TextBatch:
    """A decoded text file: the header is read at once, the rows lazily (one pass only)."""

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        self._delimiter = s.DELIMITERS[fmt]
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self._line_no = 0  # physical lines read so far, for messages
        self._lines = self._read_lines()
        self._pending: list[_Line] = []
        first = self._next_line()
        match = s.VERSION_LINE_RE.match(first.text)
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
        header = self._next_line()
        if header.overlong:
            raise InputError(
                f"the header (line {header.number}) is longer than {MAX_LINE_CHARS:,} characters"
            )
        header_line = header.text.rstrip("\r\n")
        self._columns = self._parse_header(header_line)
        self.header = BatchHeader(
            format=fmt,
            version="2.0",
            details={"header_line": header_line, "columns": json.dumps(self._columns)},
        )

    @property
    def _id_index(self) -> int | None:
        return self._columns.index(s.ID) if s.ID in self._columns else None

    def _read_lines(self) -> Iterator[_Line]:
        """Physical lines with their endings; of a line longer than MAX_LINE_CHARS only the
        head is kept (the rest is read past in pieces, so memory stays bounded)."""
        while True:
            line = self._readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            self._line_no += 1
            length = len(line)
            if length > MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                while rest := self._readline(MAX_LINE_CHARS):
                    length += len(rest)
                    if rest.endswith(("\n", "\r")):
                        break
            yield _Line(self._line_no, line[:MAX_LINE_CHARS], length)

    def _readline(self, limit: int) -> str:
        try:
            return self._text.readline(limit)
        except UnicodeDecodeError as error:
            raise InputError(
                f"the file is not UTF-8 text ({error.reason} near line {self._line_no + 1}); "
                "Bing batch files must be UTF-8 encoded"
            ) from None

    def _next_line(self) -> _Line:
        for line in self._lines:
            if line.text.strip():
                return line
        raise InputError("the file has no data: after its version line it is empty")

    def _parse_header(self, line: str) -> list[str | None]:
        names = _split_quoted(line, self._delimiter) if '"' in line else line.split(self._delimiter)
        if isinstance(names, _Open):
            raise InputError("the header (second line) has a quote that is never closed")
        names = [name.lstrip(" ") for name in names]
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
            values = record.fields
            if record.problem is not None:
                yield self._unreadable(seq, record)
                seq += 1
                continue
            if not any(v.strip() for v in values):
                continue
            if self._v1 and seq == 0 and values[0].strip().casefold() in s.V1_HEADER_FIRST_CELLS:
                continue  # an optional v1 header row (the toolkit writes one)
            yield self._row(seq, record)
            seq += 1
        if seq == 0:
            raise InputError("the file has no entities: there is no data row to geocode")

    def _records(self) -> Iterator[_Record]:
        """One entity at a time: a line, or a few lines where a quoted field holds line breaks.

        A quote still open after :data:`MAX_QUOTED_LINES` lines (or at the end of the file), or
        one that only closes on a later line in the middle of a value, is a stray one: its line
        is a failed entity on its own and the lines after it are read again, so one bad row
        never swallows the rows that follow.
        """
        delimiter = self._delimiter
        pending: deque[_Line] = deque()
        lines = _chain(iter(self._pending), self._lines)
        while True:
            first = pending.popleft() if pending else next(lines, None)
            if first is None:
                return
            if first.overlong:
                yield _Record(first.number, self._guess(first.text), self._overlong(first))
                continue
            if '"' not in first.text:  # the common case, at C speed
                yield _Record(first.number, _split_plain(first.text, delimiter))
                continue
            taken = [first]
            parsed = alone = _split_quoted(first.text, delimiter)
            while (
                isinstance(parsed, _Open) and not parsed.unclean and len(taken) <= MAX_QUOTED_LINES
            ):
                more = pending.popleft() if pending else next(lines, None)
                if more is None or more.overlong:
                    if more is not None:
                        pending.appendleft(more)
                    break
                taken.append(more)
                parsed = _split_quoted("".join(line.text for line in taken), delimiter)
            if isinstance(parsed, list):
                yield _Record(first.number, parsed)
                continue
            column = alone.column if isinstance(alone, _Open) else 0
            yield _Record(first.number, self._guess(first.text), self._stray_quote(first, column))
            pending.extendleft(reversed(taken[1:]))

    def _guess(self, text: str) -> list[str]:
        """The fields of a line that cannot be read properly, split on every delimiter."""
        return [value.lstrip(" ") for value in text.rstrip("\r\n").split(self._delimiter)]

    def _guess_id(self, fields: list[str]) -> str:
        """The Id of a line split by :meth:`_guess`, when it can be told: the Id column comes
        before the first quote (the split is exact up to there), or after it with the line
        holding no other quote and more fields than the header (the surplus is then the
        delimiters inside the open quote, and the Id is counted from the end)."""
        at = self._id_index
        if at is None:
            return ""
        opened = next((i for i, v in enumerate(fields) if v.startswith('"')), len(fields))
        if at < opened:
            value = fields[at] if at < len(fields) else ""
        else:
            rest = fields[opened + 1 :]
            width = len(self._columns)
            if self._v1 or len(fields) <= width or any('"' in v for v in rest):
                return ""
            value = fields[len(fields) - width + at]
        return "" if len(value) > MAX_FIELD_CHARS else value.strip()

    def _overlong(self, line: _Line) -> str:
        return (
            f"Line {line.number} is {line.length:,} characters long, more than the "
            f"{MAX_LINE_CHARS:,} a row may have; it was not read."
        )

    def _stray_quote(self, line: _Line, column: int) -> str:
        known = self._columns[column] if column < len(self._columns) else None
        name = f"field {column + 1}{', ' + known if known else ''}"
        return (
            f"Line {line.number} has a quote ({name}) that is never closed: the row was not "
            "read. Quote a whole value and double each quote inside it "
            '("5th Ave, ""The Big Apple""").'
        )

    def _unreadable(self, seq: int, record: _Record) -> BatchRow:
        entity_id = self._guess_id(record.fields)
        echo = {str(self._id_index): entity_id} if entity_id else {}
        return BatchRow(seq, entity_id, None, fault=record.problem, echo=echo)

    def _row(self, seq: int, record: _Record) -> BatchRow:
        values = record.fields
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
        entity = build_entity(fields, v1_text=self._v1, extra_fault=extra_fault, line=record.line)
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


def _split_plain(text: str, delimiter: str) -> list[str]:
    """The fields of a line without quotes: split on the delimiter, leading spaces dropped."""
    return [value.lstrip(" ") for value in text.rstrip("\r\n").split(delimiter)]


def _split_quoted(text: str, delimiter: str) -> list[str] | _Open:
    """The fields of one record that holds quotes (spec §11.6), or :class:`_Open` when a quoted
    value is still open at the end of ``text`` or a quoted value holding a line break closes in
    the middle of a value (a stray quote that met another row's)."""
    field = _field_pattern(delimiter)
    fields: list[str] = []
    pos, end = 0, len(text)
    while True:
        match = field.match(text, pos)
        assert match is not None  # the unquoted branch matches even an empty value
        quoted, after, plain = match.groups()
        if quoted is not None:
            value = quoted.replace('""', '"')
            if after and ("\n" in value or "\r" in value):
                return _Open(len(fields), unclean=True)
        elif plain.startswith('"'):
            return _Open(len(fields))  # its closing quote is not in ``text``
        else:
            value = plain
        fields.append(value)
        pos = match.end()
        if pos >= end or text[pos] != delimiter:
            return fields  # the end of the line ends the record
        pos += 1


@functools.cache
def _field_pattern(delimiter: str) -> re.Pattern[str]:
    """One field: leading spaces, then a quoted value (``""`` inside; anything after its
    closing quote up to the delimiter is captured to be ignored) or an unquoted one."""
    stop = re.escape(delimiter) + "\r\n"
    return re.compile(rf' *(?:"([^"]*(?:""[^"]*)*)"([^{stop}]*)|([^{stop}]*))')


def _chain(first: Iterator[_Line], rest: Iterator[_Line]) -> Iterator[_Line]:
    yield from first
    yield from rest


def _show(names: list[str]) -> str:
    shown = ", ".join(repr(n.strip()) for n in names[:8])
    return f"[{shown}{', ...' if len(names) > 8 else ''}]"
