"""The SQLite schema of one data set file, and where data set files live in an index directory."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

# 2: name keys include transcribed spellings (ø→oe, å→aa, ä→ae).
SCHEMA_VERSION = 2
SUFFIX = ".gbx.sqlite"
BUILTIN_NAME = "builtin-world"

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE places (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL,
    population INTEGER NOT NULL, country_code TEXT, admin1 TEXT, admin1_code TEXT, admin2 TEXT,
    alt_names TEXT NOT NULL, keys TEXT NOT NULL
);
CREATE TABLE streets (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL,
    locality TEXT, other_localities TEXT NOT NULL, neighborhood TEXT, postcode TEXT,
    admin1 TEXT, admin2 TEXT, country_code TEXT,
    lat REAL NOT NULL, lon REAL NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL,
    alt_keys TEXT NOT NULL, wkb BLOB
);
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY, street_id INTEGER NOT NULL REFERENCES streets(id),
    housenumber TEXT NOT NULL, hn_key TEXT NOT NULL, unit TEXT, postcode TEXT,
    lat REAL NOT NULL, lon REAL NOT NULL
);
CREATE TABLE interpolations (
    id INTEGER PRIMARY KEY, street_id INTEGER NOT NULL REFERENCES streets(id),
    scheme TEXT NOT NULL, numbered TEXT NOT NULL, postcode TEXT, wkb BLOB NOT NULL
);
CREATE TABLE postcodes (
    id INTEGER PRIMARY KEY, postcode TEXT NOT NULL, key TEXT NOT NULL, country_code TEXT,
    locality TEXT, admin1 TEXT, lat REAL NOT NULL, lon REAL NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL
);
CREATE TABLE areas (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, level INTEGER NOT NULL,
    country_code TEXT, code TEXT, alt_names TEXT NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL,
    wkb BLOB NOT NULL
);
CREATE INDEX addresses_street ON addresses(street_id);
"""

NAME_SEPARATOR = "\x1f"  # between alternate names in one column: never typed by anyone


def data_set_file(index_dir: Path, source_name: str) -> Path:
    """The file that holds ``source_name`` in ``index_dir`` (a safe file name from the source)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source_name).strip("._") or "source"
    return index_dir / f"{safe}{SUFFIX}"


def data_set_files(index_dir: Path) -> list[Path]:
    """Every data set in ``index_dir``, the built-in gazetteer first, then by name."""
    files = sorted(index_dir.glob(f"*{SUFFIX}")) if index_dir.is_dir() else []
    return sorted(files, key=lambda p: (not p.name.startswith(BUILTIN_NAME), p.name))


def schema_version_of(path: Path) -> str | None:
    """The schema version a data set file was written with, or None if it is unreadable."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None
