"""Ranking: every stage's candidates together, best first, the rivals of the best (which make
it Ambiguous), and the answer with its match codes and confidence (:mod:`geobatch.geocode.rules`).
"""

from __future__ import annotations

from geobatch.geocode.forward.analysis import analyse
from geobatch.geocode.forward.candidate import (
    PLACE_DEDUPE_M,
    Candidate,
    complete_address,
    explains_enough,
    surely_farther,
)
from geobatch.geocode.forward.places import place_candidates
from geobatch.geocode.forward.postcodes import postcode_candidates
from geobatch.geocode.forward.query import NeedFullRead
from geobatch.geocode.forward.streets import PLACE_SKIP, street_candidates
from geobatch.geocode.rules import (
    AMBIGUOUS_DISTANCE_M,
    AMBIGUOUS_SCORE_GAP,
    LEVEL,
    Evidence,
    confidence,
    match_codes,
)
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.geodesy import haversine_m
from geobatch.model import Answer, EntityType, GeocodeRequest, GeocodeResult, ResultStatus
from geobatch.text.abbreviations import name_key

_DEDUPE_M = {EntityType.ADDRESS: 50.0, EntityType.ROAD_BLOCK: 300.0, EntityType.POSTCODE: 3_000.0}


def geocode(request: GeocodeRequest, vocab: Vocabulary) -> Answer:
    """The answer to one forward request."""
    if request.is_empty():
        return Answer(ResultStatus.FAILED, reason="the request has no address text")
    # One answer asked for: a street name of many towns is first read only in the towns the
    # query names; when that cannot be shown to give the same answer, the query is read whole.
    if request.max_results <= 1:
        try:
            return answer(request, vocab, narrow=True)
        except NeedFullRead:
            pass
    return answer(request, vocab, narrow=False)


def answer(request: GeocodeRequest, vocab: Vocabulary, narrow: bool) -> Answer:
    """The answer of one reading of the request; a ``narrow`` one raises NeedFullRead when it
    cannot show that the streets it left unread would change nothing."""
    a = analyse(request, vocab, narrow)
    if not a.tokens:
        return Answer(ResultStatus.FAILED, reason="the request has no words or numbers to look up")
    candidates = street_candidates(a, vocab, prune=request.max_results <= 1)
    best_street = max((c.score for c in candidates), default=float("-inf"))
    # Places and postcodes can score at most PLACE_SCORE_CEILING: when a street reading beats
    # that by the ambiguity gap, they can be neither the answer nor its rival. Skip them.
    if request.max_results > 1 or (
        best_street < PLACE_SKIP and not any(complete_address(a, c) for c in candidates)
    ):
        candidates += place_candidates(a, vocab) + postcode_candidates(a, vocab)
    if not candidates:
        return Answer(ResultStatus.NO_RESULT, reason="nothing in the index matches this address")
    candidates = [c for c in candidates if explains_enough(a, c)]
    if not candidates:
        return Answer(ResultStatus.NO_RESULT, reason="nothing in the index matches this address")
    ranked = _dedupe(sorted(candidates, key=lambda c: -c.score))
    top = ranked[0]
    ambiguous = top.evidence.duplicated or any(_rivals(top, c) for c in ranked[1:])
    results = []
    for c in ranked[: max(1, request.max_results)]:
        codes = match_codes(c.evidence, c.asked_level, ambiguous)
        results.append(
            GeocodeResult(
                point=c.point,
                address=c.final_address(),
                entity_type=c.evidence.entity_type,
                confidence=confidence(c.evidence, codes),
                match_codes=codes,
                bbox=c.final_bbox(),
                calculation_method=c.method,
                name=c.name,
                source=c.source,
                score=round(c.score, 3),
            )
        )
    return Answer(ResultStatus.OK, tuple(results))


def _rivals(top: Candidate, other: Candidate) -> bool:
    """Whether ``other`` is as good an answer as ``top`` somewhere else."""
    if other.score < top.score - AMBIGUOUS_SCORE_GAP:
        return False
    if LEVEL[other.evidence.entity_type] > other.asked_level:
        return False  # coarser than asked: a fallback, not a rival
    if (
        other.population * _IMPORTANCE_RATIO < top.population
        and other.evidence.entity_type is EntityType.POPULATED_PLACE
        and top.evidence.entity_type is EntityType.POPULATED_PLACE
        and _same_support(top.evidence, other.evidence)
        and (_bare_name(top.evidence) or _village_in_scope(top, other))
    ):
        # "Paris": Paris, Texas is no rival of Paris, France, a hundred times larger, when the
        # query says nothing more for one than for the other ("Salem, IN": Indiana or India).
        return False
    if (
        name_key(other.name) == name_key(top.name)
        and other.country_code == top.country_code
        and other.evidence.entity_type is not top.evidence.entity_type
    ):
        return False  # a city and its namesake province: one answer, told apart by type
    if surely_farther(other.point.lat, top.point.lat, AMBIGUOUS_DISTANCE_M):
        return True
    far = haversine_m(other.point.lat, other.point.lon, top.point.lat, top.point.lon)
    return far > AMBIGUOUS_DISTANCE_M


def _bare_name(ev: Evidence) -> bool:
    """A name on its own: whoever writes just "Paris" relies on the name alone, and would have
    named Texas for the lesser Paris; the larger namesake is what the name means."""
    return not (ev.locality or ev.postcode or ev.admin or ev.country)


def _village_in_scope(top: Candidate, other: Candidate) -> bool:
    """With a scope named ("Fresno, United States", Locality + CountryRegion), the writer has
    said which country and no more: a namesake there that is a town of its own (10,000 people
    or more: Fresno, Texas, 19,000) is as much what the record means, however large the other,
    and stays a rival (the answer is still the larger one, Ambiguous). A village is not
    ("Houston, United States": Houston, Missouri has 3,500). A scope word that reads as two
    areas is no shared scope ("Georgetown, DE": Delaware, or Demerara-Mahaica in Guyana)."""
    return other.population < _TOWN_POPULATION and other.country_code == top.country_code


def _same_support(a: Evidence, b: Evidence) -> bool:
    return (a.locality, a.postcode, a.admin, a.country, a.conflicts) == (
        b.locality, b.postcode, b.admin, b.country, b.conflicts,
    )  # fmt: skip


# A town of one name this many times smaller than the answer is no rival of it.
_IMPORTANCE_RATIO = 20
# Where the gazetteer's villages end and its towns begin (sources/geonames.py).
_TOWN_POPULATION = 10_000


def _dedupe(ranked: list[Candidate]) -> list[Candidate]:
    """Drop a candidate that repeats a better one (the same place from two data sets)."""
    kept: list[Candidate] = []
    # Kept candidates by (type, name key): only those can repeat a candidate, so each one is
    # compared with its namesakes alone, not with everything kept (places come by the dozen).
    by_name: dict[tuple[EntityType, str], list[Candidate]] = {}
    for c in ranked:
        etype = c.evidence.entity_type
        limit = _DEDUPE_M.get(etype, PLACE_DEDUPE_M)
        same = by_name.setdefault((etype, name_key(c.name)), [])
        if any(
            not surely_farther(k.point.lat, c.point.lat, limit)
            and haversine_m(k.point.lat, k.point.lon, c.point.lat, c.point.lon) < limit
            for k in same
        ):
            continue
        same.append(c)
        kept.append(c)
    return kept
