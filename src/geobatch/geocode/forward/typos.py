"""Typo correction: words that nothing matched, looked up again allowing one or two edits.

Its output is a value, :class:`Corrections`, that :func:`.analysis.analyse` adds to the
analysis: the misspelt readings found and the edits each needed.
"""

from __future__ import annotations

from typing import NamedTuple

from geobatch.geocode.forward.query import (
    PLACE_ROLES,
    STOPWORDS,
    STREET_ROLES,
    Analysis,
    NeedFullRead,
    Role,
    Span,
)
from geobatch.geocode.fuzzy import area_max_edits, max_edits, nearest_keys
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.text.abbreviations import key_of_tokens, token_forms
from geobatch.text.housenumbers import is_housenumber


class Corrections(NamedTuple):
    """Misspelt readings: (span, row) pairs in the order found, and the edits of each (for a
    place, with the key it matched)."""

    street_spans: list[tuple[Span, int]]
    street_edits: dict[tuple[Span, int], int]
    place_spans: list[tuple[Span, int]]
    place_edits: dict[tuple[Span, int], tuple[int, str]]


def correct_typos(a: Analysis, vocab: Vocabulary) -> Corrections:
    """Look words that nothing matched up again, allowing one or two edits.

    Streets are tried where no exact street or postcode reading explains the words, places
    where no exact reading at all does, so a clean query never pays for the fuzzy look-up.
    Each run of words is corrected whole ("hilsideavenue" → "hillsideavenue") and word by word
    against the words of street names ("205th sureet" → "205th street").
    """
    found_now = Corrections([], {}, [], {})
    # A street already found as written, holding the query's house number, is the street:
    # nothing to correct (and the fuzzy look-up would cost more than the rest of the query).
    streets_found = _has_exact_street(a, vocab)
    if not streets_found and a.dropped:
        raise NeedFullRead  # a street left unread might have held the number
    street_explained: set[int] = set()
    if not streets_found:
        for span in {span for span, _ in (*a.street_spans, *a.postcode_spans)}:
            street_explained.update(range(span.start, span.end))
    wanted = {key for _, _, key in a.numbers}
    for start, end in a.groups:
        role = a.roles[start]
        settled: set[int] = set()
        if role in STREET_ROLES and not streets_found:
            spans = [
                Span(i, j, key_of_tokens(a.tokens[i:j]))
                for i, j in _word_runs(a, start, end, street_explained)
            ]
            # The streets of the postcode or town the query names come first: one of them
            # that holds the query's house number, within the edits allowed anywhere, is the
            # street meant, and its words need not be looked up in the whole index, as a
            # street or as a place (one elsewhere would lack the town and could not compete).
            for span in spans:
                for row, edits in area_corrections(a, vocab, span):
                    if _add_correction(found_now, vocab, span, row, edits, wanted):
                        settled.update(span.tokens)
            # Then the whole index; a street found there holding the number settles its words
            # for the place look-up below likewise (a misspelt town would not hold it).
            in_area = set(settled)
            for span in spans:
                if not in_area or in_area.isdisjoint(span.tokens):
                    found = vocab.street_fuzzy.lookup(span.key)
                    found += _word_corrections(a, vocab, span.start, span.end)
                    for match, edits in found:
                        for row in vocab.street_rows(match):
                            if _add_correction(found_now, vocab, span, row, edits, wanted):
                                settled.update(span.tokens)
        if role in PLACE_ROLES:
            explained = a.explained | settled if settled else a.explained
            for i, j in _word_runs(a, start, end, explained):
                span = Span(i, j, key_of_tokens(a.tokens[i:j]))
                for match, edits in vocab.place_fuzzy.lookup(span.key):
                    for row in vocab.place_rows(match):
                        found_now.place_spans.append((span, row))
                        found_now.place_edits[(span, row)] = (edits, match)
    return found_now


def _add_correction(
    c: Corrections, vocab: Vocabulary, span: Span, row: int, edits: int, wanted: set[str]
) -> bool:
    """Add a misspelt reading of ``span`` as street ``row`` (the first one found for the pair
    stays); whether the street holds a house number the query asks for, within the edits
    allowed anywhere: then it settles the span's words."""
    if (span, row) not in c.street_edits:
        c.street_spans.append((span, row))
        c.street_edits[(span, row)] = edits
    return (
        bool(wanted)
        and edits <= max_edits(span.key)
        and any(key in numbers for key in wanted if (numbers := vocab.numbers(row)))
    )


