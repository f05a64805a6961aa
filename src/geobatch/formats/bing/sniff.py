"""Look at the first bytes of an upload without consuming them, and refuse what is plainly not a
Bing batch file (empty, compressed, binary, XML sent as text or text sent as XML) with a message a
person can act on, before any parser produces a cryptic one."""

from __future__ import annotations

import io
from typing import BinaryIO

from geobatch.errors import InputError

HEAD_BYTES = 4096
_BOM = b"\xef\xbb\xbf"


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``stream``: a peek that gives the bytes back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def peek(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first bytes of ``stream`` and a stream that still starts at the beginning."""
    head = stream.read(HEAD_BYTES)
    return head, io.BufferedReader(_Prefixed(head, stream))


def check_head(head: bytes, fmt: str) -> None:
    """Raise :class:`InputError` when the first bytes show the file cannot be a ``fmt`` file."""
    body = head.removeprefix(_BOM).lstrip()
    if not body:
        raise InputError("the uploaded file is empty: it holds no entities to geocode")
    if head.startswith(b"\x1f\x8b") or head.startswith(b"PK\x03\x04"):
        raise InputError(
            "the file is compressed (gzip or zip); it must be decompressed before it is decoded"
        )
    if b"\x00" in head:
        raise InputError(
            "the file is binary, not text: a Bing batch file is UTF-8 XML or delimited text"
        )
    looks_xml = body.startswith(b"<")
    if fmt == "xml" and not looks_xml:
        raise InputError(
            "the file is not XML (it does not start with '<'); for delimited text upload it "
            "with input=csv, tab or pipe"
        )
    if fmt != "xml" and looks_xml:
        raise InputError(f"the file looks like XML, not {fmt} text; upload it with input=xml")
