"""Fold text to a comparable form: lower case, ASCII, punctuation as spaces.

Folding is the same for index and query, so "Landstraße", "LANDSTRASSE" and "landstrasse" meet.
German umlauts fold to the bare vowel (ä → a) so that the common typed variant "ae" is one edit
away; the typo layer treats "ae"/"a" as equal (see :func:`umlaut_variants`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Lower-case ASCII with single spaces between words: ``"Ægisíða 12"`` → ``"aegisida 12"``."""
    text = text.translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    stripped = _APOSTROPHE.sub("", stripped)  # O'Brien -> obrien
    return _NON_WORD.sub(" ", stripped).strip()


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
    else:
        text = text.translate(_SPECIAL)
        decomposed = unicodedata.normalize("NFKD", text)
        lowered = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    lowered = _APOSTROPHE.sub("", lowered)
    lowered = _DIGIT_JOIN.sub(r"\1", lowered)
    return tuple(_TOKEN.findall(lowered))
