"""Read OpenStreetMap files (``.osm.pbf``, ``.osm`` XML, ``.osm.bz2``) into plain records.

One :class:`OsmSource` per file. Reading makes three passes, all streamed by pyosmium (libosmium):

1. ways tagged ``addr:interpolation`` only, to learn which nodes carry the numbers of an
   interpolation line (nodes come before ways in a sorted file, so they must be known in advance);
2. relations only, inside pyosmium's area assembly, to learn which multipolygon/boundary
   relations to build;
3. everything, with node locations cached (``flex_mem`` by default) and areas assembled.

Only objects carrying one of a few keys reach Python (a C++ key filter drops the rest), and no
object is kept beyond the interpolation nodes' numbers, so memory stays at the location cache.

Tag mapping, in brief: every node, way or multipolygon with ``addr:housenumber`` gives one
:class:`AddressRecord` per number; named roads give :class:`StreetRecord`; ``place=*`` nodes and
areas give :class:`PlaceRecord`; ``boundary=administrative`` and ``boundary=postal_code`` areas
give :class:`AreaRecord`; ``addr:interpolation`` ways give :class:`InterpolationRecord`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import osmium
import shapely
from osmium.filter import KeyFilter
from osmium.osm.types import OSMEntity

from geobatch.errors import SourceError
from geobatch.sources.records import (
    AddressRecord,
    AreaKind,
    AreaRecord,
    InterpolationRecord,
    PlaceKind,
    PlaceRecord,
    Progress,
    Record,
    StreetRecord,
)

Tags = Mapping[str, str]
Coords = tuple[tuple[float, float], ...]

PLACE_KINDS: Mapping[str, PlaceKind] = {
    "city": PlaceKind.CITY,
    "town": PlaceKind.TOWN,
    "village": PlaceKind.VILLAGE,
    "hamlet": PlaceKind.HAMLET,
    "suburb": PlaceKind.SUBURB,
    "quarter": PlaceKind.SUBURB,
    "borough": PlaceKind.SUBURB,
    "neighbourhood": PlaceKind.NEIGHBOURHOOD,
    "isolated_dwelling": PlaceKind.LOCALITY,
    "locality": PlaceKind.LOCALITY,
    "farm": PlaceKind.LOCALITY,
}

# highway=* values that are not roads a person could live on or be sent to.
NON_ROAD_HIGHWAYS = frozenset(
    {
        "abandoned",
        "bus_stop",
        "construction",
        "corridor",
        "crossing",
        "disused",
        "elevator",
        "emergency_access_point",
        "give_way",
        "milestone",
        "platform",
        "proposed",
        "razed",
        "rest_area",
        "services",
        "speed_camera",
        "stop",
        "street_lamp",
        "traffic_signals",
        "turning_circle",
    }
)

ALT_NAME_KEYS = ("alt_name", "old_name", "short_name", "official_name", "loc_name")
# name:de, name:zh-Hans, name:be-tarask — but not name:etymology, name:prefix, name:left.
_LANGUAGE_NAME_KEY = re.compile(r"name:[a-z]{2,3}(?:-[A-Za-z0-9]+)*")
_UNIT_KEYS = ("addr:unit", "addr:flats", "addr:door")
# Objects without any of these keys cannot give a record; libosmium drops them before Python.
_WANTED_KEYS = ("addr:housenumber", "addr:interpolation", "highway", "place", "boundary")
# Relations worth assembling into areas (closed ways are always assembled by pyosmium).
_AREA_RELATION_KEYS = ("boundary", "place", "addr:housenumber")
# How many objects pass between two looks at the file position.
_PROGRESS_EVERY = 1024


class OsmSource:
    """An OpenStreetMap file; :meth:`read` yields its addresses, streets, places and areas.

    Progress is reported in bytes of the file: ``size_hint`` is the file size, and ``read``
    advances by how far libosmium has read into the file in the main pass (seen through
    ``/proc/self/fdinfo`` on Linux). Where that is not available the whole amount is advanced
    at the end. Either way the total advanced equals ``size_hint`` once reading completes.
    """

    def __init__(self, path: Path, *, location_index: str = "flex_mem") -> None:
        # flex_mem is sparse for extracts and switches to a dense array for planet-sized input.
        self._path = Path(path)
        self._location_index = location_index

    @property
    def name(self) -> str:
        return self._path.name

    @property
    def size_hint(self) -> int:
        return self._stat_size()

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        """Yield records in file order. A missing or unreadable file raises :class:`SourceError`."""
        size = self._stat_size()  # fail now, not at the first next(), when the file is missing
        return self._read(size, progress)

    def _stat_size(self) -> int:
        try:
            if not self._path.is_file():
                raise SourceError(
                    f"OpenStreetMap file {self._path} does not exist or is not a file."
                )
            return self._path.stat().st_size
        except OSError as exc:
            raise SourceError(f"OpenStreetMap file {self._path} cannot be read: {exc}.") from exc

    def _read(self, size: int, progress: Progress | None) -> Iterator[Record]:
        numbered_nodes = self._interpolation_node_ids()
        node_numbers: dict[int, _NumberedNode] = {}
        processor = (
            osmium.FileProcessor(self._path)
            .with_locations(self._location_index)
            .with_areas(KeyFilter(*_AREA_RELATION_KEYS))
            .with_filter(KeyFilter(*_WANTED_KEYS))
        )
        tracker = _ProgressTracker(self._path, size, progress)
        for count, obj in enumerate(self._guarded(processor), start=1):
            if isinstance(obj, osmium.osm.Node):
                tags = _tag_dict(obj.tags)
                if obj.id in numbered_nodes and "addr:housenumber" in tags:
                    node_numbers[obj.id] = _NumberedNode.from_tags(tags)
                yield from _node_records(tags, obj.location)
            elif isinstance(obj, osmium.osm.Way):
                yield from _way_records(_tag_dict(obj.tags), obj.nodes, node_numbers)
            elif isinstance(obj, osmium.osm.Area):
                yield from _area_records(_tag_dict(obj.tags), obj)
            if count % _PROGRESS_EVERY == 0:
                tracker.update()
        tracker.finish()

    def _interpolation_node_ids(self) -> frozenset[int]:
        """Ids of all nodes on addr:interpolation ways (few: kept as a plain set)."""
        processor = osmium.FileProcessor(self._path, osmium.osm.WAY).with_filter(
            KeyFilter("addr:interpolation")
        )
        ids: set[int] = set()
        for way in self._guarded(processor):
            if isinstance(way, osmium.osm.Way):
                ids.update(ref.ref for ref in way.nodes)
        return frozenset(ids)

    def _guarded(self, objects: Iterable[OSMEntity]) -> Iterator[OSMEntity]:
        """Iterate pyosmium's objects, translating its errors (raised while reading) only."""
        iterator = iter(objects)
        while True:
            try:
                obj = next(iterator)
            except StopIteration:
                return
            except (RuntimeError, ValueError, OSError) as exc:
                raise SourceError(
                    f"OpenStreetMap file {self._path} is truncated, corrupt or not OSM data"
                    f" ({str(exc).rstrip('.')})."
                ) from exc
            yield obj


