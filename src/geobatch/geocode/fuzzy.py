"""Typo tolerance: names within one or two edits, found against the index's own vocabulary.

Nominatim has none; Addok corrects one edit. Here a name key is compared (optimal string
alignment distance: a swap of two letters is one edit) with the vocabulary's keys of about the
same length, bucketed by length so a look-up scans a few thousand keys in C (rapidfuzz), not all.
It only runs when exact look-up found nothing, so clean queries never pay for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA


def max_edits(key: str) -> int:
    """How many edits a key of this length may carry and still be recognised."""
    if len(key) < 5:
        return 0
    return 1 if len(key) < 9 else 2


class FuzzyKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        buckets: dict[int, set[str]] = defaultdict(set)
        for key in keys:
            if len(key) >= 5:
                buckets[len(key)].add(key)
        self._buckets = {n: sorted(keys) for n, keys in buckets.items()}

    def lookup(self, key: str, limit: int = 5) -> list[tuple[str, int]]:
        """Keys within :func:`max_edits` of ``key`` (never ``key`` itself), nearest first."""
        edits = max_edits(key)
        if edits == 0:
            return []
        found: list[tuple[str, int]] = []
        for n in range(len(key) - edits, len(key) + edits + 1):
            choices = self._buckets.get(n)
            if not choices:
                continue
            for match, distance, _ in process.extract(
                key, choices, scorer=OSA.distance, score_cutoff=edits, limit=limit
            ):
                if match != key:
                    found.append((match, int(distance)))
        found.sort(key=lambda m: m[1])
        return found[:limit]

    @staticmethod
    def distance(a: str, b: str) -> int:
        return int(OSA.distance(a, b))
