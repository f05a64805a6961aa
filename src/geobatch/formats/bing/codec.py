"""The Bing Geocode Dataflow batch codec: XML, csv, tab and pipe; data schema v1.0 and v2.0.

``decode`` reads the header (version line and column names, or the XML root) at once and streams
the entities; ``encode`` writes the succeeded or failed download in the upload's own format and
version. Nothing here opens files or sockets: callers hand in binary streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow, DecodedBatch, Outcome
from geobatch.formats.bing import schema as s
from geobatch.formats.bing.sniff import HEAD_BYTES, check_head, peek
from geobatch.formats.bing.textdecode import TextBatch
from geobatch.formats.bing.textencode import encode_v1, encode_v2
from geobatch.formats.bing.xmldecode import XmlBatch
from geobatch.formats.bing.xmlencode import encode_xml
from geobatch.formats.counting import count_lines, count_occurrences
from geobatch.model import Answer, ResultStatus

INPUT_FORMATS = ("xml", *s.TEXT_FORMATS)
_MEDIA_TYPES = {
    "xml": "application/xml; charset=utf-8",
    "csv": "text/plain; charset=utf-8",
    "tab": "text/plain; charset=utf-8",
    "pipe": "text/plain; charset=utf-8",
}


def normalise_format(fmt: str) -> str:
    """``input=`` values are case-insensitive (spec §2.1); anything else is an InputError."""
    folded = fmt.strip().casefold()
    if folded not in INPUT_FORMATS:
        raise InputError(f"input format '{fmt}' is not one of {', '.join(INPUT_FORMATS)}")
    return folded


def media_type_for(fmt: str) -> str:
    """The Content-Type of a download in ``fmt`` (the upload's format)."""
    return _MEDIA_TYPES[normalise_format(fmt)]


class BingCodec:
    """Bing Geocode Dataflow files (see the module docstring).

    ``excel_safe`` (on by default): csv, tab and pipe downloads neutralise values a spreadsheet
    would run as formulas (:mod:`geobatch.formats.excelsafe`); XML downloads are never changed.
    """

    def __init__(self, *, excel_safe: bool = True) -> None:
        self.excel_safe = excel_safe

    def decode(self, stream: BinaryIO, fmt: str) -> DecodedBatch:
        """Read the header now; the rows stream once, lazily, from ``rows()``.

        Raises :class:`InputError` for a file that cannot be read at all."""
        fmt = normalise_format(fmt)
        head, stream = peek(stream)
        check_head(head, fmt)
        if fmt == "xml":
            return XmlBatch(stream)
        return TextBatch(stream, fmt)

    def entity_bound(self, stream: BinaryIO, fmt: str) -> int:
        """At most how many entities :meth:`decode` yields from ``stream`` (seekable, at its
        start), by a byte scan: XML, the ``GeocodeEntity`` start tags (the name's occurrences
        less its end tags; decode reads only ASCII-compatible XML, a NUL byte is refused);
        text, the physical lines less the version and header lines (an entity takes one line
        at least)."""
        fmt = normalise_format(fmt)
        if fmt == "xml":
            names, ends = count_occurrences(stream, (b"GeocodeEntity", b"</GeocodeEntity"))
            return max(names - ends, 0)
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        return max(count_lines(stream) - _header_lines(head, s.DELIMITERS[fmt]), 0)

    def outcome(self, row: BatchRow, answer: Answer) -> Outcome:
        """Faulted entities and failed geocodes are *failed*; everything else — including an
        entity with no match, which is a Success with no GeocodeResponse (spec §16) — succeeded."""
        if row.fault is not None or answer.status is ResultStatus.FAILED:
            return "failed"
        return "succeeded"

    def encode(
        self,
        out: BinaryIO,
        header: BatchHeader,
        rows: Iterable[tuple[BatchRow, Answer]],
        outcome: Outcome,
    ) -> int:
        """Write the ``outcome`` download (its rows only) in the upload's format and version."""
        fmt = normalise_format(header.format)
        if fmt == "xml":
            return encode_xml(out, header, rows)
        if header.version == "2.0":
            return encode_v2(out, header, rows, excel_safe=self.excel_safe)
        return encode_v1(out, header, rows, excel_safe=self.excel_safe)


def _header_lines(head: bytes, delimiter: str) -> int:
    """How many of a text file's first lines are not entities: a version line and (version
    2.0) the header line, or the optional header row of a version 1.0 file."""
    text = head.decode("utf-8-sig", errors="replace")
    # Split as the decoder does (CR, LF, CRLF only: not str.splitlines's other separators).
    first = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    match = s.VERSION_LINE_RE.match(first)
    if match is not None:
        return 1 if match.group(1) in ("1", "1.0") else 2
    cell = first.split(delimiter)[0].strip().strip('"').casefold()
    return 1 if cell in s.V1_HEADER_FIRST_CELLS else 0
