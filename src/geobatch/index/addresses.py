"""Two stages of an import, run on every core: locate the addresses, then make their streets.

*Place*: each chunk of addresses read from the source (a file of its own) is located by point in
polygon (locality, admin areas, postcode, country where the tags are silent), given its street
key, and split into partitions by that key. A chunk's strings become codes of the chunk's own
dictionaries; the coordinator merges the dictionaries in chunk order, so the codes are the same
whichever worker placed which chunk.

*Streets*: each partition in turn becomes street entities (:mod:`geobatch.index.entities`: only
entities of one key ever meet), reading its frames in source order, so an entity is made by the
same address whatever the partitioning; each address learns its street.

Workers are forked from the importing process and read what it prepared (the assigner, the
dictionaries) from :data:`_JOB`: nothing large crosses a pipe but the results. Small imports run
in the process itself.
"""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from geobatch.index.assign import Assigner
from geobatch.index.entities import EntityTable, StreetSummary, summarise
from geobatch.index.spill import SpillFile
from geobatch.index.strings import StringCodes
from geobatch.text.abbreviations import name_key, name_keys
from geobatch.text.housenumbers import normalize_housenumber
from geobatch.text.normalize import fold
from geobatch.text.postcodes import display_postcode

# Below this many addresses the stages run in the importing process: forking is not worth it.
PARALLEL_MIN = 200_000

Int32Array = npt.NDArray[np.int32]
T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_all(fn: Callable[[T], R], items: list[T], parallel: bool) -> Iterator[R]:
    """``fn`` over ``items``, results in order: on forked workers when ``parallel``."""
    if not parallel or workers() == 1 or len(items) < 2:
        yield from map(fn, items)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers(), len(items)), mp_context=context) as pool:
        yield from pool.map(fn, items)


@dataclass(frozen=True, slots=True)
class Way:
    key: str
    name: str
    alt_keys: tuple[str, ...]
    coords: npt.NDArray[np.float64]
    locality: int
    country: int
    admin1: int
    admin2: int
    neighborhood: int
    postcode: int
    own_postcode: int = 0  # the postcode the source gives the way itself (TIGER ranges)


@dataclass(frozen=True, slots=True)
class Line:
    """An interpolation line: which street it belongs to is found in its key's partition."""

    key: str  # "" for a line without a street name
    locality: int
    lon: float
    lat: float


@dataclass(slots=True)
class Job:
    """What the workers of one import read (forked: shared, not sent)."""

    work: Path
    assigner: Assigner
    parts: int
    chunks: int = 0
    names: list[str] = field(default_factory=list)
    ways: list[Way] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    part_ways: list[list[int]] = field(default_factory=list)
    part_lines: list[list[int]] = field(default_factory=list)
    unnamed: list[int] = field(default_factory=list)
    chunk_maps: list[ChunkMaps] = field(default_factory=list)
    chunk_seq: list[int] = field(default_factory=list)

    def partition_of(self, key: str) -> int:
        return zlib.crc32(key.encode("utf-8")) % self.parts if self.parts > 1 else 0


_JOB: Job | None = None


def _job() -> Job:
    assert _JOB is not None, "no import is running"
    return _JOB


def set_job(job: Job | None) -> None:
    global _JOB
    _JOB = job


# --- place ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placed:
    """What placing one chunk found: its usable addresses, and its dictionaries."""

    chunk: int
    usable: int
    names: list[str]
    numbers: list[str]
    units: list[str]
    hn_keys: list[str]


@dataclass(frozen=True, slots=True)
class ChunkMaps:
    """A chunk's codes → the import's codes."""

    names: Int32Array
    numbers: Int32Array
    units: Int32Array
    hn_keys: Int32Array


def raw_chunk(work: Path, k: int) -> Path:
    return work / f"raw-{k}"


def _frame_file(work: Path, chunk: int, part: int) -> SpillFile:
    return SpillFile(work / f"c{chunk}-p{part}")


