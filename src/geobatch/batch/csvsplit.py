"""Cut a CSV byte stream into slices of whole records, cheaply, for tasks to parse.

The coordinator of a CSV run must not parse rows (that is the workers' work), but it must never
cut a record in two: a quoted field may hold line breaks. A line break ends a record when the
record so far holds an even number of quote characters (RFC 4180: quotes inside a quoted field
are doubled). Counting quotes with ``bytes.count`` costs a few milliseconds per megabyte.

Malformed input must not swallow the rest of the file. A record that is still open after
``max_record`` bytes, or at the end of the input, has a stray quote: its first line is cut off
as a slice of its own (the task reports it as a Failed row) and counting starts again on the
next line. A single line longer than ``max_record`` is not held in memory: a slice carries its
first bytes and its size (``oversize``), and reading goes on after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

QUOTE = b'"'
BLOCK_BYTES = 1 << 20
MAX_RECORD_BYTES = 1 << 20
HEAD_BYTES = 4096  # of an oversize line, kept to read its first fields
SAMPLE_BYTES = 1 << 16  # the bytes per line of a slice are judged on this much ahead


@dataclass(frozen=True, slots=True)
class Slice:
    """Whole records of the input. ``first_line`` is the 1-based physical line of ``data``'s
    first byte; ``lines`` the physical lines it holds; ``end`` the input offset after it.
    ``oversize`` > 0: one line of that many bytes, of which ``data`` holds the first bytes."""

    data: bytes
    first_line: int
    lines: int
    end: int
    oversize: int = 0


class RecordSplitter:
    """Iterate :class:`Slice` s of about ``lines_per_slice`` lines from ``stream``.

    ``offset`` and ``first_line`` say where ``stream`` stands in the input (after a header
    read with :meth:`next_record`). ``newline`` is ``b"\\n"`` (also for CRLF files) or ``b"\\r"``
    for files with bare carriage returns.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        lines_per_slice: int = 1000,
        newline: bytes = b"\n",
        max_record: int = MAX_RECORD_BYTES,
        block: int = BLOCK_BYTES,
        offset: int = 0,
        first_line: int = 1,
        buffered: bytes = b"",
    ) -> None:
        if lines_per_slice < 1:
            raise ValueError(f"lines per slice must be at least 1, not {lines_per_slice}")
        self._stream = stream
        self._lines = lines_per_slice
        self._nl = newline
        self._max_record = max_record
        self._block = block
        self._buf = bytearray(buffered)
        self._eof = False
        self._offset = offset  # input offset of _buf[0]
        self._line = first_line  # physical line of _buf[0]
        self._line_bytes = 64.0  # bytes per line ahead, judged on each slice

    def __iter__(self) -> Iterator[Slice]:
        while (piece := self._next(self._lines)) is not None:
            yield piece

    def next_record(self) -> Slice | None:
        """The next single record (the header), or None at the end of the input."""
        return self._next(1)

    # --- reading -----------------------------------------------------------------------------

    def _fill(self, want: int) -> None:
        """Read until the buffer holds ``want`` bytes or the input ends."""
        while not self._eof and len(self._buf) < want:
            data = self._stream.read(max(self._block, want - len(self._buf)))
            if not data:
                self._eof = True
            else:
                self._buf += data

    def _take(self, end: int, lines: int, oversize: int = 0) -> Slice:
        data = bytes(self._buf[:end])
        del self._buf[:end]
        piece = Slice(data, self._line, lines, self._offset + end, oversize)
        self._offset += end
        self._line += lines
        return piece

    # --- cutting -----------------------------------------------------------------------------

    def _next(self, lines: int) -> Slice | None:
        self._fill(SAMPLE_BYTES)
        buf, nl = self._buf, self._nl
        sample = min(len(buf), SAMPLE_BYTES)
        breaks = buf.count(nl, 0, sample)
        if breaks:
            self._line_bytes = sample / breaks
        want = int(lines * self._line_bytes) + 1
        self._fill(min(want, self._max_record) + 1)
        if not buf:
            return None
        first = buf.find(nl)
        while first < 0 and not self._eof and len(buf) <= self._max_record:
            self._fill(len(buf) + self._block)
            first = buf.find(nl)
        if first >= self._max_record or (first < 0 and len(buf) > self._max_record):
            return self._oversize()
        if lines == 1 or want <= first + 1:
            end = self._record_end(first + 1 if first >= 0 else len(buf))
        else:
            end = self._cut_near(want)
        piece_lines = buf.count(nl, 0, end) + (0 if buf[end - 1 : end] == nl else 1)
        return self._take(end, piece_lines)

    def _cut_near(self, want: int) -> int:
        """A record boundary at or before ``want`` bytes (after at least one record)."""
        buf, nl = self._buf, self._nl
        if self._eof and len(buf) <= want:
            end = len(buf)  # the rest of the input, a last line without a line break included
        else:
            end = buf.rfind(nl, 0, min(want, len(buf))) + 1
        quotes = buf.count(QUOTE, 0, end)
        while quotes % 2:
            previous = buf.rfind(nl, 0, end - 1) + 1
            if previous == 0:
                # The first record runs past the cut: look for its end forward.
                return self._record_end(buf.find(nl) + 1 or len(buf))
            quotes -= buf.count(QUOTE, previous, end)
            end = previous
        return end

    def _record_end(self, end: int) -> int:
        """The end of the record that starts the buffer, given the end of its first line.

        A record still open after ``max_record`` bytes or at the end of the input is cut
        after its first line (a stray quote must not swallow the lines after it).
        """
        buf, nl = self._buf, self._nl
        first_line_end = end
        quotes = buf.count(QUOTE, 0, end)
        while quotes % 2:
            if end >= self._max_record:
                return first_line_end
            following = buf.find(nl, end)
            if following < 0:
                if not self._eof and len(buf) <= self._max_record:
                    self._fill(len(buf) + self._block)
                    continue
                if self._eof and len(buf) > end and len(buf) <= self._max_record:
                    quotes += buf.count(QUOTE, end)
                    end = len(buf)
                    if quotes % 2 == 0:
                        return end
                return first_line_end
            quotes += buf.count(QUOTE, end, following + 1)
            end = following + 1
        return end

    def _oversize(self) -> Slice:
        """Skip one line longer than ``max_record``, keeping its first bytes."""
        buf, nl = self._buf, self._nl
        head = bytes(buf[:HEAD_BYTES])
        size = 0
        while True:
            found = buf.find(nl)
            if found >= 0:
                size += found + 1
                del buf[: found + 1]
                break
            size += len(buf)
            buf.clear()
            self._fill(self._block)
            if not buf:
                break
        piece = Slice(head, self._line, 1, self._offset + size, oversize=size)
        self._offset += size
        self._line += 1
        return piece
