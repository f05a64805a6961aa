"""Import a source into the index: one data set file, written whole and swapped in atomically.

Single writer: the file is built under a temporary name and renamed over the old one only when
complete, so a failed import (a truncated extract, a wrong CSV, a full disk, a kill) leaves the
index as it was, and importing the same source again replaces it instead of adding a second
copy. After the swap the index-wide vocabulary (:mod:`geobatch.index.lexicon`) is rebuilt from
every data set; the other data sets are not rebuilt.

An import streams, in bounded memory (``memory_mb``):

1. *read*: the source's records; address fields go to disk in chunks as they come, the rest
   (streets, places, areas, interpolation lines, postcodes: far fewer) stays in memory;
2. *place*: each chunk of addresses is located by point in polygon (locality, admin areas,
   postcode, country where the tags are silent), given its street key, and sent to one of a
   few partitions by that key;
3. *streets*: each partition in turn becomes street entities (:mod:`geobatch.index.entities`;
   only entities of one key ever meet), and its addresses learn their street;
4. *write*: :mod:`geobatch.index.layout` numbers the streets in the order they were made and
   writes every column, sorting the addresses by street in buckets that fit the budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geobatch.errors import IndexError_
from geobatch.index.addresses import (
    PARALLEL_MIN,
    Job,
    Line,
    Way,
    make_streets,
    merge_dictionaries,
    place_chunk,
    raw_chunk,
    read_summaries,
    run_all,
    set_job,
    streets_file,
    workers,
)
from geobatch.index.assign import AreaInfo, Assigner, PlacePoint
from geobatch.index.format import (
    BUILTIN_NAME,
    FORMAT_VERSION,
    data_set_file,
    format_version_of,
)
from geobatch.index.layout import PLACE_KIND_CODES, DataSetParts, write_data_set
from geobatch.index.spill import SpillFile
from geobatch.index.strings import StringCodes
from geobatch.sources.records import (
    AddressBatch,
    AddressRecord,
    AreaKind,
    AreaRecord,
    BatchSource,
    InterpolationRecord,
    PlaceKind,
    PlaceRecord,
    PostcodeRecord,
    Progress,
    Source,
    StreetRecord,
)
from geobatch.text.abbreviations import name_key, name_keys

# What an import may use by default. Addresses cost about 700 bytes each while their streets
# are made (a partition per worker at a time), about 200 while sorted (a bucket at a time).
DEFAULT_MEMORY_MB = 2_000
MIN_MEMORY_MB = 200
_ENTITY_BYTES = 700
CHUNK = 250_000  # addresses per chunk read or placed at a time

SETTLEMENTS = {PlaceKind.CITY, PlaceKind.TOWN, PlaceKind.VILLAGE, PlaceKind.HAMLET}
NEIGHBOURHOODS = {PlaceKind.SUBURB, PlaceKind.NEIGHBOURHOOD}

# Told about the stages after reading: (what, how many rows) -> a progress for them.
StageProgress = Callable[[str, int], contextlib.AbstractContextManager[Progress | None]]


@contextlib.contextmanager
def _no_stage(what: str, total: int) -> Iterator[Progress | None]:
    yield None


@dataclass(frozen=True, slots=True)
class ImportSummary:
    source: str
    counts: dict[str, int]
    seconds: float
    path: Path


def import_source(
    index_dir: Path,
    source: Source,
    progress: Progress | None = None,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    stages: StageProgress | None = None,
) -> ImportSummary:
    """Read ``source`` and write it as one data set of ``index_dir``, replacing an older copy."""
    from geobatch.index.lexicon import rebuild_lexicon

    started = time.monotonic()
    index_dir.mkdir(parents=True, exist_ok=True)
    target = data_set_file(index_dir, source.name)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=index_dir))
    budget = max(memory_mb, MIN_MEMORY_MB) * 1_000_000
    try:
        reference = _ReferenceData.load(index_dir, exclude=target)
        collected = _collect(source, progress, work)
        counts = _build(tmp, source.name, collected, reference, work, budget, stages or _no_stage)
        os.replace(tmp, target)
        rebuild_lexicon(index_dir)
    except OSError as exc:
        raise IndexError_(
            f"could not write the index {index_dir}: {exc.strerror or exc}; "
            "the index is as it was before this import"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        shutil.rmtree(work, ignore_errors=True)
    return ImportSummary(source.name, counts, time.monotonic() - started, target)


def ensure_builtin(index_dir: Path, progress: Progress | None = None) -> ImportSummary | None:
    """Build the built-in world gazetteer into ``index_dir`` unless it is there already, in
    this version's format (an upgrade rebuilds it: it comes from installed packages)."""
    from geobatch.index.lexicon import lexicon_is_current, rebuild_lexicon

    path = data_set_file(index_dir, BUILTIN_NAME)
    if path.exists() and format_version_of(path) == FORMAT_VERSION:
        if not lexicon_is_current(index_dir):
            rebuild_lexicon(index_dir)
        return None
    from geobatch.sources.builtin import BuiltinGazetteer

    return import_source(index_dir, BuiltinGazetteer(), progress)


