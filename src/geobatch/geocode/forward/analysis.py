"""Query analysis: a request becomes tokens in groups, with every span looked up once.

The stages, in order: the request's fields cut into groups of tokens (units and junk out,
unspaced scripts segmented); the exact look-up of every span (:mod:`.lookup`); a street name of
many towns narrowed to the towns the query names; typo corrections (:mod:`.typos`); then the
per-query facts every candidate asks for.
"""

from __future__ import annotations

import re
import unicodedata

from geobatch.geocode.forward.lookup import StreetRun, expand_street_runs, lookup_group
from geobatch.geocode.forward.query import (
    POSTCODE_ROLES,
    STOPWORDS,
    STREET_ROLES,
    Analysis,
    Role,
    Span,
    request_fields,
)
from geobatch.geocode.forward.typos import correct_typos
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.model import GeocodeRequest
from geobatch.text.abbreviations import token_forms
from geobatch.text.normalize import fold, query_tokens
from geobatch.text.postcodes import strip_country_prefix
from geobatch.text.scripts import has_unspaced
from geobatch.text.units import clean_line


def analyse(request: GeocodeRequest, vocab: Vocabulary, narrow: bool = False) -> Analysis:
    """Read the request against the vocabulary. With ``narrow``, a street name of many towns
    is read only in the towns the query names (see :func:`.lookup.expand_street_runs`)."""
    tokens: list[str] = []
    roles: list[Role] = []
    groups: list[tuple[int, int]] = []
    unit: str | None = None
    for text, role in request_fields(request):
        if role in POSTCODE_ROLES:
            text = strip_country_prefix(text)
        if role in STREET_ROLES:
            text, found_unit = clean_line(text)
            unit = unit or found_unit
        parts = _GROUP_SEPARATORS.split(text) if role in STREET_ROLES else [text]
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
    runs: list[StreetRun] = []
    for start, end in groups:
        lookup_group(analysis, runs, vocab, start, end, forms, has_digit)
    expand_street_runs(analysis, runs, vocab, narrow)
    # A span is listed once per row it matches (a street name in many towns): take each once.
    found = {span for span, _ in runs}
    found.update(span for span, _ in analysis.place_spans)
    found.update(span for span, _ in analysis.postcode_spans)
    for span in found:
        analysis.explained.update(range(span.start, span.end))
    corrections = correct_typos(analysis, vocab)
    analysis.street_spans.extend(corrections.street_spans)
    analysis.street_edits.update(corrections.street_edits)
    analysis.place_spans.extend(corrections.place_spans)
    analysis.place_edits.update(corrections.place_edits)
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
    for text, _ in request_fields(request):
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
