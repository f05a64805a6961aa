"""The index-wide vocabulary: every name key of every data set, and what each one names.

A query is read against the index's own vocabulary (as Nominatim and Addok do): each run of its
words is looked up once here, as a possible street, place or postcode, in every data set at
once. The lexicon is two files, rebuilt from the data sets after every import (it holds no row
of its own, so rebuilding it is linear in the vocabulary, not in the addresses):

- ``lexicon-HASH.marisa``: a MARISA trie of every key (mapped from disk; a key's id in it
  indexes the arrays below). Compact (a few bytes a key) and a look-up takes a microsecond;
- ``lexicon-HASH.gbl``: a :mod:`container <geobatch.index.container>` with, per key id, the
  street, place and postcode rows it names (global row numbers, CSR: ``X.start``/``X.rows``),
  the streets of the postcode or locality it names (for typo searches narrowed to one town),
  flags (a locality or admin key; a word of a street name), the typo tables (keys ordered by
  length with their letter sets) and the country names.

``HASH`` is made from the data sets' build ids: opening an index whose data sets changed since
(an import elsewhere, a file removed) finds no lexicon of that name and rebuilds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import marisa_trie
import numpy as np
import numpy.typing as npt

from geobatch.errors import IndexError_
from geobatch.index.container import Container, ContainerWriter
from geobatch.index.dataset import DataSet
from geobatch.index.format import BUILTIN_NAME, FORMAT_VERSION, check_version, usable_data_sets
from geobatch.index.layout import PLACE_KIND_CODES
from geobatch.index.strings import split_names
from geobatch.text.abbreviations import token_forms
from geobatch.text.letters import letter_mask
from geobatch.text.localities import locality_keys
from geobatch.text.normalize import tokenize

KIND_LEXICON = "lexicon"
CONTEXT = 1  # the key names a locality or admin area of some street, place or postcode
STREET_WORD = 2  # the key is a word of some street name

# An area narrows a street search only while it is about a town's size: a county, or a city of
# many thousand streets, is no narrower than the whole vocabulary.
AREA_MAX_STREETS = 2_000
# Places whose names are corrected for typos: every settlement of an imported data set, and the
# built-in gazetteer's towns of this size or more (a typo is likelier a miss than a village).
FUZZY_PLACE_POPULATION = 15_000
FUZZY_MIN_LENGTH = 5
# A street key of this many streets or more ("Hauptstraße", "Main Street") gets a table of the
# localities, admin areas and postcodes of its streets, so that a query naming one of them reads
# those streets only, not every town's (see ``context_rows``).
BIG_KEY_ROWS = 8
_FUZZY_TABLES = ("street", "place", "word")


def _inputs(files: list[Path]) -> list[tuple[str, str]]:
    out = []
    for path in files:
        meta = Container(path).meta
        check_version(path, meta.get("format_version"))
        out.append((path.name, str(meta.get("build_id", ""))))
    return out


def _paths_for(index_dir: Path, inputs: list[tuple[str, str]]) -> tuple[Path, Path]:
    stem = _stem(inputs)
    return index_dir / f"{stem}.gbl", index_dir / f"{stem}.marisa"


def _stem(inputs: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256(json.dumps([FORMAT_VERSION, inputs]).encode("utf-8")).hexdigest()
    return f"lexicon-{digest[:16]}"


def lexicon_paths(index_dir: Path) -> tuple[Path, Path]:
    """Where the lexicon of the index's current data sets lives (it may not exist yet)."""
    return _paths_for(index_dir, _inputs(usable_data_sets(index_dir)[0]))


def lexicon_is_current(index_dir: Path) -> bool:
    try:
        box, trie = lexicon_paths(index_dir)
    except IndexError_:
        return False
    return box.exists() and trie.exists()


