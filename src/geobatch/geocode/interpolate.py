"""House numbers missing from the data, placed between their numbered neighbours on the street.

When "Landstrasse 13" is not in the data but 11 and 15 are, the point is put between them in
proportion to the numbers (same parity first, as streets number their sides apart). The result
says so: calculation method Interpolation, never more than Medium confidence.
"""

from __future__ import annotations

from geobatch.geocode.vocabulary import Vocabulary
from geobatch.text.housenumbers import housenumber_int

# Neighbours further apart than this (in house numbers) say too little about where a number is.
MAX_GAP = 40


def interpolate_number(vocab: Vocabulary, street: int, key: str) -> tuple[float, float] | None:
    """(lat, lon) for house number ``key`` on street row ``street``, or None."""
    wanted = housenumber_int(key)
    numbers = vocab.numbers_by_street.get(street)
    if wanted is None or not numbers:
        return None
    known: dict[int, int] = {}
    for text, rows in numbers.items():
        value = housenumber_int(text)
        if value is not None and value not in known:
            known[value] = rows[0]
    for same_parity in (True, False):
        below = [v for v in known if v < wanted and (not same_parity or v % 2 == wanted % 2)]
        above = [v for v in known if v > wanted and (not same_parity or v % 2 == wanted % 2)]
        if below and above:
            lo, hi = max(below), min(above)
            if hi - lo > MAX_GAP:
                return None
            t = (wanted - lo) / (hi - lo)
            d = vocab.data
            a, b = known[lo], known[hi]
            lat = float(d.addr_lat[a] + t * (d.addr_lat[b] - d.addr_lat[a]))
            lon = float(d.addr_lon[a] + t * (d.addr_lon[b] - d.addr_lon[a]))
            return lat, lon
    return None
