"""Place candidates: towns, neighbourhoods, admin areas and countries the query names, scored
by the evidence and by their importance (population, and the names people mean by them)."""

from __future__ import annotations

import math

from geobatch.geocode.forward.candidate import Candidate, surely_farther
from geobatch.geocode.forward.evidence import asked_level, context_evidence, unexplained
from geobatch.geocode.forward.query import Analysis, Role, Span
from geobatch.geocode.rules import POPULATION_BONUS_MAX, WEIGHT, Evidence
from geobatch.geocode.vocabulary import Vocabulary, locality_keys
from geobatch.index.geodesy import haversine_m
from geobatch.index.read import PlaceRow
from geobatch.model import Address, BoundingBox, CalculationMethod, EntityType, Point

PLACE_TYPES = {
    "country": EntityType.COUNTRY,
    "state": EntityType.ADMIN_DIVISION1,
    "county": EntityType.ADMIN_DIVISION2,
    "suburb": EntityType.NEIGHBORHOOD,
    "neighbourhood": EntityType.NEIGHBORHOOD,
}


def place_candidates(a: Analysis, vocab: Vocabulary) -> list[Candidate]:
    out = []
    for span, row in a.place_spans:
        place = vocab.data.places[row]
        role = a.roles[span.start]
        if role is Role.COUNTRY and place.kind != "country":
            continue
        if role is Role.ADMIN and place.kind not in ("state", "county"):
            continue
        edits, matched = a.place_edits.get((span, row), (0, span.key))
        candidate = _place_candidate(a, vocab, place, span, matched)
        if edits:
            candidate.evidence.typos = edits
            candidate.score += WEIGHT["typo_edit"] * edits
        out.append(candidate)
    return out


def _place_candidate(
    a: Analysis, vocab: Vocabulary, place: PlaceRow, span: Span, matched: str
) -> Candidate:
    etype = PLACE_TYPES.get(place.kind, EntityType.POPULATED_PLACE)
    ev = Evidence(etype)
    covered = set(span.tokens)
    score = WEIGHT["place_entity"] + _population_bonus(place.population)
    primary = place.keys[0] if place.keys else matched
    if (
        matched != primary
        and len(matched) < len(primary)
        and matched in primary
        and matched not in locality_keys(place.name)  # "New York" of New York City is whole
    ):
        # "Salvador" is a part of El Salvador's name, not a name of it: a word is missing.
        ev.partial = True
        score += WEIGHT["partial_name"]
    if etype is EntityType.COUNTRY:
        if matched == primary or not _large_city_named(vocab, matched):
            score += WEIGHT["country_entity"]
        else:
            # "Guadalupe" is a city of 670,000 before it is the Spanish name of Guadeloupe.
            score += WEIGHT["alternate_name"]
    elif etype is EntityType.POPULATED_PLACE:
        score += WEIGHT["settlement_entity"]
        # New York City answers to "New York" as well as to its name: a city that shares its
        # name with its state is what the name means on its own (the state is asked "NY").
        if matched != primary and matched not in locality_keys(place.admin1):
            score += WEIGHT["alternate_name"]
    elif (
        etype is EntityType.ADMIN_DIVISION1
        and matched in locality_keys(place.name)  # its name, not its code ("NY")
        and _city_of_state_named(vocab, place, matched)
    ):
        score += WEIGHT["state_named_like_its_city"]
    settlement = etype in (EntityType.POPULATED_PLACE, EntityType.NEIGHBORHOOD)
    # A town's other names in the query confirm the town; they say nothing for a state or a
    # country ("NY" is also a name of New York City, "Paraguay" one of Asunción's).
    own = locality_keys(place.name) if settlement else frozenset()
    # A state is not confirmed by its own name or code a second time ("New York, NY").
    admins: frozenset[str] = (
        frozenset()
        if etype is EntityType.ADMIN_DIVISION1
        else locality_keys(place.admin1)
        | frozenset({place.admin1_code.lower()} if place.admin1_code else ())
    )
    score += _postcode_near_place(a, vocab, ev, covered, place, etype)
    score += context_evidence(
        a, vocab, ev, covered, own, admins, place.country_code, near=(place.lat, place.lon)
    )
    score += unexplained(a, ev, covered)
    asked = asked_level(a, covered, etype)
    name = place.name

    def address() -> Address:  # built only for the candidates returned, as for streets
        country = vocab.country_name(place.country_code)
        return Address(
            locality=name if etype in (EntityType.POPULATED_PLACE, EntityType.NEIGHBORHOOD)
            else None,
            neighborhood=name if etype is EntityType.NEIGHBORHOOD else None,
            admin_district=place.admin1 if etype is not EntityType.ADMIN_DIVISION1 else name,
            admin_district2=place.admin2 if etype is not EntityType.ADMIN_DIVISION2 else name,
            country=country,
            country_code=place.country_code,
            formatted=", ".join(
                dict.fromkeys(
                    p for p in (name, place.admin1 if etype is not EntityType.COUNTRY else None,
                                country) if p
                )
            ),
        )  # fmt: skip

    return Candidate(score, ev, Point(place.lat, place.lon), lambda: BoundingBox(*place.bbox),
                     address, name, place.source, asked, CalculationMethod.ROOFTOP, covered,
                     place.country_code, place.population)  # fmt: skip


