"""The set of letters a key uses, as 32 bits: a filter that rules out keys too far apart.

Each edit adds or removes at most one letter from the set of letters a key uses (a
substitution does both, a swap neither), so a key within ``d`` edits of another differs from it
in at most ``2 d`` letters of that set (see :mod:`geobatch.geocode.fuzzy`).
"""

from __future__ import annotations


def letter_mask(key: str) -> int:
    """The set of characters of ``key`` as 32 bits: a-z each their own, digits two to a bit,
    the rest one. Sound for any mapping (a shared bit only weakens the filter); 32 bits rather
    than 64 make the filter's pass over tens of thousands of keys about half as dear."""
    mask = 0
    for ch in key:
        o = ord(ch)
        if 97 <= o <= 122:
            mask |= 1 << (o - 97)
        elif 48 <= o <= 57:
            mask |= 1 << (26 + (o - 48) // 2)
        else:
            mask |= 1 << 31
    return mask
