"""The library's entry point: a geocoder over one loaded index, forward and reverse."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geobatch.geocode.forward import geocode as forward_geocode
from geobatch.geocode.reverse import ReverseEngine, validate_points
from geobatch.geocode.vocabulary import Vocabulary
from geobatch.index.read import IndexData, load_index
from geobatch.model import Answer, EntityType, GeocodeRequest, ResultStatus, ReverseRequest


class Geocoder:
    """Load once, then answer many requests. Thread-compatible for reading; not for writing."""

    def __init__(self, data: IndexData) -> None:
        self.vocab = Vocabulary.build(data)
        self._reverse: ReverseEngine | None = None
        # The index is hundreds of thousands of long-lived objects: move them out of the
        # collector's sight, or every full collection during a batch walks them all again.
        gc.collect()
        gc.freeze()

    @classmethod
    def open(cls, index_dir: Path) -> Geocoder:
        return cls(load_index(index_dir))

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
        lat = [_as_float(r.lat) for r in requests]
        lon = [_as_float(r.lon) for r in requests]
        reasons = validate_points(lat, lon)
        good = [i for i, reason in enumerate(reasons) if reason is None]
        answers: list[Answer | None] = [
            None if reason is None else Answer(ResultStatus.FAILED, reason=reason)
            for reason in reasons
        ]
        # Points asking for the same entity types and result count go through together.
        groups: dict[tuple[frozenset[EntityType], int], list[int]] = {}
        for i in good:
            r = requests[i]
            groups.setdefault((frozenset(r.include_entity_types), r.max_results), []).append(i)
        for (include, max_results), rows in groups.items():
            found = self._reverse_engine().reverse_many(
                np.array([lat[i] for i in rows], dtype=np.float64),
                np.array([lon[i] for i in rows], dtype=np.float64),
                include,
                max_results,
            )
            for i, answer in zip(rows, found, strict=True):
                answers[i] = answer
        return [a for a in answers if a is not None]

    def _reverse_engine(self) -> ReverseEngine:
        if self._reverse is None:
            self._reverse = ReverseEngine(self.vocab)
            gc.freeze()  # its trees and arrays live as long as the geocoder
        return self._reverse


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
