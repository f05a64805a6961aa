"""Evidence shared by every kind of candidate: what the query's postcodes, localities, admin
areas and countries say for or against it, and the words nothing explains.

Each function adds to a candidate's :class:`~geobatch.geocode.rules.Evidence` and to the set of
tokens it covers, and returns the score that adds.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from geobatch.geocode.forward.candidate import PLACE_DEDUPE_M, surely_farther
from geobatch.geocode.forward.query import Analysis, Role, Span
from geobatch.geocode.fuzzy import FuzzyKeys, max_edits
from geobatch.geocode.rules import LEVEL, WEIGHT, Evidence
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary, locality_keys
from geobatch.index.geodesy import haversine_m
from geobatch.index.read import PlaceRow
from geobatch.model import EntityType


class Says(Enum):
    """What one place reading of a span says about a candidate."""

    NOTHING = "nothing"  # not about it: the span is left for other readings
    UNKNOWN = "unknown"  # about it, neither for nor against: the span is used up
    LOCALITY = "locality"
    ADMIN = "admin"
    COUNTRY = "country"
    CONFLICT = "conflict"


class PlaceReading(NamedTuple):
    """The outcome of one place reading for a candidate: its score and what it confirmed."""

    score: float
    says: Says


def postcode_evidence(
    a: Analysis, ev: Evidence, covered: set[int], postcodes: frozenset[str], match_only: bool
) -> float:
    score = 0.0
    for span, key in a.postcode_spans:
        if not covered.isdisjoint(span.tokens):
            continue
        if key in postcodes:
            covered.update(span.tokens)
            ev.postcode = True
            score += WEIGHT["postcode"]
        elif not match_only and (a.roles[span.start] is Role.POSTCODE or not ev.postcode):
            # A known postcode that is not this candidate's contradicts it.
            covered.update(span.tokens)
            ev.conflicts += 1
            score += WEIGHT["postcode_conflict"]
    return score


def context_evidence(
    a: Analysis,
    vocab: Vocabulary,
    ev: Evidence,
    covered: set[int],
    localities: frozenset[str],
    admins: frozenset[str],
    country_code: str | None,
    unknown_admin: bool = False,
    unknown_locality: bool = False,
    near: tuple[float, float] | None = None,
) -> float:
    """Locality, admin area and country named in the query, for or against a candidate.
    ``unknown_admin``: the candidate (a street) does not know its state, so a state named in
    the query can neither confirm nor contradict it; ``unknown_locality`` likewise for its town
    (a TIGER range far from any town of the gazetteer). ``near``: the candidate is itself a
    place there, so another place's names confirm it only if that place is the same one."""
    score = 0.0
    # Longest spans first, so "Queens Village" is read before "Queens".
    for span in a.context_spans:
        # Most spans name neither this candidate's locality nor its admin area: test the key
        # first (the outcome is the same, the coverage test is dearer).
        if (span.key not in localities and span.key not in admins) or not covered.isdisjoint(
            span.tokens
        ):
            continue
        if span.key in localities:
            covered.update(span.tokens)
            ev.locality = True
            score += WEIGHT["locality"]
        elif span.key in admins:
            covered.update(span.tokens)
            ev.admin = True
            score += WEIGHT["admin"]
    if not ev.locality and localities:
        score += _misspelt_locality(a, ev, covered, localities)
    places = vocab.data.places
    for span, prows in a.place_readings:
        if not covered.isdisjoint(span.tokens):
            continue
        # A span may name several places ("IL": Israel, Illinois): the reading that agrees wins.
        # The first reading of the highest score, as max() would pick; once a reading scores
        # the most any can, no later one can replace it, so the rest need not be read
        # (a name like "San Antonio" has a hundred readings, asked for by every candidate).
        best = place_context(places[prows[0]], span, country_code, localities, admins, a,
                             unknown_admin, unknown_locality, near)  # fmt: skip
        for p in prows[1:]:
            if best.score >= BEST_PLACE_CONTEXT:
                break
            outcome = place_context(
                places[p], span, country_code, localities, admins, a, unknown_admin,
                unknown_locality, near,
            )  # fmt: skip
            if outcome.score > best.score:
                best = outcome
        says = best.says
        if best.score == 0.0 and says is Says.NOTHING:
            continue
        covered.update(span.tokens)
        score += best.score
        if best.score < 0:
            ev.conflicts += 1
        elif says is Says.COUNTRY:
            ev.country = True
        elif says is Says.ADMIN:
            ev.admin = True
        elif says is Says.LOCALITY:
            ev.locality = True
    return score


