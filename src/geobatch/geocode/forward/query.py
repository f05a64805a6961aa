"""The values the analysis of a query produces: its words in groups with roles, and spans.

Free text is split at commas into groups; each structured field is a group of its own with a
role that limits what its words may be (a Locality field is never read as a street). A span never
crosses a group boundary. :mod:`.analysis` fills an :class:`Analysis` stage by stage (exact
look-up, narrowing, typo corrections); the candidate stages only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from geobatch.model import GeocodeRequest

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


STREET_ROLES = (Role.ANY, Role.ADDRESS)
PLACE_ROLES = (Role.ANY, Role.ADDRESS, Role.LOCALITY, Role.ADMIN, Role.COUNTRY)
POSTCODE_ROLES = (Role.ANY, Role.ADDRESS, Role.POSTCODE)


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
    # a locality, admin area or postcode none of them has (see lookup.expand_street_runs):
    # how many. A reading that cannot show they could not matter raises NeedFullRead.
    dropped: int = 0
    # Place readings whose every name was looked up in the context table when narrowing.
    hashed_places: set[int] = field(default_factory=set)

    def word_tokens(self) -> list[int]:
        return self.words


class NeedFullRead(Exception):
    """Raised when a narrowed reading of the query cannot prove that the streets it left
    unread would change nothing: the query is read again with every street."""


def request_fields(request: GeocodeRequest) -> list[tuple[str, Role]]:
    """The request's non-empty fields, in reading order, with the role of each."""
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
