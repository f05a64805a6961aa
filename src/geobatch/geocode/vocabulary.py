"""The index's own vocabulary, as forward geocoding asks for it: name keys to rows.

A query is read against this vocabulary (as Nominatim and Addok do): every run of words is looked
up as a possible street, place or postcode, so no statistical parser is needed and it works in
any language the data has. The keys live in the index's lexicon (a trie and arrays mapped from
disk, :mod:`geobatch.index.lexicon`); what a batch asks for again and again — the entry of a
key, the facts of a street, the house numbers of a street — is kept here, bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from geobatch.geocode.fuzzy import FuzzyKeys, letter_masks, letters_near
from geobatch.index.dataset import DataSet
from geobatch.index.lexicon import CONTEXT, STREET_WORD, Lexicon
from geobatch.index.read import IndexData
from geobatch.index.strings import split_names
from geobatch.text.housenumbers import housenumber_int
from geobatch.text.localities import locality_keys

__all__ = ["SETTLEMENT_KINDS", "Area", "StreetNumbers", "Vocabulary", "locality_keys"]

SETTLEMENT_KINDS = frozenset({"city", "town", "village", "hamlet", "suburb", "neighbourhood"})

# (street rows, place rows, postcode rows, flags) of one key.
Entry = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int]
_NO_ENTRY: Entry = ((), (), (), 0)

# Bounds of what is kept: keys looked up, streets whose facts and numbers were asked for.
ENTRY_CACHE = 200_000
STREET_CACHE = 50_000


class StreetNumbers:
    """The house numbers of one street: key → the street's address rows with it (global)."""

    __slots__ = ("_ds", "_end", "_offset", "_start", "_street")

    def __init__(self, ds: DataSet | None, street: int, offset: int) -> None:
        self._ds = ds
        self._street = street
        self._offset = offset
        if ds is None:
            self._start = self._end = 0
        else:
            self._start, self._end = ds.address_range(street)

    def __bool__(self) -> bool:
        return self._end > self._start

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._rows(key))

    def get(self, key: str) -> list[int] | None:
        found = self._rows(key)
        if not found:
            return None
        offset = self._offset
        return [offset + r for r in found]

    def _rows(self, key: str) -> range:
        ds = self._ds
        if ds is None or self._end == self._start:
            return range(0)
        code = ds.hn_code(key)
        if code < 0:
            return range(0)
        return ds.number_rows(self._street, code)

    def items(self) -> list[tuple[str, list[int]]]:
        """Every key with its rows, in key order."""
        if self._ds is None:
            return []
        offset = self._offset
        return [
            (key, [offset + r for r in rows]) for key, rows in self._ds.numbers_on(self._street)
        ]


_NO_NUMBERS = StreetNumbers(None, 0, 0)


@dataclass(frozen=True, slots=True)
class _StreetFacts:
    """What candidates test a street against, read once per street: its postcode keys, the
    keys of its localities (town, others, neighbourhood, county) and of its admin area."""

    key: str
    postcodes: frozenset[str]
    localities: frozenset[str]
    admin: frozenset[str]
    country: str | None
    has_admin1: bool


