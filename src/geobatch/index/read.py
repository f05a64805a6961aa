"""Load every data set of an index directory into memory, once per process.

The geocoders work on plain lists and numpy arrays: dictionary and array look-ups take
microseconds, where a SQL query per token would take milliseconds. All data sets are
concatenated, so a query costs the same whether one or ten are loaded.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geobatch.errors import IndexError_
from geobatch.index.schema import NAME_SEPARATOR, SCHEMA_VERSION, data_set_files
from geobatch.index.spatial import FloatArray


@dataclass(frozen=True, slots=True)
class PlaceRow:
    name: str
    kind: str
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]  # south, west, north, east
    population: int
    country_code: str | None
    admin1: str | None
    admin1_code: str | None
    admin2: str | None
    keys: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class StreetRow:
    name: str
    key: str
    locality: str | None
    other_localities: tuple[str, ...]
    neighborhood: str | None
    postcode: str | None
    admin1: str | None
    admin2: str | None
    country_code: str | None
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]
    alt_keys: tuple[str, ...]
    source: str
    wkb: bytes | None


@dataclass(frozen=True, slots=True)
class PostcodeRow:
    postcode: str
    key: str
    country_code: str | None
    locality: str | None
    admin1: str | None
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]
    source: str


@dataclass(frozen=True, slots=True)
class AreaRow:
    name: str
    kind: str
    level: int
    country_code: str | None
    code: str | None
    wkb: bytes
    source: str


@dataclass(frozen=True, slots=True)
class InterpolationRow:
    street: int
    scheme: str
    numbered: str
    postcode: str | None
    wkb: bytes


@dataclass(slots=True)
class IndexData:
    """Everything the geocoders need, with global row numbers across data sets."""

    sources: list[str] = field(default_factory=list)
    places: list[PlaceRow] = field(default_factory=list)
    streets: list[StreetRow] = field(default_factory=list)
    postcodes: list[PostcodeRow] = field(default_factory=list)
    areas: list[AreaRow] = field(default_factory=list)
    interpolations: list[InterpolationRow] = field(default_factory=list)
    # Addresses as columns: street row number, house number as written and as key, unit, postcode.
    addr_street: list[int] = field(default_factory=list)
    addr_number: list[str] = field(default_factory=list)
    addr_hn_key: list[str] = field(default_factory=list)
    addr_unit: list[str | None] = field(default_factory=list)
    addr_postcode: list[str | None] = field(default_factory=list)
    addr_lat: FloatArray = field(default_factory=lambda: np.zeros(0))
    addr_lon: FloatArray = field(default_factory=lambda: np.zeros(0))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(NAME_SEPARATOR) if v)


def load_index(index_dir: Path) -> IndexData:
    """Read every data set file of ``index_dir``; raises IndexError_ when there is none."""
    files = data_set_files(index_dir)
    if not files:
        raise IndexError_(
            f"no index at {index_dir}: run 'geobatch import FILE' or let geobatch build the "
            "built-in gazetteer first"
        )
    data = IndexData()
    lats: list[FloatArray] = []
    lons: list[FloatArray] = []
    for path in files:
        _load_file(path, data, lats, lons)
    data.addr_lat = np.concatenate(lats) if lats else np.zeros(0)
    data.addr_lon = np.concatenate(lons) if lons else np.zeros(0)
    return data


def _load_file(path: Path, data: IndexData, lats: list[FloatArray], lons: list[FloatArray]) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise IndexError_(f"cannot open index file {path}: {exc}") from exc
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise IndexError_(
                f"{path} was written by another version of geobatch "
                f"(schema {meta.get('schema_version')}, expected {SCHEMA_VERSION}); import it again"
            )
        source = meta.get("source", path.name)
        data.sources.append(source)
        _load_places(con, data, source)
        street_offset = len(data.streets)
        _load_streets(con, data, source)
        _load_addresses(con, data, street_offset, lats, lons)
        _load_rest(con, data, source, street_offset)
    except sqlite3.Error as exc:
        raise IndexError_(f"index file {path} is unreadable ({exc}); import it again") from exc
    finally:
        con.close()


def _load_places(con: sqlite3.Connection, data: IndexData, source: str) -> None:
    for row in con.execute(
        "SELECT name, kind, lat, lon, south, west, north, east, population, country_code,"
        " admin1, admin1_code, admin2, keys FROM places ORDER BY id"
    ):
        name, kind, lat, lon, s, w, n, e, pop, cc, a1, a1c, a2, keys = row
        data.places.append(
            PlaceRow(name, kind, lat, lon, (s, w, n, e), pop, cc, a1, a1c, a2, _split(keys), source)
        )


def _load_streets(con: sqlite3.Connection, data: IndexData, source: str) -> None:
    for row in con.execute(
        "SELECT name, key, locality, other_localities, neighborhood, postcode, admin1, admin2,"
        " country_code, lat, lon, south, west, north, east, alt_keys, wkb FROM streets ORDER BY id"
    ):
        name, key, loc, others, hood, pc, a1, a2, cc, lat, lon, s, w, n, e, alt, wkb = row
        data.streets.append(
            StreetRow(name, key, loc, _split(others), hood, pc, a1, a2, cc, lat, lon,
                      (s, w, n, e), _split(alt), source, wkb)
        )  # fmt: skip


def _load_addresses(
    con: sqlite3.Connection,
    data: IndexData,
    street_offset: int,
    lats: list[FloatArray],
    lons: list[FloatArray],
) -> None:
    rows = con.execute(
        "SELECT street_id, housenumber, hn_key, unit, postcode, lat, lon FROM addresses ORDER BY id"
    ).fetchall()
    if not rows:
        return
    # Street ids in a file start at 1; global street row numbers start at the file's offset.
    data.addr_street.extend(r[0] - 1 + street_offset for r in rows)
    data.addr_number.extend(r[1] for r in rows)
    data.addr_hn_key.extend(r[2] for r in rows)
    data.addr_unit.extend(r[3] for r in rows)
    data.addr_postcode.extend(r[4] for r in rows)
    lats.append(np.fromiter((r[5] for r in rows), dtype=np.float64, count=len(rows)))
    lons.append(np.fromiter((r[6] for r in rows), dtype=np.float64, count=len(rows)))


def _load_rest(con: sqlite3.Connection, data: IndexData, source: str, street_offset: int) -> None:
    for row in con.execute(
        "SELECT postcode, key, country_code, locality, admin1, lat, lon, south, west, north, east"
        " FROM postcodes ORDER BY id"
    ):
        pc, key, cc, loc, a1, lat, lon, s, w, n, e = row
        data.postcodes.append(PostcodeRow(pc, key, cc, loc, a1, lat, lon, (s, w, n, e), source))
    for name, kind, level, cc, code, wkb in con.execute(
        "SELECT name, kind, level, country_code, code, wkb FROM areas ORDER BY id"
    ):
        data.areas.append(AreaRow(name, kind, level, cc, code, wkb, source))
    for street_id, scheme, numbered, pc, wkb in con.execute(
        "SELECT street_id, scheme, numbered, postcode, wkb FROM interpolations ORDER BY id"
    ):
        data.interpolations.append(
            InterpolationRow(street_id - 1 + street_offset, scheme, numbered, pc, wkb)
        )
