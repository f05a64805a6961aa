"""Tell the text encoding of a CSV, as Excel and other programs write them.

Excel saves "CSV UTF-8" (UTF-8 with a byte-order mark), plain "CSV" in the Windows code page
of the machine (Windows-1252 in the Americas and Western Europe) and "Unicode text" (UTF-16
little-endian with a byte-order mark, tab-separated). The rules, in order:

1. A byte-order mark names the encoding (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE).
2. UTF-16 without a mark shows as a NUL byte in every other position of ASCII text.
3. Bytes that are all valid UTF-8 are UTF-8. So is a file that holds valid multi-byte UTF-8
   before its first invalid byte: it is UTF-8 with damaged rows (each becomes a Failed row),
   not a legacy file that happens to contain such a sequence by chance.
4. Otherwise Windows-1252, if the bytes read as such look like text of a language written
   with it: none of its five unassigned bytes, no control characters, and most letters plain
   ASCII (Russian, Greek or Hebrew text in their own code pages reads as runs of accented
   letters). Anything else cannot be told: the user names it with ``--encoding``.

Nothing here reads a file: :func:`scan` takes the bytes as an iterable of chunks, so that the
caller decides where they come from (a whole file, or the first bytes of a pipe).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass

from geobatch.errors import InputError

HEAD_BYTES = 64 * 1024  # kept from the start of the input (BOM, UTF-16 and binary checks)
WINDOW_BYTES = 64 * 1024  # judged from the first byte that is not UTF-8
LEGACY = "cp1252"
LEGACY_LABEL = "Windows-1252"
# Windows-1252 leaves these bytes unassigned: text in that code page never holds them.
CP1252_UNASSIGNED = frozenset(b"\x81\x8d\x8f\x90\x9d")
# Share of non-ASCII letters above which bytes are taken for another code page than 1252
# (Western European text has a few accented letters per word at most), once there are enough
# letters to judge.
FOREIGN_LETTER_SHARE = 0.5
FOREIGN_MIN_LETTERS = 8
# Control characters that text files hold (tab, line feed, form feed, carriage return).
TEXT_CONTROLS = frozenset("\t\n\x0c\r")
# A name given to codecs for the bytes a codec cannot decode; see decode_marking.
MARK_ERRORS = "geobatch-mark"
MARK_BYTE = b"\xff"  # never valid in UTF-8, so a marked row is found again downstream

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),  # before UTF-16 LE: it starts alike
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)


@dataclass(frozen=True, slots=True)
class Encoding:
    """How to read the input: ``codec`` (a Python codec name) after ``bom`` bytes of
    byte-order mark; ``label`` names it for people."""

    codec: str
    label: str
    bom: int = 0

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.codec).name in ("utf-8", "utf-8-sig")

    @property
    def from_excel(self) -> bool:
        """Whether the input came from a spreadsheet's own encodings (a BOM or a code page), so
        that the output CSV is written with a UTF-8 BOM for the spreadsheet to read it back."""
        return self.bom > 0 or not self.is_utf8


UTF8 = Encoding("utf-8", "UTF-8")


@dataclass(frozen=True, slots=True)
class Scan:
    """What :func:`scan` saw: the first bytes, where the first byte that is not UTF-8 is
    (None: all valid), whether valid multi-byte UTF-8 came before it, and bytes from it on."""

    head: bytes
    bad_at: int | None = None
    utf8_before: bool = False
    window: bytes = b""


def scan(chunks: Iterable[bytes]) -> Scan:
    """Read ``chunks`` (the input, in order) until the first byte that is not UTF-8 and the
    window after it are seen, or to the end. ASCII chunks cost a fast ``isascii`` test."""
    head = bytearray()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # input bytes before the current chunk
    utf8_before = False
    bad_at: int | None = None
    window = bytearray()
    for chunk in chunks:
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if bad_at is None:
            pending = decoder.getstate()[0]
            if not pending and chunk.isascii():
                offset += len(chunk)
                continue
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                combined = pending + chunk  # what the decoder saw: exc.start is into it
                bad_at = offset - len(pending) + exc.start
                utf8_before = utf8_before or not combined[: exc.start].isascii()
                window += combined[exc.start : exc.start + WINDOW_BYTES]
            else:
                utf8_before = utf8_before or not text.isascii()
        else:
            window += chunk[: WINDOW_BYTES - len(window)]
        offset += len(chunk)
        if bad_at is not None and len(window) >= WINDOW_BYTES and len(head) >= HEAD_BYTES:
            break
    if bad_at is None and decoder.getstate()[0]:
        bad_at = offset - len(decoder.getstate()[0])  # the input ends inside a character
        window = bytearray(decoder.getstate()[0])
    return Scan(bytes(head), bad_at, utf8_before, bytes(window))


def from_bom(head: bytes) -> Encoding | None:
    """The encoding a byte-order mark at the start of ``head`` names, else None."""
    for mark, codec, label in _BOMS:
        if head.startswith(mark):
            return Encoding(codec, f"{label} with BOM", len(mark))
    return None


def utf16_without_bom(head: bytes) -> Encoding | None:
    """UTF-16 without a byte-order mark: ASCII text has a NUL in every other byte."""
    sample = head[: 4096 - 4096 % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return Encoding("utf-16-le", "UTF-16 LE")
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return Encoding("utf-16-be", "UTF-16 BE")
    return None


def detect(seen: Scan) -> Encoding:
    """The encoding of the scanned input, or :class:`InputError` saying why it cannot be told."""
    marked = from_bom(seen.head)
    if marked is not None:
        return marked
    wide = utf16_without_bom(seen.head)
    if wide is not None:
        return wide
    if b"\x00" in seen.head:
        raise InputError(
            "the input is not text (it holds NUL bytes): give a CSV, .xlsx or .parquet file"
        )
    if seen.bad_at is None or seen.utf8_before:
        return UTF8
    reason = _not_cp1252(seen.window)
    if reason is None:
        return Encoding(LEGACY, LEGACY_LABEL)
    byte = seen.window[:1].hex() or "??"
    raise InputError(
        f"the encoding of the input cannot be told: it is not UTF-8 (byte 0x{byte} at offset "
        f"{seen.bad_at:,}) and {reason}; name it with --encoding (cp1250, cp1251, latin-1, "
        f"shift_jis, ...) or save the file as CSV UTF-8"
    )


def _not_cp1252(window: bytes) -> str | None:
    """Why ``window`` is not Windows-1252 text, or None when it reads as such."""
    unassigned = CP1252_UNASSIGNED.intersection(window)
    if unassigned:
        return f"it holds byte 0x{min(unassigned):02x}, which Windows-1252 does not use"
    text = window.decode(LEGACY, errors="replace")
    if any(ch < " " and ch not in TEXT_CONTROLS for ch in text):
        return "it holds control characters (is it a text file?)"
    ascii_letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    other_letters = sum(1 for ch in text if not ch.isascii() and ch.isalpha())
    letters = ascii_letters + other_letters
    if letters >= FOREIGN_MIN_LETTERS and other_letters > FOREIGN_LETTER_SHARE * letters:
        return "read as Windows-1252 it is mostly accented letters (another code page?)"
    return None


def forced(name: str) -> Encoding:
    """The encoding ``--encoding NAME`` asks for. A UTF-8 byte-order mark is still skipped, and
    ``utf-16`` and ``utf-32`` read theirs (``utf-16-le`` keeps it as U+FEFF, which header
    names shed). Raises :class:`InputError` for a name Python does not know."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputError(
            f"unknown encoding {name!r}: give one such as utf-8, cp1252, utf-16, latin-1"
        ) from None
    try:
        "a".encode(info.name)
    except (UnicodeError, LookupError, TypeError):
        raise InputError(f"{name!r} is not a text encoding") from None
    return Encoding(info.name, name)


def _mark(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: each byte a codec cannot decode becomes one :data:`MARK_BYTE` in the
    UTF-8 re-encoding (as a lone surrogate that ``surrogateescape`` turns back into it)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff" * (exc.end - exc.start), exc.end


codecs.register_error(MARK_ERRORS, _mark)


def decoder_marking(codec: str) -> codecs.IncrementalDecoder:
    """An incremental decoder of ``codec`` that marks undecodable bytes (see :func:`_mark`);
    encode its text with ``surrogateescape`` to get UTF-8 with :data:`MARK_BYTE` in their place."""
    return codecs.getincrementaldecoder(codec)(errors=MARK_ERRORS)
