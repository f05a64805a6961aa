"""Abbreviations and name keys.

A *name key* is how a street or place name is matched: folded words, abbreviations expanded, then
joined without spaces, so "Landstr.", "Land strasse" and "Landstraße" all give ``landstrasse``,
and "N Main St" and "North Main Street" both give ``northmainstreet``. Index and query build keys
with the same function, so they agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from geobatch.text.normalize import tokenize
from geobatch.text.scripts import transliterated

# Expanded wherever they stand in a name.
_ANYWHERE: dict[str, str] = {
    # English
    "ave": "avenue",
    "av": "avenue",
    "avn": "avenue",
    "rd": "road",
    "blvd": "boulevard",
    "bd": "boulevard",
    "ln": "lane",
    "ct": "court",
    "pl": "place",
    "pkwy": "parkway",
    "pky": "parkway",
    "hwy": "highway",
    "sq": "square",
    "ter": "terrace",
    "terr": "terrace",
    "cir": "circle",
    "hts": "heights",
    "expy": "expressway",
    "tpke": "turnpike",
    "cres": "crescent",
    "crt": "court",
    "mt": "mount",
    "ft": "fort",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    # German
    "str": "strasse",
    "strs": "strasse",
    "pl.": "platz",
    # Danish / Norwegian / Swedish
    "gl": "gammel",
    "kgs": "kongens",
    "skt": "sankt",
    "sct": "sankt",
    # Russian (folded: й is и, ё is е)
    "ул": "улица",
    "пер": "переулок",
    "просп": "проспект",
    "пл": "площадь",
    "наб": "набережная",
    "ш": "шоссе",
    # Greek
    "οδ": "οδοσ",
    "λεωφ": "λεωφοροσ",
    # French
    "bvd": "boulevard",
    "che": "chemin",
    "rte": "route",
}

# "St" is Street at the end of a name and Saint at the start; "Dr" Drive at the end, Doctor first.
_FIRST: dict[str, str] = {"st": "saint", "ste": "sainte", "dr": "doctor", "ft": "fort"}
_LAST: dict[str, str] = {"st": "street", "dr": "drive", "ste": "suite"}

# Word endings that abbreviate a suffix glued to the name: "Landstr" -> "Landstrasse".
_SUFFIXES: tuple[tuple[str, str], ...] = (("str", "strasse"),)


def expand(tokens: Sequence[str]) -> list[str]:
    """Expand abbreviations in the folded words of one name (position matters for St/Dr)."""
    out: list[str] = []
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if last > 0 and i == 0 and tok in _FIRST:
            out.append(_FIRST[tok])
        elif i == last and tok in _LAST:
            out.append(_LAST[tok])
        elif tok in _ANYWHERE:
            out.append(_ANYWHERE[tok])
        else:
            out.append(_expand_suffix(tok))
    return out


def _expand_suffix(tok: str) -> str:
    for short, full in _SUFFIXES:
        if len(tok) > len(short) + 1 and tok.endswith(short) and not tok[-len(short) - 1].isdigit():
            return tok[: -len(short)] + full
    return tok


@lru_cache(maxsize=100_000)
def token_forms(tok: str) -> tuple[str, str, str]:
    """How a word reads first in a name, inside it, and last (or alone): the pieces of
    :func:`key_of_tokens`, precomputed so every span of a query is one concatenation."""
    middle = _ANYWHERE.get(tok) or _expand_suffix(tok)
    return _FIRST.get(tok, middle), middle, _LAST.get(tok, middle)


def key_of_tokens(tokens: Sequence[str]) -> str:
    """The name key of a run of folded words."""
    return "".join(expand(tokens))


@lru_cache(maxsize=200_000)
def name_key(name: str) -> str:
    """The name key of a name as written: ``name_key("Landstr.") == "landstrasse"``."""
    return key_of_tokens(tokenize(name))


# How German and Scandinavian letters are written on keyboards without them.
_TRANSCRIPTIONS = str.maketrans(
    {
        "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
        "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa",
    }
)  # fmt: skip
_TRANSCRIBED = frozenset("äöüÄÖÜøØåÅ")


def name_keys(name: str, transliteration: bool = True) -> list[str]:
    """The key of ``name``, of its transcribed spelling, and of its Latin spelling.

    "Mühleholz" is typed both "Muhleholz" and "Muehleholz", "København" both "Kobenhavn" and
    "Koebenhavn", "Århus" "Aarhus": every spelling must find it. A name in another script is
    found by its transliteration too ("Москва" by "Moskva", :mod:`geobatch.text.scripts`).
    """
    keys = [name_key(name)]
    if any(ch in _TRANSCRIBED for ch in name):
        keys.append(name_key(name.translate(_TRANSCRIPTIONS)))
    latin = transliterated(name) if transliteration else None
    if latin is not None:
        keys.append(name_key(latin))
    return [k for k in dict.fromkeys(keys) if k]