class _Keys:
    """Street name → (key, every key of the name), computed once per distinct spelling."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, tuple[str, ...]]] = {}

    def of(self, street: str) -> tuple[str, tuple[str, ...]]:
        found = self._known.get(street)
        if found is None:
            key = name_key(street) or fold(street).replace(" ", "") or street
            found = self._known[street] = (key, tuple(name_keys(street)))
            if len(self._known) > 500_000:
                self._known.clear()
        return found


_KEYS = _Keys()


def place_chunk(k: int) -> Placed:
    """Locate chunk ``k`` and send each usable address to its key's partition."""
    job = _job()
    spill = SpillFile(raw_chunk(job.work, k))
    spill.frames = 1
    lon, lat, cols = next(spill.read())
    spill.remove()
    housenumber, street = cols[0], cols[1]
    keep = [
        i for i, (s, h) in enumerate(zip(street, housenumber, strict=True)) if s and h and h.strip()
    ]
    names, numbers, units, hn_keys = StringCodes(), StringCodes(), StringCodes(), StringCodes()
    if keep:
        at = np.array(keep, dtype=np.int64)
        _place_rows(job, k, lon[at], lat[at], [[c[i] for i in keep] for c in cols],
                    names, numbers, units, hn_keys)  # fmt: skip
    return Placed(k, len(keep), names.values, numbers.values, units.values, hn_keys.values)


def _place_rows(
    job: Job,
    k: int,
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    cols: list[list[Any]],
    names: StringCodes,
    numbers: StringCodes,
    units: StringCodes,
    hn_keys: StringCodes,
) -> None:
    housenumber, street, unit, postcode, locality, district, region, country = cols
    found = job.assigner.assign(lat, lon)
    code = names.code
    own_pc = [display_postcode(p) if p else None for p in postcode]
    # Where each address lies: its tags first, point in polygon where they are silent.
    context = (
        [code(t or f) for t, f in zip(locality, found.locality, strict=True)],
        [code(t or f) for t, f in zip(district, found.neighborhood, strict=True)],
        [code(t or f) for t, f in zip(own_pc, found.postcode, strict=True)],
        [code(t or f) for t, f in zip(region, found.admin1, strict=True)],
        [code(f) for f in found.admin2],
        [
            code(c.upper() if (c := t or f) else None)
            for t, f in zip(country, found.country_code, strict=True)
        ],
    )
    street_keys = [_KEYS.of(s) for s in street]
    n = len(street)
    columns: tuple[npt.NDArray[Any], ...] = (
        np.arange(n, dtype=np.int64),
        np.array([numbers.code(h.strip()) for h in housenumber], dtype=np.int32),
        np.array([hn_keys.code(normalize_housenumber(h)) for h in housenumber], dtype=np.int32),
        np.array([units.code(u) for u in unit], dtype=np.int32),
        np.array([code(p) for p in own_pc], dtype=np.int32),
        lon,
        lat,
        *(np.array(c, dtype=np.int32) for c in context),
    )
    where = np.array([job.partition_of(key) for key, _ in street_keys], dtype=np.int64)
    for p in range(job.parts):
        mine = np.flatnonzero(where == p) if job.parts > 1 else np.arange(n)
        if len(mine) == 0:
            continue
        idx = mine.tolist()
        out = _frame_file(job.work, k, p)
        out.write(
            (
                tuple(col[mine] for col in columns),
                [street_keys[i][0] for i in idx],
                [street[i] for i in idx],
                [street_keys[i][1] for i in idx],
            )
        )
        out.close()


def merge_dictionaries(
    placed: Iterable[Placed],
    names: StringCodes,
    numbers: StringCodes,
    units: StringCodes,
    hn_keys: StringCodes,
) -> tuple[list[ChunkMaps], list[int], int]:
    """The import's dictionaries from the chunks' (in chunk order), each chunk's code maps,
    and where each chunk's addresses start in source order."""
    maps: list[ChunkMaps] = []
    seq: list[int] = []
    total = 0
    for p in placed:
        maps.append(
            ChunkMaps(
                names=names.codes(p.names),
                numbers=numbers.codes(p.numbers),
                units=units.codes(p.units),
                hn_keys=hn_keys.codes(p.hn_keys),
            )
        )
        seq.append(total)
        total += p.usable
    return maps, seq, total


