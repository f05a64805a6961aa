"""House numbers as people write them: 12, 12a, 12 A, 12-14, Queens-style 203-06, 12/3."""

from __future__ import annotations

import re
from functools import lru_cache

from anyascii import anyascii

# A number, an optional letter, and optionally more number parts joined by - or /.
HOUSENUMBER = re.compile(r"^\d{1,6}[a-z]?(?:[-/]\d{1,5}[a-z]?)?$")
_LEADING_INT = re.compile(r"^(\d+)")
_SPACES_IN_NUMBER = re.compile(r"(?<=\d)\s*([-/])\s*(?=\d)|(?<=\d)\s+(?=[a-z](?![a-z0-9]))")
# Marks before or after a number that a query's words never hold (they are split at
# punctuation): "19*" is asked for as "19". Marks inside ("4.1", "12+14") stay: dropping them
# would make another number of them.
_END_MARKS = re.compile(r"^[^\w]+|[^\w]+$")


@lru_cache(maxsize=50_000)  # a batch writes the same few thousand numbers over and over
def normalize_housenumber(text: str) -> str:
    """Comparable form: ``"12 A"`` → ``"12a"``, ``"203 - 06"`` → ``"203-06"``, ``"19*"`` →
    ``"19"`` (the same key a query's words make, so that no address is out of reach)."""
    folded = text.strip().lower()
    if not folded.isascii():
        # "١٢" (Arabic-Indic digits) is 12, "12А" (Cyrillic) 12a: the key a query makes.
        folded = anyascii(folded).lower()
    folded = _SPACES_IN_NUMBER.sub(lambda m: m.group(1) or "", folded)
    return _END_MARKS.sub("", folded.replace(" ", ""))


def is_housenumber(token: str) -> bool:
    return bool(HOUSENUMBER.match(token))


def housenumber_int(text: str) -> int | None:
    """The leading integer of a house number (``"12a"`` → 12), for interpolation and nearness."""
    m = _LEADING_INT.match(text)
    return int(m.group(1)) if m else None


def split_list(value: str) -> list[str]:
    """OSM allows several numbers in one tag: ``"1;3;5"`` or ``"1, 3"``."""
    parts = re.split(r"[;,]", value)
    return [p.strip() for p in parts if p.strip()]
