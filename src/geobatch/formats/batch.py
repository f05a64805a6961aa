"""The contract between batch file codecs (Bing Dataflow, Geocode.Farm, plain CSV) and the job
service: a decoded input is a header plus rows; an encoder writes rows with their answers back.

The job service stores rows and answers between the two (see :mod:`geobatch.formats.serialize`),
so everything here is plain data that survives a JSON round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Literal, Protocol

from geobatch.model import Answer, Confidence, EntityType, GeocodeRequest, ReverseRequest

Outcome = Literal["succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class EntityOptions:
    """Per-entity options of the Bing schema; defaults are what a plain request gets."""

    max_results: int = 1
    minimum_confidence: Confidence | None = None
    include_neighborhood: bool = False
    include_query_parse: bool = False
    include_entity_types: tuple[EntityType, ...] = ()  # reverse only; empty means all
    culture: str | None = None


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One entity of a batch, in input order."""

    seq: int  # 0-based position in the input file: the job's unit of progress
    id: str  # the entity's own Id as given ("" when the format has none)
    request: GeocodeRequest | ReverseRequest | None  # None when ``fault`` says why not
    options: EntityOptions = field(default_factory=EntityOptions)
    fault: str | None = None  # a person-readable reason this entity cannot be geocoded
    echo: Mapping[str, str] = field(default_factory=dict)  # input fields to echo, codec's keys


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """What an encoder needs to know about the input: format, schema version, codec details."""

    format: str  # "xml" | "csv" | "tab" | "pipe" | "json"
    version: str  # "1.0" | "2.0" (Bing); codec-defined elsewhere
    details: Mapping[str, str] = field(default_factory=dict)  # e.g. the v2 header line, verbatim


class DecodedBatch(Protocol):
    @property
    def header(self) -> BatchHeader: ...

    def rows(self) -> Iterator[BatchRow]:
        """Stream the rows. Raises :class:`geobatch.errors.InputError` when the file cannot be
        read at all (the job is then aborted); a single bad entity is a row with ``fault``."""
        ...


class BatchCodec(Protocol):
    """A wire format for whole batch files."""

    def decode(self, stream: BinaryIO, fmt: str) -> DecodedBatch: ...

    def entity_bound(self, stream: BinaryIO, fmt: str) -> int:
        """At most how many rows :meth:`decode` yields from the same bytes: a quick scan that
        parses nothing (:mod:`geobatch.formats.counting`), made when the upload arrives."""
        ...

    def outcome(self, row: BatchRow, answer: Answer) -> Outcome:
        """Which download a row belongs in (the format's own rule for no-result rows)."""
        ...

    def encode(
        self,
        out: BinaryIO,
        header: BatchHeader,
        rows: Iterable[tuple[BatchRow, Answer]],
        outcome: Outcome,
    ) -> int:
        """Write the ``outcome`` file (only its rows are given) and return how many were written."""
        ...