# A city this large named exactly as a country's other name is what the name means.
_LARGE_CITY = 100_000


def _large_city_named(vocab: Vocabulary, key: str) -> bool:
    places = vocab.data.places
    return any(
        (p := places[row]).kind == "city"
        and p.population >= _LARGE_CITY
        and bool(p.keys)
        and p.keys[0] == key
        for row in vocab.place_rows(key)
    )


def _city_of_state_named(vocab: Vocabulary, state: PlaceRow, key: str) -> bool:
    """Whether a city of ``state`` answers to ``key`` (the state's name) as its own name or
    as one of its names that is the state's ("New York" of New York City)."""
    places = vocab.data.places
    own = locality_keys(state.name)
    return any(
        (p := places[row]).kind in ("city", "town")
        and p.country_code == state.country_code
        and not locality_keys(p.admin1).isdisjoint(own)
        for row in vocab.place_rows(key)
    )


# A place this close to a postcode the query names agrees with it.
POSTCODE_NEAR_PLACE_M = 25_000.0


def _postcode_near_place(
    a: Analysis,
    vocab: Vocabulary,
    ev: Evidence,
    covered: set[int],
    place: PlaceRow,
    etype: EntityType,
) -> float:
    """A known postcode in the query must lie in or near a place for the place to be the
    answer: "Borle Place, 11428" never falls back to Poland."""
    score = 0.0
    for span, key in a.postcode_spans:
        rows = vocab.postcode_rows(key)
        if not rows or not covered.isdisjoint(span.tokens):
            continue
        covered.update(span.tokens)
        pcs = [vocab.data.postcodes[r] for r in rows]
        if etype is EntityType.COUNTRY or etype is EntityType.ADMIN_DIVISION1:
            agree = any(pc.country_code == place.country_code for pc in pcs)
        else:
            agree = any(
                not surely_farther(pc.lat, place.lat, POSTCODE_NEAR_PLACE_M)
                and haversine_m(pc.lat, pc.lon, place.lat, place.lon) <= POSTCODE_NEAR_PLACE_M
                for pc in pcs
            )
        if agree:
            ev.postcode = True
            score += WEIGHT["postcode"]
        else:
            ev.conflicts += 1
            score += WEIGHT["postcode_far"]
    return score


def _population_bonus(population: int) -> float:
    return min(POPULATION_BONUS_MAX, math.log10(population + 1) * POPULATION_BONUS_MAX / 7.0)
