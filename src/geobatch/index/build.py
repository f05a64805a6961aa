"""Import a source into the index: one data set file, written whole and swapped in atomically.

Single writer: the file is built under a temporary name and renamed over the old one only when
complete, so a failed import (a truncated extract, a wrong CSV) leaves the index as it was, and
importing the same source again replaces it instead of adding a second copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

from geobatch.errors import IndexError_
from geobatch.index.assign import AreaInfo, Assigned, Assigner, PlacePoint
from geobatch.index.schema import (
    BUILTIN_NAME,
    DDL,
    NAME_SEPARATOR,
    SCHEMA_VERSION,
    data_set_file,
    schema_version_of,
)
from geobatch.index.streets import StreetTable
from geobatch.sources.records import (
    AddressRecord,
    AreaKind,
    AreaRecord,
    InterpolationRecord,
    PlaceKind,
    PlaceRecord,
    PostcodeRecord,
    Progress,
    Record,
    Source,
    StreetRecord,
)
from geobatch.text.abbreviations import name_keys
from geobatch.text.housenumbers import normalize_housenumber
from geobatch.text.postcodes import display_postcode, postcode_key

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
SETTLEMENTS = {PlaceKind.CITY, PlaceKind.TOWN, PlaceKind.VILLAGE, PlaceKind.HAMLET}
NEIGHBOURHOODS = {PlaceKind.SUBURB, PlaceKind.NEIGHBOURHOOD}


@dataclass(frozen=True, slots=True)
class ImportSummary:
    source: str
    counts: dict[str, int]
    seconds: float
    path: Path


@dataclass(slots=True)
class _Collected:
    addresses: list[AddressRecord] = field(default_factory=list)
    streets: list[StreetRecord] = field(default_factory=list)
    places: list[PlaceRecord] = field(default_factory=list)
    areas: list[AreaRecord] = field(default_factory=list)
    interpolations: list[InterpolationRecord] = field(default_factory=list)
    postcodes: list[PostcodeRecord] = field(default_factory=list)

    def add(self, record: Record) -> None:
        match record:
            case AddressRecord():
                self.addresses.append(record)
            case StreetRecord():
                self.streets.append(record)
            case PlaceRecord():
                self.places.append(record)
            case AreaRecord():
                self.areas.append(record)
            case InterpolationRecord():
                self.interpolations.append(record)
            case PostcodeRecord():
                self.postcodes.append(record)


def import_source(
    index_dir: Path, source: Source, progress: Progress | None = None
) -> ImportSummary:
    """Read ``source`` and write it as one data set of ``index_dir``, replacing an older copy."""
    started = time.monotonic()
    index_dir.mkdir(parents=True, exist_ok=True)
    target = data_set_file(index_dir, source.name)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        collected = _Collected()
        for record in source.read(progress):
            collected.add(record)
        reference = _ReferenceData.load(index_dir, exclude=target)
        counts = _write(tmp, source.name, collected, reference)
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        raise IndexError_(f"could not write the index file {target}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return ImportSummary(source.name, counts, time.monotonic() - started, target)


def ensure_builtin(index_dir: Path, progress: Progress | None = None) -> ImportSummary | None:
    """Build the built-in world gazetteer into ``index_dir`` unless it is there already, in
    this version's schema (an upgrade rebuilds it: it comes from installed packages)."""
    path = data_set_file(index_dir, BUILTIN_NAME)
    if path.exists() and schema_version_of(path) == str(SCHEMA_VERSION):
        return None
    from geobatch.sources.builtin import BuiltinGazetteer

    return import_source(index_dir, BuiltinGazetteer(), progress)


@dataclass(slots=True)
class _ReferenceData:
    """Polygons and places of the data sets already in the index (the built-in one above all)."""

    areas: list[AreaInfo]
    places: list[PlacePoint]

    @classmethod
    def load(cls, index_dir: Path, exclude: Path) -> _ReferenceData:
        builtin = data_set_file(index_dir, BUILTIN_NAME)
        if not builtin.exists() or builtin == exclude:
            return cls([], [])
        con = sqlite3.connect(f"file:{builtin}?mode=ro", uri=True)
        try:
            areas = [
                AreaInfo(name, AreaKind(kind), level, cc, shapely.from_wkb(wkb))
                for name, kind, level, cc, wkb in con.execute(
                    "SELECT name, kind, level, country_code, wkb FROM areas"
                )
            ]
            places = [
                PlacePoint(name, lat, lon, cc, False, admin1)
                for name, lat, lon, cc, admin1 in con.execute(
                    "SELECT name, lat, lon, country_code, admin1 FROM places"
                    " WHERE kind IN (?, ?, ?)",
                    (PlaceKind.CITY, PlaceKind.TOWN, PlaceKind.VILLAGE),
                )
            ]
        finally:
            con.close()
        return cls(areas, places)