def area_corrections(a: Analysis, vocab: Vocabulary, span: Span) -> tuple[tuple[int, int], ...]:
    """Streets of the postcode or town the query names within the larger edit budget that
    narrowing the search to them allows (``area_max_edits``): (street row, edits).

    A name that begins with a digit gets no more than anywhere (``max_edits``): one edit
    more would turn "205th Street" into 200th and 207th, which are as real."""
    edits = max_edits(span.key) if span.key[0].isdigit() else area_max_edits(span.key)
    if edits == 0:
        return ()
    areas = [vocab.postcode_area(key) for sp, key in a.postcode_spans if sp.start >= span.end]
    areas += [
        vocab.locality_area(sp.key)
        for sp in a.spans
        if (sp.start >= span.end or sp.end <= span.start)
        and a.roles[sp.start] in (Role.ANY, Role.LOCALITY)
        and not sp.key[0].isdigit()
    ]
    unique = {id(area): area for area in areas if area is not None}
    if not unique:
        return ()
    # A batch names the same few towns again and again, and their words are searched here
    # too ("København SV" is no street): what a word finds in given areas is kept, bounded.
    key = (span.key, edits, *unique)
    known = vocab.area_hits.get(key)
    if known is not None:
        return known
    found: list[tuple[int, int]] = []
    for area in unique.values():
        choices = area.keys_near(span.key, edits)
        for match, distance in nearest_keys(span.key, choices, edits):
            found.extend((row, distance) for row in area.rows[match])
    if len(vocab.area_hits) >= AREA_CACHE_SIZE:
        vocab.area_hits.clear()
    hits = vocab.area_hits[key] = tuple(found)
    return hits


# Look-ups kept in Vocabulary.area_hits before it starts again.
AREA_CACHE_SIZE = 20_000


def _has_exact_street(a: Analysis, vocab: Vocabulary) -> bool:
    # A street that is also a place's name ("Selfoss 1" is a farm in Selfoss's countryside)
    # may be the query's town, not its street: it does not stop the search for a misspelt one
    # ("Tröllahraan 4, 801 Selfoss"). Both readings are then ranked as usual.
    place_spans = {span for span, _ in a.place_spans}
    street_spans = [(span, row) for span, row in a.street_spans if span not in place_spans]
    if not street_spans:
        return False
    if not a.numbers:
        return True
    wanted = {key for _, _, key in a.numbers}
    # Ask the street for each wanted number, not the reverse: a street may have hundreds.
    return any(
        any(key in found for key in wanted)
        for _, row in street_spans
        if (found := vocab.numbers(row))
    )


def _word_corrections(a: Analysis, vocab: Vocabulary, i: int, j: int) -> list[tuple[str, int]]:
    """The street key the run would have with each unknown word replaced by its nearest
    street-name word, and the edits that took; nothing when every word is known."""
    words: list[str] = []
    edits = 0
    for tok in a.tokens[i:j]:
        if vocab.is_street_word(tok) or vocab.is_street_word(token_forms(tok)[2]):
            words.append(tok)
            continue
        best = vocab.street_word_fuzzy.lookup(tok, limit=1)
        if not best:
            return []
        words.append(best[0][0])
        edits += best[0][1]
    if edits == 0:
        return []
    return [(key_of_tokens(words), edits)]


def _word_runs(a: Analysis, start: int, end: int, explained: set[int]) -> list[tuple[int, int]]:
    """Unexplained spans of up to four words with no number: where a misspelt name can be.

    A run may begin with stopwords, which many names do ("Im Bech" for Im Besch, "In der
    Spceki"), but never holds one after its first other word, nor consists of them alone."""
    runs = []
    for i in range(start, end):
        leading = True  # tokens i .. j-1 are stopwords so far
        for j in range(i + 1, min(end, i + 4) + 1):
            t = a.tokens[j - 1]
            # "205th" belongs to a name; "12a" and "114-11" are house numbers.
            if is_housenumber(t) or j - 1 in explained or (t in STOPWORDS and not leading):
                break
            leading = leading and t in STOPWORDS
            if not leading:
                runs.append((i, j))
    return runs
