"""Typo tolerance: names within one or two edits, found against the index's own vocabulary.

Nominatim has none; Addok corrects one edit. Here a name key is compared (optimal string
alignment distance: a swap of two letters is one edit) with the vocabulary's keys of about the
same length, ordered by length so a look-up scans one slice of keys in C (rapidfuzz), not all.
It only runs when exact look-up found nothing, so clean queries never pay for it.

Before that scan, a vectorised filter drops the keys that cannot be near: each edit adds or
removes at most one letter from the set of letters a key uses (a substitution does both, a swap
neither), so a key within ``d`` edits differs from the query in at most ``2 d`` letters of that
set. The filter keeps the survivors in their order, and every key it drops would have failed
the scan's cutoff, so the scan returns exactly what it would over the whole slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA

from geobatch.index.lexicon import FuzzyTable
from geobatch.text.letters import letter_mask


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


def letter_masks(keys: Sequence[str]) -> npt.NDArray[np.uint32]:
    """The letter set of each key (:func:`letter_mask`), for :func:`letters_near`."""
    return np.fromiter(map(letter_mask, keys), dtype=np.uint32, count=len(keys))


def letters_near(
    key: str, keys: npt.NDArray[np.object_], masks: npt.NDArray[np.uint32], edits: int
) -> list[str]:
    """The ``keys`` whose letter sets allow them to be within ``edits`` of ``key``, in order
    (the filter of the module's docstring: it drops only keys the scan would reject)."""
    if len(keys) < _FILTER_MIN:
        found: list[str] = keys.tolist()
        return found
    near = np.flatnonzero(np.bitwise_count(masks ^ np.uint32(letter_mask(key))) <= 2 * edits)
    found = keys[near].tolist()
    return found


# Distinct words whose look-up is kept (a few megabytes at most).
_CACHE_SIZE = 20_000
# Slices smaller than this are scanned whole: the filter would cost more than it saves.
_FILTER_MIN = 64


class FuzzyKeys:
    """Keys of five letters or more, ordered by length then key: the keys of the lengths a
    look-up may match form one slice, filtered and scanned in one go. Made from keys in memory
    or from a table of the index's lexicon (mapped; its keys decoded on first use)."""

    def __init__(self, keys: Iterable[str] = (), table: FuzzyTable | None = None) -> None:
        if table is None:
            table = _memory_table(keys)
        self._table = table
        self._masks = table.masks
        self._found: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}

    def warm(self) -> None:
        """Decode the keys now rather than at the first typo of a batch."""
        self._table.keys()

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
        lo, hi = self._table.span(len(key) - edits, len(key) + edits)
        if hi <= lo:
            return []
        choices = letters_near(key, self._table.keys()[lo:hi], self._masks[lo:hi], edits)
        if not choices:
            return []
        # Nearest first, ties in (length, key) order; one more than asked in case ``key``
        # itself is among them.
        found = [
            (match, int(distance))
            for match, distance, _ in process.extract(
                key, choices, scorer=OSA.distance, score_cutoff=edits, limit=limit + 1
            )
            if match != key
        ]
        return found[:limit]

    @staticmethod
    def distance(a: str, b: str) -> int:
        return int(OSA.distance(a, b))


def _memory_table(keys: Iterable[str]) -> FuzzyTable:
    ordered = sorted({k for k in keys if len(k) >= 5}, key=lambda k: (len(k), k))
    return FuzzyTable.of(ordered, letter_masks(ordered))
