"""Bound the work of parsing one XML token: refuse a token longer than a cap while the bytes
stream past, before the parser has seen the whole of it.

Expat before 2.6.0 (CVE-2023-52425) re-scans an unfinished token from its start each time it is
fed more bytes, so one huge token costs time quadratic in its length: a 32 MB comment or
attribute value inside an upload well under the size limit held the job runner for minutes.
:class:`TokenGuard` sits between the upload and the parser and measures every token as it goes
by, with ``bytes.find`` (C speed, a few Python steps per tag):

- a comment (``<!-- … -->``), a CDATA section (``<![CDATA[ … ]]>``) and a processing instruction
  (``<? … ?>``) are measured from their opening to their closing delimiter;
- everything else is measured from one ``<`` to the next. An attribute value cannot hold a
  ``<`` (XML 1.0, AttValue), so that distance bounds every tag with its attributes and every
  run of text, whatever the quoting.

The parser is then never fed more than ``max_token`` bytes plus one read of any token, whatever
its Python or expat version; the longest legitimate token of a geocode file (a request tag with
every attribute at its 4,096-character limit) is far below the default cap.
"""

from __future__ import annotations

from typing import BinaryIO, Final

from geobatch.errors import InputError
from geobatch.formats.bing.entity import MAX_FIELD_CHARS

MIB: Final = 1024 * 1024
# The longest token the parser is given. A tag with all its attributes at MAX_FIELD_CHARS
# (4,096 characters, up to 4 bytes each) stays far below; one such token costs expat about
# 20 ms (the cost grows with the square of its length, 1 s at 8 MB).
MAX_TOKEN_BYTES: Final = 1 * MIB
# The most bytes one read passes on: the parser never holds more than this of an oversize token
# beyond the cap when the guard refuses it.
MAX_READ_BYTES: Final = 64 * 1024

_MARKUP, _COMMENT, _CDATA, _PI = "markup", "comment", "CDATA section", "processing instruction"
_OPENERS: Final = ((b"<!--", _COMMENT), (b"<![CDATA[", _CDATA), (b"<?", _PI))
_CLOSERS: Final = {_COMMENT: b"-->", _CDATA: b"]]>", _PI: b"?>"}
_LONGEST_OPENER: Final = max(len(opener) for opener, _ in _OPENERS)


def _size(count: int) -> str:
    return f"{count // MIB:,} MB" if count % MIB == 0 else f"{count:,} bytes"


class TokenGuard:
    """A readable binary stream: ``stream``'s bytes, unchanged, checked token by token.

    ``read`` raises :class:`InputError` as soon as one token passes ``max_token`` bytes.
    """

    def __init__(self, stream: BinaryIO, max_token: int = MAX_TOKEN_BYTES) -> None:
        self._stream = stream
        self._max = max_token
        self._mode = _MARKUP
        self._run = 0  # bytes of the current token scanned so far
        self._carry = b""  # bytes at the end of the last read that the scan has not judged yet
        self._lines = 1  # line of the first byte of the current read
        self._start_line: int | None = 1  # line where the current token began (None: not
        # counted yet), from its position in the read it began in:
        self._start_at, self._start_buf = 0, b""
        self._start_head = b""  # its first bytes, to name it in the error

    def read(self, size: int = -1) -> bytes:
        want = MAX_READ_BYTES if size is None or size < 0 else min(size, MAX_READ_BYTES)
        data = self._stream.read(want)
        if data:
            self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        buf = self._carry + data
        self._carry = b""
        if not self._scan_fast(buf):
            self._scan_tokens(buf)
        self._resolve()
        self._lines += data.count(b"\n")

    def _scan_fast(self, buf: bytes) -> bool:
        """The common read — tags and text only, no longer than the cap — in two finds: no gap
        between two of its "<" can pass the cap, so only the first and the last count. False
        (nothing done) when the read needs :meth:`_scan_tokens`."""
        if self._mode != _MARKUP or len(buf) > self._max or b"<!" in buf or b"<?" in buf:
            return False
        last = buf.rfind(b"<")
        if last < 0:
            self._grow(len(buf))
            return True
        if last > len(buf) - _LONGEST_OPENER:
            return False  # it may open a comment or a CDATA section cut by the read
        self._grow(buf.find(b"<"))
        self._begin(_MARKUP, buf, last)
        self._grow(len(buf) - last)
        return True

    def _scan_tokens(self, buf: bytes) -> None:
        pos, end = 0, len(buf)
        while pos < end:
            if self._mode != _MARKUP:
                pos = self._scan_special(buf, pos)
                continue
            lt = buf.find(b"<", pos)
            if lt < 0:
                self._grow(end - pos)
                break
            self._grow(lt - pos)
            head = buf[lt : lt + _LONGEST_OPENER]
            if len(head) < _LONGEST_OPENER and any(
                opener.startswith(head) and len(head) < len(opener) for opener, _ in _OPENERS
            ):
                self._carry = buf[lt:]  # "<!-" or "<![CD" cut by the read: judged next time
                break
            mode = next((m for opener, m in _OPENERS if head.startswith(opener)), _MARKUP)
            self._begin(mode, buf, lt)
            if mode == _MARKUP:
                self._grow(1)  # the "<" itself
                pos = lt + 1
            else:
                pos = lt + next(len(opener) for opener, m in _OPENERS if m == mode)

    def _scan_special(self, buf: bytes, pos: int) -> int:
        """Inside a comment, CDATA section or PI: find its end; return where scanning goes on."""
        closer = _CLOSERS[self._mode]
        found = buf.find(closer, pos)
        if found < 0:
            # The closer may be cut by the read: keep its possible beginning for next time.
            keep = min(len(closer) - 1, len(buf) - pos)
            self._grow(len(buf) - keep - pos)
            self._carry = buf[len(buf) - keep :]
            return len(buf)
        self._grow(found - pos)
        self._mode, self._run = _MARKUP, 0
        return found + len(closer)

    def _begin(self, mode: str, buf: bytes, at: int) -> None:
        self._mode, self._run = mode, 0
        self._start_line = None  # counted only once per read, or for the error: see _resolve
        self._start_at, self._start_buf = at, buf

    def _resolve(self) -> int:
        """The line where the current token began (counting lines per token would make a read
        of many small tokens quadratic). Carried bytes are a delimiter's beginning and hold no
        line break, so the lines before the token are those of the read it began in."""
        if self._start_line is None:
            self._start_line = self._lines + self._start_buf.count(b"\n", 0, self._start_at)
            self._start_head = self._start_buf[self._start_at : self._start_at + 40]
            self._start_buf = b""
        return self._start_line

    def _grow(self, count: int) -> None:
        self._run += count
        if self._run > self._max:
            raise InputError(self._describe())

    def _describe(self) -> str:
        limit, line = _size(self._max), self._resolve()
        if self._mode != _MARKUP:
            what = f"a {self._mode} longer than {limit} at line {line}"
        elif self._start_head.startswith(b"<"):
            name = self._start_head[1:].split(maxsplit=1)[0] if len(self._start_head) > 1 else b""
            shown = name.decode("utf-8", "replace").rstrip(">/")[:30]
            what = (
                f"more than {limit} without another '<' after the <{shown}> tag at line {line} "
                "(an attribute value or a text that long)"
            )
        else:
            what = f"more than {limit} of text before its first tag"
        return (
            f"the XML holds {what}; no part of a geocode file needs that much (an attribute "
            f"value may hold at most {MAX_FIELD_CHARS:,} characters): the file is refused "
            "rather than parsed"
        )