def _write(path: Path, name: str, data: _Collected, reference: _ReferenceData) -> dict[str, int]:
    # Each polygon is parsed once here; records and geometries travel together from now on.
    areas = _with_countries(_parsed(data.areas), reference)
    own_areas = [info for _, info in areas]
    own_places = [
        PlacePoint(p.name, p.lat, p.lon, p.country_code, p.kind in NEIGHBOURHOODS)
        for p in data.places
        if p.kind in SETTLEMENTS or p.kind in NEIGHBOURHOODS
    ]
    assigner = Assigner(
        own_areas + reference.areas,
        own_places,
        countries_by_place=reference.places or [p for p in own_places if p.country_code],
    )
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        con.executescript(DDL)
        counts = {
            "places": _write_places(con, data.places, assigner),
            "areas": _write_areas(con, areas),
        }
        streets = StreetTable(assigner)
        streets.add_ways(data.streets)
        counts["addresses"] = _write_addresses(con, data.addresses, streets, assigner)
        counts["interpolations"] = _write_interpolations(con, data.interpolations, streets)
        counts["streets"] = streets.write(con)
        counts["postcodes"] = _write_postcodes(
            con, data.postcodes + _postcode_areas(areas), assigner
        )
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "source": name,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "counts": json.dumps(counts),
        }
        con.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        con.commit()
    finally:
        con.close()
    return counts


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


