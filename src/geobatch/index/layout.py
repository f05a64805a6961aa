"""Write one data set file: every column the geocoders read, in the layout they read it.

Sections (see :mod:`geobatch.index.dataset` for the reader):

- ``names``, ``numbers``, ``units``, ``hn_keys``: dictionaries of strings; rows store codes
  (``hn_keys`` sorted, so a street's house numbers are found by bisection);
- ``streets.*``: one row per street entity, numbered in the order they were made (ways first,
  then addresses, in source order), with the keys forward geocoding tests against
  (``pc_keys``, ``loc_keys``, ``admin_keys``) worked out here once;
- ``addr.*``: one row per address, sorted by street, then house-number key, then source
  order; ``streets.addr_start`` says where each street's addresses begin. Coordinates are
  int32 in 1e-7 degrees (a centimetre; OpenStreetMap's own precision);
- ``grid.addr.*``, ``grid.vertex.*``: :mod:`geobatch.index.grid` over the address points and
  the street lines (densified to ~30 m) for reverse geocoding;
- ``places.*``, ``postcodes.*``, ``areas.*``, ``interp.*``: the rest, row per record.

Addresses are sorted in buckets of street numbers small enough for the memory budget, and
written column by column to temporary files, then copied in: memory does not grow with the
number of addresses beyond one bucket and a few int32 columns.
"""

from __future__ import annotations

import heapq
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geobatch.index.assign import AreaInfo, Assigner
from geobatch.index.container import ContainerWriter
from geobatch.index.entities import StreetSummary
from geobatch.index.format import FORMAT_VERSION, KIND_DATA_SET
from geobatch.index.grid import write_grid
from geobatch.index.spill import SpillFile
from geobatch.index.spool import Spool
from geobatch.index.strings import NAME_SEPARATOR, write_strings
from geobatch.sources.records import (
    AreaRecord,
    InterpolationRecord,
    PlaceKind,
    PlaceRecord,
    PostcodeRecord,
)
from geobatch.text.abbreviations import name_keys
from geobatch.text.localities import locality_keys
from geobatch.text.postcodes import display_postcode, postcode_key

ADDRESS_RADIUS_M = 100.0  # reverse: nearest address within this (geocode.reverse agrees)
STREET_RADIUS_M = 250.0  # and nearest street
DENSIFY_DEG = 0.0003  # vertices every ~30 m along streets, for the nearest-street grid
E7 = 10_000_000.0
_SORT_BYTES = 200  # per address while one bucket is sorted (columns, order, copies)

# Half-size of the box given to a place that comes without one, by kind (metres).
PLACE_EXTENT_M: dict[PlaceKind, float] = {
    PlaceKind.COUNTRY: 200_000,
    PlaceKind.STATE: 100_000,
    PlaceKind.COUNTY: 30_000,
    PlaceKind.CITY: 8_000,
    PlaceKind.TOWN: 3_000,
    PlaceKind.VILLAGE: 1_500,
    PlaceKind.HAMLET: 500,
    PlaceKind.SUBURB: 1_500,
    PlaceKind.NEIGHBOURHOOD: 700,
    PlaceKind.LOCALITY: 300,
}
_ABOVE_COUNTY = {PlaceKind.COUNTRY, PlaceKind.STATE, PlaceKind.COUNTY}
PLACE_KIND_CODES = [k.value for k in PlaceKind]

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class DataSetParts:
    """Everything an import made, ready to be written."""

    source: str
    names: list[str]  # code -> locality / admin / postcode / country (0: none)
    numbers: list[str]  # code -> house number as written
    units: list[str]
    hn_keys: list[str]  # code -> house-number key (first-seen order; sorted when written)
    # Per partition: the creation order of each street (by local id), and its streets
    # (StreetSummary, in that order) as an iterator: they come from disk, a frame at a time.
    street_created: list[Int64Array]
    street_files: list[Iterator[StreetSummary]]
    address_files: list[SpillFile]  # per partition: frames (columns, local street ids)
    address_count: int
    places: list[PlaceRecord]
    areas: list[tuple[AreaRecord, AreaInfo]]
    interpolations: list[tuple[InterpolationRecord, int, int]]  # (line, partition, local street)
    postcode_records: list[PostcodeRecord]
    assigner: Assigner


