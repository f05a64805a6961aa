"""Tests of the built-in world gazetteer, read once from the installed packages (~10 s)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
import shapely

from geobatch.sources.builtin import BuiltinGazetteer, SubdivisionCodes, fold
from geobatch.sources.records import AreaKind, AreaRecord, PlaceKind, PlaceRecord, Record


@dataclass
class CountingProgress:
    total: int = 0

    def advance(self, amount: int) -> None:
        self.total += amount


@dataclass
class Gazetteer:
    records: list[Record]
    size_hint: int
    progress: int
    places: dict[tuple[str, str | None, PlaceKind], list[PlaceRecord]] = field(default_factory=dict)

    def place(self, name: str, country: str | None, kind: PlaceKind) -> PlaceRecord:
        """The most populous place of that name, country and kind."""
        found = self.places.get((name, country, kind), [])
        assert found, f"no {kind} {name!r} in {country}"
        return max(found, key=lambda place: place.population)

    def areas(self) -> dict[str | None, AreaRecord]:
        return {r.country_code: r for r in self.records if isinstance(r, AreaRecord)}


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    source = BuiltinGazetteer()
    progress = CountingProgress()
    size_hint = source.size_hint
    records = list(source.read(progress))
    result = Gazetteer(records, size_hint, progress.total)
    for record in records:
        if isinstance(record, PlaceRecord):
            key = (record.name, record.country_code, record.kind)
            result.places.setdefault(key, []).append(record)
    return result


def test_name_and_counts(gazetteer: Gazetteer) -> None:
    assert BuiltinGazetteer().name == "builtin-world"
    kinds = Counter(getattr(r, "kind", None) for r in gazetteer.records)
    assert 240 <= kinds[PlaceKind.COUNTRY] <= 260
    assert kinds[AreaKind.ADMIN] >= 170
    assert kinds[PlaceKind.STATE] > 3000
    settlements = kinds[PlaceKind.CITY] + kinds[PlaceKind.TOWN] + kinds[PlaceKind.VILLAGE]
    assert settlements == gazetteer.size_hint > 140_000


def test_progress_counts_places_up_to_size_hint(gazetteer: Gazetteer) -> None:
    assert gazetteer.progress == gazetteer.size_hint


@pytest.mark.parametrize(
    ("name", "country", "kind", "admin1", "admin1_code", "admin2", "min_population"),
    [
        ("Bradford", "GB", PlaceKind.CITY, "England", "ENG", "Bradford", 250_000),
        ("Redmond", "US", PlaceKind.TOWN, "Washington", "WA", "King County", 50_000),
        ("Washington", "US", PlaceKind.CITY, "District of Columbia", "DC", None, 500_000),
        ("Vaduz", "LI", PlaceKind.VILLAGE, "Vaduz", "11", None, 5_000),
        ("Triesen", "LI", PlaceKind.VILLAGE, "Triesen", "09", None, 4_000),
        ("Reykjavík", "IS", PlaceKind.CITY, "Capital Region", None, None, 100_000),
    ],
)
def test_known_places(
    gazetteer: Gazetteer,
    name: str,
    country: str,
    kind: PlaceKind,
    admin1: str,
    admin1_code: str | None,
    admin2: str | None,
    min_population: int,
) -> None:
    place = gazetteer.place(name, country, kind)
    assert (place.admin1, place.admin1_code, place.admin2) == (admin1, admin1_code, admin2)
    assert place.population >= min_population


@pytest.mark.parametrize(
    ("name", "country", "alt_name"),
    [
        ("Reykjavík", "IS", "Reykjavik"),
        ("Bradford", "GB", "Bradanford"),
        ("Washington", "US", "Washington DC"),
    ],
)
def test_city_alt_names(gazetteer: Gazetteer, name: str, country: str, alt_name: str) -> None:
    assert alt_name in gazetteer.place(name, country, PlaceKind.CITY).alt_names


def test_city_alt_names_keep_scripts_but_not_romanisations(gazetteer: Gazetteer) -> None:
    reykjavik = gazetteer.place("Reykjavík", "IS", PlaceKind.CITY)
    assert "Рейкьявик" in reykjavik.alt_names  # as Russian speakers write it
    # GeoNames' machine romanisations ("rey ki ya wei ke") are lower case: none is kept.
    assert all(not name[0].islower() for name in reykjavik.alt_names)
    assert len(set(map(str.casefold, reykjavik.alt_names))) == len(reykjavik.alt_names)


@pytest.mark.parametrize(
    ("country", "name", "alt_names"),
    [
        ("US", "United States", {"USA", "US", "United States of America", "U.S."}),
        ("GB", "United Kingdom", {"UK", "GB", "GBR", "Great Britain"}),
        ("IS", "Iceland", {"ISL", "Ísland", "Island"}),
        ("DE", "Germany", {"DEU", "Deutschland", "Federal Republic of Germany"}),
        ("IR", "Iran", {"Iran, Islamic Republic of", "Islamic Republic of Iran"}),
    ],
)
def test_countries(gazetteer: Gazetteer, country: str, name: str, alt_names: set[str]) -> None:
    record = gazetteer.place(name, country, PlaceKind.COUNTRY)
    assert alt_names <= set(record.alt_names)
    assert name not in record.alt_names
    assert record.population > 0
    assert record.bbox is not None
    west, south, east, north = record.bbox
    assert west <= record.lon <= east and south <= record.lat <= north


@pytest.mark.parametrize(
    ("country", "name", "code", "inside"),
    [
        ("IS", "Iceland", "IS", (-21.93, 64.14)),
        ("GB", "United Kingdom", "GB", (-1.75, 53.79)),
        ("US", "United States", "US", (-122.12, 47.67)),
    ],
)
def test_country_outlines(
    gazetteer: Gazetteer, country: str, name: str, code: str, inside: tuple[float, float]
) -> None:
    area = gazetteer.areas()[country]
    assert (area.name, area.level, area.code, area.kind) == (name, 2, code, AreaKind.ADMIN)
    outline = shapely.from_wkb(area.wkb)
    assert outline.geom_type in ("Polygon", "MultiPolygon") and outline.is_valid
    assert outline.contains(shapely.Point(*inside))


def test_every_outline_is_a_valid_polygon(gazetteer: Gazetteer) -> None:
    outlines = [shapely.from_wkb(area.wkb) for area in gazetteer.areas().values()]
    assert all(o.geom_type in ("Polygon", "MultiPolygon") and o.is_valid for o in outlines)


@pytest.mark.parametrize(
    ("name", "country", "code", "alt_names"),
    [
        ("Washington", "US", "WA", {"US-WA", "WA"}),
        ("District of Columbia", "US", "DC", {"US-DC"}),
        ("England", "GB", "ENG", {"GB-ENG"}),
    ],
)
def test_states(
    gazetteer: Gazetteer, name: str, country: str, code: str, alt_names: set[str]
) -> None:
    state = gazetteer.place(name, country, PlaceKind.STATE)
    assert state.admin1_code == code
    assert alt_names <= set(state.alt_names)
    assert state.bbox is not None
    west, south, east, north = state.bbox
    assert west <= state.lon <= east and south <= state.lat <= north


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Île-de-France", "ile france"),
        ("Provincia di Roma", "di roma"),
        ("Bruxelles-Capitale, Région de", "bruxelles capitale"),
        ("Washington", "washington"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("country", "name", "geonames_code", "code"),
    [
        ("US", "Washington", "", "US-WA"),
        ("US", "", "WA", "US-WA"),
        ("GB", "Wales", "", "GB-WLS"),
        ("GB", "england", "", "GB-ENG"),
        ("FR", "Île-de-France", "", "FR-IDF"),
        ("IS", "Nowhere", "", None),
    ],
)
def test_subdivision_codes(country: str, name: str, geonames_code: str, code: str | None) -> None:
    found = SubdivisionCodes().find(country, name, geonames_code)
    assert (found.code if found else None) == code