def _misspelt_locality(
    a: Analysis, ev: Evidence, covered: set[int], localities: frozenset[str]
) -> float:
    """A locality written with a typo ("Trisen") still confirms the candidate, at a cost."""
    for span, limit in typo_locality_spans(a):
        if not covered.isdisjoint(span.tokens):
            continue
        edits = min(FuzzyKeys.distance(span.key, k) for k in localities)
        if edits <= limit:
            covered.update(span.tokens)
            ev.locality = True
            ev.typos += edits
            return WEIGHT["locality"] + WEIGHT["typo_edit"] * edits
    return 0.0


# The most one reading can add (see place_context): its outcomes score this or less.
BEST_PLACE_CONTEXT = max(WEIGHT["locality"], WEIGHT["country"], WEIGHT["admin"], 0.0)


def typo_locality_spans(a: Analysis) -> list[tuple[Span, int]]:
    """Spans that may be a misspelt locality, with the edits allowed, in ``a.spans`` order.

    Which they are depends on the query alone, so every candidate shares one list."""
    if a.typo_locality_spans is None:
        a.typo_locality_spans = [
            (span, limit)
            for span in a.spans
            if a.explained.isdisjoint(span.tokens)
            and a.roles[span.start] in (Role.ANY, Role.LOCALITY)
            and (limit := max_edits(span.key)) != 0
            and not span.key[0].isdigit()
        ]
    return a.typo_locality_spans


def place_context(
    place: PlaceRow,
    span: Span,
    country_code: str | None,
    localities: frozenset[str],
    admins: frozenset[str],
    a: Analysis,
    unknown_admin: bool = False,
    unknown_locality: bool = False,
    near: tuple[float, float] | None = None,
) -> PlaceReading:
    """What one reading of a span says about a candidate."""
    if (
        place.kind in SETTLEMENT_KINDS
        and not localities.isdisjoint(place.keys)
        and (near is None or _same_place(place, near))
    ):
        # The query names the candidate's town by another of its names ("Helsingfors"); for
        # a town candidate, only a name of that town ("Asunción, Paraguay": Paraguay is also
        # a name of Asunción, which confirms no other Asunción).
        return PlaceReading(WEIGHT["locality"], Says.LOCALITY)
    if place.kind == "country":
        if place.country_code == country_code:
            return PlaceReading(WEIGHT["country"], Says.COUNTRY)
        return PlaceReading(WEIGHT["country_conflict"], Says.CONFLICT)
    if place.kind == "state":
        if place.country_code != country_code:
            return PlaceReading(0.0, Says.NOTHING)
        if not admins and unknown_admin:
            # a street that does not know its state: neither for nor against
            return PlaceReading(0.0, Says.UNKNOWN)
        if locality_keys(place.name) & admins or (place.admin1_code or "").lower() in admins:
            return PlaceReading(WEIGHT["admin"], Says.ADMIN)
        return PlaceReading(WEIGHT["admin_conflict"], Says.CONFLICT)
    if place.kind in SETTLEMENT_KINDS and a.roles[span.start] in (Role.ANY, Role.LOCALITY):
        if place.country_code not in (country_code, None):
            return PlaceReading(0.0, Says.NOTHING)
        if unknown_locality:
            # a street that does not know its town: neither for nor against
            return PlaceReading(0.0, Says.UNKNOWN)
        return PlaceReading(WEIGHT["locality_conflict"], Says.CONFLICT)
    return PlaceReading(0.0, Says.NOTHING)


def _same_place(place: PlaceRow, near: tuple[float, float]) -> bool:
    return not surely_farther(place.lat, near[0], PLACE_DEDUPE_M) and (
        haversine_m(place.lat, place.lon, near[0], near[1]) < PLACE_DEDUPE_M
    )


def unexplained(a: Analysis, ev: Evidence, covered: set[int]) -> float:
    score = 0.0
    for i in a.word_tokens():
        if i in covered:
            continue
        if a.tokens[i][0].isdigit():
            score += WEIGHT["unexplained_number"]
        else:
            ev.unexplained_words += 1
            score += WEIGHT["unexplained_word"]
    return score


def asked_level(a: Analysis, covered: set[int], etype: EntityType) -> int:
    """How fine the query was: a house number asks for an address, stray words for a street."""
    left = [i for i in a.word_tokens() if i not in covered]
    numbers = [a.tokens[i][0].isdigit() for i in left]
    has_word = not all(numbers)  # checked once: asked for by every place candidate
    if has_word and any(numbers):
        return LEVEL[EntityType.ADDRESS]
    if has_word:
        return LEVEL[EntityType.ROAD_BLOCK]
    if left:
        return LEVEL[EntityType.POSTCODE]
    return LEVEL[etype]