def write_data_set(
    path: Path, parts: DataSetParts, work: Path, budget: int, stages: Any
) -> dict[str, int]:
    """Write ``parts`` to a new container at ``path``; returns the counts by kind."""
    final_of, count = _number_streets(parts.street_created)
    with ContainerWriter(path) as out:
        out.meta.update(
            format_version=FORMAT_VERSION,
            kind=KIND_DATA_SET,
            source=parts.source,
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            build_id=uuid.uuid4().hex,
        )
        write_strings(out, "names", parts.names)
        write_strings(out, "numbers", parts.numbers)
        write_strings(out, "units", parts.units)
        hn_rank = _write_sorted(out, "hn_keys", parts.hn_keys)
        # The partitions' streets merged in the order they were made: the final numbering.
        ordered = heapq.merge(*parts.street_files, key=lambda s: s.created)
        facts, vertices = _write_streets(out, ordered, parts.names, work)
        counts = {"streets": count, "street_vertices": vertices}
        counts["addresses"], pc_groups = _write_addresses(
            out, parts, final_of, hn_rank, facts, work, budget, stages
        )
        counts["places"] = _write_places(out, parts.places, parts.assigner)
        counts["areas"] = _write_areas(out, parts.areas)
        counts["interpolations"] = _write_interpolations(out, parts.interpolations, final_of)
        counts["postcodes"] = _write_postcodes(
            out, pc_groups, parts.postcode_records, parts.assigner, parts.names
        )
        out.meta["counts"] = counts
    counts.pop("street_vertices")
    return counts


def _number_streets(created_of: list[Int64Array]) -> tuple[list[Int32Array], int]:
    """Each partition's local → final street ids: streets numbered in the order they were
    made. Within a partition they were made in local id order already."""
    created = np.concatenate(created_of) if created_of else np.zeros(0, dtype=np.int64)
    order = np.argsort(created, kind="stable")
    final = np.empty(len(order), dtype=np.int32)
    final[order] = np.arange(len(order), dtype=np.int32)
    final_of = []
    start = 0
    for part in created_of:
        final_of.append(final[start : start + len(part)])
        start += len(part)
    return final_of, len(order)