@dataclass(slots=True)
class Vocabulary:
    data: IndexData
    lexicon: Lexicon
    country_names: dict[str, str]
    _entries: dict[str, Entry] = field(default_factory=dict)
    _segments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _facts: dict[int, _StreetFacts] = field(default_factory=dict)
    _numbers: dict[int, StreetNumbers] = field(default_factory=dict)
    _number_values: dict[int, dict[int, int]] = field(default_factory=dict)
    _number_orders: dict[int, tuple[list[int], list[int], list[int]]] = field(default_factory=dict)
    # What query analysis found in a group of words, by (role, position, words): see
    # forward.lookup.lookup_group. Bounded; holds plain values only.
    group_hits: dict[tuple[object, ...], object] = field(default_factory=dict)
    # The point chosen among one address's scattered points, by their rows: see
    # forward.numbers.central_row. Bounded.
    central_rows: dict[tuple[int, ...], int] = field(default_factory=dict)
    # What a word found among the streets of given areas: see forward.typos.area_corrections.
    # Bounded.
    area_hits: dict[tuple[object, ...], tuple[tuple[int, int], ...]] = field(default_factory=dict)
    _areas: dict[tuple[str, str], Area | None] = field(default_factory=dict)
    _street_fuzzy: FuzzyKeys | None = None
    _place_fuzzy: FuzzyKeys | None = None
    _street_word_fuzzy: FuzzyKeys | None = None

    @classmethod
    def build(cls, data: IndexData, lexicon: Lexicon) -> Vocabulary:
        return cls(data=data, lexicon=lexicon, country_names=dict(lexicon.countries))

    # --- keys ------------------------------------------------------------------------------------

    def entry(self, key: str) -> Entry:
        """(street rows, place rows, postcode rows, flags) of a key; empty for an unknown one."""
        found = self._entries.get(key)
        if found is None:
            kid = self.lexicon.key_id(key)
            found = _NO_ENTRY if kid < 0 else self.lexicon.entry(kid)
            if len(self._entries) >= ENTRY_CACHE:
                self._entries.clear()
            self._entries[key] = found
        return found

    def segment(self, word: str) -> list[str]:
        """A word of a script written without spaces ("千代田区外堀通り") cut into the index's
        own words by longest match from the left; letters no key begins with stay together
        as one word (an unknown name is one word, not one per letter)."""
        found = self._segments.get(word)
        if found is not None:
            return list(found)
        out: list[str] = []
        unknown = 0  # start of the run of letters no key begins with, while i > unknown
        i = 0
        while i < len(word):
            n = self.lexicon.longest_prefix(word[i:])
            if n == 0:
                i += 1
                continue
            if unknown < i:
                out.append(word[unknown:i])
            out.append(word[i : i + n])
            i += n
            unknown = i
        if unknown < len(word):
            out.append(word[unknown:])
        if len(self._segments) >= ENTRY_CACHE:
            self._segments.clear()
        self._segments[word] = tuple(out)
        return out

    def street_rows(self, key: str) -> tuple[int, ...]:
        return self.entry(key)[0]

    def place_rows(self, key: str) -> tuple[int, ...]:
        return self.entry(key)[1]

    def postcode_rows(self, key: str) -> tuple[int, ...]:
        return self.entry(key)[2]

    def is_context(self, key: str) -> bool:
        """Whether some street, place or postcode has this key as a locality or admin area."""
        return bool(self.entry(key)[3] & CONTEXT)

    def is_street_word(self, key: str) -> bool:
        return bool(self.entry(key)[3] & STREET_WORD)

    def context_rows(self, key: str, hashes: list[int]) -> tuple[int, ...]:
        """The streets of ``key`` that have a locality, admin area or postcode of these hashes
        (ascending, each once): see :meth:`Lexicon.context_rows`."""
        kid = self.lexicon.key_id(key)
        if kid < 0:
            return ()
        found: set[int] = set()
        for h in hashes:
            found.update(self.lexicon.context_rows(kid, h))
        return tuple(sorted(found))

    def street_key_count(self, key: str) -> int:
        """How many streets answer to the key (1 for an unknown key)."""
        return len(self.entry(key)[0]) or 1

    # --- streets ---------------------------------------------------------------------------------

    def _street_facts(self, row: int) -> _StreetFacts:
        found = self._facts.get(row)
        if found is None:
            ds, local, _ = self.data.street_at(row)
            found = _StreetFacts(
                key=ds.street_keys(local)[0],
                postcodes=frozenset(split_names(ds.street_pc_keys.get(local))),
                localities=frozenset(split_names(ds.street_loc_keys.get(local))),
                admin=frozenset(split_names(ds.street_admin_keys.get(local))),
                country=ds.street_country(local),
                has_admin1=ds.street_has_admin1(local),
            )
            if len(self._facts) >= STREET_CACHE:
                self._facts.clear()
            self._facts[row] = found
        return found

    def street_key(self, row: int) -> str:
        return self._street_facts(row).key

    def street_country(self, row: int) -> tuple[str | None, bool]:
        """The street's country code, and whether it knows its first-level admin area."""
        facts = self._street_facts(row)
        return facts.country, facts.has_admin1

    def street_postcodes(self, row: int) -> frozenset[str]:
        return self._street_facts(row).postcodes

    def street_localities(self, row: int) -> frozenset[str]:
        return self._street_facts(row).localities

    def street_admin(self, row: int) -> frozenset[str]:
        return self._street_facts(row).admin

    def numbers(self, row: int) -> StreetNumbers:
        """The house numbers of street ``row`` (an empty one for a street without addresses)."""
        found = self._numbers.get(row)
        if found is None:
            ds, local, offset = self.data.street_at(row)
            found = StreetNumbers(ds, local, offset)
            if not found:
                found = _NO_NUMBERS
            if len(self._numbers) >= STREET_CACHE:
                self._numbers.clear()
            self._numbers[row] = found
        return found

    def number_values(self, street: int) -> dict[int, int]:
        """Integer house numbers on a street → one address row each (cached per street)."""
        known = self._number_values.get(street)
        if known is None:
            known = {}
            for text, rows in self.numbers(street).items():
                value = housenumber_int(text)
                if value is not None and value not in known:
                    known[value] = rows[0]
            if len(self._number_values) >= STREET_CACHE:
                self._number_values.clear()
                self._number_orders.clear()
            self._number_values[street] = known
        return known

    def number_orders(self, street: int) -> tuple[list[int], list[int], list[int]]:
        """The street's integer house numbers sorted: even ones, odd ones, all (cached)."""
        orders = self._number_orders.get(street)
        if orders is None:
            values = sorted(self.number_values(street))
            orders = self._number_orders[street] = (
                [v for v in values if v % 2 == 0],
                [v for v in values if v % 2 == 1],
                values,
            )
        return orders

    def interpolations_of(self, street: int) -> list[int]:
        """Global rows of the street's interpolation lines."""
        d, local = self.data.street_index(street)
        offset = self.data.interp_offsets[d]
        return [offset + i for i in self.data.datasets[d].interpolations_of(local)]

    # --- areas and typo tables -------------------------------------------------------------------

    def prepare(self) -> None:
        """Build now what forward geocoding otherwise builds on first need (the typo tables'
        keys): a batch then pays for them at load, not in the middle of its first rows."""
        _ = (self.street_fuzzy, self.place_fuzzy, self.street_word_fuzzy)
        for fuzzy in (self.street_fuzzy, self.place_fuzzy, self.street_word_fuzzy):
            fuzzy.warm()

    def postcode_area(self, key: str) -> Area | None:
        """The streets of the postcode with this key, unless it has too many to narrow a search."""
        return self._area("pc_area", key)

    def locality_area(self, key: str) -> Area | None:
        """The streets of the locality (town, neighbourhood) answering to this key, likewise."""
        return self._area("loc_area", key)

    def _area(self, kind: str, key: str) -> Area | None:
        if (kind, key) in self._areas:
            return self._areas[(kind, key)]
        kid = self.lexicon.key_id(key)
        members = self.lexicon.rows(kind, kid) if kid >= 0 else ()
        area: Area | None = None
        if members:
            by_key: dict[str, list[int]] = {}
            for row in members:
                ds, local, _ = self.data.street_at(row)
                name, alts = ds.street_keys(local)
                for k in (name, *alts):
                    by_key.setdefault(k, []).append(row)
            area = Area.of(by_key)
        if len(self._areas) >= AREA_CACHE:
            self._areas.clear()
        self._areas[(kind, key)] = area
        return area

    @property
    def street_fuzzy(self) -> FuzzyKeys:
        if self._street_fuzzy is None:
            self._street_fuzzy = FuzzyKeys(table=self.lexicon.fuzzy["street"])
        return self._street_fuzzy

    @property
    def place_fuzzy(self) -> FuzzyKeys:
        if self._place_fuzzy is None:
            self._place_fuzzy = FuzzyKeys(table=self.lexicon.fuzzy["place"])
        return self._place_fuzzy

    @property
    def street_word_fuzzy(self) -> FuzzyKeys:
        if self._street_word_fuzzy is None:
            self._street_word_fuzzy = FuzzyKeys(table=self.lexicon.fuzzy["word"])
        return self._street_word_fuzzy

    def country_name(self, code: str | None) -> str | None:
        if not code:
            return None
        return self.country_names.get(code, code)


