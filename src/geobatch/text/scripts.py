"""Writing systems: which letters are written without spaces, and a Latin spelling of the rest.

Folding (:mod:`geobatch.text.normalize`) keeps the letters of every script; this module says
what else a name in a non-Latin script needs:

- a *transliterated* spelling (anyascii: "Москва" → "Moskva", "서울" → "SeoUl", "北京" →
  "BeiJing"), indexed as an alternate key so that an address imported in Cyrillic can be asked
  in Latin letters. Scripts written without vowels (Arabic, Hebrew, Syriac, Thaana) give no
  spelling anyone would type ("القاهرة" → "lqhrh"): they get none.
- whether a letter belongs to a script written without spaces between words (Chinese,
  Japanese, Thai, Lao, Khmer, Myanmar): a query in those scripts is cut into words against the
  index's own vocabulary (:mod:`geobatch.geocode.forward.analysis`), not at spaces.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from anyascii import anyascii

# Code point ranges of scripts written without spaces between words.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)
# Scripts written without vowels: a transliteration is no spelling people use.
_ABJADS = (
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic
    (0x0700, 0x074F),  # Syriac
    (0x0750, 0x077F),  # Arabic supplement
    (0x0780, 0x07BF),  # Thaana
    (0x08A0, 0x08FF),  # Arabic extended-A
    (0xFB1D, 0xFDFF),  # Hebrew and Arabic presentation forms
    (0xFE70, 0xFEFF),  # Arabic presentation forms B
)


def _within(o: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= o <= hi for lo, hi in ranges)


def is_unspaced(ch: str) -> bool:
    """Whether ``ch`` is a letter of a script written without spaces between words."""
    o = ord(ch)
    return o >= 0x0E00 and _within(o, _UNSPACED)


def has_unspaced(text: str) -> bool:
    return not text.isascii() and any(is_unspaced(ch) for ch in text)


@lru_cache(maxsize=100_000)
def transliterated(name: str) -> str | None:
    """A Latin spelling of a name written (partly) in another script, or None when the name is
    Latin already or written in a script without vowels."""
    if name.isascii():
        return None
    foreign = False
    for ch in name:
        o = ord(ch)
        if o < 0x0370 or not ch.isalpha():
            continue  # Latin letters (with their accents), digits, punctuation
        if 0x1E00 <= o <= 0x1EFF or 0x2C60 <= o <= 0x2C7F or 0xA720 <= o <= 0xA7FF:
            continue  # Latin extended blocks (Vietnamese, ...)
        if _within(o, _ABJADS):
            return None
        foreign = True
    if not foreign:
        return None
    if any(0x0370 <= ord(ch) <= 0x03FF or 0x1F00 <= ord(ch) <= 0x1FFF for ch in name):
        name = _greek_digraphs(name)
    return anyascii(name)


# Greek vowel pairs as Greeks write them in Latin letters (ELOT 743), not letter by letter
# ("Σιόκου" is Siokou, not Siokoy; "Ναύπλιο" Navplio).
_GREEK_PAIRS = (("ου", "ou"), ("αυ", "av"), ("ευ", "ev"), ("ηυ", "iv"))


def _greek_digraphs(name: str) -> str:
    plain = "".join(
        c for c in unicodedata.normalize("NFD", name.lower()) if not unicodedata.combining(c)
    )
    for pair, latin in _GREEK_PAIRS:
        plain = plain.replace(pair, latin)
    return plain
