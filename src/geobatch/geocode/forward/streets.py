"""Street and address candidates: each street the query's words name, with the evidence for
it, its house number (:mod:`.numbers`) and its score.

When one answer is asked for, streets are read in the order of an upper bound of their score,
and those that cannot come within the ambiguity gap of the best can be neither the answer nor
its rival and are not read (see :func:`street_candidates`).
"""

from __future__ import annotations

import re
import unicodedata

from geobatch.geocode.formatting import format_address
from geobatch.geocode.forward.candidate import Candidate, complete_address, explains_enough
from geobatch.geocode.forward.evidence import (
    BEST_PLACE_CONTEXT,
    context_evidence,
    place_context,
    postcode_evidence,
    typo_locality_spans,
    unexplained,
)
from geobatch.geocode.forward.numbers import NumberMatch, house_number
from geobatch.geocode.forward.query import Analysis, NeedFullRead, Span
from geobatch.geocode.fuzzy import max_edits
from geobatch.geocode.rules import (
    AMBIGUOUS_SCORE_GAP,
    DUPLICATE_SPREAD_M,
    LEVEL,
    PLACE_SCORE_CEILING,
    WEIGHT,
    Evidence,
)
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.read import StreetRow
from geobatch.model import Address, BoundingBox, CalculationMethod, EntityType, Point
from geobatch.text.normalize import fold


def street_candidates(a: Analysis, vocab: Vocabulary, prune: bool) -> list[Candidate]:
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
        if explains_enough(a, c):
            floor = max(floor, c.score)
            settled = settled or c.score >= PLACE_SKIP or complete_address(a, c)
    if rest > float("-inf") and not (settled and rest < floor - AMBIGUOUS_SCORE_GAP):
        raise NeedFullRead
    return [found[i] for i in sorted(found)]


def _unread_bound(a: Analysis, vocab: Vocabulary) -> float:
    """The most :func:`_street_bound` can give an exact street reading that has none of the
    query's postcodes, localities or admin areas."""
    bound = WEIGHT["street"]
    if a.numbers:
        bound += WEIGHT["house_number"]
    if typo_locality_spans(a):
        bound += max(WEIGHT["locality"], 0.0)
    places = vocab.data.places
    for _, prows in a.place_readings:
        if all(p in a.hashed_places for p in prows):
            # A street with any of these places' names is read: to the rest, a reading can
            # only be its country.
            if any(places[p].kind == "country" for p in prows):
                bound += max(WEIGHT["country"], 0.0)
        else:
            bound += max(BEST_PLACE_CONTEXT, 0.0)
    return bound


# Fewer streets than this are read whole: bounding them would cost more than it saves.
_PRUNE_MIN_ROWS = 3
# A street reading scoring this makes geocode() skip places and postcodes.
PLACE_SKIP = PLACE_SCORE_CEILING + AMBIGUOUS_SCORE_GAP


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
    if localities and typo_locality_spans(a):
        bound += WEIGHT["locality"]
    places = vocab.data.places
    country, has_admin1 = vocab.street_country(row)
    unknown_admin = not has_admin1
    for sp, prows in a.place_readings:
        best = 0.0
        for p in prows:
            outcome = place_context(
                places[p], sp, country, localities, admins, a, unknown_admin
            ).score
            if outcome > best:
                best = outcome
                if best >= BEST_PLACE_CONTEXT:
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
    score += postcode_evidence(a, ev, covered, postcodes, match_only=True)
    number = house_number(a, vocab, row, span, covered)
    score += postcode_evidence(a, ev, covered, postcodes, match_only=False)
    score += context_evidence(
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
    score += unexplained(a, ev, covered)
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


def _street_result(
    a: Analysis,
    vocab: Vocabulary,
    street: StreetRow,
    ev: Evidence,
    score: float,
    asked: int,
    covered: set[int],
    number: NumberMatch | None,
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
