"""Forward geocoding: candidates from the query analysis, scored by the rules, best first."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from geobatch.geocode.formatting import format_address
from geobatch.geocode.fuzzy import FuzzyKeys, max_edits
from geobatch.geocode.interpolate import interpolate_number
from geobatch.geocode.query import Analysis, NeedFullRead, Role, Span, analyse
from geobatch.geocode.rules import (
    AMBIGUOUS_DISTANCE_M,
    AMBIGUOUS_SCORE_GAP,
    DUPLICATE_SPREAD_M,
    LEVEL,
    PLACE_SCORE_CEILING,
    POPULATION_BONUS_MAX,
    WEIGHT,
    Evidence,
    confidence,
    match_codes,
)
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary, locality_keys
from geobatch.index.geodesy import EARTH_RADIUS_M, haversine_m
from geobatch.index.read import PlaceRow, PostcodeRow, StreetRow
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    CalculationMethod,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    Point,
    ResultStatus,
)
from geobatch.text.abbreviations import name_key
from geobatch.text.normalize import fold
from geobatch.text.postcodes import postcode_key

PLACE_TYPES = {
    "country": EntityType.COUNTRY,
    "state": EntityType.ADMIN_DIVISION1,
    "county": EntityType.ADMIN_DIVISION2,
    "suburb": EntityType.NEIGHBORHOOD,
    "neighbourhood": EntityType.NEIGHBORHOOD,
}
_DEDUPE_M = {EntityType.ADDRESS: 50.0, EntityType.ROAD_BLOCK: 300.0, EntityType.POSTCODE: 3_000.0}
_PLACE_DEDUPE_M = 15_000.0


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


def geocode(request: GeocodeRequest, vocab: Vocabulary) -> Answer:
    if request.is_empty():
        return Answer(ResultStatus.FAILED, reason="the request has no address text")
    # One answer asked for: a street name of many towns is first read only in the towns the
    # query names; when that cannot be shown to give the same answer, the query is read whole.
    if request.max_results <= 1:
        try:
            return _geocode(request, vocab, narrow=True)
        except NeedFullRead:
            pass
    return _geocode(request, vocab, narrow=False)


def _geocode(request: GeocodeRequest, vocab: Vocabulary, narrow: bool) -> Answer:
    a = analyse(request, vocab, narrow)
    if not a.tokens:
        return Answer(ResultStatus.FAILED, reason="the request has no words or numbers to look up")
    candidates = _street_candidates(a, vocab, prune=request.max_results <= 1)
    best_street = max((c.score for c in candidates), default=float("-inf"))
    # Places and postcodes can score at most PLACE_SCORE_CEILING: when a street reading beats
    # that by the ambiguity gap, they can be neither the answer nor its rival. Skip them.
    if request.max_results > 1 or (
        best_street < _PLACE_SKIP and not any(_complete_address(a, c) for c in candidates)
    ):
        candidates += _place_candidates(a, vocab) + _postcode_candidates(a, vocab)
    if not candidates:
        return Answer(ResultStatus.NO_RESULT, reason="nothing in the index matches this address")
    candidates = [c for c in candidates if _explains_enough(a, c)]
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


def _complete_address(a: Analysis, c: Candidate) -> bool:
    """An address reading that explains every word with nothing against it: no place or
    postcode reading can be a better answer, nor a rival (they would be coarser)."""
    ev = c.evidence
    return (
        ev.entity_type is EntityType.ADDRESS
        and not ev.conflicts
        and not ev.unexplained_words
        and all(i in c.covered for i in a.word_tokens())
    )


def _explains_enough(a: Analysis, c: Candidate) -> bool:
    """A reading must explain a whole group ("…, Vaduz") or at least half the words.

    Otherwise it is a chance hit on one word of an address we do not have.
    """
    words = sum(1 for i in c.covered if not a.tokens[i][0].isdigit())
    if c.evidence.unexplained_words <= words:
        return True
    return any(all(i in c.covered for i in range(s, e)) for s, e in a.groups if e - s > 0)


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
    if _surely_farther(other.point.lat, top.point.lat, AMBIGUOUS_DISTANCE_M):
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

# Metres per degree of latitude, a hair short: two points are at least this times their
# latitude difference apart (the great circle is no shorter than the meridian), with a margin
# far above rounding error, so a pair this test calls farther is farther for haversine_m too.
_MIN_M_PER_DEG_LAT = math.radians(1.0) * EARTH_RADIUS_M * (1.0 - 1e-6)


def _surely_farther(lat1: float, lat2: float, metres: float) -> bool:
    """A cheap test before haversine_m (numpy scalars, microseconds a call) in the pairwise
    comparisons of candidates: most namesakes are far apart in latitude alone."""
    return abs(lat1 - lat2) * _MIN_M_PER_DEG_LAT > metres


def _dedupe(ranked: list[Candidate]) -> list[Candidate]:
    """Drop a candidate that repeats a better one (the same place from two data sets)."""
    kept: list[Candidate] = []
    # Kept candidates by (type, name key): only those can repeat a candidate, so each one is
    # compared with its namesakes alone, not with everything kept (places come by the dozen).
    by_name: dict[tuple[EntityType, str], list[Candidate]] = {}
    for c in ranked:
        etype = c.evidence.entity_type
        limit = _DEDUPE_M.get(etype, _PLACE_DEDUPE_M)
        same = by_name.setdefault((etype, name_key(c.name)), [])
        if any(
            not _surely_farther(k.point.lat, c.point.lat, limit)
            and haversine_m(k.point.lat, k.point.lon, c.point.lat, c.point.lon) < limit
            for k in same
        ):
            continue
        same.append(c)
        kept.append(c)
    return kept


# --- streets and addresses -------------------------------------------------------------------


def _street_candidates(a: Analysis, vocab: Vocabulary, prune: bool) -> list[Candidate]:
    best_span: dict[int, Span] = {}
    for span, row in a.street_spans:
        old = best_span.get(row)
        if old is None or _better_span(a.street_edits, span, old, row):
            best_span[row] = span
    if not prune or (len(best_span) < _PRUNE_MIN_ROWS and not a.dropped):
        candidates = (_street_candidate(a, vocab, row, span) for row, span in best_span.items())
        return [c for c in candidates if c is not None]
    # One answer is asked for: a street whose score cannot come within the ambiguity gap of
    # one already read can be neither the answer nor its rival, and need not be read (a name
    # like Hafnargata is a street in twenty-six towns; the query names one). Rows are read in
    # the order of their bounds; the survivors keep the order they had.
    bounds = sorted(
        (
            (_street_bound(a, vocab, row, span), i)
            for i, (row, span) in enumerate(best_span.items())
        ),
        key=lambda item: -item[0],
    )
    rows = list(best_span.items())
    found: dict[int, Candidate] = {}
    floor = float("-inf")  # the best score read so far of a candidate that can be the answer
    # Whether geocode() will read no place or postcode, pruned or not: a street reading scores
    # above them all or is a complete address. Only then may the rest go unread.
    settled = False
    # Streets left unread by a narrowed analysis score at most ``rest`` (they have none of the
    # localities, admin areas or postcodes the query names). In the order of all bounds they
    # would come after every row read so far: if by then the reading is settled and ``rest``
    # is below its break, a whole reading would have stopped there too. Else read again whole.
    rest = _unread_bound(a, vocab) if a.dropped else float("-inf")
    for bound, i in bounds:
        if bound <= rest:
            if not (settled and rest < floor - AMBIGUOUS_SCORE_GAP):
                raise NeedFullRead
            rest = float("-inf")  # shown: the rest of the loop is a whole reading's
        if settled and bound < floor - AMBIGUOUS_SCORE_GAP:
            break
        row, span = rows[i]
        c = _street_candidate(a, vocab, row, span)
        if c is None:
            continue
        found[i] = c
        if _explains_enough(a, c):
            floor = max(floor, c.score)
            settled = settled or c.score >= _PLACE_SKIP or _complete_address(a, c)
    if rest > float("-inf") and not (settled and rest < floor - AMBIGUOUS_SCORE_GAP):
        raise NeedFullRead
    return [found[i] for i in sorted(found)]


def _unread_bound(a: Analysis, vocab: Vocabulary) -> float:
    """The most :func:`_street_bound` can give an exact street reading that has none of the
    query's postcodes, localities or admin areas."""
    bound = WEIGHT["street"]
    if a.numbers:
        bound += WEIGHT["house_number"]
    if _typo_locality_spans(a):
        bound += max(WEIGHT["locality"], 0.0)
    places = vocab.data.places
    for _, prows in a.place_readings:
        if all(p in a.hashed_places for p in prows):
            # A street with any of these places' names is read: to the rest, a reading can
            # only be its country.
            if any(places[p].kind == "country" for p in prows):
                bound += max(WEIGHT["country"], 0.0)
        else:
            bound += max(_BEST_PLACE_CONTEXT, 0.0)
    return bound