# Areas (postcodes and towns) whose streets are kept as typo tables, before starting again.
AREA_CACHE = 5_000


@dataclass(frozen=True, slots=True)
class Area:
    """The streets of one postcode or locality: their name keys, and the rows of each key."""

    keys: tuple[str, ...]
    rows: dict[str, list[int]]
    lengths: npt.NDArray[np.int64]  # of each key, for keys_near
    array: npt.NDArray[np.object_]  # the keys again, to pick in C
    masks: npt.NDArray[np.uint32]  # the letter set of each key (fuzzy.letters_near)
    # The keys of about one length, with their letter sets, by (length, edits): a batch asks
    # for the same few.
    near: dict[tuple[int, int], tuple[npt.NDArray[np.object_], npt.NDArray[np.uint32]]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, rows: dict[str, list[int]]) -> Area:
        keys = tuple(rows)
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        return cls(keys, rows, lengths, np.array(keys, dtype=object), letter_masks(keys))

    def keys_near(self, key: str, edits: int) -> list[str]:
        """The keys that may be within ``edits`` of ``key``, in ``keys`` order: those no more
        than ``edits`` letters longer or shorter, and of a near letter set (no other key can
        be)."""
        if len(self.keys) < _AREA_FILTER_MIN:
            return list(self.keys)
        length = len(key)
        picked = self.near.get((length, edits))
        if picked is None:
            near = np.abs(self.lengths - length) <= edits
            picked = self.near[(length, edits)] = (self.array[near], self.masks[near])
        return letters_near(key, picked[0], picked[1], edits)


# Areas of fewer keys are scanned whole: the length filter would cost more than it saves.
_AREA_FILTER_MIN = 64
