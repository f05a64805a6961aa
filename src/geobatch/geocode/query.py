"""Query analysis: a request becomes tokens in groups, with every span looked up once.

Free text is split at commas into groups; each structured field is a group of its own with a
role that limits what its words may be (a Locality field is never read as a street). A span never
crosses a group boundary.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from geobatch.geocode.fuzzy import area_max_edits, max_edits, nearest_keys
from geobatch.geocode.vocabulary import SETTLEMENT_KINDS, Vocabulary
from geobatch.index.lexicon import BIG_KEY_ROWS, context_hash, postcode_hash
from geobatch.model import GeocodeRequest
from geobatch.text.abbreviations import key_of_tokens, token_forms
from geobatch.text.housenumbers import is_housenumber, normalize_housenumber
from geobatch.text.localities import locality_keys
from geobatch.text.normalize import fold, query_tokens
from geobatch.text.postcodes import postcode_key, strip_country_prefix
from geobatch.text.scripts import has_unspaced
from geobatch.text.units import clean_line

MAX_SPAN = 6

# Words that carry no location: never counted as unexplained.
STOPWORDS = frozenset({"in", "at", "the", "of", "near", "and", "bei", "im", "am", "de", "la"})


class Role(StrEnum):
    ANY = "any"  # free text
    ADDRESS = "address"  # AddressLine: street, number, unit (or a place when there is no street)
    LOCALITY = "locality"
    ADMIN = "admin"
    POSTCODE = "postcode"
    COUNTRY = "country"


class Span(NamedTuple):
    """A run of query words [start, end) and its name key (a tuple: made by the thousand)."""

    start: int
    end: int  # exclusive
    key: str

    @property
    def tokens(self) -> range:
        return range(self.start, self.end)


@dataclass(slots=True)
class Analysis:
    tokens: list[str]
    roles: list[Role]
    unit: str | None
    groups: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each group
    street_spans: list[tuple[Span, int]] = field(default_factory=list)  # (span, street row)
    place_spans: list[tuple[Span, int]] = field(default_factory=list)  # (span, place row)
    postcode_spans: list[tuple[Span, str]] = field(default_factory=list)  # (span, postcode key)
    numbers: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, hn key)
    spans: list[Span] = field(default_factory=list)  # every span, longest first
    # Edits a typo-corrected span needed, by (span, row); exact matches are not listed.
    street_edits: dict[tuple[Span, int], int] = field(default_factory=dict)
    place_edits: dict[tuple[Span, int], tuple[int, str]] = field(default_factory=dict)
    # Spans whose key some street names as its locality or admin area: the only ones worth
    # testing as context for a street candidate.
    context_spans: list[Span] = field(default_factory=list)
    # Tokens that an exact street, place or postcode reading explains.
    explained: set[int] = field(default_factory=set)
    # Per-query facts every candidate asks for, worked out once (see analyse).
    words: list[int] = field(default_factory=list)
    # Place readings grouped by span, longest span first: (span, place rows).
    place_readings: list[tuple[Span, list[int]]] = field(default_factory=list)
    # Spans that may be a misspelt locality and their edit limit: made when first asked for.
    typo_locality_spans: list[tuple[Span, int]] | None = None
    # The query's words written with diacritics, by their folded form ("stotz" → "stötz"):
    # a street spelt otherwise is a worse reading (empty for a query in plain ASCII).
    marked: dict[str, str] = field(default_factory=dict)
    # Streets of a name found in many towns that were left unread because the query names
    # a locality, admin area or postcode none of them has (see _narrowed): how many. A
    # reading that cannot show they could not matter raises NeedFullRead.
    dropped: int = 0
    # Place readings whose every name was looked up in the context table when narrowing.
    hashed_places: set[int] = field(default_factory=set)

    def word_tokens(self) -> list[int]:
        return self.words


class NeedFullRead(Exception):
    """Raised when a narrowed reading of the query cannot prove that the streets it left
    unread would change nothing: the query is read again with every street."""


def analyse(request: GeocodeRequest, vocab: Vocabulary, narrow: bool = False) -> Analysis:
    """Read the request against the vocabulary. With ``narrow``, a street name of many towns
    is read only in the towns the query names (see :func:`_narrowed`)."""
    tokens: list[str] = []
    roles: list[Role] = []
    groups: list[tuple[int, int]] = []
    unit: str | None = None
    for text, role in _fields(request):
        if role in _POSTCODE_ROLES:
            text = strip_country_prefix(text)
        if role in _STREET_ROLES:
            text, found_unit = clean_line(text)
            unit = unit or found_unit
        parts = _GROUP_SEPARATORS.split(text) if role in _STREET_ROLES else [text]
        for part in parts:
            words = query_tokens(part)
            if not part.isascii() and any(map(has_unspaced, words)):
                # Chinese, Japanese, Thai: words are not spaced, they are found in the index's
                # own vocabulary (longest match), as Nominatim's ICU tokenizer does.
                words = [w for word in words for w in _segmented(word, vocab)]
            if words:
                groups.append((len(tokens), len(tokens) + len(words)))
                tokens.extend(words)
                roles.extend([role] * len(words))
    analysis = Analysis(tokens, roles, unit, groups)
    analysis.marked = _marked_words(request)
    forms = [token_forms(t) for t in tokens]
    has_digit = [not t.isalpha() and any(ch.isdigit() for ch in t) for t in tokens]
    runs: list[tuple[Span, tuple[int, ...]]] = []
    for start, end in groups:
        _lookup_group(analysis, runs, vocab, start, end, forms, has_digit)
    _expand_street_runs(analysis, runs, vocab, narrow)
    # A span is listed once per row it matches (a street name in many towns): take each once.
    found = {span for span, _ in runs}
    found.update(span for span, _ in analysis.place_spans)
    found.update(span for span, _ in analysis.postcode_spans)
    for span in found:
        analysis.explained.update(range(span.start, span.end))
    _correct_typos(analysis, vocab)
    analysis.spans.sort(key=lambda sp: sp.start - sp.end)
    analysis.context_spans = [sp for sp in analysis.spans if vocab.is_context(sp.key)]
    # A stopword that is a whole group is no stopword: "Marion, IN" names Indiana, "…, LA"
    # Louisiana, "…, DE" Delaware.
    alone = {s for s, e in groups if e - s == 1}
    analysis.words = [i for i, t in enumerate(tokens) if t not in STOPWORDS or i in alone]
    readings: dict[Span, list[int]] = {}
    for span, prow in analysis.place_spans:
        readings.setdefault(span, []).append(prow)
    analysis.place_readings = sorted(readings.items(), key=lambda item: item[0].start - item[0].end)
    return analysis


# Commas of every script separate the parts of an address (Arabic ، , Japanese 、, full-width ，).
_GROUP_SEPARATORS = re.compile("[,\u060c\u3001\uff0c]")


_LETTER_WORDS = re.compile(r"[^\W\d_]+")


def _marked_words(request: GeocodeRequest) -> dict[str, str]:
    """Words of the query that carry diacritics, by folded form (see Analysis.marked)."""
    out: dict[str, str] = {}
    for text, _ in _fields(request):
        if text.isascii():
            continue
        for word in _LETTER_WORDS.findall(unicodedata.normalize("NFC", text).casefold()):
            if not word.isascii():
                folded = fold(word)
                if folded.isascii() and folded != word:
                    out[folded] = word
    return out


def _segmented(word: str, vocab: Vocabulary) -> list[str]:
    return vocab.segment(word) if has_unspaced(word) else [word]


def _correct_typos(a: Analysis, vocab: Vocabulary) -> None:
    """Look words that nothing matched up again, allowing one or two edits.

    Streets are tried where no exact street or postcode reading explains the words, places
    where no exact reading at all does, so a clean query never pays for the fuzzy look-up.
    Each run of words is corrected whole ("hilsideavenue" → "hillsideavenue") and word by word
    against the words of street names ("205th sureet" → "205th street").
    """
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
        if role in _STREET_ROLES and not streets_found:
            spans = [
                Span(i, j, key_of_tokens(a.tokens[i:j]))
                for i, j in _word_runs(a, start, end, street_explained)
            ]
            # The streets of the postcode or town the query names come first: one of them
            # that holds the query's house number, within the edits allowed anywhere, is the
            # street meant, and its words need not be looked up in the whole index, as a
            # street or as a place (one elsewhere would lack the town and could not compete).
            for span in spans:
                for row, edits in _area_corrections(a, vocab, span):
                    if _add_correction(a, vocab, span, row, edits, wanted):
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
                            if _add_correction(a, vocab, span, row, edits, wanted):
                                settled.update(span.tokens)
        if role in _PLACE_ROLES:
            explained = a.explained | settled if settled else a.explained
            for i, j in _word_runs(a, start, end, explained):
                span = Span(i, j, key_of_tokens(a.tokens[i:j]))
                for match, edits in vocab.place_fuzzy.lookup(span.key):
                    for row in vocab.place_rows(match):
                        a.place_spans.append((span, row))
                        a.place_edits[(span, row)] = (edits, match)


def _add_correction(
    a: Analysis, vocab: Vocabulary, span: Span, row: int, edits: int, wanted: set[str]
) -> bool:
    """Add a misspelt reading of ``span`` as street ``row`` (the first one found for the pair
    stays); whether the street holds a house number the query asks for, within the edits
    allowed anywhere: then it settles the span's words."""
    if (span, row) not in a.street_edits:
        a.street_spans.append((span, row))
        a.street_edits[(span, row)] = edits
    return (
        bool(wanted)
        and edits <= max_edits(span.key)
        and any(key in numbers for key in wanted if (numbers := vocab.numbers(row)))
    )


