"""The library's entry point: a geocoder over one loaded index, forward and reverse."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path

import numpy as np

from geobatch.geocode.forward import geocode as forward_geocode
from geobatch.geocode.reverse import ReverseEngine, invalid_points
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.lexicon import Lexicon
from geobatch.index.read import IndexData, load_index
from geobatch.index.spatial import FloatArray
from geobatch.model import Answer, EntityType, GeocodeRequest, ResultStatus, ReverseRequest

_log = logging.getLogger("geobatch.index")


class Geocoder:
    """Load once, then answer many requests. Thread-compatible for reading; not for writing."""

    def __init__(self, data: IndexData, lexicon: Lexicon) -> None:
        self.vocab = Vocabulary.build(data, lexicon)
        self._reverse: ReverseEngine | None = None
        _freeze_long_lived()

    @classmethod
    def open(cls, index_dir: Path) -> Geocoder:
        data = load_index(index_dir)
        for problem in data.problems:
            _log.warning("%s", problem)
        return cls(data, Lexicon.open(index_dir, data.datasets))

    def prepare(self, forward: bool = True, reverse: bool = True) -> Geocoder:
        """Build the structures made on first need (typo indexes, areas, reverse trees) now,
        so that batch timings and the first rows do not include them. Returns self."""
        if forward:
            self.vocab.prepare()
        if reverse and self._reverse is None:
            self._reverse_engine()  # freezes what was built so far as well
        elif forward:
            _freeze_long_lived()
        return self

    @property
    def sources(self) -> list[str]:
        return list(self.vocab.data.sources)

    def geocode(self, query: str | GeocodeRequest, max_results: int = 1) -> Answer:
        """Forward-geocode free text or a structured request."""
        request = (
            GeocodeRequest(query=query, max_results=max_results)
            if isinstance(query, str)
            else query
        )
        try:
            return forward_geocode(request, self.vocab)
        except Exception as exc:  # one bad row must never end a batch
            return Answer(ResultStatus.FAILED, reason=f"internal error on this row: {exc!r}")

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]:
        """Forward-geocode many requests; repeated requests in the batch are answered once."""
        cache: dict[GeocodeRequest, Answer] = {}
        out = []
        with collector_paused():
            for request in requests:
                answer = cache.get(request)
                if answer is None:
                    answer = cache[request] = self.geocode(request)
                out.append(answer)
        return out

    def reverse(
        self,
        lat: float,
        lon: float,
        max_results: int = 1,
        include_entity_types: Sequence[EntityType] = (),
    ) -> Answer:
        request = ReverseRequest(lat, lon, max_results, tuple(include_entity_types))
        return self.reverse_batch([request])[0]

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        """Reverse-geocode many points at once (vectorised); bad coordinates fail alone."""
        with collector_paused():
            return self._reverse_batch(requests)

    def _reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        lat = _floats(list(map(_LAT, requests)))
        lon = _floats(list(map(_LON, requests)))
        bad = invalid_points(lat, lon)
        asked = list(map(_ASKED, requests))
        if requests and not bad and asked.count(asked[0]) == len(asked):
            # The usual batch: every point good and asking the same.
            wanted, count = asked[0]
            return self._reverse_engine().reverse_many(lat, lon, frozenset(wanted), count)
        answers: list[Answer | None] = [None] * len(requests)
        for i, reason in bad.items():
            answers[i] = Answer(ResultStatus.FAILED, reason=reason)
        # Points asking for the same entity types and result count go through together.
        kinds: dict[tuple[tuple[EntityType, ...], int], tuple[frozenset[EntityType], int]] = {}
        groups: dict[tuple[frozenset[EntityType], int], list[int]] = {}
        for i, ask in enumerate(asked):
            if i in bad:
                continue
            key = kinds.get(ask)
            if key is None:
                key = kinds[ask] = (frozenset(ask[0]), ask[1])
            groups.setdefault(key, []).append(i)
        for (include, max_results), rows in groups.items():
            engine = self._reverse_engine()  # built on the first good point, not before
            at = np.array(rows, dtype=np.int64)
            found = engine.reverse_many(lat[at], lon[at], include, max_results)
            for i, answer in zip(rows, found, strict=True):
                answers[i] = answer
        return [a for a in answers if a is not None]

    def _reverse_engine(self) -> ReverseEngine:
        if self._reverse is None:
            self._reverse = ReverseEngine(self.vocab)
            _freeze_long_lived()
        return self._reverse


_LAT = attrgetter("lat")
_LON = attrgetter("lon")
_ASKED: Callable[[ReverseRequest], tuple[tuple[EntityType, ...], int]] = attrgetter(
    "include_entity_types", "max_results"
)


def _floats(values: list[object]) -> FloatArray:
    """The values as floats, NaN for those that are no number (they fail validation)."""
    try:
        return np.fromiter(map(float, values), dtype=np.float64, count=len(values))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.array([_as_float(v) for v in values], dtype=np.float64)


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _freeze_long_lived() -> None:
    """Move what exists now (the index and the structures built over it, which live as long as
    the geocoder) out of the collector's sight, or every full collection during a batch walks
    hundreds of thousands of objects again. Collected first, so no garbage is kept with them."""
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch.

    A batch builds several objects per answer and keeps them all until it returns, so the
    collector, triggered by the count of live allocations, walks them again and again: about
    30 % of a reverse batch's time. Answers hold no reference cycles (reference counting frees
    them); anything cyclic made meanwhile is collected once the collector runs again. Whoever
    found it running turns it back on, so nested or concurrent batches leave it on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
