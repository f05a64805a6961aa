"""One data set file opened for reading: its columns mapped, its rows made on demand.

Opening reads the table of contents only. A street, place or postcode becomes a Python object
when asked for (:meth:`DataSet.street` and the like); addresses stay columns (numpy views of the
mapping) and become values only as answers. See :mod:`geobatch.index.layout` for the sections.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geobatch.errors import IndexError_
from geobatch.index.container import Container
from geobatch.index.format import KIND_DATA_SET, check_version
from geobatch.index.grid import Grid, grid_bytes
from geobatch.index.layout import E7, PLACE_KIND_CODES
from geobatch.index.strings import StringColumn, split_names


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
    street: int  # the data set's own street row
    scheme: str
    numbered: str
    postcode: str | None
    wkb: bytes


class _Blobs:
    """A column of bytes (geometries), sliced without copying until asked."""

    def __init__(self, box: Container, name: str) -> None:
        self._offsets = box.view(f"{name}.offsets")
        self._blob = box.raw(f"{name}.blob")

    def get(self, i: int) -> bytes | None:
        start, end = self._offsets[i], self._offsets[i + 1]
        return bytes(self._blob[start:end]) if end > start else None


def _box4(values: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    s, w, n, e = values.tolist()
    return (s, w, n, e)


class DataSet:
    """A data set file, mapped. Rows are numbered from 0 within the data set."""

    def __init__(self, box: Container) -> None:
        self.box = box
        self.path = box.path
        self.meta = box.meta
        self.source: str = str(box.meta.get("source", box.path.name))
        self.build_id: str = str(box.meta.get("build_id", ""))
        b = box
        self.names = StringColumn(b, "names")
        self.numbers = StringColumn(b, "numbers")
        self.units = StringColumn(b, "units")
        self.hn_keys = StringColumn(b, "hn_keys")
        # Streets
        self._s_name = StringColumn(b, "streets.name")
        self._s_key = StringColumn(b, "streets.key")
        self._s_locality = b.view("streets.locality")
        self._s_neighborhood = b.view("streets.neighborhood")
        self._s_postcode = b.view("streets.postcode")
        self._s_admin1 = b.view("streets.admin1")
        self._s_admin2 = b.view("streets.admin2")
        self._s_country = b.view("streets.country")
        self._s_others = StringColumn(b, "streets.others")
        # Float views: typed Any, as typeshed says a memoryview holds ints (compiled code
        # would check that).
        self._s_point_mv: Any = b.view("streets.point")
        self._s_bbox_mv: Any = b.view("streets.bbox")
        self._s_alt = StringColumn(b, "streets.alt_keys")
        self._s_wkb = _Blobs(b, "streets.wkb")
        self.street_pc_keys = StringColumn(b, "streets.pc_keys")
        self.street_loc_keys = StringColumn(b, "streets.loc_keys")
        self.street_admin_keys = StringColumn(b, "streets.admin_keys")
        self._addr_start = b.view("streets.addr_start")
        self.street_count = len(self._s_name)
        # Addresses
        self.addr_street = b.array("addr.street")
        self.addr_number = b.array("addr.number")
        self.addr_hn = b.array("addr.hn")
        self._addr_hn_mv = self.addr_hn.data
        self.addr_unit = b.array("addr.unit")
        self.addr_postcode = b.array("addr.postcode")
        self.addr_lat_e7 = b.array("addr.lat")
        self.addr_lon_e7 = b.array("addr.lon")
        self.address_count = len(self.addr_street)
        # Places, postcodes, areas, interpolation lines
        self._p_name = StringColumn(b, "places.name")
        self._p_kind = b.array("places.kind")
        self._p_point = b.array("places.point")
        self._p_bbox = b.array("places.bbox")
        self._p_pop = b.array("places.population")
        self._p_point_mv: Any = b.view("places.point")
        self._p_bbox_mv: Any = b.view("places.bbox")
        self._p_kind_mv = self._p_kind.data
        self._p_pop_mv = self._p_pop.data
        self._p_text = {
            c: StringColumn(b, f"places.{c}")
            for c in ("country", "admin1", "admin1_code", "admin2", "keys")
        }
        self.place_count = len(self._p_name)
        self._pc_text = {
            c: StringColumn(b, f"postcodes.{c}")
            for c in ("postcode", "key", "country", "locality", "admin1")
        }
        self._pc_point = b.array("postcodes.point")
        self._pc_bbox = b.array("postcodes.bbox")
        self.postcode_count = len(self._pc_text["postcode"])
        self._a_text = {
            c: StringColumn(b, f"areas.{c}") for c in ("name", "kind", "country", "code")
        }
        self._a_level = b.array("areas.level")
        self._a_wkb = _Blobs(b, "areas.wkb")
        self.area_count = len(self._a_level)
        self.interp_street = b.array("interp.street")
        self._interp_street_mv = self.interp_street.data
        self._i_text = {
            c: StringColumn(b, f"interp.{c}") for c in ("scheme", "numbered", "postcode")
        }
        self._i_wkb = _Blobs(b, "interp.wkb")
        self.interp_count = len(self.interp_street)
        self._hn_codes: dict[str, int] | None = None
        self._lists: dict[str, list[str]] = {}
        self._address_grid: Grid | None = None
        self._vertex_grid: Grid | None = None

    @classmethod
    def open(cls, path: Path) -> DataSet:
        box = Container(path)
        if box.meta.get("kind") != KIND_DATA_SET:
            raise IndexError_(f"{path} is not a geobatch data set; import its source again")
        check_version(path, box.meta.get("format_version"))
        try:
            return cls(box)
        except (KeyError, ValueError) as exc:
            raise IndexError_(
                f"index file {path} cannot be read ({exc}); import its source again"
            ) from exc

    # --- rows ----------------------------------------------------------------------------------

    def street(self, i: int) -> StreetRow:
        names = self.name_list()
        point = self._s_point_mv
        box = self._s_bbox_mv
        return StreetRow(
            name=self._s_name.text(i),
            key=self._s_key.text(i),
            locality=names[self._s_locality[i]] or None,
            other_localities=split_names(self._s_others.get(i)),
            neighborhood=names[self._s_neighborhood[i]] or None,
            postcode=names[self._s_postcode[i]] or None,
            admin1=names[self._s_admin1[i]] or None,
            admin2=names[self._s_admin2[i]] or None,
            country_code=names[self._s_country[i]] or None,
            lat=point[2 * i],
            lon=point[2 * i + 1],
            bbox=(box[4 * i], box[4 * i + 1], box[4 * i + 2], box[4 * i + 3]),
            alt_keys=split_names(self._s_alt.get(i)),
            source=self.source,
            wkb=self._s_wkb.get(i),
        )

    def street_keys(self, i: int) -> tuple[str, tuple[str, ...]]:
        """The street's name key and alternate keys, without making its row."""
        return self._s_key[i], split_names(self._s_alt.get(i))

    def streets_in_box(
        self, south: float, west: float, north: float, east: float, limit: int
    ) -> list[tuple[str, bytes]]:
        """(name, line WKB) of the first ``limit`` streets whose extent meets the box (a scan of
        the mapped extents: no street is made an object unless it is in the box)."""
        box = self.box.array("streets.bbox")
        if len(box) == 0:
            return []
        meets = (
            (box[:, 0] <= north) & (box[:, 2] >= south) & (box[:, 1] <= east) & (box[:, 3] >= west)
        )
        out: list[tuple[str, bytes]] = []
        for i in np.flatnonzero(meets).tolist():
            wkb = self._s_wkb.get(i)
            if wkb:
                out.append((self._s_name.text(i), wkb))
                if len(out) >= limit:
                    break
        return out

    def street_key_column(self) -> StringColumn:
        return self._s_key

    def street_alt_column(self) -> StringColumn:
        return self._s_alt

    def street_names(self) -> StringColumn:
        return self._s_name

    def street_has_admin1(self, i: int) -> bool:
        return self._s_admin1[i] != 0

    def street_country(self, i: int) -> str | None:
        return self.name_list()[self._s_country[i]] or None

    def place(self, i: int) -> PlaceRow:
        t = self._p_text
        point = self._p_point_mv
        box = self._p_bbox_mv
        return PlaceRow(
            name=self._p_name.text(i),
            kind=PLACE_KIND_CODES[self._p_kind_mv[i]],
            lat=point[2 * i],
            lon=point[2 * i + 1],
            bbox=(box[4 * i], box[4 * i + 1], box[4 * i + 2], box[4 * i + 3]),
            population=self._p_pop_mv[i],
            country_code=t["country"].get(i),
            admin1=t["admin1"].get(i),
            admin1_code=t["admin1_code"].get(i),
            admin2=t["admin2"].get(i),
            keys=split_names(t["keys"].get(i)),
            source=self.source,
        )

    def place_summaries(
        self, rows: list[int]
    ) -> list[tuple[str, float, float, str | None, str | None]]:
        """(name, lat, lon, country, admin1) of these places, without making their rows."""
        point = self._p_point_mv
        country, admin1 = self._p_text["country"], self._p_text["admin1"]
        return [
            (self._p_name.text(i), point[2 * i], point[2 * i + 1], country.get(i), admin1.get(i))
            for i in rows
        ]

    def place_kinds(self) -> npt.NDArray[np.int8]:
        return self._p_kind

    def place_points(self) -> npt.NDArray[np.float64]:
        return self._p_point

    def place_keys(self) -> StringColumn:
        return self._p_text["keys"]

    def place_spelt_keys(self) -> npt.NDArray[np.int32]:
        """How many of each place's keys (the first ones) are of names as written, not
        transliterated."""
        return self.box.array("places.spelt_keys")

    def place_population(self) -> npt.NDArray[np.int64]:
        return self._p_pop

    def postcode(self, i: int) -> PostcodeRow:
        t = self._pc_text
        lat, lon = self._pc_point[i].tolist()
        return PostcodeRow(
            postcode=t["postcode"][i],
            key=t["key"][i],
            country_code=t["country"].get(i),
            locality=t["locality"].get(i),
            admin1=t["admin1"].get(i),
            lat=lat,
            lon=lon,
            bbox=_box4(self._pc_bbox[i]),
            source=self.source,
        )

    def postcode_keys(self) -> StringColumn:
        return self._pc_text["key"]

    def postcode_context(self, i: int) -> tuple[str | None, str | None]:
        t = self._pc_text
        return t["locality"].get(i), t["admin1"].get(i)

    def area(self, i: int) -> AreaRow:
        t = self._a_text
        return AreaRow(
            name=t["name"][i],
            kind=t["kind"][i],
            level=int(self._a_level[i]),
            country_code=t["country"].get(i),
            code=t["code"].get(i),
            wkb=self._a_wkb.get(i) or b"",
            source=self.source,
        )

    def interpolation(self, i: int) -> InterpolationRow:
        t = self._i_text
        return InterpolationRow(
            street=int(self.interp_street[i]),
            scheme=t["scheme"][i],
            numbered=t["numbered"][i],
            postcode=t["postcode"].get(i),
            wkb=self._i_wkb.get(i) or b"",
        )

    def interpolations_of(self, street: int) -> range:
        """The data set's interpolation rows of one street (they are sorted by street)."""
        mv = self._interp_street_mv
        return range(bisect_left(mv, street), bisect_right(mv, street))

    # --- addresses -----------------------------------------------------------------------------

    def address_range(self, street: int) -> tuple[int, int]:
        return self._addr_start[street], self._addr_start[street + 1]

    def hn_code(self, key: str) -> int:
        """The code of a house-number key in this data set, -1 if no address has it."""
        codes = self._hn_codes
        if codes is None:
            codes = self._hn_codes = {k: i for i, k in enumerate(self.hn_keys)}
        return codes.get(key, -1)

    def number_rows(self, street: int, code: int) -> range:
        """The street's addresses with house-number key ``code`` (by bisection)."""
        start, end = self._addr_start[street], self._addr_start[street + 1]
        mv = self._addr_hn_mv
        lo = bisect_left(mv, code, start, end)
        hi = bisect_right(mv, code, lo, end)
        return range(lo, hi)

    def numbers_on(self, street: int) -> list[tuple[str, range]]:
        """Every house-number key of a street with its rows, in key order."""
        start, end = self._addr_start[street], self._addr_start[street + 1]
        out: list[tuple[str, range]] = []
        mv = self._addr_hn_mv
        i = start
        while i < end:
            code = mv[i]
            j = bisect_right(mv, code, i, end)
            out.append((self.hn_keys[code], range(i, j)))
            i = j
        return out

    def _list(self, name: str, column: StringColumn) -> list[str]:
        found = self._lists.get(name)
        if found is None:
            found = self._lists[name] = column.all()
        return found

    def number_list(self) -> list[str]:
        """The house-number dictionary decoded (made on first use; it grows with the distinct
        numbers, not with the addresses)."""
        return self._list("numbers", self.numbers)

    def unit_list(self) -> list[str]:
        return self._list("units", self.units)

    def name_list(self) -> list[str]:
        return self._list("names", self.names)

    def address_point(self, i: int) -> tuple[float, float]:
        return int(self.addr_lat_e7[i]) / E7, int(self.addr_lon_e7[i]) / E7

    def address_number(self, i: int) -> str:
        return self.numbers[int(self.addr_number[i])]

    def address_postcode(self, i: int) -> str | None:
        code = int(self.addr_postcode[i])
        return self.names.get(code) if code else None

    def address_unit(self, i: int) -> str | None:
        code = int(self.addr_unit[i])
        return self.units.get(code) if code else None

    # --- reverse ---------------------------------------------------------------------------------

    def address_grid(self) -> Grid:
        if self._address_grid is None:
            self._address_grid = Grid(self.box, "grid.addr")
        return self._address_grid

    def vertex_grid(self) -> Grid:
        if self._vertex_grid is None:
            self._vertex_grid = Grid(self.box, "grid.vertex")
        return self._vertex_grid

    # --- what it holds ---------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        counts: Any = self.meta.get("counts", {})
        return {k: int(v) for k, v in counts.items() if k != "street_vertices"}

    def bytes_by_part(self) -> dict[str, int]:
        """Bytes on disk by part: addresses, streets, places, ..., reverse grids."""
        out: dict[str, int] = {}
        for name in self.box.names():
            part = name.split(".", 1)[0]
            if part == "grid":
                part = "reverse grids"
            out[part] = out.get(part, 0) + self.box.section_bytes(name)
        return out

    def grid_bytes(self) -> int:
        return grid_bytes(self.box, "grid.addr") + grid_bytes(self.box, "grid.vertex")


def numbered_of(row: InterpolationRow) -> list[tuple[int, str]]:
    return [(int(i), str(h)) for i, h in json.loads(row.numbered)]
