"""An offline basemap drawn from what the index holds: the outlines of countries (the built-in
gazetteer) and of the imported admin areas, and, zoomed in, the streets of the imported data.

Served as GeoJSON for one view at a time: geometries are simplified to about a pixel of that
view (cached per level of detail) and found with an STR-tree, so the whole world costs a few
hundred kilobytes and a town its streets.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

# Streets are sent only for views at most this wide (degrees of longitude: a city, zoom ~11).
STREETS_MAX_SPAN = 0.3
MAX_STREETS = 6000
# A view is drawn at about this many pixels across: tolerance = span / PIXELS.
PIXELS = 1500
DIGITS = 5  # ~1 m: more is noise at any zoom the page offers


# (south, west, north, east, limit) -> (name, line WKB) of the streets meeting that box.
StreetFinder = Callable[[float, float, float, float, int], list[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class IndexGeometry:
    """The geometry a basemap needs, as read from the index: every admin area (few), and a
    way to find the streets of one view (a country has millions: they stay in the index)."""

    areas: list[tuple[str, int, bytes]]  # name, admin level (2 = country), polygon WKB
    streets_in: StreetFinder

    @classmethod
    def of(
        cls, areas: list[tuple[str, int, bytes]], streets: list[tuple[str, bytes]]
    ) -> IndexGeometry:
        """Geometry given whole (small sets: tests, a page without an index)."""
        shapes = [_shape(wkb) for _, wkb in streets]
        bounds = [s.bounds if s is not None else None for s in shapes]

        def streets_in(
            south: float, west: float, north: float, east: float, limit: int
        ) -> list[tuple[str, bytes]]:
            found = [
                item for item, b in zip(streets, bounds, strict=True)
                if b is None or (b[1] <= north and b[3] >= south and b[0] <= east and b[2] >= west)
            ]  # fmt: skip
            return found[:limit]

        return cls(areas, streets_in)


def read_index_geometry(index_dir: Path) -> IndexGeometry:
    """The only place the basemap reads the engine's data: admin areas (the built-in country
    outlines and every imported boundary), and the streets of a view from the mapped index."""
    from geobatch.index.read import load_index

    data = load_index(index_dir)
    areas = [(area.name, area.level, area.wkb) for area in data.areas]
    return IndexGeometry(areas, data.streets_in_box)


def _shape(wkb: bytes) -> Any:
    try:
        return shapely.from_wkb(wkb)
    except shapely.errors.GEOSException:
        return None


class _Layer:
    """Geometries with their properties, an STR-tree, and simplified copies per tolerance."""

    def __init__(self, geometries: list[Any], properties: list[dict[str, Any]]) -> None:
        self.geometries = np.array(geometries, dtype=object)
        self.properties = properties
        self.tree = shapely.STRtree(self.geometries)
        self._simplified: dict[int, Any] = {}
        self._lock = threading.Lock()

    def query(self, box: Any, level: int, limit: int | None = None) -> list[str]:
        """GeoJSON feature strings of the geometries meeting ``box`` at detail ``level``."""
        hits = np.sort(self.tree.query(box))
        if limit is not None:
            hits = hits[:limit]
        if len(hits) == 0:
            return []
        shapes = self._at(level)[hits]
        texts = shapely.to_geojson(shapes)
        return [
            f'{{"type":"Feature","geometry":{text},"properties":'
            f"{json.dumps(self.properties[i], ensure_ascii=False)}}}"
            for i, text in zip(hits.tolist(), texts.tolist(), strict=True)
            if text is not None and '"coordinates":[]' not in text
        ]

    def _at(self, level: int) -> Any:
        with self._lock:
            found = self._simplified.get(level)
            if found is None:
                tolerance = 2.0**level * 1e-5
                simple = shapely.simplify(self.geometries, tolerance, preserve_topology=True)
                found = shapely.transform(simple, lambda xy: np.round(xy, DIGITS))
                self._simplified[level] = found
            return found


class Basemap:
    """The basemap of one index, read on first use (in the caller's thread) and kept."""

    def __init__(
        self, index_dir: Path, read: Callable[[Path], IndexGeometry] = read_index_geometry
    ) -> None:
        self.index_dir = index_dir
        self._read = read
        self._layers: tuple[_Layer, StreetFinder] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[_Layer, StreetFinder]:
        with self._lock:
            if self._layers is None:
                data = self._read(self.index_dir)
                areas = _layer(
                    [(wkb, {"layer": "area", "name": name, "level": level})
                     for name, level, wkb in data.areas]
                )  # fmt: skip
                self._layers = (areas, data.streets_in)
            return self._layers

    def view(self, south: float, west: float, north: float, east: float) -> bytes:
        """A FeatureCollection for a view: areas always, streets when the view is narrow."""
        areas, streets = self._load()
        span = max(east - west, north - south, 1e-6)
        level = max(0, min(16, math.floor(math.log2(span / PIXELS / 1e-5))))
        box = shapely.box(west, south, east, north)
        features = areas.query(box, level)
        with_streets = span <= STREETS_MAX_SPAN
        if with_streets:
            found = streets(south, west, north, east, MAX_STREETS)
            if found:
                layer = _layer([(wkb, {"layer": "street", "name": name}) for name, wkb in found])
                if len(layer.properties):
                    features += layer.query(box, max(0, level - 1))
        body = ",\n".join(features)
        return (
            f'{{"type":"FeatureCollection","streets":{json.dumps(with_streets)},'
            f'"features":[\n{body}\n]}}'
        ).encode()


def _layer(items: list[tuple[bytes, dict[str, Any]]]) -> _Layer:
    geometries, properties = [], []
    for wkb, props in items:
        try:
            geometry = shapely.from_wkb(wkb)
        except shapely.errors.GEOSException:
            continue  # one unreadable shape leaves a gap, not a broken map
        if geometry is None or geometry.is_empty:
            continue
        geometries.append(geometry)
        properties.append(props)
    return _Layer(geometries, properties)
