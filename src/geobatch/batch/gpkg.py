"""Write a GeoPackage (OGC 12-128r18, version 1.2) of batch results with the standard
library's sqlite3: one point feature table, typed attribute columns, and the R-tree spatial
index that GDAL and QGIS build, so that large files pan quickly.

A GeoPackage is an SQLite database with a few metadata tables and a blob format for
geometries (:func:`geobatch.formats.tablegeo.gpkg_point`); writing one needs no GDAL, so this
output has no optional dependency. Rows are committed a slice at a time: a run that fails
leaves a valid GeoPackage of the rows done so far. The tests read every file this writes with
GDAL (pyogrio) to hold it to the format.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from geobatch.formats.cells import ColumnType
from geobatch.formats.tablegeo import WGS84_SRS_ID, OutputTable, gpkg_point

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10200  # GeoPackage 1.2
FID, GEOMETRY = "fid", "geom"
WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
SQL_TYPES = {
    ColumnType.TEXT: "TEXT",
    ColumnType.INTEGER: "INTEGER",
    ColumnType.REAL: "REAL",
    ColumnType.BOOLEAN: "BOOLEAN",
}

_METADATA = f"""
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined',
   'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined',
   'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', {WGS84_SRS_ID}, 'EPSG', {WGS84_SRS_ID}, '{WGS84_WKT}',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""

# The R-tree index and the triggers that keep it current when another program edits the
# table (GeoPackage 1.2, annex F.3). The triggers call functions that GDAL and SpatiaLite
# define; they are created after the rows are in, so that they never run here.
_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}"
WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}"
WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
  INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}"
WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}"); END;
CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}" WHEN old."{c}" NOT NULL
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def layer_name(path: Path) -> str:
    """The feature table's name: the file's, as GDAL names a layer it writes."""
    return path.name.removesuffix(".partial").rsplit(".", 1)[0] or "geocoded"


class GeoPackageWriter:
    """Point features of ``table``'s rows into a new GeoPackage at ``path``."""

    def __init__(self, path: Path, table: OutputTable, layer: str) -> None:
        self._table = table
        self._layer = layer
        self._fid = 0
        self._bounds = [math.inf, math.inf, -math.inf, -math.inf]  # min x, min y, max x, max y
        path.unlink(missing_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self._db.execute(f"PRAGMA user_version = {USER_VERSION}")
        self._db.execute("PRAGMA journal_mode = MEMORY")
        self._db.execute("PRAGMA synchronous = OFF")  # the .partial file is renamed when done
        self._db.executescript(f"BEGIN; {_METADATA}")
        columns = ", ".join(
            f"{_quoted(name)} {SQL_TYPES[kind]}"
            for name, kind in zip(table.names, table.types, strict=True)
        )
        t = _quoted(layer)
        self._db.execute(
            f"CREATE TABLE {t} ({FID} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
            f"{GEOMETRY} POINT, {columns})"
        )
        self._db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
            "VALUES (?, 'features', ?, ?)",
            (layer, layer, WGS84_SRS_ID),
        )
        self._db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, ?, 'POINT', ?, 0, 0)",
            (layer, GEOMETRY, WGS84_SRS_ID),
        )
        rtree = _quoted(f"rtree_{layer}_{GEOMETRY}")
        self._db.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, minx, maxx, miny, maxy)")
        self._db.execute(
            "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
            "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
            (layer, GEOMETRY),
        )
        marks = ", ".join("?" * (len(table.names) + 2))
        self._insert = f"INSERT INTO {t} VALUES ({marks})"
        self._index = f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)"
        self._db.execute("COMMIT")

    def write_rows(self, rows: Sequence[Sequence[str]]) -> None:
        features, boxes = [], []
        bounds = self._bounds
        for row in rows:
            self._fid += 1
            point = self._table.point(row)
            blob = None
            if point is not None:
                lon, lat = point
                blob = gpkg_point(lon, lat)
                boxes.append((self._fid, lon, lon, lat, lat))
                bounds[0], bounds[1] = min(bounds[0], lon), min(bounds[1], lat)
                bounds[2], bounds[3] = max(bounds[2], lon), max(bounds[3], lat)
            features.append((self._fid, blob, *self._table.values(row)))
        self._db.execute("BEGIN")
        self._db.executemany(self._insert, features)
        self._db.executemany(self._index, boxes)
        self._db.execute("COMMIT")  # a failure later keeps a valid file of the rows so far

    def close(self) -> None:
        """Record the extent and the index triggers, and close the file."""
        if self._db is None:
            return
        extent = self._bounds if math.isfinite(self._bounds[0]) else [None] * 4
        self._db.execute("BEGIN")
        self._db.execute(
            "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? "
            "WHERE table_name = ?",
            (*extent, self._layer),
        )
        escaped = self._layer.replace('"', '""')
        for statement in _RTREE_TRIGGERS.strip().split("END;"):
            if statement.strip():
                self._db.execute(statement.format(t=escaped, c=GEOMETRY, i=FID) + "END;")
        self._db.execute("COMMIT")
        self._db.close()
        self._db = None  # type: ignore[assignment]