# What a forked worker comes to hold of its own besides its partition (pages of the parent it
# writes to, its own allocator's arenas): measured at 60-90 MB on the synthetic countries.
_WORKER_OWN_BYTES = 100_000_000


def _working_budget(budget: int, forked: int) -> int:
    """The part of the import's budget left for partitions and sort buckets."""
    held = _resident_bytes() + forked * _WORKER_OWN_BYTES
    return max(budget - held, MIN_MEMORY_MB * 1_000_000 // 2)


def _resident_bytes() -> int:
    """This process's resident memory now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def clean_stale_work(index_dir: Path) -> None:
    """Remove what killed imports left behind (temporary folders and files)."""
    if not index_dir.is_dir():
        return
    for path in index_dir.glob(".import-*"):
        with contextlib.suppress(OSError):
            if _owner_gone(path.name.rsplit("-", 1)[-1]) or path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob("*.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if _owner_gone(pid):
            with contextlib.suppress(OSError):
                path.unlink()


def _owner_gone(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- reference data from the built-in gazetteer -------------------------------------------------


@dataclass(slots=True)
class _ReferenceData:
    """Polygons and places of the built-in gazetteer, to locate what a source does not."""

    areas: list[AreaInfo]
    places: list[PlacePoint]

    @classmethod
    def load(cls, index_dir: Path, exclude: Path) -> _ReferenceData:
        from geobatch.index.dataset import DataSet

        builtin = data_set_file(index_dir, BUILTIN_NAME)
        if not builtin.exists() or builtin == exclude:
            return cls([], [])
        data = DataSet.open(builtin)
        areas = []
        for row in range(data.area_count):
            a = data.area(row)
            areas.append(AreaInfo(a.name, AreaKind(a.kind), a.level, a.country_code,
                                  shapely.from_wkb(a.wkb)))  # fmt: skip
        wanted = [PLACE_KIND_CODES.index(k) for k in ("city", "town", "village")]
        rows = np.flatnonzero(np.isin(data.place_kinds(), wanted)).tolist()
        places = [
            PlacePoint(name, lat, lon, cc, False, admin1)
            for name, lat, lon, cc, admin1 in data.place_summaries(rows)
        ]
        return cls(areas, places)


# --- 1. read ---------------------------------------------------------------------------------


_ADDRESS_FIELDS = ("housenumber", "street", "unit", "postcode", "locality", "district", "region",
                   "country_code")  # fmt: skip


@dataclass(slots=True)
class _Collected:
    """What a source held: addresses in chunks on disk, everything else in memory."""

    chunks: int = 0
    addresses: int = 0
    streets: list[StreetRecord] = field(default_factory=list)
    places: list[PlaceRecord] = field(default_factory=list)
    areas: list[AreaRecord] = field(default_factory=list)
    interpolations: list[InterpolationRecord] = field(default_factory=list)
    postcodes: list[PostcodeRecord] = field(default_factory=list)


class _AddressBuffer:
    """Address fields as columns, written to the chunk file every CHUNK rows."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self.chunks = 0
        self._reset()

    def _reset(self) -> None:
        self.lon: list[float] = []  # of single records not yet in an array part
        self.lat: list[float] = []
        self.parts: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
        self.rows = 0
        self.columns: list[list[str | None]] = [[] for _ in _ADDRESS_FIELDS]

    def _close_singles(self) -> None:
        if self.lon:
            self.parts.append(
                (np.array(self.lon, dtype=np.float64), np.array(self.lat, dtype=np.float64))
            )
            self.lon, self.lat = [], []

    def add(self, a: AddressRecord) -> None:
        self.lon.append(a.lon)
        self.lat.append(a.lat)
        cols = self.columns
        cols[0].append(a.housenumber)
        cols[1].append(a.street)
        cols[2].append(a.unit)
        cols[3].append(a.postcode)
        cols[4].append(a.locality)
        cols[5].append(a.district)
        cols[6].append(a.region)
        cols[7].append(a.country_code)
        self.rows += 1
        if self.rows >= CHUNK:
            self.flush()

    def add_batch(self, batch: AddressBatch) -> None:
        self._close_singles()
        self.parts.append(
            (np.asarray(batch.lon, dtype=np.float64), np.asarray(batch.lat, dtype=np.float64))
        )
        fields: tuple[list[str | None], ...] = (
            list(batch.housenumber), batch.street, batch.unit, batch.postcode, batch.locality,
            batch.district, batch.region, batch.country_code,
        )  # fmt: skip
        for column, values in zip(self.columns, fields, strict=True):
            column.extend(values)
        self.rows += len(batch)
        if self.rows >= CHUNK:
            self.flush()

    def flush(self) -> None:
        self._close_singles()
        if self.rows:
            lon = np.concatenate([p[0] for p in self.parts])
            lat = np.concatenate([p[1] for p in self.parts])
            out = SpillFile(raw_chunk(self._work, self.chunks))
            out.write((lon, lat, self.columns))
            out.close()
            self.chunks += 1
            self._reset()


def _collect(source: Source, progress: Progress | None, work: Path) -> _Collected:
    collected = _Collected()
    buffer = _AddressBuffer(work)
    records = (
        source.read_batches(progress) if isinstance(source, BatchSource) else source.read(progress)
    )
    for record in records:
        if isinstance(record, AddressBatch):
            buffer.add_batch(record)
            collected.addresses += len(record)
        elif isinstance(record, AddressRecord):
            buffer.add(record)
            collected.addresses += 1
        elif isinstance(record, StreetRecord):
            collected.streets.append(record)
        elif isinstance(record, PlaceRecord):
            collected.places.append(record)
        elif isinstance(record, AreaRecord):
            collected.areas.append(record)
        elif isinstance(record, InterpolationRecord):
            collected.interpolations.append(record)
        elif isinstance(record, PostcodeRecord):
            collected.postcodes.append(record)
    buffer.flush()
    collected.chunks = buffer.chunks
    return collected


# --- 2. place, 3. streets --------------------------------------------------------------------


def _build(
    path: Path,
    name: str,
    data: _Collected,
    reference: _ReferenceData,
    work: Path,
    budget: int,
    stages: StageProgress,
) -> dict[str, int]:
    areas = _with_countries(_parsed(data.areas), reference)
    own_places = [
        PlacePoint(p.name, p.lat, p.lon, p.country_code, p.kind in NEIGHBOURHOODS)
        for p in data.places
        if p.kind in SETTLEMENTS or p.kind in NEIGHBOURHOODS
    ]
    if not own_places and not data.addresses:
        # Streets and ranges alone (TIGER) name no town: the built-in gazetteer's nearest
        # settlement does, as it gives them their country and state.
        own_places = list(reference.places)
    assigner = Assigner(
        [info for _, info in areas] + reference.areas,
        own_places,
        countries_by_place=reference.places or [p for p in own_places if p.country_code],
    )
    parallel = data.addresses >= PARALLEL_MIN
    # The budget is for the whole import: what this process holds already (the interpreter,
    # the reference areas, the streets and places read) and what each forked worker comes to
    # hold of its own are not there for the partitions and the sort.
    budget = _working_budget(budget, workers() if parallel else 0)
    # Streets are made one partition per worker at a time: each gets its share of the budget.
    share = budget // (workers() if parallel else 1)
    parts = max(1, math.ceil(data.addresses * _ENTITY_BYTES / share))
    job = Job(work, assigner, parts=max(parts, 2 * workers()) if parallel else parts)
    names, numbers, units, hn_keys = StringCodes(), StringCodes(), StringCodes(), StringCodes()
    set_job(job)
    try:
        with stages("locating addresses", data.addresses) as bar:
            placed = []
            for result in run_all(place_chunk, list(range(data.chunks)), parallel):
                placed.append(result)
                if bar is not None:
                    bar.advance(result.usable)
        job.chunk_maps, job.chunk_seq, usable = merge_dictionaries(
            placed, names, numbers, units, hn_keys
        )
        job.chunks = data.chunks
        job.ways = _placed_ways(data.streets, assigner, names)
        job.part_ways = [[] for _ in range(job.parts)]
        for i, way in enumerate(job.ways):
            job.part_ways[job.partition_of(way.key)].append(i)
        job.lines, records = _placed_lines(data.interpolations, names)
        job.part_lines = [[] for _ in range(job.parts)]
        for i, line in enumerate(job.lines):
            if line.key:
                job.part_lines[job.partition_of(line.key)].append(i)
            else:
                job.unnamed.append(i)
        job.names = names.values
        with stages("making streets", usable) as bar:
            results = []
            for made in run_all(make_streets, list(range(job.parts)), parallel):
                results.append(made)
                if bar is not None:
                    bar.advance(made.addresses)
    finally:
        set_job(None)
    line_street: dict[int, tuple[int, int]] = {}  # line -> (partition, local street)
    nearest: dict[int, tuple[float, int, int, int]] = {}
    for r in results:
        line_street.update((i, (r.part, local)) for i, local in r.lines.items())
        for i, (metres, created, local) in r.nearest.items():
            if i not in nearest or (metres, created) < nearest[i][:2]:
                nearest[i] = (metres, created, r.part, local)
    line_street.update((i, (p, local)) for i, (_, _, p, local) in nearest.items())
    files = []
    for r in results:
        spill = streets_file(work, r.part)
        spill.frames = r.frames
        files.append(spill)
    parts_out = DataSetParts(
        source=name,
        names=names.values,
        numbers=numbers.values,
        units=units.values,
        hn_keys=hn_keys.values,
        street_created=[r.created for r in results],
        street_files=[read_summaries(work, r.part, r.summary_frames) for r in results],
        address_files=files,
        address_count=usable,
        places=data.places,
        areas=areas,
        interpolations=[
            (records[i], *line_street[i]) for i in range(len(records)) if i in line_street
        ],
        postcode_records=data.postcodes + _postcode_areas(areas),
        assigner=assigner,
    )
    return write_data_set(path, parts_out, work, budget, stages)


def _placed_ways(streets: list[StreetRecord], assigner: Assigner, names: StringCodes) -> list[Way]:
    usable = [w for w in streets if w.coords and name_key(w.name)]
    if not usable:
        return []
    mids = np.array([w.coords[len(w.coords) // 2] for w in usable], dtype=np.float64)
    found = assigner.assign(mids[:, 1], mids[:, 0])
    out = []
    code = names.code
    for i, way in enumerate(usable):
        names_of = (way.name, *way.alt_names)
        out.append(
            Way(
                key=name_key(way.name),
                name=way.name,
                alt_keys=tuple(k for n in names_of for k in name_keys(n)),
                coords=np.array(way.coords, dtype=np.float64).reshape(-1, 2),
                locality=code(found.locality[i]),
                country=code(found.country_code[i]),
                admin1=code(way.admin1 or found.admin1[i]),
                admin2=code(way.admin2 or found.admin2[i]),
                neighborhood=code(found.neighborhood[i]),
                postcode=code(way.postcode or found.postcode[i]),
                own_postcode=code(way.postcode) if way.postcode else 0,
            )
        )
    return out


def _placed_lines(
    items: list[InterpolationRecord], names: StringCodes
) -> tuple[list[Line], list[InterpolationRecord]]:
    lines, records = [], []
    for it in items:
        if len(it.coords) < 2 or len(it.numbered) < 2:
            continue
        lon, lat = it.coords[len(it.coords) // 2]
        key = name_key(it.street) if it.street else ""
        lines.append(Line(key, names.code(it.locality), lon, lat))
        records.append(it)
    return lines, records


# --- areas and postcode areas ----------------------------------------------------------------

_Area = tuple[AreaRecord, AreaInfo]


def _parsed(records: list[AreaRecord]) -> list[_Area]:
    """Each area with its parsed geometry; an area whose geometry is unusable is dropped."""
    return [(r, info) for r in records if (info := _area_info(r)) is not None]


def _with_countries(areas: list[_Area], reference: _ReferenceData) -> list[_Area]:
    """Every admin area gets the country it lies in (by a point inside it), so that near a
    border a point takes its country from its municipality, not from a coarse outline."""
    countries = [
        info
        for info in (*(i for _, i in areas), *reference.areas)
        if info.level == 2 and info.country_code
    ]
    todo = [k for k, (r, _) in enumerate(areas) if r.kind is AreaKind.ADMIN and not r.country_code]
    if not todo or not countries:
        return areas
    inside = [shapely.point_on_surface(areas[k][1].geometry) for k in todo]
    found = Assigner(countries, []).assign(
        np.array([p.y for p in inside], dtype=np.float64),
        np.array([p.x for p in inside], dtype=np.float64),
    )
    out = list(areas)
    for k, cc in zip(todo, found.country_code, strict=True):
        if cc:
            record, info = areas[k]
            out[k] = (
                dataclasses.replace(record, country_code=cc),
                dataclasses.replace(info, country_code=cc),
            )
    return out


def _area_info(area: AreaRecord) -> AreaInfo | None:
    try:
        geom = shapely.from_wkb(area.wkb)
    except shapely.errors.GEOSException:
        return None
    if geom is None or geom.is_empty:
        return None
    shapely.prepare(geom)
    return AreaInfo(area.name, area.kind, area.level, area.country_code, geom)


def _postcode_areas(areas: list[_Area]) -> list[PostcodeRecord]:
    """A boundary=postal_code polygon is a postcode too, at a point inside it."""
    out = []
    for area, info in areas:
        if area.kind is AreaKind.POSTCODE:
            inside = shapely.point_on_surface(info.geometry)
            out.append(PostcodeRecord(area.name, float(inside.x), float(inside.y)))
    return out
