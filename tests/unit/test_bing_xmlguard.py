"""The XML token guard: one huge token (CVE-2023-52425, quadratic in expat 2.5) is refused while
the bytes stream past, the parser never holds much of it, and ordinary files pass unchanged
whatever way the reads cut them."""

from __future__ import annotations

import io
import re

import pytest

from geobatch.errors import InputError
from geobatch.formats.bing import BingCodec
from geobatch.formats.bing.xmlguard import MAX_READ_BYTES, MAX_TOKEN_BYTES, TokenGuard
from tests.conftest import shared_spec_file

ENTITY = b'<GeocodeEntity Id="1"><GeocodeRequest Query="Vaduz"/></GeocodeEntity>'
HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<GeocodeFeed Version="2.0">\n'
TAIL = b"\n</GeocodeFeed>"
# Above the cap, but small enough to build quickly: a few megabytes.
HUGE = 3 * MAX_TOKEN_BYTES


class CountingStream(io.RawIOBase):
    """A byte stream that hands out at most ``step`` bytes a read and counts what was read."""

    def __init__(self, data: bytes, step: int = 1 << 30) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size is None or size < 0 else min(size, self.step)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


def decode(data: bytes) -> list[str]:
    batch = BingCodec().decode(io.BytesIO(data), "xml")
    return [row.id for row in batch.rows()]


HOSTILE = [
    ("comment", HEAD + b"<!--" + b"A" * HUGE + b"-->" + ENTITY + TAIL, "a comment longer"),
    (
        "attribute value",
        HEAD + b'<GeocodeEntity Id="1"><GeocodeRequest Query="' + b"A" * HUGE + b'"/>'
        b"</GeocodeEntity>" + TAIL,
        "after the <GeocodeRequest> tag at line 3",
    ),
    (
        "attribute value with '>' in it",
        HEAD + b'<GeocodeEntity Id="' + b">" * HUGE + b'"/>' + TAIL,
        "after the <GeocodeEntity> tag",
    ),
    (
        "many attributes",
        HEAD
        + b'<GeocodeEntity Id="1" '
        + b" ".join(b'a%d="%s"' % (i, b"x" * 1000) for i in range(HUGE // 1000))
        + b"/>"
        + TAIL,
        "after the <GeocodeEntity> tag",
    ),
    ("text", HEAD + b"\n" * HUGE + ENTITY + TAIL, "after the <GeocodeFeed> tag at line 2"),
    ("CDATA", HEAD + b"<![CDATA[" + b"<>" * (HUGE // 2) + b"]]>" + ENTITY + TAIL, "CDATA"),
    (
        "processing instruction",
        HEAD + b"<?pi " + b"<" * HUGE + b"?>" + ENTITY + TAIL,
        "a processing instruction longer",
    ),
    # The DTD is refused first, as before the guard (defusedxml stops at the DOCTYPE).
    (
        "comment in a DOCTYPE",
        b"<!DOCTYPE GeocodeFeed [<!--" + b"-" * HUGE + b"-->]>" + HEAD + ENTITY + TAIL,
        "declares a DTD",
    ),
]


@pytest.mark.parametrize(("case", "data", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_huge_token_is_refused_before_the_parser_holds_it(
    case: str, data: bytes, message: str
) -> None:
    stream = CountingStream(data)
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        list(BingCodec().decode(stream, "xml").rows())  # type: ignore[arg-type]
    assert "1 MB" in str(caught.value) or "DTD" in str(caught.value)
    # Refused once the cap was passed: the rest of the upload was never read, so the parser
    # was fed at most the cap plus a read or two of the token, never the whole of it.
    assert stream.pos <= MAX_TOKEN_BYTES + 4096 + 2 * MAX_READ_BYTES + 4 * 16 * 1024
    assert stream.pos < len(data)


def test_text_before_the_first_tag_is_measured_too() -> None:
    # The codec refuses such a file earlier (it does not start with "<"); the guard alone:
    guard = TokenGuard(CountingStream(b" " * HUGE + HEAD))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="more than 1 MB of text before its first tag"):
        while guard.read(16 * 1024):
            pass


def test_the_line_of_the_token_is_named() -> None:
    data = HEAD + b"\n" * 5 + ENTITY + b"\n<!--" + b"x" * HUGE + b"-->" + TAIL
    with pytest.raises(InputError, match="a comment longer than 1 MB at line 9;"):
        decode(data)


def test_a_token_just_under_the_cap_is_parsed() -> None:
    query = b"A" * (MAX_TOKEN_BYTES - 200)
    data = HEAD + b'<GeocodeEntity Id="7"><GeocodeRequest Query="' + query + b'"/>'
    batch = BingCodec().decode(io.BytesIO(data + b"</GeocodeEntity>" + TAIL), "xml")
    (row,) = batch.rows()
    assert row.id == "7" and row.fault == "Query is longer than 4096 characters."


def _longest_token(data: bytes) -> int:
    """What the guard measures, computed another way (a regex over the whole document)."""
    tokens = re.finditer(
        rb"<!--(.*?)-->|<!\[CDATA\[(.*?)\]\]>|<\?(.*?)\?>|(<[^<]*)|([^<]+)", data, re.S
    )
    return max(len(next(group for group in m.groups() if group is not None)) for m in tokens)


DOCUMENTS = [
    HEAD + ENTITY * 3 + TAIL,
    HEAD + b"<!-- a > b <c> -- ->-->" + ENTITY + b"<?pi x?y ?>" + TAIL,
    HEAD + b'<GeocodeEntity Id="a&gt;&amp;b"><GeocodeRequest Query="x &lt; y > z"/>'
    b"</GeocodeEntity><![CDATA[ <x> ]] ]]>" + TAIL,
    b"<!DOCTYPE x>" + HEAD + b"  " + ENTITY + b"<!---->" + b"text" * 50 + TAIL,
    "<GeocodeFeed><GeocodeEntity Id='é'><GeocodeRequest Query='日本'/></GeocodeEntity>"
    "</GeocodeFeed>".encode(),
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("step", [1, 2, 3, 4, 5, 7, 9, 16 * 1024])
def test_the_cap_is_exact_wherever_the_reads_cut(document: bytes, step: int) -> None:
    longest = _longest_token(document)
    guard = TokenGuard(CountingStream(document, step), max_token=longest)  # type: ignore[arg-type]
    passed = b"".join(iter(lambda: guard.read(16 * 1024), b""))
    assert passed == document  # the bytes go through unchanged
    tight = TokenGuard(CountingStream(document, step), max_token=longest - 1)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        b"".join(iter(lambda: tight.read(16 * 1024), b""))


@pytest.mark.parametrize(
    "name", ["v1-input.xml", "v2-input.xml", "walkthrough-input.xml", "v2-output-succeeded.xml"]
)
def test_published_samples_pass_read_a_byte_at_a_time(name: str) -> None:
    data = shared_spec_file(name).read_bytes()
    guard = TokenGuard(CountingStream(data, 1))  # type: ignore[arg-type]
    assert b"".join(iter(lambda: guard.read(100), b"")) == data