def _area_corrections(a: Analysis, vocab: Vocabulary, span: Span) -> tuple[tuple[int, int], ...]:
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


def _fields(request: GeocodeRequest) -> list[tuple[str, Role]]:
    fields = [
        (request.query, Role.ANY),
        (request.address_line, Role.ADDRESS),
        (request.locality, Role.LOCALITY),
        (request.postal_town, Role.LOCALITY),
        (request.admin_district2, Role.ADMIN),
        (request.admin_district, Role.ADMIN),
        (request.postal_code, Role.POSTCODE),
        (request.country, Role.COUNTRY),
    ]
    return [(text, role) for text, role in fields if text and text.strip()]


_STREET_ROLES = (Role.ANY, Role.ADDRESS)
_PLACE_ROLES = (Role.ANY, Role.ADDRESS, Role.LOCALITY, Role.ADMIN, Role.COUNTRY)
_POSTCODE_ROLES = (Role.ANY, Role.ADDRESS, Role.POSTCODE)


class _GroupHits(NamedTuple):
    """Everything one group of words adds to an analysis (see :func:`_lookup_group`)."""

    spans: tuple[Span, ...]
    street_runs: tuple[tuple[Span, tuple[int, ...]], ...]  # (span, its street rows)
    place_spans: tuple[tuple[Span, int], ...]
    postcode_spans: tuple[tuple[Span, str], ...]
    numbers: tuple[tuple[int, int, str], ...]