class _ProgressTracker:
    """Turns the reader's position in the file into ``progress.advance`` calls."""

    def __init__(self, path: Path, size: int, progress: Progress | None) -> None:
        self._position = _FilePosition(path) if progress is not None else None
        self._progress = progress
        self._size = size
        self._done = 0

    def update(self) -> None:
        if self._position is None or self._progress is None:
            return
        position = min(self._position.read(), self._size)
        if position > self._done:
            self._progress.advance(position - self._done)
            self._done = position

    def finish(self) -> None:
        if self._progress is not None and self._done < self._size:
            self._progress.advance(self._size - self._done)
            self._done = self._size


class _FilePosition:
    """The offset of libosmium's own descriptor on a file, read from /proc (Linux only).

    pyosmium does not expose how far it has read, but the kernel does. Anywhere else, or if
    the descriptor cannot be found, :meth:`read` answers 0 and progress jumps at the end.
    """

    _FD_DIR = "/proc/self/fd"

    def __init__(self, path: Path) -> None:
        self._target = os.path.realpath(path)
        self._fd: str | None = None

    def read(self) -> int:
        if self._fd is None or not self._points_at_target(self._fd):
            self._fd = self._find_fd()
        if self._fd is None:
            return 0
        try:
            with open(f"/proc/self/fdinfo/{self._fd}", encoding="ascii") as info:
                for line in info:
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            self._fd = None
        return 0

    def _find_fd(self) -> str | None:
        try:
            names = os.listdir(self._FD_DIR)
        except OSError:
            return None
        return next((fd for fd in names if self._points_at_target(fd)), None)

    def _points_at_target(self, fd: str) -> bool:
        try:
            return os.readlink(f"{self._FD_DIR}/{fd}") == self._target
        except OSError:
            return False


@dataclass(frozen=True, slots=True)
class _NumberedNode:
    """What an interpolation line needs from a node carrying a house number."""

    housenumber: str
    street: str | None
    postcode: str | None
    locality: str | None

    @classmethod
    def from_tags(cls, tags: Tags) -> _NumberedNode:
        return cls(
            housenumber=tags["addr:housenumber"].strip(),
            street=tags.get("addr:street") or tags.get("addr:place"),
            postcode=tags.get("addr:postcode"),
            locality=tags.get("addr:city"),
        )


