"""The index's own vocabulary, as dictionaries from name keys to rows.

A query is read against this vocabulary (as Nominatim and Addok do): every run of words is looked
up as a possible street, place or postcode, so no statistical parser is needed and it works in
any language the data has.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from geobatch.geocode.fuzzy import FuzzyKeys, letter_masks, letters_near
from geobatch.index.read import IndexData, StreetRow
from geobatch.index.schema import BUILTIN_NAME
from geobatch.text.abbreviations import name_key, name_keys, token_forms
from geobatch.text.housenumbers import housenumber_int, normalize_housenumber
from geobatch.text.normalize import tokenize
from geobatch.text.postcodes import postcode_key

# Words people add to locality names that the data often leaves out, and the reverse.
_LOCALITY_NOISE = ("county", "bezirk", "kreis", "district", "city", "stadt", "marktgemeinde")

SETTLEMENT_KINDS = frozenset({"city", "town", "village", "hamlet", "suburb", "neighbourhood"})


@lru_cache(maxsize=100_000)
def locality_keys(*names: str | None) -> frozenset[str]:
    """Keys a locality answers to: ``"Queens County"`` → {"queenscounty", "queens"}."""
    keys: set[str] = set()
    for name in names:
        if not name:
            continue
        keys.update(name_keys(name))
        words = [w for w in name.replace("(", " ").replace(")", " ").split()]
        trimmed = [w for w in words if w.lower() not in _LOCALITY_NOISE]
        if trimmed and len(trimmed) < len(words):
            keys.add(name_key(" ".join(trimmed)))
        # "Buchs (SG)" is written "Buchs".
        if "(" in name:
            keys.add(name_key(name.split("(")[0]))
    keys.discard("")
    return frozenset(keys)


# Places whose names are corrected for typos: every settlement of an imported data set, and the
# built-in gazetteer's towns of this size or more (a typo is likelier a miss than a village).
FUZZY_PLACE_POPULATION = 15_000


@dataclass(slots=True)
class Vocabulary:
    data: IndexData
    streets_by_key: dict[str, list[int]]
    places_by_key: dict[str, list[int]]
    postcodes_by_key: dict[str, list[int]]
    numbers_by_street: dict[int, dict[str, list[int]]]
    street_postcodes: list[frozenset[str]]
    street_localities: list[frozenset[str]]
    street_admin: list[frozenset[str]]
    country_names: dict[str, str]
    street_key_count: dict[str, int]
    interpolations_by_street: dict[int, list[int]]
    context_keys: frozenset[str]
    _street_fuzzy: FuzzyKeys | None = None
    _number_values: dict[int, dict[int, int]] = field(default_factory=dict)
    _number_orders: dict[int, tuple[list[int], list[int], list[int]]] = field(default_factory=dict)
    # What query analysis found in a group of words, by (role, position, words): see
    # query._lookup_group. Bounded; holds plain values only.
    group_hits: dict[tuple[object, ...], object] = field(default_factory=dict)
    # The point chosen among one address's scattered points, by their rows: see
    # forward._central_row. Bounded.
    central_rows: dict[tuple[int, ...], int] = field(default_factory=dict)
    # What a word found among the streets of given areas (query._area_corrections). Bounded.
    area_hits: dict[tuple[object, ...], tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def number_values(self, street: int) -> dict[int, int]:
        """Integer house numbers on a street → one address row each (cached per street)."""
        known = self._number_values.get(street)
        if known is None:
            known = {}
            for text, rows in self.numbers_by_street.get(street, {}).items():
                value = housenumber_int(text)
                if value is not None and value not in known:
                    known[value] = rows[0]
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

    _place_fuzzy: FuzzyKeys | None = None
    # Street rows by the name keys of the streets of one postcode / one locality (see areas()).
    _postcode_areas: dict[str, Area] | None = None
    _locality_areas: dict[str, Area] | None = None

    def prepare(self) -> None:
        """Build now what forward geocoding otherwise builds on first need (the typo indexes,
        the postcode and locality areas): a batch then pays for them at load, not in the
        middle of its first rows."""
        self.postcode_area("")
        self.locality_area("")
        _ = (self.street_fuzzy, self.place_fuzzy, self.street_word_fuzzy)  # built on access

    def postcode_area(self, key: str) -> Area | None:
        """The streets of the postcode with this key, unless it has too many to narrow a search."""
        if self._postcode_areas is None:
            self._postcode_areas = _areas(self.data.streets, self.street_postcodes)
        return self._postcode_areas.get(key)

    def locality_area(self, key: str) -> Area | None:
        """The streets of the locality (town, neighbourhood) answering to this key, likewise."""
        if self._locality_areas is None:
            self._locality_areas = _areas(self.data.streets, self.street_localities)
        return self._locality_areas.get(key)

    _street_words: frozenset[str] | None = None
    _street_word_fuzzy: FuzzyKeys | None = None

    @property
    def street_words(self) -> frozenset[str]:
        """Every word of every street name, as written and as abbreviations expand it."""
        if self._street_words is None:
            words: set[str] = set()
            for name in {s.name for s in self.data.streets}:
                for tok in tokenize(name):
                    words.add(tok)
                    words.update(token_forms(tok))
            self._street_words = frozenset(words)
        return self._street_words

    @property
    def street_word_fuzzy(self) -> FuzzyKeys:
        if self._street_word_fuzzy is None:
            self._street_word_fuzzy = FuzzyKeys(self.street_words)
        return self._street_word_fuzzy

    @property
    def street_fuzzy(self) -> FuzzyKeys:
        if self._street_fuzzy is None:
            self._street_fuzzy = FuzzyKeys(self.streets_by_key)
        return self._street_fuzzy

    @property
    def place_fuzzy(self) -> FuzzyKeys:
        if self._place_fuzzy is None:
            self._place_fuzzy = FuzzyKeys(
                k
                for p in self.data.places
                if p.source != BUILTIN_NAME or p.population >= FUZZY_PLACE_POPULATION
                for k in p.keys
            )
        return self._place_fuzzy

    @classmethod
    def build(cls, data: IndexData) -> Vocabulary:
        streets_by_key: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(data.streets):
            streets_by_key[s.key].append(i)
            for k in s.alt_keys:
                streets_by_key[k].append(i)
        places_by_key: dict[str, list[int]] = defaultdict(list)
        country_names: dict[str, str] = {}
        for i, p in enumerate(data.places):
            for k in p.keys:
                places_by_key[k].append(i)
            if p.kind == "country" and p.country_code:
                country_names.setdefault(p.country_code, p.name)
        postcodes_by_key: dict[str, list[int]] = defaultdict(list)
        for i, pc in enumerate(data.postcodes):
            postcodes_by_key[pc.key].append(i)
        numbers: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        pcs: list[set[str]] = [set() for _ in data.streets]
        for a, (street, hn) in enumerate(zip(data.addr_street, data.addr_hn_key, strict=True)):
            # Normalised again: an index imported before a change of the rule still matches.
            numbers[street][normalize_housenumber(hn)].append(a)
            code = data.addr_postcode[a]
            if code:
                pcs[street].add(postcode_key(code))
        for i, s in enumerate(data.streets):
            if s.postcode:
                pcs[i].add(postcode_key(s.postcode))
        street_localities = [
            locality_keys(s.locality, *s.other_localities, s.neighborhood, s.admin2)
            for s in data.streets
        ]
        street_admin = [locality_keys(s.admin1) for s in data.streets]
        return cls(
            data=data,
            streets_by_key=dict(streets_by_key),
            places_by_key=dict(places_by_key),
            postcodes_by_key=dict(postcodes_by_key),
            numbers_by_street={k: dict(v) for k, v in numbers.items()},
            street_postcodes=[frozenset(p) for p in pcs],
            street_localities=street_localities,
            street_admin=street_admin,
            context_keys=frozenset().union(
                *street_localities,
                *street_admin,
                places_by_key,
                *(locality_keys(pc.locality, pc.admin1) for pc in data.postcodes),
            ),
            country_names=country_names,
            street_key_count={k: len(v) for k, v in streets_by_key.items()},
            interpolations_by_street=_interpolations_by_street(data),
        )

    def country_name(self, code: str | None) -> str | None:
        if not code:
            return None
        return self.country_names.get(code, code)


# An area narrows a street search only while it is about a town's size: a county, or a city of
# many thousand streets, is no narrower than the whole vocabulary.
AREA_MAX_STREETS = 2_000


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


def _areas(streets: list[StreetRow], area_keys: list[frozenset[str]]) -> dict[str, Area]:
    rows: dict[str, list[int]] = defaultdict(list)
    for i, keys in enumerate(area_keys):
        for k in keys:
            rows[k].append(i)
    out: dict[str, Area] = {}
    for area, members in rows.items():
        if len(members) > AREA_MAX_STREETS:
            continue
        by_key: dict[str, list[int]] = defaultdict(list)
        for i in members:
            for k in (streets[i].key, *streets[i].alt_keys):
                by_key[k].append(i)
        out[area] = Area.of(dict(by_key))
    return out


def _interpolations_by_street(data: IndexData) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for i, line in enumerate(data.interpolations):
        out[line.street].append(i)
    return dict(out)
