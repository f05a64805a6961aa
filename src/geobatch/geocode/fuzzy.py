"""Typo tolerance: names within one or two edits, found against the index's own vocabulary.

Nominatim has none; Addok corrects one edit. Here a name key is compared (optimal string
alignment distance: a swap of two letters is one edit) with the vocabulary's keys of about the
same length, bucketed by length so a look-up scans a few thousand keys in C (rapidfuzz), not all.
It only runs when exact look-up found nothing, so clean queries never pay for it.

Before that scan, a vectorised filter drops the keys that cannot be near: each edit adds or
removes at most one letter from the set of letters a key uses (a substitution does both, a swap
neither), so a key within ``d`` edits differs from the query in at most ``2 d`` letters of that
set. The filter keeps the survivors in their bucket order, and every key it drops would have
failed the scan's cutoff, so the scan returns exactly what it would over the whole bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA


def max_edits(key: str) -> int:
    """How many edits a key of this length may carry and still be recognised."""
    if len(key) < 5:
        return 0
    return 1 if len(key) < 9 else 2


def area_max_edits(key: str) -> int:
    """Edits a key may carry when it is compared with one town's or postcode's streets only.

    Against a whole country's vocabulary a short name with two typos is as near to other real
    names as to its own; among the few hundred streets of the town the query names it rarely
    is, so such a look-up allows one edit more than :func:`max_edits` (from four letters on,
    two at most): "Hrass, 311 Borgarnes" finds Hrísás there.
    """
    if len(key) < 4:
        return 0
    return min(2, max_edits(key) + 1)


def nearest_keys(key: str, choices: Sequence[str], edits: int) -> list[tuple[str, int]]:
    """The ``choices`` within ``edits`` of ``key`` (never ``key`` itself): a small set, scanned."""
    return [
        (match, int(distance))
        for match, distance, _ in process.extract(
            key, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
        )
        if match != key
    ]


def _letter_mask(key: str) -> int:
    """The set of characters of ``key`` as bits: a-z and 0-9 each their own, the rest one."""
    mask = 0
    for ch in key:
        o = ord(ch)
        if 97 <= o <= 122:
            mask |= 1 << (o - 97)
        elif 48 <= o <= 57:
            mask |= 1 << (o - 48 + 26)
        else:
            mask |= 1 << 62  # sound for any mapping: a shared bit only weakens the filter
    return mask


# Distinct words whose look-up is kept (a few megabytes at most).
_CACHE_SIZE = 20_000
# Buckets smaller than this are scanned whole: the filter would cost more than it saves.
_FILTER_MIN = 64


class FuzzyKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        buckets: dict[int, set[str]] = defaultdict(set)
        for key in keys:
            if len(key) >= 5:
                buckets[len(key)].add(key)
        self._buckets = {n: sorted(keys) for n, keys in buckets.items()}
        self._masks: dict[int, npt.NDArray[np.uint64]] = {
            n: np.array([_letter_mask(k) for k in choices], dtype=np.uint64)
            for n, choices in self._buckets.items()
            if len(choices) >= _FILTER_MIN
        }
        # The same keys as an array, so that the filter's survivors are picked in C.
        self._arrays: dict[int, npt.NDArray[np.object_]] = {
            n: np.array(self._buckets[n], dtype=object) for n in self._masks
        }
        self._found: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}

    def lookup(self, key: str, limit: int = 5) -> list[tuple[str, int]]:
        """Keys within :func:`max_edits` of ``key`` (never ``key`` itself), nearest first."""
        if max_edits(key) == 0:
            return []
        # A batch asks for the same unknown word (a town the index lacks, a common misspelling)
        # again and again; the answer depends on the word alone, so it is kept, up to a bound.
        found = self._found.get((key, limit))
        if found is None:
            if len(self._found) >= _CACHE_SIZE:
                self._found.clear()
            found = self._found[(key, limit)] = tuple(self._scan(key, limit))
        return list(found)

    def _scan(self, key: str, limit: int) -> list[tuple[str, int]]:
        edits = max_edits(key)
        found: list[tuple[str, int]] = []
        mask = np.uint64(_letter_mask(key))
        for n in range(len(key) - edits, len(key) + edits + 1):
            choices = self._buckets.get(n)
            if not choices:
                continue
            masks = self._masks.get(n)
            if masks is not None:
                near = np.flatnonzero(np.bitwise_count(masks ^ mask) <= 2 * edits)
                if not len(near):
                    continue
                choices = self._arrays[n][near].tolist()
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
