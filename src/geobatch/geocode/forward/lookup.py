"""Exact look-up: every span of every group as street, place and postcode, and the house
numbers; then a street name of many towns narrowed to the towns the query names."""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import NamedTuple

from geobatch.geocode.forward.query import (
    MAX_SPAN,
    PLACE_ROLES,
    POSTCODE_ROLES,
    STOPWORDS,
    STREET_ROLES,
    Analysis,
    Role,
    Span,
)
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary
from geobatch.index.lexicon import BIG_KEY_ROWS, context_hash, postcode_hash
from geobatch.text.housenumbers import is_housenumber, normalize_housenumber
from geobatch.text.localities import locality_keys
from geobatch.text.postcodes import postcode_key

# A street name's readings: the span and the street rows its key names, ascending.
StreetRun = tuple[Span, tuple[int, ...]]


class GroupHits(NamedTuple):
    """Everything one group of words adds to an analysis (see :func:`lookup_group`)."""

    spans: tuple[Span, ...]
    street_runs: tuple[StreetRun, ...]  # (span, its street rows)
    place_spans: tuple[tuple[Span, int], ...]
    postcode_spans: tuple[tuple[Span, str], ...]
    numbers: tuple[tuple[int, int, str], ...]


# Groups kept in Vocabulary.group_hits before it starts again: a few MB.
GROUP_CACHE_SIZE = 20_000


def lookup_group(
    a: Analysis,
    runs: list[StreetRun],
    vocab: Vocabulary,
    start: int,
    end: int,
    forms: list[tuple[str, str, str]],
    has_digit: list[bool],
) -> None:
    """Add what the group's spans match. What a group adds depends only on its role, its
    position and its words, and a batch repeats its "postcode town" groups thousands of times
    at the same position: those are looked up once and the same (immutable) hits reused."""
    role = a.roles[start]
    key = (role, start, *a.tokens[start:end])
    hits = vocab.group_hits.get(key)
    if hits is None:
        hits = group_hits(a.tokens, role, vocab, start, end, forms, has_digit)
        if len(vocab.group_hits) >= GROUP_CACHE_SIZE:
            vocab.group_hits.clear()
        vocab.group_hits[key] = hits
    assert isinstance(hits, GroupHits)
    a.spans.extend(hits.spans)
    runs.extend(hits.street_runs)
    a.place_spans.extend(hits.place_spans)
    a.postcode_spans.extend(hits.postcode_spans)
    a.numbers.extend(hits.numbers)


def group_hits(
    tokens: list[str],
    role: Role,
    vocab: Vocabulary,
    start: int,
    end: int,
    forms: list[tuple[str, str, str]],
    has_digit: list[bool],
) -> GroupHits:
    # The role is the same for every span of the group: what it allows is decided once (this
    # loop runs for every span of every new group).
    streets = role in STREET_ROLES
    places = role in PLACE_ROLES
    postcodes = role in POSTCODE_ROLES
    spans: list[Span] = []
    street_runs: list[StreetRun] = []
    place_spans: list[tuple[Span, int]] = []
    postcode_spans: list[tuple[Span, str]] = []
    for i in range(start, end):
        inner = ""  # the middle forms of tokens i+1 .. j-2
        for j in range(i + 1, min(end, i + MAX_SPAN) + 1):
            if j - i == 1:
                key = forms[i][2]
                if not key or (tokens[i] in STOPWORDS and end - start > 1):
                    continue
            else:
                key = forms[i][0] + inner + forms[j - 1][2]
                inner += forms[j - 1][1]
                if not key:
                    continue
            span = Span(i, j, key)
            spans.append(span)
            if streets or places:
                # One look-up answers for streets and places alike.
                found = vocab.entry(key)
                if streets and found[0]:
                    street_runs.append((span, found[0]))
                if places:
                    for row in found[1]:
                        place_spans.append((span, row))
            if (
                postcodes
                and j - i <= 2
                and (has_digit[i] or (j - i == 2 and has_digit[i + 1]))
                # every postcode format in use holds a digit
                and _may_be_postcode(tokens[i:j])
            ):
                pkey = postcode_key("".join(tokens[i:j]))
                if vocab.postcode_rows(pkey) or (role is Role.POSTCODE and j == end):
                    postcode_spans.append((span, pkey))
    numbers = _find_numbers(tokens, start, end) if role in STREET_ROLES else ()
    return GroupHits(
        tuple(spans), tuple(street_runs), tuple(place_spans), tuple(postcode_spans), numbers
    )


