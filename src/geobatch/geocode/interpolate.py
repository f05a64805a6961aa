"""House numbers missing from the data, placed by interpolation.

First along the street's ``addr:interpolation`` lines (the mapper said which numbers lie between
two numbered nodes, and on which side: odd, even or all; a TIGER range is such a line, numbered
at its two ends); else between the number's numbered
neighbours on the street, in proportion to the numbers (same parity first, as streets number
their sides apart). The result says so: calculation method Interpolation, never more than Medium
confidence.
"""

from __future__ import annotations

import itertools
import json
from bisect import bisect_left, bisect_right

import shapely

from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.geodesy import haversine_m
from geobatch.index.read import InterpolationRow
from geobatch.text.housenumbers import housenumber_int
from geobatch.text.postcodes import postcode_key

# Neighbours further apart than this (in house numbers) say too little about where a number is.
MAX_GAP = 40


def interpolate_number(
    vocab: Vocabulary, street: int, key: str, postcodes: frozenset[str] = frozenset()
) -> tuple[float, float, str | None, float] | None:
    """(lat, lon, postcode of the range, spread in metres) for house number ``key`` on street
    row ``street``, or None. Of several lines holding the number (a street's ranges in two
    ZIPs), the first whose postcode key is among ``postcodes`` (those the query names), else
    the first; the spread says how far the others of that choice lie from it (TIGER has two
    streets of one name in one ZIP, "Wind Rush Ln" and "Windrush Ln", both holding 1080)."""
    wanted = housenumber_int(key)
    if wanted is None:
        return None
    matching: list[tuple[float, float, str | None]] = []
    others: list[tuple[float, float, str | None]] = []
    for row in vocab.interpolations_of(street):
        line = vocab.data.interpolations[row]
        point = _on_line(line, wanted)
        if point is None:
            continue
        found = (point[0], point[1], line.postcode)
        if not postcodes or (line.postcode and postcode_key(line.postcode) in postcodes):
            matching.append(found)
        else:
            others.append(found)
    chosen = matching or others
    if chosen:
        lat, lon, postcode = chosen[0]
        spread = max(haversine_m(lat, lon, la, lo) for la, lo, _ in chosen)
        return lat, lon, postcode, spread
    known = vocab.number_values(street)
    if not known:
        return None
    even, odd, every = vocab.number_orders(street)
    for values in (odd if wanted % 2 else even, every):
        # The nearest numbers below and above the wanted one (sorted lists: bisect).
        i, j = bisect_left(values, wanted), bisect_right(values, wanted)
        if i > 0 and j < len(values):
            lo, hi = values[i - 1], values[j]
            if hi - lo > MAX_GAP:
                return None
            t = (wanted - lo) / (hi - lo)
            lat_a, lon_a = vocab.data.address_point(known[lo])
            lat_b, lon_b = vocab.data.address_point(known[hi])
            return lat_a + t * (lat_b - lat_a), lon_a + t * (lon_b - lon_a), None, 0.0
    return None


def _on_line(line: InterpolationRow, wanted: int) -> tuple[float, float] | None:
    step_parity = {"odd": 1, "even": 0}.get(line.scheme)
    if step_parity is not None and wanted % 2 != step_parity:
        return None
    numbered = [(i, housenumber_int(h)) for i, h in json.loads(line.numbered)]
    coords = shapely.get_coordinates(shapely.from_wkb(line.wkb))
    for (i1, h1), (i2, h2) in itertools.pairwise(numbered):
        if h1 is None or h2 is None or h1 == h2 or not min(h1, h2) <= wanted <= max(h1, h2):
            continue
        part = coords[min(i1, i2) : max(i1, i2) + 1]
        t = (wanted - h1) / (h2 - h1)
        if i1 > i2:
            t = 1.0 - t
        if len(part) < 2:
            return None
        point = shapely.linestrings(part).interpolate(t, normalized=True)
        return float(point.y), float(point.x)
    return None