def _lat_lon(
    items: Iterable[AddressRecord | PlaceRecord | PostcodeRecord],
) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(i.lat, i.lon) for i in items]
    arr = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _write_places(con: sqlite3.Connection, places: list[PlaceRecord], assigner: Assigner) -> int:
    lat, lon = _lat_lon(places)
    found = assigner.assign(lat, lon)
    rows = []
    for i, p in enumerate(places):
        west, south, east, north = p.bbox or _box(p.lat, p.lon, PLACE_EXTENT_M[p.kind])
        cc = p.country_code or found.country_code[i]
        admin1 = p.admin1 or (found.admin1[i] if p.kind is not PlaceKind.STATE else None)
        admin2 = p.admin2 or (found.admin2[i] if p.kind not in _ABOVE_COUNTY else None)
        rows.append(
            (p.name, p.kind.value, p.lat, p.lon, south, west, north, east, p.population,
             cc.upper() if cc else None, admin1, p.admin1_code, admin2,
             NAME_SEPARATOR.join(p.alt_names), _place_keys(p))
        )  # fmt: skip
    con.executemany(
        "INSERT INTO places (name, kind, lat, lon, south, west, north, east, population,"
        " country_code, admin1, admin1_code, admin2, alt_names, keys)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _place_keys(p: PlaceRecord) -> str:
    """Every name key the place answers to, computed once here instead of at each load."""
    names = [p.name, *p.alt_names]
    if p.admin1_code and p.kind is PlaceKind.STATE:
        names.append(p.admin1_code)
    # A bare number ("12", a GeoNames admin code) is a house number or postcode, never a name.
    keys = dict.fromkeys(k for n in names for k in name_keys(n) if not k.isdigit())
    return NAME_SEPARATOR.join(keys)


_ABOVE_COUNTY = {PlaceKind.COUNTRY, PlaceKind.STATE, PlaceKind.COUNTY}


def _box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat = metres / 111_320.0
    dlon = metres / (111_320.0 * max(float(np.cos(np.radians(lat))), 0.01))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _write_areas(con: sqlite3.Connection, areas: list[_Area]) -> int:
    rows = []
    for a, info in areas:
        west, south, east, north = info.geometry.bounds
        rows.append(
            (a.name, a.kind.value, a.level, a.country_code, a.code,
             NAME_SEPARATOR.join(a.alt_names), south, west, north, east, a.wkb)
        )  # fmt: skip
    con.executemany(
        "INSERT INTO areas (name, kind, level, country_code, code, alt_names,"
        " south, west, north, east, wkb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _write_addresses(
    con: sqlite3.Connection,
    addresses: list[AddressRecord],
    streets: StreetTable,
    assigner: Assigner,
) -> int:
    usable = [a for a in addresses if a.street and a.housenumber.strip()]
    lat, lon = _lat_lon(usable)
    found = assigner.assign(lat, lon)
    rows = []
    for i, a in enumerate(usable):
        assert a.street is not None
        street_id = streets.street_for_address(a, _context(a, found, i))
        rows.append(
            (street_id, a.housenumber.strip(), normalize_housenumber(a.housenumber), a.unit,
             display_postcode(a.postcode) if a.postcode else None, a.lat, a.lon)
        )  # fmt: skip
    con.executemany(
        "INSERT INTO addresses (street_id, housenumber, hn_key, unit, postcode, lat, lon)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


@dataclass(frozen=True, slots=True)
class AddressContext:
    """Where an address lies: its tags first, point in polygon where the tags are silent."""

    locality: str | None
    neighborhood: str | None
    postcode: str | None
    admin1: str | None
    admin2: str | None
    country_code: str | None


def _context(a: AddressRecord, found: Assigned, i: int) -> AddressContext:
    cc = a.country_code or found.country_code[i]
    return AddressContext(
        locality=a.locality or found.locality[i],
        neighborhood=a.district or found.neighborhood[i],
        postcode=display_postcode(a.postcode) if a.postcode else found.postcode[i],
        admin1=a.region or found.admin1[i],
        admin2=found.admin2[i],
        country_code=cc.upper() if cc else None,
    )


def _write_interpolations(
    con: sqlite3.Connection, items: list[InterpolationRecord], streets: StreetTable
) -> int:
    rows = []
    for it in items:
        if len(it.coords) < 2 or len(it.numbered) < 2:
            continue
        street_id = streets.street_for_line(it.street, it.coords, it.locality)
        if street_id is None:
            continue
        wkb = shapely.to_wkb(shapely.linestrings(it.coords))
        rows.append((street_id, it.scheme, json.dumps(it.numbered), it.postcode, wkb))
    con.executemany(
        "INSERT INTO interpolations (street_id, scheme, numbered, postcode, wkb)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _write_postcodes(
    con: sqlite3.Connection, records: list[PostcodeRecord], assigner: Assigner
) -> int:
    """Postcodes from the addresses just written (centre, extent, usual locality) and records."""
    groups: dict[tuple[str, str | None], list[tuple[float, float, str | None, str | None]]]
    groups = defaultdict(list)
    query = (
        "SELECT a.postcode, s.country_code, a.lat, a.lon, s.locality, s.admin1"
        " FROM addresses a JOIN streets s ON s.id = a.street_id WHERE a.postcode IS NOT NULL"
    )
    for pc, cc, lat, lon, loc, adm1 in con.execute(query):
        groups[(pc, cc)].append((lat, lon, loc, adm1))
    rows = []
    for (pc, cc), pts in groups.items():
        arr = np.array([(p[0], p[1]) for p in pts])
        lat, lon = float(np.median(arr[:, 0])), float(np.median(arr[:, 1]))
        south, west = arr.min(axis=0)
        north, east = arr.max(axis=0)
        locality = Counter(p[2] for p in pts if p[2]).most_common(1)
        admin1 = Counter(p[3] for p in pts if p[3]).most_common(1)
        rows.append(
            (pc, postcode_key(pc), cc, locality[0][0] if locality else None,
             admin1[0][0] if admin1 else None, lat, lon,
             float(south), float(west), float(north), float(east))
        )  # fmt: skip
    if records:
        lat, lon = _lat_lon(records)
        found = assigner.assign(lat, lon)
        for i, r in enumerate(records):
            west, south, east, north = _box(r.lat, r.lon, 2_000)
            cc = r.country_code or found.country_code[i]
            rows.append(
                (display_postcode(r.postcode), postcode_key(r.postcode), cc,
                 r.locality or found.locality[i], found.admin1[i], r.lat, r.lon,
                 south, west, north, east)
            )  # fmt: skip
    con.executemany(
        "INSERT INTO postcodes (postcode, key, country_code, locality, admin1, lat, lon,"
        " south, west, north, east) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _postcode_areas(areas: list[_Area]) -> list[PostcodeRecord]:
    """A boundary=postal_code polygon is a postcode too, at a point inside it."""
    out = []
    for area, info in areas:
        if area.kind is AreaKind.POSTCODE:
            inside = shapely.point_on_surface(info.geometry)
            out.append(PostcodeRecord(area.name, float(inside.x), float(inside.y)))
    return out
