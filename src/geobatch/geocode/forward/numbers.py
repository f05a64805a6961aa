"""House numbers on a street: the data's point for the number the query asks for, the heart of
one number's scattered points, or a point interpolated along the street."""

from __future__ import annotations

from typing import NamedTuple

from geobatch.geocode.forward.query import Analysis, Span
from geobatch.geocode.interpolate import interpolate_number
from geobatch.geocode.rules import DUPLICATE_SPREAD_M
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.geodesy import haversine_m
from geobatch.text.postcodes import postcode_key


class NumberMatch(NamedTuple):  # made per street candidate: a tuple is cheaper to build
    """The house number found on a street for the query."""

    key: str  # the query's house-number key it answers
    text: str
    lat: float
    lon: float
    postcode: str | None
    unit: str | None
    interpolated: bool
    spread_m: float  # how far apart the data's points for this number are


def _spread_m(vocab: Vocabulary, rows: list[int]) -> float:
    if len(rows) < 2:
        return 0.0
    lat, lon = vocab.data.address_points(rows)
    return haversine_m(float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max()))


def house_number(
    a: Analysis, vocab: Vocabulary, row: int, span: Span, covered: set[int]
) -> NumberMatch | None:
    """The query's house number on street ``row`` (read under ``span``); the tokens it takes
    are added to ``covered``."""
    numbers = vocab.numbers(row)
    # Prefer the number next to the street name, then longer forms ("12 a" before "12").
    options = [n for n in a.numbers if covered.isdisjoint(range(n[0], n[1]))]
    if not options:
        return None
    if len(options) > 1:
        options.sort(key=lambda n: (min(abs(n[0] - span.end), abs(span.start - n[1])), n[0] - n[1]))
    for start, end, key in options:
        rows = numbers.get(key)
        if rows:
            covered.update(range(start, end))
            rows = _same_postcode(vocab, rows, a)
            spread = _spread_m(vocab, rows)
            chosen = _pick_unit(vocab, rows, a.unit)
            if chosen < 0:
                chosen = central_row(vocab, rows) if spread > DUPLICATE_SPREAD_M else rows[0]
            data = vocab.data
            lat, lon = data.address_point(chosen)
            return NumberMatch(
                key, data.address_number(chosen), lat, lon, data.address_postcode(chosen),
                data.address_unit(chosen), False, spread,
            )  # fmt: skip
    wanted_postcodes = frozenset(pc for _, pc in a.postcode_spans)
    for start, end, key in options:
        guess = interpolate_number(vocab, row, key, wanted_postcodes)
        if guess is not None:
            covered.update(range(start, end))
            return NumberMatch(key, key, guess[0], guess[1], guess[2], None, True, guess[3])
    return None


def _same_postcode(vocab: Vocabulary, rows: list[int], a: Analysis) -> list[int]:
    """Of several points for one number, those whose postcode the query names, if any."""
    if len(rows) < 2 or not a.postcode_spans:
        return rows
    wanted = {key for _, key in a.postcode_spans}
    data = vocab.data
    same = [r for r in rows if (pc := data.address_postcode(r)) and postcode_key(pc) in wanted]
    return same or rows


def _pick_unit(vocab: Vocabulary, rows: list[int], unit: str | None) -> int:
    """The row of the unit the query asks for, or -1."""
    if unit:
        wanted = "".join(ch for ch in unit.lower() if ch.isalnum())
        for r in rows:
            have = vocab.data.address_unit(r)
            if have and "".join(ch for ch in have.lower() if ch.isalnum()).endswith(wanted[-3:]):
                return r
    return -1


# Points tried as the heart of one address's points (each is measured against all of them).
_CENTRAL_MAX = 64


def central_row(vocab: Vocabulary, rows: list[int]) -> int:
    """Of one address's points scattered wider than DUPLICATE_SPREAD_M (a farm's buildings, a
    register's duplicates), the one with the most of the others within that distance, then
    the nearest to all: the heart of the cluster rather than whichever the data lists first.
    Were any of them the one meant, it is the point most often within that distance of it.
    The first _CENTRAL_MAX points are tried as the heart (each measured against all)."""
    key = tuple(rows)
    known = vocab.central_rows.get(key)
    if known is not None:
        return known
    points = [vocab.data.address_point(r) for r in rows]
    best = rows[0]
    best_rank = (0, 0.0)
    for r, (la, lo) in zip(rows[:_CENTRAL_MAX], points, strict=False):
        dists = [haversine_m(la, lo, la2, lo2) for la2, lo2 in points]
        rank = (-sum(1 for d in dists if d <= DUPLICATE_SPREAD_M), sum(dists))
        if r == rows[0] or rank < best_rank:
            best, best_rank = r, rank
    if len(vocab.central_rows) >= _CENTRAL_CACHE_SIZE:
        vocab.central_rows.clear()
    vocab.central_rows[key] = best
    return best


# Scattered addresses whose chosen point is kept (vocab.central_rows) before it starts again.
_CENTRAL_CACHE_SIZE = 20_000
