"""Forward and reverse geocoding on the real extracts and the built-in gazetteer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.spatial import haversine_m
from geobatch.model import (
    Confidence,
    EntityType,
    GeocodeRequest,
    MatchCode,
    ResultStatus,
    ReverseRequest,
)
from geobatch.sources.detect import open_source
from geobatch.sources.records import AddressRecord
from tests.conftest import shared_file
from tests.integration.conftest import ICELAND, LI_2024, QUEENS, index_with

pytestmark = pytest.mark.shared_data


def _addresses(relative: str) -> list[AddressRecord]:
    return [
        r
        for r in open_source(shared_file(relative)).read()
        if isinstance(r, AddressRecord) and r.street
    ]


def _share_within(geocoder: Geocoder, truth: list[AddressRecord], metres: float) -> float:
    queries = [
        GeocodeRequest(query=f"{r.street} {r.housenumber}, {r.postcode or ''} {r.locality or ''}")
        for r in truth
    ]
    hits = 0
    for r, answer in zip(truth, geocoder.geocode_batch(queries), strict=True):
        best = answer.best
        if best and haversine_m(best.point.lat, best.point.lon, r.lat, r.lon) <= metres:
            hits += 1
    return hits / len(truth)


def test_every_liechtenstein_address_is_found(li_geocoder: Geocoder) -> None:
    truth = _addresses(LI_2024)
    assert len(truth) > 12_000
    assert _share_within(li_geocoder, truth, 50.0) >= 0.99


def test_the_issue_example(li_geocoder: Geocoder) -> None:
    best = li_geocoder.geocode("Landstrasse 12, 9495 Triesen").best
    assert best is not None
    assert best.entity_type is EntityType.ADDRESS
    assert best.address.locality == "Triesen"
    assert best.address.country == "Liechtenstein"


def test_unknown_number_falls_back_to_the_street(li_geocoder: Geocoder) -> None:
    best = li_geocoder.geocode("Landstrasse 9999, 9495 Triesen").best
    assert best is not None
    assert best.entity_type is EntityType.ROAD_BLOCK
    assert MatchCode.UP_HIERARCHY in best.match_codes
    assert best.address.locality == "Triesen"


@pytest.mark.parametrize(
    ("query", "cc", "lat", "lon", "admin"),
    [
        ("Bradford, United Kingdom", "GB", 53.79, -1.75, "England"),
        ("Redmond, WA", "US", 47.67, -122.12, "Washington"),
        ("Vaduz, Liechtenstein", "LI", 47.14, 9.52, None),
        ("Reykjavik", "IS", 64.14, -21.90, None),
        ("Springfield, IL, USA", "US", 39.80, -89.64, "Illinois"),
        ("München", "DE", 48.14, 11.58, None),
    ],
)
def test_places_from_the_builtin_gazetteer(
    builtin_geocoder: Geocoder, query: str, cc: str, lat: float, lon: float, admin: str | None
) -> None:
    best = builtin_geocoder.geocode(query).best
    assert best is not None
    assert best.entity_type is EntityType.POPULATED_PLACE
    assert best.address.country_code == cc
    assert haversine_m(best.point.lat, best.point.lon, lat, lon) < 5_000
    if admin:
        assert best.address.admin_district == admin
    assert best.match_codes == (MatchCode.GOOD,)


def test_countries_from_the_builtin_gazetteer(builtin_geocoder: Geocoder) -> None:
    for query, cc in (("Liechtenstein", "LI"), ("USA", "US"), ("Deutschland", "DE")):
        best = builtin_geocoder.geocode(query).best
        assert best is not None, query
        assert best.entity_type is EntityType.COUNTRY
        assert best.address.country_code == cc


def test_reverse_every_liechtenstein_address(li_geocoder: Geocoder) -> None:
    truth = _addresses(LI_2024)
    answers = li_geocoder.reverse_batch([ReverseRequest(r.lat, r.lon) for r in truth])
    same = sum(
        1
        for r, a in zip(truth, answers, strict=True)
        if a.best and a.best.address.house_number == r.housenumber.strip()
    )
    assert same / len(truth) >= 0.995
    best = answers[0].best
    assert best is not None
    assert best.address.country_code == "LI"
    assert best.confidence is Confidence.HIGH


def test_reverse_admin_areas_and_no_result_at_sea(li_geocoder: Geocoder) -> None:
    vaduz = li_geocoder.reverse(47.1410, 9.5215).best
    assert vaduz is not None
    assert vaduz.address.locality == "Vaduz"
    assert vaduz.address.admin_district2 == "Oberland"
    atlantic = li_geocoder.reverse(40.0, -40.0)
    assert atlantic.status is ResultStatus.NO_RESULT
    # Outside the extract but inside the built-in coverage: a place, never an invented address.
    zurich = li_geocoder.reverse(47.3769, 8.5417).best
    assert zurich is not None
    assert zurich.entity_type is not EntityType.ADDRESS
    assert zurich.address.country_code == "CH"


@pytest.mark.parametrize(
    ("lat", "lon", "cc", "locality"),
    [
        (47.17, 9.47, "CH", "Buchs"),  # across the Rhine from Schaan
        (47.165, 9.51, "LI", "Schaan"),
        (47.23, 9.60, "AT", "Feldkirch"),  # across the eastern border
        (47.2405, 9.535, "LI", "Ruggell"),
    ],
)
def test_reverse_border_points_get_their_own_country(
    li_geocoder: Geocoder, lat: float, lon: float, cc: str, locality: str
) -> None:
    best = li_geocoder.reverse(lat, lon).best
    assert best is not None
    assert best.address.country_code == cc
    assert best.address.locality == locality


def test_queens_hyphenated_numbers_without_city(
    builtin_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    geocoder = Geocoder.open(index_with(builtin_index, tmp_path_factory.mktemp("q"), QUEENS))
    truth = random.Random(7).sample(_addresses(QUEENS), 3_000)
    assert any("-" in r.housenumber for r in truth)
    assert _share_within(geocoder, truth, 50.0) >= 0.99
    best = geocoder.reverse(truth[0].lat, truth[0].lon).best
    assert best is not None
    assert best.address.country_code == "US"
    assert best.address.locality  # assigned at import: the extract has almost no addr:city


def test_iceland_register_gets_its_country_from_the_builtin_polygons(
    builtin_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    geocoder = Geocoder.open(index_with(builtin_index, tmp_path_factory.mktemp("is"), ICELAND))
    truth = random.Random(3).sample(_addresses(ICELAND), 3_000)
    assert _share_within(geocoder, truth, 50.0) >= 0.97
    best = geocoder.geocode(f"{truth[0].street} {truth[0].housenumber}").best
    assert best is not None
    assert best.address.country_code == "IS"