# --- streets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionStreets:
    """One partition's streets, and where its interpolation lines belong."""

    part: int
    created: npt.NDArray[np.int64]  # of each street, in local id order (ascending)
    summary_frames: int  # of its file of streets (read_summaries)
    frames: int  # of its file of addresses with their streets
    addresses: int
    lines: dict[int, int]  # named line -> local street
    nearest: dict[int, tuple[float, int, int]]  # unnamed line -> (metres, created, local street)


def streets_file(work: Path, part: int) -> SpillFile:
    return SpillFile(work / f"part-{part}.streets")


def make_streets(p: int) -> PartitionStreets:
    job = _job()
    table = EntityTable(job.names)
    for i in job.part_ways[p]:
        w = job.ways[i]
        table.add_way(i, w.key, w.name, w.alt_keys, w.coords, w.locality, w.country,
                      w.admin1, w.admin2, w.neighborhood, w.postcode,
                      w.own_postcode)  # fmt: skip
    done = streets_file(job.work, p)
    added = 0
    for k in range(job.chunks):
        frames = _frame_file(job.work, k, p)
        if not frames.path.exists():
            continue
        frames.frames = 1
        frame = next(frames.read())
        frames.remove()
        cols, streets = _add_addresses(table, frame, job.chunk_maps[k], job.chunk_seq[k],
                                       len(job.ways))  # fmt: skip
        # What the writer needs: the numeric columns (sequence, number, key, unit, own
        # postcode, lon, lat), with the import's codes, and each row's street here.
        done.write((cols, streets))
        added += len(streets)
    done.close()
    lines: dict[int, int] = {}
    for i in job.part_lines[p]:
        line = job.lines[i]
        entity = table.line_street(line.key, line.locality, line.lon, line.lat)
        if entity is not None:
            lines[i] = entity.id
    nearest: dict[int, tuple[float, int, int]] = {}
    for i in job.unnamed:
        line = job.lines[i]
        near = table.nearest_with_lines(line.lon, line.lat)
        if near is not None:
            nearest[i] = (near[0], near[1].created, near[1].id)
    # The streets go to disk in frames (a country's are millions of objects); the writer merges
    # the partitions' files in the order the streets were made.
    out = summaries_file(job.work, p)
    for start in range(0, len(table.entities), SUMMARY_FRAME):
        out.write([summarise(e) for e in table.entities[start : start + SUMMARY_FRAME]])
    out.close()
    created = np.array([e.created for e in table.entities], dtype=np.int64)
    return PartitionStreets(p, created, out.frames, done.frames, added, lines, nearest)


SUMMARY_FRAME = 20_000


def summaries_file(work: Path, part: int) -> SpillFile:
    return SpillFile(work / f"part-{part}.summaries")


def read_summaries(work: Path, part: int, frames: int) -> Iterator[StreetSummary]:
    spill = summaries_file(work, part)
    spill.frames = frames
    for frame in spill.read():
        yield from frame
    spill.remove()


def _add_addresses(
    table: EntityTable, frame: Any, maps: ChunkMaps, first_seq: int, ways: int
) -> tuple[tuple[npt.NDArray[Any], ...], Int32Array]:
    cols, key_list, street_list, alt_list = frame
    seq, number, hn, unit, own_pc, lon, lat, loc, hood, pc, a1, a2, cc = cols
    seq = seq + first_seq
    n = maps.names
    own_pc, loc, hood, pc, a1, a2, cc = (n[c] for c in (own_pc, loc, hood, pc, a1, a2, cc))
    out = np.empty(len(seq), dtype=np.int32)
    add = table.add_address
    for i, (s, k, name, alts, x, y, lo, ho, po, b1, b2, c, own) in enumerate(
        zip(seq.tolist(), key_list, street_list, alt_list, lon.tolist(), lat.tolist(),
            loc.tolist(), hood.tolist(), pc.tolist(), a1.tolist(), a2.tolist(), cc.tolist(),
            own_pc.tolist(), strict=True)
    ):  # fmt: skip
        out[i] = add(ways + s, k, name, alts, x, y, lo, ho, po, b1, b2, c, own)
    numeric = (seq, maps.numbers[number], maps.hn_keys[hn], maps.units[unit], own_pc, lon, lat)
    return numeric, out