# Fewer streets than this are read whole: bounding them would cost more than it saves.
_PRUNE_MIN_ROWS = 3
# A street reading scoring this makes geocode() skip places and postcodes.
_PLACE_SKIP = PLACE_SCORE_CEILING + AMBIGUOUS_SCORE_GAP


def _street_bound(a: Analysis, vocab: Vocabulary, row: int, span: Span) -> float:
    """The most :func:`_street_candidate` can score for this row: every piece of evidence that
    could be for it counted as if it were, overlaps and all."""
    bound = WEIGHT["street"] + WEIGHT["typo_edit"] * a.street_edits.get((span, row), 0)
    if a.numbers:
        bound += WEIGHT["house_number"]
    postcodes = vocab.street_postcodes(row)
    for _, key in a.postcode_spans:
        if key in postcodes:
            bound += WEIGHT["postcode"]
    localities = vocab.street_localities(row)
    admins = vocab.street_admin(row)
    for sp in a.context_spans:
        if sp.key in localities:
            bound += WEIGHT["locality"]
        elif sp.key in admins:
            bound += WEIGHT["admin"]
    if localities and _typo_locality_spans(a):
        bound += WEIGHT["locality"]
    places = vocab.data.places
    country, has_admin1 = vocab.street_country(row)
    unknown_admin = not has_admin1
    for sp, prows in a.place_readings:
        best = 0.0
        for p in prows:
            outcome = _place_context(places[p], sp, country, localities, admins, a, unknown_admin)[
                0
            ]
            if outcome > best:
                best = outcome
                if best >= _BEST_PLACE_CONTEXT:
                    break
        bound += best
    return bound


