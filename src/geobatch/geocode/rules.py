"""Scores, match codes and confidence: every rule in one place, to be read and audited.

A candidate collects *evidence*: what of the query it explains (street, house number, locality,
postcode, admin area, country) and what contradicts it. Its score is the sum of the weights below.
Match code and confidence then follow from the evidence by the two tables at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

from geobatch.model import Confidence, EntityType, MatchCode

# Score weights. Positive: the query says so and the candidate agrees. Negative: it disagrees.
WEIGHT = {
    "street": 10.0,
    "house_number": 6.0,
    "interpolated_number": 4.0,
    "postcode_entity": 9.0,
    "place_entity": 8.0,
    # "USA" is the country before it is any town's alternate name; a city before its namesake
    # province ("São Paulo", "Kyoto").
    "country_entity": 2.0,
    "settlement_entity": 0.25,
    # A town matched by one of its many alternate (often historical) names, not its own.
    "alternate_name": -1.0,
    # A state named like a city of its own ("New York", "Veracruz", "São Paulo"): the name on
    # its own means the city (people ask for the state as "NY", "Estado de …").
    "state_named_like_its_city": -1.0,
    # A place matched by a part of its name ("Salvador" of El Salvador): a word is missing.
    "partial_name": -3.0,
    # The query spells a name with other diacritics than the candidate's ("Stötz", Stotz).
    "spelling_differs": -1.5,
    "locality": 4.0,
    "postcode": 4.0,
    "admin": 2.0,
    "country": 1.5,
    "locality_conflict": -4.0,
    "postcode_conflict": -3.0,
    # A place far from (or a country other than) the postcode the query names.
    "postcode_far": -8.0,
    "admin_conflict": -2.0,
    "country_conflict": -8.0,
    "unexplained_word": -3.0,
    # Each edit a misspelt street or place name needed to match.
    "typo_edit": -1.5,
    "unexplained_number": -0.5,
}
# A place's size breaks ties between places of one name: at most this much, for ~10 million.
POPULATION_BONUS_MAX = 2.0
# The data holding one house number of one street at points farther apart than this cannot say
# which is meant: the answer is Ambiguous (the benchmark counts more than 50 m as a miss).
DUPLICATE_SPREAD_M = 50.0
# The most a place or postcode candidate can score: entity, size, country bonus and every kind
# of agreeing evidence at once (a postcode entity scores less). Street readings above it win.
PLACE_SCORE_CEILING = (
    WEIGHT["place_entity"]
    + POPULATION_BONUS_MAX
    + WEIGHT["country_entity"]
    + WEIGHT["locality"]
    + WEIGHT["postcode"]
    + WEIGHT["admin"]
    + WEIGHT["country"]
)
# Two candidates within this score of each other, and this far apart, make the answer ambiguous.
AMBIGUOUS_SCORE_GAP = 1.0
AMBIGUOUS_DISTANCE_M = 500.0

# How fine each entity type is: a result coarser than what the query asked for is UpHierarchy.
LEVEL = {
    EntityType.ADDRESS: 0,
    EntityType.ROAD_BLOCK: 1,
    EntityType.POSTCODE: 2,
    EntityType.NEIGHBORHOOD: 3,
    EntityType.POPULATED_PLACE: 3,
    EntityType.ADMIN_DIVISION2: 4,
    EntityType.ADMIN_DIVISION1: 5,
    EntityType.COUNTRY: 6,
}


@dataclass(slots=True)
class Evidence:
    entity_type: EntityType
    locality: bool = False
    postcode: bool = False
    admin: bool = False
    country: bool = False
    conflicts: int = 0
    unexplained_words: int = 0
    interpolated: bool = False
    # Several entities of the same name with nothing in the query to choose among them.
    contested: bool = False
    # The data holds the matched house number at several points far apart.
    duplicated: bool = False
    # Edits needed to read misspelt names (0 when every name matched as written).
    typos: int = 0
    # The street name needed more edits than its length allows against the whole vocabulary:
    # it was found only among the streets of the town or postcode the query names.
    area_typo: bool = False
    # Another street of the town the query names is near what was typed too (one edit more
    # at most) and holds the house number: the typo may be of either ("Skólbraut 14":
    # Skólabraut or Sólbraut).
    near_rival: bool = False
    # Matched by a part of its name only ("Salvador" for El Salvador).
    partial: bool = False


def match_codes(evidence: Evidence, asked_level: int, ambiguous: bool) -> tuple[MatchCode, ...]:
    """Good, or UpHierarchy when coarser than asked, plus Ambiguous when undecided."""
    codes: list[MatchCode] = []
    if LEVEL[evidence.entity_type] > asked_level:
        codes.append(MatchCode.UP_HIERARCHY)
    if ambiguous:
        codes.append(MatchCode.AMBIGUOUS)
    return tuple(codes) or (MatchCode.GOOD,)


def confidence(evidence: Evidence, codes: tuple[MatchCode, ...]) -> Confidence:
    """The confidence table; the first row that holds decides.

    ===============================================================  ==========
    condition                                                        confidence
    ===============================================================  ==========
    Ambiguous and UpHierarchy                                        Low
    Ambiguous                                                        Medium
    UpHierarchy to a street, with locality or postcode confirmed     Medium
    UpHierarchy otherwise                                            Low
    something in the query contradicts it (conflicts)                Low
    interpolated address, or words left unexplained                  Medium
    a place matched by a part of its name only                       Medium
    a street name found in several places, none confirmed            Medium
    a misspelt name, not confirmed by locality or postcode           Medium
    names read with two edits or more, even if confirmed             Medium
    a street name read with more edits than allowed outside its town Medium
    a misspelt street name near another of the town with that number Medium
    otherwise: Good, nothing contradicted, everything explained      High
    ===============================================================  ==========
    """
    up = MatchCode.UP_HIERARCHY in codes
    confirmed = evidence.locality or evidence.postcode
    if MatchCode.AMBIGUOUS in codes:
        return Confidence.LOW if up else Confidence.MEDIUM
    if up:
        street_up = evidence.entity_type is EntityType.ROAD_BLOCK and confirmed
        return Confidence.MEDIUM if street_up else Confidence.LOW
    if evidence.conflicts:
        return Confidence.LOW
    if evidence.interpolated or evidence.unexplained_words or evidence.partial:
        return Confidence.MEDIUM
    if (evidence.contested or evidence.typos) and not confirmed:
        return Confidence.MEDIUM
    if evidence.typos > 1:
        # A street the index lacks is often two edits from another of the same town
        # (bench_missing_streets.py: High on 7.1 % of such queries with this row, 1.1 % without).
        return Confidence.MEDIUM
    if evidence.area_typo:
        # Two edits in a short name: the nearest street of the town, but a guess all the same.
        return Confidence.MEDIUM
    if evidence.near_rival:
        # The nearest reading by one edit is no proof: "Klandsgade" is one edit from
        # Ålandsgade and two from Kurlandsgade, which the writer meant.
        return Confidence.MEDIUM
    return Confidence.HIGH