def _tag_dict(tags: osmium.osm.TagList) -> dict[str, str]:
    return {tag.k: tag.v for tag in tags}


# --- nodes -----------------------------------------------------------------------------------


def _node_records(tags: Tags, location: osmium.osm.Location) -> Iterator[Record]:
    if not location.valid():
        return
    lon, lat = location.lon, location.lat
    yield from address_records(tags, lon, lat)
    place = place_record(tags, lon, lat)
    if place is not None:
        yield place
    square = square_record(tags, ((lon, lat),))
    if square is not None:
        yield square


# --- ways ------------------------------------------------------------------------------------


def _way_records(
    tags: Tags, nodes: osmium.osm.WayNodeList, node_numbers: Mapping[int, _NumberedNode]
) -> Iterator[Record]:
    if "addr:interpolation" in tags:
        interpolation = interpolation_record(tags, nodes, node_numbers)
        if interpolation is not None:
            yield interpolation
        return
    coords = tuple((ref.lon, ref.lat) for ref in nodes if ref.location.valid())
    if not coords:
        return
    if "addr:housenumber" in tags:
        lon, lat = centroid(coords)
        yield from address_records(tags, lon, lat)
    street = street_record(tags, coords) or square_record(tags, coords)
    if street is not None:
        yield street
    # Places and boundaries on closed ways come back as areas; see _area_records.


def interpolation_record(
    tags: Tags, nodes: Iterable[osmium.osm.NodeRef], node_numbers: Mapping[int, _NumberedNode]
) -> InterpolationRecord | None:
    """An addr:interpolation way with the numbers of its tagged nodes, or None if unlocated."""
    coords: list[tuple[float, float]] = []
    numbered: list[tuple[int, str]] = []
    ends: list[_NumberedNode] = []
    for ref in nodes:
        if not ref.location.valid():
            continue  # outside the extract; indexes below count located nodes only
        number = node_numbers.get(ref.ref)
        if number is not None:
            numbered.append((len(coords), number.housenumber))
            ends.append(number)
        coords.append((ref.lon, ref.lat))
    if len(coords) < 2:
        return None
    return InterpolationRecord(
        coords=tuple(coords),
        scheme=tags["addr:interpolation"],
        numbered=tuple(numbered),
        street=tags.get("addr:street") or _first(end.street for end in ends),
        postcode=tags.get("addr:postcode") or _first(end.postcode for end in ends),
        locality=tags.get("addr:city") or _first(end.locality for end in ends),
    )


# --- areas -----------------------------------------------------------------------------------


def _area_records(tags: Tags, area: osmium.osm.Area) -> Iterator[Record]:
    boundary = tags.get("boundary")
    wants_boundary = boundary in ("administrative", "postal_code")
    # A place tag on a boundary relation duplicates its label node; a way's address was
    # already taken from the way itself.
    wants_place = boundary is None and tags.get("place") in PLACE_KINDS and "name" in tags
    wants_address = not area.from_way() and "addr:housenumber" in tags
    if not (wants_boundary or wants_place or wants_address):
        return
    geometry = area_geometry(area)
    if geometry is None:
        return
    if wants_boundary:
        record = area_record(tags, shapely.to_wkb(geometry))
        if record is not None:
            yield record
    if wants_place or wants_address:
        point = geometry.centroid
        if wants_place:
            place = place_record(tags, point.x, point.y)
            if place is not None:
                yield place
        if wants_address:
            yield from address_records(tags, point.x, point.y)


def area_geometry(area: osmium.osm.Area) -> shapely.Geometry | None:
    """The area as a valid shapely (multi)polygon, repaired if need be; None if beyond repair."""
    try:
        wkb = osmium.geom.WKBFactory().create_multipolygon(area)
    except RuntimeError:
        return None  # libosmium could not assemble rings from the members
    return valid_polygonal(shapely.from_wkb(wkb))