def _better_span(edits: dict[tuple[Span, int], int], new: Span, old: Span, row: int) -> bool:
    """Fewer edits first, then more words covered."""
    new_rank = (edits.get((new, row), 0), old.end - old.start)
    old_rank = (edits.get((old, row), 0), new.end - new.start)
    return new_rank < old_rank


def _street_candidate(a: Analysis, vocab: Vocabulary, row: int, span: Span) -> Candidate | None:
    street = vocab.data.streets[row]
    covered = set(span.tokens)
    ev = Evidence(EntityType.ROAD_BLOCK)
    ev.typos = a.street_edits.get((span, row), 0)
    ev.area_typo = ev.typos > max_edits(span.key)
    score = WEIGHT["street"] + WEIGHT["typo_edit"] * ev.typos
    postcodes = vocab.street_postcodes(row)
    score += _postcode_evidence(a, ev, covered, postcodes, match_only=True)
    number = _house_number(a, vocab, row, span, covered)
    score += _postcode_evidence(a, ev, covered, postcodes, match_only=False)
    score += _context_evidence(
        a, vocab, ev, covered, vocab.street_localities(row), vocab.street_admin(row),
        street.country_code, unknown_admin=not street.admin1,
        unknown_locality=not street.locality,
    )  # fmt: skip
    ev.contested = vocab.street_key_count(street.key) > 1
    if a.marked and _spelled_otherwise(a.marked, street.name):
        score += WEIGHT["spelling_differs"]
    hn_tokens = [n for n in a.numbers if n[0] not in covered]
    if ev.area_typo and a.numbers and (number is None or number.interpolated):
        # A name read with the larger budget of its town must be borne out by the house
        # number the query asks for: a street the index lacks is not turned into a neighbour.
        return None
    if number is not None:
        ev.entity_type = EntityType.ADDRESS
        score += WEIGHT["interpolated_number" if number.interpolated else "house_number"]
        ev.interpolated = number.interpolated
        # The data has this number twice on this street, far apart: it cannot tell which.
        ev.duplicated = number.spread_m > DUPLICATE_SPREAD_M
        street_typos = a.street_edits.get((span, row), 0)
        if street_typos and not number.interpolated:
            ev.near_rival = _near_rival(a, vocab, row, span, street_typos, number.key)
    score += _unexplained(a, ev, covered)
    asked = 0 if (number is not None or hn_tokens) else LEVEL[EntityType.ROAD_BLOCK]
    return _street_result(a, vocab, street, ev, score, asked, covered, number)


