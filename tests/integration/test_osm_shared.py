"""OsmSource on real OpenStreetMap extracts from ../shared/data/osm: plausible counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import shapely

from geobatch.sources.osm import OsmSource
from geobatch.sources.records import (
    AddressRecord,
    AreaKind,
    AreaRecord,
    InterpolationRecord,
    PlaceRecord,
    Record,
    StreetRecord,
)

pytestmark = pytest.mark.shared_data


def read_all(shared_data_dir: Path, file_name: str) -> list[Record]:
    return list(OsmSource(shared_data_dir / "osm" / file_name).read())


@pytest.fixture(scope="module")
def liechtenstein(shared_data_dir: Path) -> list[Record]:
    return read_all(shared_data_dir, "liechtenstein-2024-03-03.osm.pbf")


def test_liechtenstein_counts(liechtenstein: list[Record]) -> None:
    kinds = Counter(type(record) for record in liechtenstein)
    assert 12_000 <= kinds[AddressRecord] <= 13_500
    street_names = {r.name for r in liechtenstein if isinstance(r, StreetRecord)}
    assert 950 <= len(street_names) <= 1_150
    assert 70 <= kinds[PlaceRecord] <= 100
    assert kinds[InterpolationRecord] == 0


def test_liechtenstein_admin_areas(liechtenstein: list[Record]) -> None:
    areas = [r for r in liechtenstein if isinstance(r, AreaRecord) and r.kind is AreaKind.ADMIN]
    [country] = [area for area in areas if area.level == 2 and area.country_code == "LI"]
    assert country.name == "Liechtenstein"
    outline = shapely.from_wkb(country.wkb)
    assert outline.is_valid
    assert outline.contains(shapely.Point(9.5209, 47.1410))  # Vaduz
    # its eleven municipalities, all assembled from boundary relations
    municipalities = {area.name for area in areas if area.level == 8}
    assert {"Vaduz", "Schaan", "Balzers", "Triesenberg", "Ruggell"} <= municipalities
    assert len(municipalities) >= 11


def test_queens_village_hyphenated_numbers(shared_data_dir: Path) -> None:
    records = read_all(shared_data_dir, "queens-village-ny-2016.osm.pbf")
    addresses = [r for r in records if isinstance(r, AddressRecord)]
    assert 30_000 <= len(addresses) <= 34_000
    hyphenated = [a for a in addresses if "-" in a.housenumber]
    assert len(hyphenated) > 0.9 * len(addresses)  # Queens numbers look like 203-06
    assert any(a.housenumber == "203-06" for a in addresses)


def test_autauga_interpolation_line(shared_data_dir: Path) -> None:
    records = read_all(shared_data_dir, "li-autauga-nominatim-testdb-2021.osm.pbf")
    [line] = [r for r in records if isinstance(r, InterpolationRecord)]
    assert line.scheme == "odd"
    assert [number for _, number in line.numbered] == ["1001", "1051"]