def valid_polygonal(geometry: shapely.Geometry) -> shapely.Geometry | None:
    """``geometry`` if valid, else its polygonal parts after make_valid; None if none are left."""
    if geometry.is_valid and not geometry.is_empty:
        return geometry
    repaired = shapely.make_valid(geometry)
    parts = [
        part
        for part in shapely.get_parts(repaired)
        if isinstance(part, shapely.Polygon | shapely.MultiPolygon) and not part.is_empty
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return merged if merged.is_valid and not merged.is_empty else None


def area_record(tags: Tags, wkb: bytes) -> AreaRecord | None:
    """An admin boundary (needs name and integer admin_level) or a postcode area."""
    boundary = tags.get("boundary")
    if boundary == "postal_code":
        name = tags.get("postal_code") or tags.get("name")
        if not name:
            return None
        return AreaRecord(name=name, kind=AreaKind.POSTCODE, level=0, wkb=wkb)
    if boundary != "administrative":
        return None
    name = tags.get("name")
    level = _parse_int(tags.get("admin_level"))
    if not name or level is None:
        return None
    return AreaRecord(
        name=name,
        kind=AreaKind.ADMIN,
        level=level,
        wkb=wkb,
        country_code=_country_code(tags.get("ISO3166-1:alpha2") or tags.get("ISO3166-1")),
        alt_names=alt_names(tags),
        code=tags.get("ISO3166-2") or None,
    )


# --- tag mapping (pure) ----------------------------------------------------------------------


def address_records(tags: Tags, lon: float, lat: float) -> Iterator[AddressRecord]:
    """One record per number in addr:housenumber ("1;3;5" is three addresses)."""
    numbers = _split_list(tags.get("addr:housenumber", ""))
    if not numbers:
        return
    street = tags.get("addr:street")
    place = tags.get("addr:place")
    unit = _first(tags.get(key) for key in _UNIT_KEYS)
    country_code = _country_code(tags.get("addr:country"))
    for number in numbers:
        yield AddressRecord(
            lon=lon,
            lat=lat,
            housenumber=number,
            street=street or place,
            unit=unit,
            postcode=tags.get("addr:postcode"),
            locality=tags.get("addr:city"),
            district=tags.get("addr:suburb"),
            region=tags.get("addr:state"),
            country_code=country_code,
            street_is_place=not street and bool(place),
        )


def street_record(tags: Tags, coords: Coords) -> StreetRecord | None:
    """A named road; None for unnamed ways and for highway values that are not roads."""
    highway = tags.get("highway")
    name = tags.get("name")
    if not highway or not name or highway in NON_ROAD_HIGHWAYS:
        return None
    return StreetRecord(
        name=name,
        coords=coords,
        highway=highway,
        alt_names=alt_names(tags),
        postcode=tags.get("postal_code") or tags.get("addr:postcode"),
    )


def square_record(tags: Tags, coords: Coords) -> StreetRecord | None:
    """A named place=square: addresses hang off squares as they do off streets."""
    name = tags.get("name")
    if tags.get("place") != "square" or not name or "highway" in tags:
        return None  # a square that is also a highway is already a street
    return StreetRecord(
        name=name,
        coords=coords,
        highway="square",
        alt_names=alt_names(tags),
        postcode=tags.get("postal_code") or tags.get("addr:postcode"),
    )


def place_record(tags: Tags, lon: float, lat: float) -> PlaceRecord | None:
    """A named settlement or locality; None for other place values."""
    kind = PLACE_KINDS.get(tags.get("place", ""))
    name = tags.get("name")
    if kind is None or not name:
        return None
    return PlaceRecord(
        name=name,
        kind=kind,
        lon=lon,
        lat=lat,
        alt_names=alt_names(tags),
        population=_parse_int(tags.get("population")) or 0,
    )


def alt_names(tags: Tags) -> tuple[str, ...]:
    """Other names: alt/old/short/official/local names, then name:xx by language code."""
    main = tags.get("name")
    language_keys = sorted(key for key in tags if _LANGUAGE_NAME_KEY.fullmatch(key))
    seen: dict[str, None] = {}
    for key in (*ALT_NAME_KEYS, *language_keys):
        for name in _split_list(tags.get(key, "")):
            if name != main:
                seen.setdefault(name)
    return tuple(seen)


def centroid(coords: Coords) -> tuple[float, float]:
    """Centroid of a closed ring (shoelace), else the mean of the points."""
    if len(coords) >= 4 and coords[0] == coords[-1]:
        # Work relative to the first corner: products of raw degrees cancel badly.
        ox, oy = coords[0]
        twice_area = cx = cy = 0.0
        for (x0, y0), (x1, y1) in pairwise((x - ox, y - oy) for x, y in coords):
            cross = x0 * y1 - x1 * y0
            twice_area += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if twice_area != 0.0:
            return ox + cx / (3.0 * twice_area), oy + cy / (3.0 * twice_area)
        coords = coords[:-1]  # degenerate ring: fall back to the mean of distinct corners
    count = len(coords)
    return sum(x for x, _ in coords) / count, sum(y for _, y in coords) / count


def _split_list(value: str) -> list[str]:
    """OSM's ``a;b;c`` list convention, stripped and deduplicated in order."""
    return list(dict.fromkeys(part.strip() for part in value.split(";") if part.strip()))


def _first(values: Iterable[str | None]) -> str | None:
    return next((value for value in values if value), None)


def _parse_int(value: str | None) -> int | None:
    """An integer tag such as population or admin_level; thousands separators tolerated."""
    if value is None:
        return None
    digits = value.strip().replace(",", "").replace(" ", "").replace("_", "")
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _country_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None
