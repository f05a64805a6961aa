"""OsmSource on a hand-written OSM XML fixture: every record kind, the tag mapping, and errors."""

from __future__ import annotations

import bz2
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

import osmium
import pytest
import shapely

from geobatch.errors import SourceError
from geobatch.sources.osm import OsmSource, alt_names, centroid, valid_polygonal
from geobatch.sources.records import (
    AddressRecord,
    AreaKind,
    AreaRecord,
    InterpolationRecord,
    PlaceKind,
    PlaceRecord,
    Record,
    StreetRecord,
)

T = TypeVar("T")

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "osm" / "tiny.osm"


class CountingProgress:
    def __init__(self) -> None:
        self.total = 0

    def advance(self, amount: int) -> None:
        assert amount > 0
        self.total += amount


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return list(OsmSource(TINY).read())


def of_kind(records: list[Record], kind: type[T]) -> list[T]:
    return [record for record in records if isinstance(record, kind)]


def fields(record: object, names: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


def test_name_and_size_hint() -> None:
    source = OsmSource(TINY)
    assert source.name == "tiny.osm"
    assert source.size_hint == TINY.stat().st_size


def test_counts_per_kind(records: list[Record]) -> None:
    assert Counter(type(record).__name__ for record in records) == {
        "AddressRecord": 9,
        "StreetRecord": 2,
        "PlaceRecord": 4,
        "AreaRecord": 3,
        "InterpolationRecord": 1,
    }


ADDRESSES: list[tuple[str, dict[str, Any]]] = [
    (
        "1",
        {
            "street": "Hauptstrasse",
            "unit": "A",  # addr:unit wins over addr:door
            "postcode": "9490",
            "locality": "Tinytown",
            "district": "Oldquarter",
            "region": "Tinystate",
            "country_code": "LI",  # upper-cased
            "street_is_place": False,
            "lon": 9.5101,
            "lat": 47.1001,
        },
    ),
    ("3", {"street": "Hauptstrasse", "unit": "1-4", "postcode": None, "country_code": None}),
    ("5", {"street": "Hauptstrasse", "unit": "1-4", "lon": 9.5102, "lat": 47.1002}),
    ("7", {"street": "Oberdorf", "street_is_place": True, "unit": "2"}),
    # addr:street wins over addr:place; a country name is not a code.
    ("12-14", {"street": "Hauptstrasse", "street_is_place": False, "country_code": None}),
    ("10", {"street": "Nebenweg", "postcode": "9491", "lon": 9.515, "lat": 47.115}),
    ("20", {"street": "Nebenweg", "locality": "Tinytown"}),
    # a building way, at the centre of its square
    ("9", {"street": "Hauptstrasse", "lon": pytest.approx(9.501), "lat": pytest.approx(47.101)}),
    # a multipolygon building relation, at its centroid
    ("11", {"postcode": "9490", "lon": pytest.approx(9.506), "lat": pytest.approx(47.106)}),
]


def test_address_numbers(records: list[Record]) -> None:
    numbers = [record.housenumber for record in of_kind(records, AddressRecord)]
    # "3; 5;3" is two addresses; the node with addr:street but no number gives none.
    assert sorted(numbers) == sorted(number for number, _ in ADDRESSES)


@pytest.mark.parametrize(("housenumber", "expected"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_address_fields(records: list[Record], housenumber: str, expected: dict[str, Any]) -> None:
    [address] = [r for r in of_kind(records, AddressRecord) if r.housenumber == housenumber]
    assert fields(address, expected) == expected


STREETS: list[tuple[str, dict[str, Any]]] = [
    (
        "Hauptstrasse",
        {
            "coords": ((9.5, 47.1), (9.51, 47.1), (9.52, 47.1)),
            "highway": "residential",
            # list values split, duplicates and the main name dropped, name:etymology ignored
            "alt_names": ("Main Street", "Hauptstraße", "Landstrasse"),
            "postcode": "9490",
        },
    ),
    ("Marktplatz", {"coords": ((9.508, 47.108),), "highway": "square", "alt_names": ()}),
]


@pytest.mark.parametrize(("name", "expected"), STREETS, ids=[s for s, _ in STREETS])
def test_street_fields(records: list[Record], name: str, expected: dict[str, Any]) -> None:
    [street] = [r for r in of_kind(records, StreetRecord) if r.name == name]
    assert fields(street, expected) == expected


def test_non_roads_and_unnamed_ways_are_not_streets(records: list[Record]) -> None:
    names = {street.name for street in of_kind(records, StreetRecord)}
    assert names == {name for name, _ in STREETS}  # no "Bahnsteig" (highway=platform)


PLACES: list[tuple[str, dict[str, Any]]] = [
    (
        "Tinytown",
        {
            "kind": PlaceKind.VILLAGE,
            "lon": 9.51,
            "lat": 47.11,
            "population": 1234,
            "alt_names": ("Tiny Town",),
            "country_code": None,
        },
    ),
    ("Hof", {"kind": PlaceKind.LOCALITY, "population": 0}),  # farm; junk population
    ("Oldquarter", {"kind": PlaceKind.SUBURB, "alt_names": ("Altquartier",)}),  # quarter
    ("Weiler", {"kind": PlaceKind.HAMLET, "lon": pytest.approx(9.521), "lat": 47.111}),  # area
]


def test_place_names(records: list[Record]) -> None:
    # no place=country, no unnamed place=town, place=square is a street
    assert sorted(p.name for p in of_kind(records, PlaceRecord)) == sorted(n for n, _ in PLACES)


@pytest.mark.parametrize(("name", "expected"), PLACES, ids=[p for p, _ in PLACES])
def test_place_fields(records: list[Record], name: str, expected: dict[str, Any]) -> None:
    [place] = [r for r in of_kind(records, PlaceRecord) if r.name == name]
    assert fields(place, expected) == expected


AREAS: list[tuple[str, dict[str, Any], tuple[float, float, float, float]]] = [
    (
        "Tinytown",
        {
            "kind": AreaKind.ADMIN,
            "level": 8,
            "country_code": None,
            "code": "LI-11",
            "alt_names": ("Tiny Town",),
        },
        (9.49, 47.09, 9.53, 47.13),
    ),
    (
        "Tinyland",
        {"kind": AreaKind.ADMIN, "level": 2, "country_code": "LI", "code": None},
        (9.49, 47.09, 9.53, 47.13),
    ),
    ("9490", {"kind": AreaKind.POSTCODE, "level": 0}, (9.495, 47.095, 9.525, 47.125)),
]


def test_area_names(records: list[Record]) -> None:
    # the level-4 relation whose member way is missing cannot be assembled and is skipped
    assert sorted(a.name for a in of_kind(records, AreaRecord)) == sorted(n for n, *_ in AREAS)


@pytest.mark.parametrize(("name", "expected", "bounds"), AREAS, ids=[a for a, *_ in AREAS])
def test_area_fields(
    records: list[Record],
    name: str,
    expected: dict[str, Any],
    bounds: tuple[float, float, float, float],
) -> None:
    [area] = [r for r in of_kind(records, AreaRecord) if r.name == name]
    assert fields(area, expected) == expected
    geometry = shapely.from_wkb(area.wkb)
    assert geometry.geom_type in ("Polygon", "MultiPolygon")
    assert geometry.is_valid
    assert geometry.bounds == pytest.approx(bounds)


def test_interpolation(records: list[Record]) -> None:
    [line] = of_kind(records, InterpolationRecord)
    assert line == InterpolationRecord(
        coords=((9.515, 47.115), (9.516, 47.116), (9.517, 47.117)),
        scheme="even",
        numbered=((0, "10"), (2, "20")),
        street="Nebenweg",  # the way has no addr:* tags: taken from its numbered nodes
        postcode="9491",
        locality="Tinytown",
    )


def test_progress_adds_up_to_size_hint() -> None:
    source = OsmSource(TINY)
    progress = CountingProgress()
    list(source.read(progress))
    assert progress.total == source.size_hint


def write_pbf(target: Path) -> Path:
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(TINY):
            writer.add(obj)
    return target


def test_pbf_gives_the_same_records(records: list[Record], tmp_path: Path) -> None:
    pbf = write_pbf(tmp_path / "tiny.osm.pbf")
    assert list(OsmSource(pbf).read()) == records


def test_bz2_gives_the_same_records(records: list[Record], tmp_path: Path) -> None:
    compressed = tmp_path / "tiny.osm.bz2"
    compressed.write_bytes(bz2.compress(TINY.read_bytes()))
    assert list(OsmSource(compressed).read()) == records


def test_missing_file_fails_when_read_is_called(tmp_path: Path) -> None:
    source = OsmSource(tmp_path / "absent.osm.pbf")
    with pytest.raises(SourceError, match=r"absent\.osm\.pbf does not exist"):
        source.read()
    with pytest.raises(SourceError, match=r"absent\.osm\.pbf"):
        _ = source.size_hint


@pytest.mark.parametrize(
    ("file_name", "content"),
    [
        ("garbage.osm.pbf", b"this is not a protocol buffer, just some text\n"),
        ("garbage.osm", b"this is not XML at all\n"),
        ("page.osm", b"<html><body>not OSM</body></html>\n"),
        ("data.txt", b"a format osmium cannot even name\n"),
        ("empty.osm.pbf", b""),
    ],
)
def test_non_osm_files_raise_source_error(tmp_path: Path, file_name: str, content: bytes) -> None:
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=file_name.replace(".", r"\.")):
        list(OsmSource(path).read())


def test_truncated_pbf_raises_source_error(tmp_path: Path) -> None:
    whole = write_pbf(tmp_path / "whole.osm.pbf").read_bytes()
    truncated = tmp_path / "truncated.osm.pbf"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SourceError, match=r"truncated\.osm\.pbf is truncated, corrupt"):
        list(OsmSource(truncated).read())


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, ()),
        ({"name": "A", "alt_name": "A"}, ()),
        ({"name": "A", "alt_name": "B;C", "old_name": "C", "short_name": "D"}, ("B", "C", "D")),
        ({"name": "A", "official_name": "E", "loc_name": "F"}, ("E", "F")),
        ({"name": "A", "name:fr": "Fr", "name:de": "De", "name:zh-Hans": "Zh"}, ("De", "Fr", "Zh")),
        ({"name": "A", "name:prefix": "X", "name:left": "Y", "name:etymology": "Z"}, ()),
    ],
)
def test_alt_names(tags: dict[str, str], expected: tuple[str, ...]) -> None:
    assert alt_names(tags) == expected


@pytest.mark.parametrize(
    ("coords", "expected"),
    [
        (((9.5, 47.1),), (9.5, 47.1)),
        (((9.5, 47.1), (9.6, 47.3)), (9.55, 47.2)),  # an open line: mean of its points
        (((0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (0.0, 3.0), (0.0, 0.0)), (1.5, 1.5)),
        # an L-shaped ring: the area centroid, not the mean of its corners
        (
            ((0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (1.0, 2.0), (0.0, 2.0), (0.0, 0.0)),
            (0.8333333, 0.8333333),
        ),
        (((1.0, 1.0), (2.0, 1.0), (1.0, 1.0), (1.0, 1.0)), (4 / 3, 1.0)),  # degenerate ring
    ],
)
def test_centroid(coords: tuple[tuple[float, float], ...], expected: tuple[float, float]) -> None:
    assert centroid(coords) == pytest.approx(expected)


def test_valid_polygonal_repairs_a_bow_tie_and_drops_lines() -> None:
    bow_tie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    repaired = valid_polygonal(bow_tie)
    assert repaired is not None
    assert repaired.is_valid
    assert repaired.area == pytest.approx(2.0)
    flat = shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])
    assert valid_polygonal(flat) is None
