"""Read a text file in any encoding as a stream of UTF-8 bytes, for the CSV pipeline.

The CSV pipeline (:mod:`.csvsplit`, :mod:`.csvtask`) works on UTF-8 bytes. An input in another
encoding (Windows-1252, UTF-16) is decoded and re-encoded on the fly as the splitter reads it,
a block at a time: memory stays flat and no temporary file is written. Bytes the encoding
cannot decode come out as ``0xFF`` (never valid UTF-8), so their row is found and reported as
Failed by the task instead of being geocoded on a guessed text.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import BinaryIO

from geobatch.formats.encoding import Encoding, Scan, decoder_marking, scan

BLOCK_BYTES = 1 << 20


def scan_stream(stream: BinaryIO, block: int = BLOCK_BYTES) -> Scan:
    """Scan ``stream`` from where it stands (see :func:`geobatch.formats.encoding.scan`)."""

    def chunks() -> Iterator[bytes]:
        while data := stream.read(block):
            yield data

    return scan(chunks())


class Utf8Reader:
    """``read(n)`` over ``raw`` decoded as ``encoding``, as UTF-8 bytes.

    :meth:`source_offset` maps an offset of the UTF-8 output back to about where it was read
    in ``raw`` (at block granularity), for a progress bar in the input's own bytes.
    """

    def __init__(self, raw: BinaryIO, encoding: Encoding, block: int = BLOCK_BYTES) -> None:
        self._raw = raw
        self._decoder = decoder_marking(encoding.codec)
        self._block = block
        self._buffer = bytearray()
        self._eof = False
        self._skip = encoding.bom
        self._produced = 0  # UTF-8 bytes made so far
        self._consumed = 0  # raw bytes read so far
        # (UTF-8 offset, raw offset) after each block, for source_offset
        self._marks: list[tuple[int, int]] = [(0, 0)]

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            self._pull()
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        return data

    def _pull(self) -> None:
        data = self._raw.read(self._block)
        self._eof = not data
        if self._skip:
            skipped = data[: self._skip]
            data = data[len(skipped) :]
            self._skip -= len(skipped)
            self._consumed += len(skipped)
        text = self._decoder.decode(data, final=self._eof)
        encoded = text.encode("utf-8", "surrogateescape")
        self._buffer += encoded
        self._produced += len(encoded)
        self._consumed += len(data)
        self._marks.append((self._produced, self._consumed))

    def source_offset(self, utf8_offset: int) -> int:
        """The raw offset by which the UTF-8 output up to ``utf8_offset`` had been read."""
        at = bisect.bisect_left(self._marks, (utf8_offset, -1))
        return self._marks[min(at, len(self._marks) - 1)][1]
