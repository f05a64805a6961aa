"""Fold text to a comparable form: case folded, accents removed, punctuation as spaces.

Folding is the same for index and query, so "Landstraße", "LANDSTRASSE" and "landstrasse" meet.
German umlauts fold to the bare vowel (ä → a) so that the common typed variant "ae" is one edit
away; the typo layer treats "ae"/"a" as equal (see :func:`umlaut_variants`).

Every script is kept (Unicode in mind, as ICU-based normalisers do): the text is NFKC-normalised
and case folded; the marks that Latin, Greek, Cyrillic, Hebrew and Arabic writing use as accents
or optional vowel points are removed ("Αθήνα" → "αθηνα", "Ёлки" → "елки"), while the marks that
are part of a letter elsewhere stay (the voicing marks of Japanese kana, Indic vowel signs, Thai
tone marks). Latin text still folds to plain ASCII exactly as before (a Latin letter with no ASCII
decomposition is transliterated: "ŋ" → "ng"); digits of other scripts become ASCII digits, so
"١٢" is the house number 12.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

from geobatch.text.scripts import is_unspaced

# Letters that NFKD does not take apart into base + mark.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "ss",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ı": "i",
        "’": "'",
        "‘": "'",
        "`": "'",
    }
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
# Not a letter, digit or mark of a letter (\w leaves out the vowel signs of Indic scripts).
_NON_WORD_ANY = re.compile(r"[^\w\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]+|_+")
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")
_APOSTROPHE_ANY = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")

# Marks removed after decomposition: accents of Latin, Greek and Cyrillic (and the generic
# combining blocks), Cyrillic titlo, Hebrew points and Arabic/Syriac vowel signs. Marks of other
# blocks belong to their letters (kana voicing, Indic vowel signs) and stay.
_ACCENT_MARKS = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05C7),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x0711, 0x0711),
    (0x0730, 0x074A),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)


def _is_accent(ch: str) -> bool:
    o = ord(ch)
    if o < 0x0300:
        return False
    return any(lo <= o <= hi for lo, hi in _ACCENT_MARKS)


@lru_cache(maxsize=100_000)
def _fold_char(ch: str) -> str:
    """What one non-ASCII character of decomposed, case-folded text becomes."""
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""  # zero-width joiners inside Persian or Indic words
    if category[0] == "M":
        return ch  # a mark that is part of its letter (Indic vowel signs): not an accent
    if not ch.isalnum():
        return " "
    name = unicodedata.name(ch, "")
    if name.startswith("LATIN"):
        # No ASCII decomposition (ŋ, ɛ, ɔ): its transliteration, as Latin text stays ASCII.
        return anyascii(ch).lower()
    if name.startswith("MODIFIER LETTER"):
        return " "  # the ʻokina of Hawaiʻi, as before
    return ch


def _fold_text(text: str) -> str:
    """Decomposed, accents removed, recomposed, case folded; every other character as
    :func:`_fold_char` says. Punctuation is kept (callers split at it)."""
    text = text.translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not _is_accent(c))
    folded = unicodedata.normalize("NFC", stripped).casefold()
    if folded.isascii():
        return folded
    return "".join(c if c.isascii() else _fold_char(c) for c in folded)


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Case-folded words with single spaces between them: ``"Ægisíða 12"`` → ``"aegisida 12"``,
    ``"Αθήνα"`` → ``"αθηνα"``. Latin text comes out as ASCII."""
    if text.isascii():
        lowered = text.replace("`", "'").lower()
        lowered = _APOSTROPHE.sub("", lowered)  # O'Brien -> obrien
        return _NON_WORD.sub(" ", lowered).strip()
    folded = _APOSTROPHE_ANY.sub("", _fold_text(text))
    return _NON_WORD_ANY.sub(" ", folded).strip()


def tokenize(text: str) -> list[str]:
    """Folded words of ``text``."""
    folded = fold(text)
    return folded.split() if folded else []


_UMLAUT_PAIRS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def umlaut_variants(key: str) -> set[str]:
    """Keys that differ from ``key`` only by the German ae/oe/ue transcription of an umlaut."""
    out = {key}
    for long, short in _UMLAUT_PAIRS:
        if long in key:
            out.add(key.replace(long, short))
    return out


_DIGIT_JOIN = re.compile(r"(?<=\d)\s*([-/])\s*(?=\d)")
_TOKEN = re.compile(r"\d{1,6}[a-z]?(?:[-/]\d{1,5}[a-z]?)?(?![a-z0-9])|[a-z0-9]+")
_TOKEN_ANY = re.compile(
    r"\d{1,6}[a-z]?(?:[-/]\d{1,5}[a-z]?)?(?![^\W_])"
    r"|(?:[^\W_]|[\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff])+"
)
# A word of a script written without spaces and the digits glued to it: "外堀通り5".
_UNSPACED_PARTS = re.compile(r"\d+|\D+")


def query_tokens(text: str) -> list[str]:
    """Words of a query, keeping house numbers whole: ``"203 - 06 Hollis Ave"`` → ``["203-06", …]``.

    Unlike :func:`tokenize`, a dash or slash between digits survives, because "12-14" and the
    Queens-style "203-06" are one house number, not two.
    """
    return list(_query_tokens(text))


@lru_cache(maxsize=100_000)
def _query_tokens(text: str) -> tuple[str, ...]:
    # Cached per field text: a batch repeats its "postcode town" parts thousands of times.
    if text.isascii():
        # NFKD leaves ASCII as it is and _SPECIAL maps only the backtick among ASCII letters:
        # the same result without walking the text character by character.
        lowered = text.replace("`", "'").lower()
        lowered = _APOSTROPHE.sub("", lowered)
        lowered = _DIGIT_JOIN.sub(r"\1", lowered)
        return tuple(_TOKEN.findall(lowered))
    lowered = _APOSTROPHE_ANY.sub("", _fold_text(text))
    lowered = _DIGIT_JOIN.sub(r"\1", lowered)
    if lowered.isascii():
        return tuple(_TOKEN.findall(lowered))
    out: list[str] = []
    for tok in _TOKEN_ANY.findall(lowered):
        if tok[0].isdigit() and not tok.isascii() and len(tok) <= 8:
            # "12а" with a Cyrillic letter is house number 12a, as the index keys it.
            latin = anyascii(tok).lower()
            if latin.isalnum():
                tok = latin
        if tok.isascii() or not any(c.isdigit() for c in tok) or not any(map(is_unspaced, tok)):
            out.append(tok)
        else:
            out.extend(_UNSPACED_PARTS.findall(tok))
    return tuple(out)