@contextlib.contextmanager
def _locked(index_dir: Path) -> Iterator[None]:
    with open(index_dir / ".lexicon.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def rebuild_lexicon(index_dir: Path) -> tuple[Path, Path]:
    """Build the lexicon of the index's data sets unless it is there; remove older ones."""
    try:
        with _locked(index_dir):
            box_path, trie_path = lexicon_paths(index_dir)
            if not (box_path.exists() and trie_path.exists()):
                datasets = [DataSet.open(p) for p in usable_data_sets(index_dir)[0]]
                _build(datasets, box_path, trie_path)
            for old in (*index_dir.glob("lexicon-*.gbl"), *index_dir.glob("lexicon-*.marisa")):
                if old not in (box_path, trie_path):
                    with contextlib.suppress(OSError):
                        old.unlink()
    except OSError as exc:
        raise IndexError_(
            f"the vocabulary of the index {index_dir} is out of date and cannot be rebuilt "
            f"there ({exc.strerror or exc}): run 'geobatch reindex' with write access"
        ) from exc
    return box_path, trie_path


# --- build -------------------------------------------------------------------------------------


class _Pairs:
    """(key, row) pairs of one kind, in row order."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.rows: list[int] = []

    def add(self, key: str, row: int) -> None:
        self.keys.append(key)
        self.rows.append(row)


def _build(datasets: list[DataSet], box_path: Path, trie_path: Path) -> None:
    streets, places, postcodes = _Pairs(), _Pairs(), _Pairs()
    pc_areas, loc_areas = _Pairs(), _Pairs()
    context: set[str] = set()
    words: set[str] = set()
    fuzzy_places: set[str] = set()
    countries: dict[str, str] = {}
    s_off = p_off = c_off = 0
    country_kind = PLACE_KIND_CODES.index("country")
    for ds in datasets:
        columns = (ds.street_key_column(), ds.street_alt_column(), ds.street_pc_keys,
                   ds.street_loc_keys, ds.street_admin_keys)  # fmt: skip
        for i, (key, alt, pcs, locs, admins) in enumerate(zip(*columns, strict=True)):
            row = s_off + i
            streets.add(key, row)
            for k in split_names(alt):
                streets.add(k, row)
            for k in split_names(pcs):
                pc_areas.add(k, row)
            loc = split_names(locs)
            for k in loc:
                loc_areas.add(k, row)
            context.update(loc)
            context.update(split_names(admins))
        for name in set(ds.street_names()):
            for tok in tokenize(name):
                words.add(tok)
                words.update(token_forms(tok))
        kinds = ds.place_kinds()
        population = ds.place_population()
        spelt = ds.place_spelt_keys()
        builtin = ds.source == BUILTIN_NAME
        for i, keys in enumerate(ds.place_keys()):
            row = p_off + i
            split = split_names(keys)
            for k in split:
                places.add(k, row)
            context.update(split)
            if not builtin or population[i] >= FUZZY_PLACE_POPULATION:
                fuzzy_places.update(split[: spelt[i]])
            if kinds[i] == country_kind:
                place = ds.place(i)
                if place.country_code:
                    countries.setdefault(place.country_code, place.name)
        for i, key in enumerate(ds.postcode_keys()):
            postcodes.add(key, c_off + i)
            context.update(locality_keys(*ds.postcode_context(i)))
        s_off += ds.street_count
        p_off += ds.place_count
        c_off += ds.postcode_count
    big = _big_keys(streets)
    all_keys = set(streets.keys) | set(places.keys) | set(postcodes.keys) | context | words
    all_keys |= set(pc_areas.keys) | set(loc_areas.keys)
    all_keys.discard("")
    trie = marisa_trie.Trie(all_keys)
    ids = dict(trie.iteritems())
    n = len(trie)
    tmp_box = box_path.with_name(f"{box_path.name}.tmp-{os.getpid()}")
    tmp_trie = trie_path.with_name(f"{trie_path.name}.tmp-{os.getpid()}")
    try:
        trie.save(str(tmp_trie))
        with ContainerWriter(tmp_box) as out:
            out.meta.update(
                format_version=FORMAT_VERSION,
                kind=KIND_LEXICON,
                keys=n,
                countries=countries,
                data_sets=[ds.source for ds in datasets],
            )
            for name, pairs in (("street", streets), ("place", places), ("postcode", postcodes)):
                _write_csr(out, name, pairs, ids, n)
            for name, pairs in (("pc_area", pc_areas), ("loc_area", loc_areas)):
                _write_csr(out, name, pairs, ids, n, max_rows=AREA_MAX_STREETS)
            _write_context_pairs(out, *_street_context_pairs(datasets, big, ids))
            flags = np.zeros(n, dtype=np.uint8)
            flags[[ids[k] for k in context if k in ids]] |= CONTEXT
            flags[[ids[k] for k in words if k in ids]] |= STREET_WORD
            out.array("flags", flags)
            street_keys = {k for k in streets.keys if len(k) >= FUZZY_MIN_LENGTH}
            for table, table_keys in zip(
                _FUZZY_TABLES, (street_keys, fuzzy_places, words), strict=True
            ):
                _write_fuzzy(out, table, table_keys)
        os.replace(tmp_trie, trie_path)
        os.replace(tmp_box, box_path)
    finally:
        for tmp in (tmp_box, tmp_trie):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def context_hash(key: str) -> int:
    """The 32-bit hash a locality or admin key is stored under in the context table."""
    return zlib.crc32(key.encode("utf-8"))


def postcode_hash(key: str) -> int:
    """The same for a postcode key (kept apart from names by a prefix)."""
    return zlib.crc32(b"\x1d" + key.encode("utf-8"))


def _big_keys(streets: _Pairs) -> set[str]:
    counts: dict[str, int] = {}
    for key in streets.keys:
        counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items() if n >= BIG_KEY_ROWS}


def _street_context_pairs(
    datasets: list[DataSet], big: set[str], ids: dict[str, int]
) -> tuple[array[int], array[int]]:
    """For every street listed under a big key: (key id << 32 | the hash of one of its
    locality, admin or postcode keys) and the street's row. Kept in compact arrays: a country
    has tens of millions of pairs."""
    combined: array[int] = array("q")
    rows: array[int] = array("l")
    offset = 0
    for ds in datasets:
        for i, (key, alt) in enumerate(zip(ds.street_key_column(), ds.street_alt_column(),
                                           strict=True)):  # fmt: skip
            mine = [ids[k] << 32 for k in (key, *split_names(alt)) if k in big]
            if not mine:
                continue
            hashes = {context_hash(k) for k in split_names(ds.street_loc_keys.get(i))}
            hashes.update(context_hash(k) for k in split_names(ds.street_admin_keys.get(i)))
            hashes.update(postcode_hash(k) for k in split_names(ds.street_pc_keys.get(i)))
            row = offset + i
            for high in mine:
                for h in hashes:
                    combined.append(high | h)
                    rows.append(row)
        offset += ds.street_count
    return combined, rows


def _write_context_pairs(out: ContainerWriter, combined: array[int], rows: array[int]) -> None:
    keys = np.frombuffer(combined, dtype=np.int64) if len(combined) else np.zeros(0, np.int64)
    row = np.frombuffer(rows, dtype=np.int64) if len(rows) else np.zeros(0, np.int64)
    order = np.lexsort((row, keys))
    out.array("context.key", keys[order])
    out.array("context.row", row[order].astype(np.int32))


def _write_csr(
    out: ContainerWriter,
    name: str,
    pairs: _Pairs,
    ids: dict[str, int],
    n: int,
    max_rows: int | None = None,
) -> None:
    kid = np.fromiter((ids[k] for k in pairs.keys), dtype=np.int64, count=len(pairs.keys))
    rows = np.array(pairs.rows, dtype=np.int32)
    order = np.argsort(kid, kind="stable")  # rows stay in row order within a key
    kid, rows = kid[order], rows[order]
    # A row listed twice under one key (a key among its own alternates) counts once.
    if len(kid):
        keep = np.r_[True, (kid[1:] != kid[:-1]) | (rows[1:] != rows[:-1])]
        kid, rows = kid[keep], rows[keep]
    counts = np.bincount(kid, minlength=n) if len(kid) else np.zeros(n, dtype=np.int64)
    if max_rows is not None:
        too_many = counts > max_rows
        if too_many.any():
            keep = ~too_many[kid]
            kid, rows = kid[keep], rows[keep]
            counts[too_many] = 0
    out.array(f"{name}.start", np.r_[0, np.cumsum(counts)].astype(np.int64))
    out.array(f"{name}.rows", rows)


def _write_fuzzy(out: ContainerWriter, name: str, keys: Iterable[str]) -> None:
    """Keys of five letters or more ordered by (length, key), with their letter sets, and
    where each length starts."""
    ordered = sorted((k for k in keys if len(k) >= FUZZY_MIN_LENGTH), key=lambda k: (len(k), k))
    lengths = np.fromiter(map(len, ordered), dtype=np.int64, count=len(ordered))
    out.raw(f"fuzzy.{name}.keys", "\n".join(ordered).encode("utf-8"))
    out.array(
        f"fuzzy.{name}.masks",
        np.fromiter(map(letter_mask, ordered), dtype=np.uint32, count=len(ordered)),
    )
    out.array(f"fuzzy.{name}.length_start", _length_start(lengths))


# --- read --------------------------------------------------------------------------------------


class FuzzyTable:
    """One typo table: keys by (length, key), their letter sets, where each length starts.
    The keys of a mapped table are decoded on first use (a typo search needs them as strings)."""

    def __init__(
        self,
        raw: memoryview | None,
        masks: npt.NDArray[np.uint32],
        length_start: npt.NDArray[np.int64],
        keys: npt.NDArray[np.object_] | None = None,
    ) -> None:
        self._raw = raw
        self.masks = masks
        self.length_start = length_start
        self._keys = keys

    @classmethod
    def mapped(cls, box: Container, name: str) -> FuzzyTable:
        return cls(
            box.raw(f"fuzzy.{name}.keys"),
            box.array(f"fuzzy.{name}.masks"),
            box.array(f"fuzzy.{name}.length_start"),
        )

    @classmethod
    def of(cls, ordered: list[str], masks: npt.NDArray[np.uint32]) -> FuzzyTable:
        """A table in memory of keys already ordered by (length, key)."""
        lengths = np.fromiter(map(len, ordered), dtype=np.int64, count=len(ordered))
        return cls(None, masks, _length_start(lengths), np.array(ordered, dtype=object))

    def keys(self) -> npt.NDArray[np.object_]:
        if self._keys is None:
            text = str(self._raw, "utf-8") if self._raw is not None else ""
            self._keys = np.array(text.split("\n") if text else [], dtype=object)
        return self._keys

    def span(self, shortest: int, longest: int) -> tuple[int, int]:
        """Positions of the keys of these lengths."""
        top = len(self.length_start) - 1
        lo = int(self.length_start[min(max(shortest, 0), top)])
        hi = int(self.length_start[min(max(longest + 1, 0), top)])
        return lo, hi


def _length_start(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    longest = int(lengths.max()) if len(lengths) else 0
    return np.searchsorted(lengths, np.arange(longest + 2), side="left").astype(np.int64)


class Lexicon:
    """The lexicon of an index directory, mapped."""

    def __init__(self, box: Container, trie: Any) -> None:
        self.box = box
        self._trie = trie
        self.size = int(box.meta.get("keys", 0))
        self.countries: dict[str, str] = dict(box.meta.get("countries", {}))
        self._csr = {
            name: (box.view(f"{name}.start"), box.view(f"{name}.rows"))
            for name in ("street", "place", "postcode", "pc_area", "loc_area")
        }
        self.flags: npt.NDArray[np.uint8] = box.array("flags")
        self._flags_mv = self.flags.data
        self.fuzzy = {name: FuzzyTable.mapped(box, name) for name in _FUZZY_TABLES}
        self._context_key = box.view("context.key")
        self._context_row = box.view("context.row")

    @classmethod
    def open(cls, index_dir: Path, datasets: list[DataSet]) -> Lexicon:
        """The lexicon of exactly these data sets (as opened), rebuilt if it is missing."""
        inputs = [(ds.path.name, ds.build_id) for ds in datasets]
        box_path, trie_path = _paths_for(index_dir, inputs)
        if not (box_path.exists() and trie_path.exists()):
            rebuilt = rebuild_lexicon(index_dir)
            if rebuilt != (box_path, trie_path):
                raise IndexError_(
                    f"the data sets of {index_dir} changed while it was opened (an import?); "
                    "open it again"
                )
        box = Container(box_path)
        if box.meta.get("kind") != KIND_LEXICON:
            raise IndexError_(f"{box_path} is not a geobatch lexicon; run 'geobatch reindex'")
        trie = marisa_trie.Trie()
        try:
            trie.mmap(str(trie_path))
        except Exception as exc:  # marisa raises its own error types
            raise IndexError_(f"cannot read {trie_path} ({exc}); run 'geobatch reindex'") from exc
        if len(trie) != box.meta.get("keys"):
            raise IndexError_(f"{trie_path} does not match {box_path}; run 'geobatch reindex'")
        return cls(box, trie)

    def key_id(self, key: str) -> int:
        found: int | None = self._trie.get(key)
        return -1 if found is None else found

    def longest_prefix(self, text: str) -> int:
        """The length of the longest key that ``text`` begins with (0: none)."""
        found: list[str] = self._trie.prefixes(text)
        return max(map(len, found), default=0)

    def rows(self, kind: str, kid: int) -> tuple[int, ...]:
        start, rows = self._csr[kind]
        return tuple(rows[start[kid] : start[kid + 1]])

    def entry(self, kid: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int]:
        """(street rows, place rows, postcode rows, flags) of key id ``kid``."""
        s_start, s_rows = self._csr["street"]
        p_start, p_rows = self._csr["place"]
        c_start, c_rows = self._csr["postcode"]
        return (
            tuple(s_rows[s_start[kid] : s_start[kid + 1]]),
            tuple(p_rows[p_start[kid] : p_start[kid + 1]]),
            tuple(c_rows[c_start[kid] : c_start[kid + 1]]),
            self._flags_mv[kid],
        )

    def context_rows(self, kid: int, key_hash: int) -> list[int]:
        """The streets of big key ``kid`` with a locality, admin area or postcode of this
        hash (:func:`context_hash`, :func:`postcode_hash`), ascending. A hash collision can
        add a street that has not: callers treat these as the streets worth reading first."""
        wanted = (kid << 32) | key_hash
        keys = self._context_key
        at = bisect_left(keys, wanted)
        out: list[int] = []
        rows = self._context_row
        while at < len(keys) and keys[at] == wanted:
            out.append(rows[at])
            at += 1
        return out

    def nbytes(self) -> int:
        return self.box.size