# Postcodes written with a dash: ZIP+4, Poland's 00-950, Japan's 100-0001, Brazil's 01310-100.
# Anything else with a dash between digits is a house number (Queens' "114-11"), not "11411".
_DASHED_POSTCODE = re.compile(r"^(?:\d{5}-\d{4}|\d{2}-\d{3}|\d{3}-\d{4}|\d{5}-\d{3})$")


def _may_be_postcode(words: list[str]) -> bool:
    return all("-" not in w or _DASHED_POSTCODE.match(w) for w in words)


def _find_numbers(tokens: list[str], start: int, end: int) -> tuple[tuple[int, int, str], ...]:
    found = []
    for i in range(start, end):
        tok = tokens[i]
        if not is_housenumber(tok):
            continue
        found.append((i, i + 1, normalize_housenumber(tok)))
        # "12 A": a lone letter after a number is part of it.
        nxt = tokens[i + 1] if i + 1 < end else ""
        if len(nxt) == 1 and nxt.isalpha() and tok.isdigit():
            found.append((i, i + 2, tok + nxt))
    return tuple(found)


def expand_street_runs(a: Analysis, runs: list[StreetRun], vocab: Vocabulary, narrow: bool) -> None:
    """The street readings of the query, span by span, rows in ascending order. With
    ``narrow``, a name that is a street in many towns ("Hauptstraße") is read only where the
    query says: the streets of it that have a locality, admin area or postcode the query names.
    Which they are comes from the lexicon's context table, so the cost does not grow with the
    number of towns. Forward geocoding then shows that the streets left out could not have been
    the answer or its rival, or reads the query again whole (NeedFullRead)."""
    big = [i for i, (_, rows) in enumerate(runs) if len(rows) >= BIG_KEY_ROWS] if narrow else []
    if big:
        hashes = {context_hash(sp.key) for sp in a.spans if vocab.is_context(sp.key)}
        hashes.update(postcode_hash(key) for _, key in a.postcode_spans)
        # A place the query names confirms a street through any of its names ("Helsingfors"
        # for a street in Helsinki), a state through its name or code: those streets are
        # read too, so that the place readings can add nothing but a country to the rest.
        for _, prow in a.place_spans:
            place = vocab.data.places[prow]
            if place.kind in SETTLEMENT_KINDS:
                hashes.update(context_hash(k) for k in place.keys)
            elif place.kind == "state":
                hashes.update(context_hash(k) for k in locality_keys(place.name))
                if place.admin1_code:
                    hashes.add(context_hash(place.admin1_code.lower()))
            a.hashed_places.add(prow)
        if not hashes or len(hashes) > _MAX_CONTEXT_HASHES:
            return _extend(a, runs)
        full = list(runs)
        for i in big:
            span, rows = full[i]
            # A street read under another span of the query too keeps its best span only
            # when all its readings are there: then this name is not narrowed.
            if any(_shared(rows, other) for k, (_, other) in enumerate(full) if k != i):
                continue
            kept = vocab.context_rows(span.key, sorted(hashes))
            a.dropped += len(rows) - len(kept)
            runs[i] = (span, kept)
    _extend(a, runs)


# More names than this to look up in the context table: the query is read whole instead.
_MAX_CONTEXT_HASHES = 96


def _extend(a: Analysis, runs: list[StreetRun]) -> None:
    street_spans = a.street_spans
    for span, rows in runs:
        for row in rows:
            street_spans.append((span, row))


def _shared(rows: tuple[int, ...], other: tuple[int, ...]) -> bool:
    """Whether two ascending row lists share a row (the shorter looked up in the longer)."""
    if len(other) < len(rows):
        rows, other = other, rows
    for row in rows:
        at = bisect_left(other, row)
        if at < len(other) and other[at] == row:
            return True
    return False