def _spelled_otherwise(marked: dict[str, str], name: str) -> bool:
    """Whether the query writes a word of ``name`` with other diacritics than the name has
    ("Stötz 11" and the street Stotz): an exact spelling must beat a folded one."""
    for word in _WORDS.findall(unicodedata.normalize("NFC", name).casefold()):
        asked = marked.get(fold(word))
        if asked is not None and asked != word:
            return True
    return False


_WORDS = re.compile(r"[^\W\d_]+")


def _near_rival(a: Analysis, vocab: Vocabulary, row: int, span: Span, typos: int, key: str) -> bool:
    """Whether another street read from the same misspelt words, with at most one edit more,
    holds the same house number in the postcode or town the query names. Worked out from the
    analysis alone, so it does not depend on which candidates are read (see pruning)."""
    key_of_row = vocab.street_key(row)
    # Numbered streets ("205th Stret"): when the digits were typed as the street has them,
    # the typo is in the word, and 200th or 204th Street holding the number is no rival.
    digits = _leading_digits(span.key)
    same_digits = bool(digits) and _leading_digits(key_of_row) == digits
    for (sp, other), edits in a.street_edits.items():
        if sp != span or other == row or edits > typos + 1:
            continue
        other_key = vocab.street_key(other)
        if other_key == key_of_row:
            continue  # the same street in another town, or its other half
        if same_digits and _leading_digits(other_key) != digits:
            continue
        if key not in vocab.numbers(other):
            continue
        postcodes = vocab.street_postcodes(other)
        localities = vocab.street_localities(other)
        if any(pc in postcodes for _, pc in a.postcode_spans) or any(
            s.key in localities for s in a.context_spans
        ):
            return True
    return False


def _leading_digits(key: str) -> str:
    end = 0
    while end < len(key) and key[end].isdigit():
        end += 1
    return key[:end]


class _Number(NamedTuple):  # internal and made per candidate: a tuple is cheaper to build
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


def _house_number(
    a: Analysis, vocab: Vocabulary, row: int, span: Span, covered: set[int]
) -> _Number | None:
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
                chosen = _central_row(vocab, rows) if spread > DUPLICATE_SPREAD_M else rows[0]
            data = vocab.data
            lat, lon = data.address_point(chosen)
            return _Number(
                key, data.address_number(chosen), lat, lon, data.address_postcode(chosen),
                data.address_unit(chosen), False, spread,
            )  # fmt: skip
    wanted_postcodes = frozenset(pc for _, pc in a.postcode_spans)
    for start, end, key in options:
        guess = interpolate_number(vocab, row, key, wanted_postcodes)
        if guess is not None:
            covered.update(range(start, end))
            return _Number(key, key, guess[0], guess[1], guess[2], None, True, guess[3])
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


def _central_row(vocab: Vocabulary, rows: list[int]) -> int:
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


