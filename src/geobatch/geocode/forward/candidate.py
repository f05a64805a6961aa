"""A candidate answer and the tests every stage asks of one.

A candidate is what a street, place or postcode reading of the query yields: its score, the
evidence behind it (:class:`geobatch.geocode.rules.Evidence`), its point, and its address and
box, built only for the candidates returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from geobatch.geocode.forward.query import Analysis
from geobatch.geocode.rules import Evidence
from geobatch.index.geodesy import EARTH_RADIUS_M
from geobatch.model import Address, BoundingBox, CalculationMethod, EntityType, Point


@dataclass(slots=True)
class Candidate:
    score: float
    evidence: Evidence
    point: Point
    bbox: BoundingBox | Callable[[], BoundingBox]  # built when the candidate is returned
    address: Address | Callable[[], Address]  # likewise: most candidates never are
    name: str
    source: str
    asked_level: int
    method: CalculationMethod = CalculationMethod.ROOFTOP
    covered: set[int] = field(default_factory=set)
    country_code: str | None = None
    population: int = 0  # of a place candidate: how important a namesake it is

    def final_address(self) -> Address:
        return self.address if isinstance(self.address, Address) else self.address()

    def final_bbox(self) -> BoundingBox:
        return self.bbox if isinstance(self.bbox, BoundingBox) else self.bbox()


def complete_address(a: Analysis, c: Candidate) -> bool:
    """An address reading that explains every word with nothing against it: no place or
    postcode reading can be a better answer, nor a rival (they would be coarser)."""
    ev = c.evidence
    return (
        ev.entity_type is EntityType.ADDRESS
        and not ev.conflicts
        and not ev.unexplained_words
        and all(i in c.covered for i in a.word_tokens())
    )


def explains_enough(a: Analysis, c: Candidate) -> bool:
    """A reading must explain a whole group ("…, Vaduz") or at least half the words.

    Otherwise it is a chance hit on one word of an address we do not have.
    """
    words = sum(1 for i in c.covered if not a.tokens[i][0].isdigit())
    if c.evidence.unexplained_words <= words:
        return True
    return any(all(i in c.covered for i in range(s, e)) for s, e in a.groups if e - s > 0)


# Two places of one name closer than this are one place (from two data sets, or a town and
# its other name).
PLACE_DEDUPE_M = 15_000.0

# Metres per degree of latitude, a hair short: two points are at least this times their
# latitude difference apart (the great circle is no shorter than the meridian), with a margin
# far above rounding error, so a pair this test calls farther is farther for haversine_m too.
_MIN_M_PER_DEG_LAT = math.radians(1.0) * EARTH_RADIUS_M * (1.0 - 1e-6)


def surely_farther(lat1: float, lat2: float, metres: float) -> bool:
    """A cheap test before haversine_m (numpy scalars, microseconds a call) in the pairwise
    comparisons of candidates: most namesakes are far apart in latitude alone."""
    return abs(lat1 - lat2) * _MIN_M_PER_DEG_LAT > metres