# Groups kept in Vocabulary.group_hits before it starts again: a few MB.
GROUP_CACHE_SIZE = 20_000


def _lookup_group(
    a: Analysis,
    runs: list[tuple[Span, tuple[int, ...]]],
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
        hits = _group_hits(a.tokens, role, vocab, start, end, forms, has_digit)
        if len(vocab.group_hits) >= GROUP_CACHE_SIZE:
            vocab.group_hits.clear()
        vocab.group_hits[key] = hits
    assert isinstance(hits, _GroupHits)
    a.spans.extend(hits.spans)
    runs.extend(hits.street_runs)
    a.place_spans.extend(hits.place_spans)
    a.postcode_spans.extend(hits.postcode_spans)
    a.numbers.extend(hits.numbers)


def _group_hits(
    tokens: list[str],
    role: Role,
    vocab: Vocabulary,
    start: int,
    end: int,
    forms: list[tuple[str, str, str]],
    has_digit: list[bool],
) -> _GroupHits:
    # The role is the same for every span of the group: what it allows is decided once (this
    # loop runs for every span of every new group).
    streets = role in _STREET_ROLES
    places = role in _PLACE_ROLES
    postcodes = role in _POSTCODE_ROLES
    spans: list[Span] = []
    street_runs: list[tuple[Span, tuple[int, ...]]] = []
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
    numbers = _find_numbers(tokens, start, end) if role in _STREET_ROLES else ()
    return _GroupHits(
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


def _expand_street_runs(
    a: Analysis, runs: list[tuple[Span, tuple[int, ...]]], vocab: Vocabulary, narrow: bool
) -> None:
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


def _extend(a: Analysis, runs: list[tuple[Span, tuple[int, ...]]]) -> None:
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