def _street_result(
    a: Analysis,
    vocab: Vocabulary,
    street: StreetRow,
    ev: Evidence,
    score: float,
    asked: int,
    covered: set[int],
    number: _Number | None,
) -> Candidate:
    unit = a.unit if number else None

    def address() -> Address:
        country = vocab.country_name(street.country_code)
        postcode = (number.postcode if number else None) or street.postcode
        hn = number.text if number else None
        return Address(
            house_number=hn,
            street=street.name,
            unit=unit,
            neighborhood=street.neighborhood,
            locality=street.locality,
            postal_code=postcode,
            admin_district2=street.admin2,
            admin_district=street.admin1,
            country=country,
            country_code=street.country_code,
            formatted=format_address(
                house_number=hn, street=street.name, unit=unit, locality=street.locality,
                postal_code=postcode, admin_district=street.admin1, country=country,
                country_code=street.country_code,
            ),
        )  # fmt: skip

    if number is not None:
        lat, lon = number.lat, number.lon
        point = Point(lat, lon)
        method = (
            CalculationMethod.INTERPOLATION if number.interpolated else CalculationMethod.ROOFTOP
        )
        return Candidate(score, ev, point, lambda: BoundingBox.around(lat, lon, 25.0), address,
                         street.name, street.source, asked, method, covered,
                         street.country_code)  # fmt: skip
    return Candidate(score, ev, Point(street.lat, street.lon), lambda: BoundingBox(*street.bbox),
                     address, street.name, street.source, asked,
                     CalculationMethod.INTERPOLATION, covered, street.country_code)  # fmt: skip


# --- evidence shared by every kind of candidate ------------------------------------------------