def _write_sorted(out: ContainerWriter, name: str, values: list[str]) -> Int32Array:
    """Write a dictionary sorted (code 0, the empty string, stays first); code -> rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values), dtype=np.int32)
    rank[order] = np.arange(len(values), dtype=np.int32)
    write_strings(out, name, [values[i] for i in order])
    return rank


# --- streets ---------------------------------------------------------------------------------


@dataclass(slots=True)
class StreetFacts:
    """What the address writer needs of each street (codes, by final street id)."""

    country: Int32Array
    locality: Int32Array
    admin1: Int32Array


def _write_streets(
    out: ContainerWriter, streets: Iterable[StreetSummary], names: list[str], work: Path
) -> tuple[StreetFacts, int]:
    """Write the street columns from streets in final order, a frame at a time; then the
    grid of their densified lines. Returns their facts and the number of grid vertices."""
    spool = Spool(work, "streets")
    codes: dict[str, list[Int32Array]] = {"country": [], "locality": [], "admin1": []}
    coords: list[FloatArray] = []
    ids: list[Int32Array] = []
    first = 0
    for frame in _frames(streets, 20_000):
        _spool_streets(spool, frame, names)
        for column, parts in codes.items():
            parts.append(np.array([getattr(s, column) for s in frame], dtype=np.int32))
        for k, s in enumerate(frame):
            if s.wkb:
                line = shapely.segmentize(shapely.from_wkb(s.wkb), DENSIFY_DEG)
                xy = shapely.get_coordinates(line)
                coords.append(xy)
                ids.append(np.full(len(xy), first + k, dtype=np.int32))
        first += len(frame)
    spool.into(out, widths={"streets.point": 2, "streets.bbox": 4})
    if first == 0:  # no street: the columns still exist, empty
        _spool_streets(spool, [], names)
        spool.into(out, widths={"streets.point": 2, "streets.bbox": 4})
    xy = np.concatenate(coords) if coords else np.zeros((0, 2))
    street = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
    write_grid(out, "grid.vertex", xy[:, 1], xy[:, 0], STREET_RADIUS_M, ids=street)

    def joined_codes(column: str) -> Int32Array:
        parts = codes[column]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)

    facts = StreetFacts(joined_codes("country"), joined_codes("locality"), joined_codes("admin1"))
    return facts, len(street)


def _frames(items: Iterable[StreetSummary], size: int) -> Iterator[list[StreetSummary]]:
    frame: list[StreetSummary] = []
    for item in items:
        frame.append(item)
        if len(frame) >= size:
            yield frame
            frame = []
    if frame:
        yield frame


def _spool_streets(spool: Spool, rows: list[StreetSummary], names: list[str]) -> None:
    def joined(values: Iterable[str]) -> str:
        return NAME_SEPARATOR.join(values)

    def text(code: int) -> str | None:
        return names[code] or None

    spool.strings("streets.name", (s.name for s in rows))
    spool.strings("streets.key", (s.key for s in rows))
    for column in ("locality", "neighborhood", "postcode", "admin1", "admin2", "country"):
        spool.array(f"streets.{column}", [getattr(s, column) for s in rows], np.int32)
    others = [sorted(names[c] for c in s.other_localities) for s in rows]
    spool.strings("streets.others", (joined(o) for o in others))
    spool.array("streets.point", [(s.lat, s.lon) for s in rows] or np.zeros((0, 2)), np.float64)
    spool.array("streets.bbox", [s.bbox for s in rows] or np.zeros((0, 4)), np.float64)
    spool.strings("streets.alt_keys", (joined(s.alt_keys) for s in rows))
    spool.blobs("streets.wkb", (s.wkb for s in rows))
    pc_keys = []
    loc_keys = []
    admin_keys = []
    for s, other in zip(rows, others, strict=True):
        pcs = {postcode_key(names[c]) for c in s.own_postcodes}
        if s.postcode:
            pcs.add(postcode_key(names[s.postcode]))
        pc_keys.append(joined(sorted(pcs)))
        loc_keys.append(
            joined(sorted(locality_keys(text(s.locality), *other, text(s.neighborhood),
                                        text(s.admin2))))
        )  # fmt: skip
        admin_keys.append(joined(sorted(locality_keys(text(s.admin1)))))
    spool.strings("streets.pc_keys", pc_keys)
    spool.strings("streets.loc_keys", loc_keys)
    spool.strings("streets.admin_keys", admin_keys)


def _write_blobs(out: ContainerWriter, name: str, values: Sequence[bytes]) -> None:
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    out.array(f"{name}.offsets", np.r_[0, np.cumsum(lengths)].astype(np.int64))
    out.raw(f"{name}.blob", b"".join(values))


# --- addresses -------------------------------------------------------------------------------

_ADDR_COLUMNS = ("street", "number", "hn", "unit", "postcode", "lat", "lon")


@dataclass(slots=True)
class PostcodeGroup:
    """A postcode of the addresses (with a country), as found in one partition of them."""

    first: int  # source order of its first address
    postcode: int
    country: int
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]
    locality: int
    admin1: int


def _write_addresses(
    out: ContainerWriter,
    parts: DataSetParts,
    final_of: list[Int32Array],
    hn_rank: Int32Array,
    facts: StreetFacts,
    work: Path,
    budget: int,
    stages: Any,
) -> tuple[int, list[PostcodeGroup]]:
    n_streets = len(facts.country)
    buckets = max(1, math.ceil(parts.address_count * _SORT_BYTES / budget))
    bucket_files = [SpillFile(work / f"sort-{b}") for b in range(buckets)]
    pc_files = [SpillFile(work / f"postcodes-{b}") for b in range(buckets)]
    street_country, street_locality, street_admin1 = facts.country, facts.locality, facts.admin1
    for p, spill in enumerate(parts.address_files):
        for cols, local in spill.read():
            seq, number, hn, unit, own_pc, lon, lat = cols
            street = final_of[p][local]
            bucket = (street.astype(np.int64) * buckets) // max(n_streets, 1)
            for b in range(buckets):
                mine = bucket == b if buckets > 1 else slice(None)
                bucket_files[b].write(
                    (street[mine], seq[mine], number[mine], hn_rank[hn[mine]], unit[mine],
                     own_pc[mine], lat[mine], lon[mine])
                )  # fmt: skip
            has_pc = own_pc != 0
            pcb = own_pc[has_pc] % buckets
            st = street[has_pc]
            for b in range(buckets):
                mine = pcb == b
                pc_files[b].write(
                    (seq[has_pc][mine], own_pc[has_pc][mine], street_country[st[mine]],
                     lat[has_pc][mine], lon[has_pc][mine], street_locality[st[mine]],
                     street_admin1[st[mine]])
                )  # fmt: skip
        spill.remove()
    temp = {c: open(work / f"col-{c}", "wb") for c in _ADDR_COLUMNS}  # noqa: SIM115
    counts = np.zeros(n_streets, dtype=np.int64)
    total = 0
    with stages("sorting addresses", parts.address_count) as bar:
        for spill in bucket_files:
            frames = list(spill.read())
            spill.remove()
            if not frames:
                continue
            street, seq, number, hn, unit, pc, lat, lon = (
                np.concatenate([f[k] for f in frames]) for k in range(8)
            )
            del frames
            order = np.lexsort((seq, hn, street))
            lat_e7 = np.round(lat[order] * E7).astype(np.int32)
            lon_e7 = np.round(lon[order] * E7).astype(np.int32)
            for column, values in zip(
                _ADDR_COLUMNS,
                (street[order], number[order], hn[order], unit[order], pc[order], lat_e7, lon_e7),
                strict=True,
            ):
                np.ascontiguousarray(values, dtype=np.int32).tofile(temp[column])
            counts += np.bincount(street, minlength=n_streets)
            total += len(street)
            if bar is not None:
                bar.advance(len(street))
    for f in temp.values():
        f.close()
    for column in _ADDR_COLUMNS:
        # Copied a piece at a time: a column of a world's addresses is gigabytes.
        stream = out.stream(f"addr.{column}", np.int32)
        if total:
            values = np.memmap(work / f"col-{column}", dtype=np.int32, mode="r")
            stream.write_many(values[i : i + _COPY_PIECE] for i in range(0, total, _COPY_PIECE))
            del values
        stream.finish()
    out.array("streets.addr_start", np.r_[0, np.cumsum(counts)].astype(np.int64))
    if total:  # read back mapped: the grid is worked a chunk at a time
        lat_e7 = np.memmap(work / "col-lat", dtype=np.int32, mode="r")
        lon_e7 = np.memmap(work / "col-lon", dtype=np.int32, mode="r")
        write_grid(out, "grid.addr", lat_e7, lon_e7, ADDRESS_RADIUS_M, scale=E7)
        del lat_e7, lon_e7
    else:
        write_grid(out, "grid.addr", np.zeros(0), np.zeros(0), ADDRESS_RADIUS_M)
    groups: list[PostcodeGroup] = []
    for spill in pc_files:
        groups.extend(_postcode_groups(list(spill.read())))
        spill.remove()
    groups.sort(key=lambda g: g.first)
    return total, groups


_COPY_PIECE = 4_000_000  # values per piece of a column copied into the data set file


def _postcode_groups(frames: list[tuple[Any, ...]]) -> list[PostcodeGroup]:
    """Per (postcode, country): the median point, the extent, the most usual locality and
    admin area (the first seen among equals), and where it first appears."""
    if not frames:
        return []
    seq, pc, cc, lat, lon, loc, a1 = (np.concatenate([f[k] for f in frames]) for k in range(7))
    if len(seq) == 0:
        return []
    order = np.lexsort((seq, cc, pc))
    seq, pc, cc, lat, lon, loc, a1 = (a[order] for a in (seq, pc, cc, lat, lon, loc, a1))
    group_key = pc.astype(np.int64) * (1 << 31) + cc.astype(np.int64)
    starts = np.flatnonzero(np.r_[True, group_key[1:] != group_key[:-1]])
    ends = np.r_[starts[1:], len(seq)]
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        g_lat, g_lon = lat[s:e], lon[s:e]
        out.append(
            PostcodeGroup(
                first=int(seq[s]),
                postcode=int(pc[s]),
                country=int(cc[s]),
                lat=float(np.median(g_lat)),
                lon=float(np.median(g_lon)),
                bbox=(
                    float(g_lat.min()),
                    float(g_lon.min()),
                    float(g_lat.max()),
                    float(g_lon.max()),
                ),
                locality=_most_common(loc[s:e]),
                admin1=_most_common(a1[s:e]),
            )
        )
    return out


def _most_common(codes: Int32Array) -> int:
    """The most frequent non-zero code, the first seen among equals; 0 if none."""
    counts: dict[int, int] = {}
    for c in codes.tolist():
        if c:
            counts[c] = counts.get(c, 0) + 1
    best, best_n = 0, 0
    for c, n in counts.items():
        if n > best_n:
            best, best_n = c, n
    return best


# --- places, areas, postcodes, interpolation lines ---------------------------------------------


def _write_places(out: ContainerWriter, places: list[PlaceRecord], assigner: Assigner) -> int:
    lat = np.array([p.lat for p in places], dtype=np.float64)
    lon = np.array([p.lon for p in places], dtype=np.float64)
    found = assigner.assign(lat, lon)
    country, admin1, admin2, bbox = [], [], [], []
    for i, p in enumerate(places):
        west, south, east, north = p.bbox or _box(p.lat, p.lon, PLACE_EXTENT_M[p.kind])
        bbox.append((south, west, north, east))
        cc = p.country_code or found.country_code[i]
        country.append(cc.upper() if cc else None)
        admin1.append(p.admin1 or (found.admin1[i] if p.kind is not PlaceKind.STATE else None))
        admin2.append(p.admin2 or (found.admin2[i] if p.kind not in _ABOVE_COUNTY else None))
    write_strings(out, "places.name", (p.name for p in places))
    out.array("places.kind", [PLACE_KIND_CODES.index(p.kind.value) for p in places], np.int8)
    out.array("places.point", np.column_stack((lat, lon)) if places else np.zeros((0, 2)))
    out.array("places.bbox", bbox if bbox else np.zeros((0, 4)), np.float64)
    out.array("places.population", [p.population for p in places], np.int64)
    write_strings(out, "places.country", country)
    write_strings(out, "places.admin1", admin1)
    write_strings(out, "places.admin1_code", (p.admin1_code for p in places))
    write_strings(out, "places.admin2", admin2)
    keys = [_place_keys(p) for p in places]
    write_strings(out, "places.keys", (NAME_SEPARATOR.join(k) for k, _ in keys))
    out.array("places.spelt_keys", [n for _, n in keys], np.int32)
    return len(places)


def _place_keys(p: PlaceRecord) -> tuple[list[str], int]:
    """Every name key the place answers to, computed once here instead of at each load: the
    keys of its names as written first, then those of their transliterations, and how many of
    the first kind there are (typos are corrected against those only: a machine's Latin
    spelling of "Лоуэлл" is no name a misspelling should land on)."""
    names = [p.name, *p.alt_names]
    if p.admin1_code and p.kind is PlaceKind.STATE:
        names.append(p.admin1_code)
    # A bare number ("12", a GeoNames admin code) is a house number or postcode, never a name.
    spelt = dict.fromkeys(
        k for n in names for k in name_keys(n, transliteration=False) if not k.isdigit()
    )
    latin = dict.fromkeys(
        k for n in names for k in name_keys(n) if not k.isdigit() and k not in spelt
    )
    return [*spelt, *latin], len(spelt)


def _box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat = metres / 111_320.0
    dlon = metres / (111_320.0 * max(float(np.cos(np.radians(lat))), 0.01))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _write_areas(out: ContainerWriter, areas: list[tuple[AreaRecord, AreaInfo]]) -> int:
    write_strings(out, "areas.name", (a.name for a, _ in areas))
    write_strings(out, "areas.kind", (a.kind.value for a, _ in areas))
    out.array("areas.level", [a.level for a, _ in areas], np.int32)
    write_strings(out, "areas.country", (a.country_code for a, _ in areas))
    write_strings(out, "areas.code", (a.code for a, _ in areas))
    write_strings(out, "areas.alt_names", (NAME_SEPARATOR.join(a.alt_names) for a, _ in areas))
    bounds = [info.geometry.bounds for _, info in areas]  # west, south, east, north
    out.array("areas.bbox", [(s, w, n, e) for w, s, e, n in bounds] or np.zeros((0, 4)), np.float64)
    _write_blobs(out, "areas.wkb", [a.wkb for a, _ in areas])
    return len(areas)


def _write_postcodes(
    out: ContainerWriter,
    groups: list[PostcodeGroup],
    records: list[PostcodeRecord],
    assigner: Assigner,
    names: list[str],
) -> int:
    """Postcodes from the addresses (centre, extent, usual locality), then the records."""
    rows: list[tuple[Any, ...]] = []
    for g in groups:
        pc = names[g.postcode]
        rows.append(
            (pc, postcode_key(pc), names[g.country] or None, names[g.locality] or None,
             names[g.admin1] or None, g.lat, g.lon, g.bbox)
        )  # fmt: skip
    if records:
        lat = np.array([r.lat for r in records], dtype=np.float64)
        lon = np.array([r.lon for r in records], dtype=np.float64)
        found = assigner.assign(lat, lon)
        for i, r in enumerate(records):
            west, south, east, north = _box(r.lat, r.lon, 2_000)
            rows.append(
                (display_postcode(r.postcode), postcode_key(r.postcode),
                 r.country_code or found.country_code[i], r.locality or found.locality[i],
                 found.admin1[i], r.lat, r.lon, (south, west, north, east))
            )  # fmt: skip
    for k, column in enumerate(("postcode", "key", "country", "locality", "admin1")):
        write_strings(out, f"postcodes.{column}", (row[k] for row in rows))
    out.array("postcodes.point", [(row[5], row[6]) for row in rows] or np.zeros((0, 2)), np.float64)
    out.array("postcodes.bbox", [row[7] for row in rows] or np.zeros((0, 4)), np.float64)
    return len(rows)


def _write_interpolations(
    out: ContainerWriter,
    lines: list[tuple[InterpolationRecord, int, int]],
    final_of: list[Int32Array],
) -> int:
    """The lines sorted by street (then source order), so a street's lines are found by
    bisection."""
    rows = sorted(
        ((int(final_of[p][local]), i, it) for i, (it, p, local) in enumerate(lines)),
        key=lambda r: (r[0], r[1]),
    )
    out.array("interp.street", [r[0] for r in rows], np.int32)
    write_strings(out, "interp.scheme", (r[2].scheme for r in rows))
    write_strings(out, "interp.numbered", (json.dumps(r[2].numbered) for r in rows))
    write_strings(out, "interp.postcode", (r[2].postcode for r in rows))
    _write_blobs(
        out, "interp.wkb", [shapely.to_wkb(shapely.linestrings(r[2].coords)) for r in rows]
    )
    return len(rows)