def _postcode_evidence(
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


def _context_evidence(
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
        best = _place_context(places[prows[0]], span, country_code, localities, admins, a,
                              unknown_admin, unknown_locality, near)  # fmt: skip
        for p in prows[1:]:
            if best[0] >= _BEST_PLACE_CONTEXT:
                break
            outcome = _place_context(
                places[p], span, country_code, localities, admins, a, unknown_admin,
                unknown_locality, near,
            )  # fmt: skip
            if outcome[0] > best[0]:
                best = outcome
        if best[0] == 0.0 and not best[1]:
            continue
        covered.update(span.tokens)
        score += best[0]
        if best[0] < 0:
            ev.conflicts += 1
        elif best[1] == "country":
            ev.country = True
        elif best[1] == "admin":
            ev.admin = True
        elif best[1] == "locality":
            ev.locality = True
    return score


def _misspelt_locality(
    a: Analysis, ev: Evidence, covered: set[int], localities: frozenset[str]
) -> float:
    """A locality written with a typo ("Trisen") still confirms the candidate, at a cost."""
    for span, limit in _typo_locality_spans(a):
        if not covered.isdisjoint(span.tokens):
            continue
        edits = min(FuzzyKeys.distance(span.key, k) for k in localities)
        if edits <= limit:
            covered.update(span.tokens)
            ev.locality = True
            ev.typos += edits
            return WEIGHT["locality"] + WEIGHT["typo_edit"] * edits
    return 0.0


# The most one reading can add (see _place_context): its outcomes score this or less.
_BEST_PLACE_CONTEXT = max(WEIGHT["locality"], WEIGHT["country"], WEIGHT["admin"], 0.0)


def _typo_locality_spans(a: Analysis) -> list[tuple[Span, int]]:
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


def _place_context(
    place: PlaceRow,
    span: Span,
    country_code: str | None,
    localities: frozenset[str],
    admins: frozenset[str],
    a: Analysis,
    unknown_admin: bool = False,
    unknown_locality: bool = False,
    near: tuple[float, float] | None = None,
) -> tuple[float, str]:
    """What one reading of a span says about a candidate: (score, what it confirmed)."""
    if (
        place.kind in SETTLEMENT_KINDS
        and not localities.isdisjoint(place.keys)
        and (near is None or _same_place(place, near))
    ):
        # The query names the candidate's town by another of its names ("Helsingfors"); for
        # a town candidate, only a name of that town ("Asunción, Paraguay": Paraguay is also
        # a name of Asunción, which confirms no other Asunción).
        return WEIGHT["locality"], "locality"
    if place.kind == "country":
        if place.country_code == country_code:
            return WEIGHT["country"], "country"
        return WEIGHT["country_conflict"], "conflict"
    if place.kind == "state":
        if place.country_code != country_code:
            return 0.0, ""
        if not admins and unknown_admin:
            return 0.0, "unknown"  # a street that does not know its state: neither for nor against
        if locality_keys(place.name) & admins or (place.admin1_code or "").lower() in admins:
            return WEIGHT["admin"], "admin"
        return WEIGHT["admin_conflict"], "conflict"
    if place.kind in SETTLEMENT_KINDS and a.roles[span.start] in (Role.ANY, Role.LOCALITY):
        if place.country_code not in (country_code, None):
            return 0.0, ""
        if unknown_locality:
            return 0.0, "unknown"  # a street that does not know its town: neither for nor against
        return WEIGHT["locality_conflict"], "conflict"
    return 0.0, ""


def _same_place(place: PlaceRow, near: tuple[float, float]) -> bool:
    return not _surely_farther(place.lat, near[0], _PLACE_DEDUPE_M) and (
        haversine_m(place.lat, place.lon, near[0], near[1]) < _PLACE_DEDUPE_M
    )


def _unexplained(a: Analysis, ev: Evidence, covered: set[int]) -> float:
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


# --- places, admin areas, countries and postcodes ----------------------------------------------


def _place_candidates(a: Analysis, vocab: Vocabulary) -> list[Candidate]:
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
    score += _context_evidence(
        a, vocab, ev, covered, own, admins, place.country_code, near=(place.lat, place.lon)
    )
    score += _unexplained(a, ev, covered)
    asked = _asked_level(a, covered, etype)
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
                not _surely_farther(pc.lat, place.lat, POSTCODE_NEAR_PLACE_M)
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


def _asked_level(a: Analysis, covered: set[int], etype: EntityType) -> int:
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


def _postcode_candidates(a: Analysis, vocab: Vocabulary) -> list[Candidate]:
    out = []
    seen: set[int] = set()
    for span, key in a.postcode_spans:
        for row in vocab.postcode_rows(key):
            if row in seen:
                continue
            seen.add(row)
            pc = vocab.data.postcodes[row]
            ev = Evidence(EntityType.POSTCODE, postcode=True)
            covered = set(span.tokens)
            score = WEIGHT["postcode_entity"]
            score += _context_evidence(
                a, vocab, ev, covered, locality_keys(pc.locality), locality_keys(pc.admin1),
                pc.country_code,
            )  # fmt: skip
            score += _unexplained(a, ev, covered)
            address, bbox = _postcode_parts(vocab, pc)
            out.append(
                Candidate(
                    score,
                    ev,
                    Point(pc.lat, pc.lon),
                    bbox,
                    address,
                    pc.postcode,
                    pc.source,
                    _asked_level(a, covered, EntityType.POSTCODE),
                    CalculationMethod.ROOFTOP,
                    covered,
                    pc.country_code,
                )
            )
    return out


def _postcode_parts(
    vocab: Vocabulary, pc: PostcodeRow
) -> tuple[Callable[[], Address], Callable[[], BoundingBox]]:
    """The address and box of a postcode candidate, built only if it is returned."""

    def address() -> Address:
        country = vocab.country_name(pc.country_code)
        return Address(
            postal_code=pc.postcode, locality=pc.locality, admin_district=pc.admin1,
            country=country, country_code=pc.country_code,
            formatted=format_address(
                house_number=None, street=None, unit=None, locality=pc.locality,
                postal_code=pc.postcode, admin_district=pc.admin1, country=country,
                country_code=pc.country_code,
            ),
        )  # fmt: skip

    return address, lambda: BoundingBox(*pc.bbox)
