"""Place-level forward geocoding on the built-in gazetteer alone: names in every script, the
names people type most, and the rules that keep a wrong place from being High."""

from __future__ import annotations

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.spatial import haversine_m
from geobatch.model import Confidence, EntityType, GeocodeRequest

PLACE, COUNTRY = EntityType.POPULATED_PLACE, EntityType.COUNTRY

# (query, type, country code, lat, lon): the answer must be this place (within 25 km).
CASES = [
    # every script: the gazetteer's names as their speakers write them, and transliterated
    ("Москва", PLACE, "RU", 55.752, 37.618),
    ("Москва, Россия", PLACE, "RU", 55.752, 37.618),
    ("Москва, Russia", PLACE, "RU", 55.752, 37.618),
    ("Moskva", PLACE, "RU", 55.752, 37.618),
    ("Αθήνα", PLACE, "GR", 37.984, 23.728),
    ("Αθήνα, Greece", PLACE, "GR", 37.984, 23.728),
    ("東京", PLACE, "JP", 35.690, 139.692),
    ("北京", PLACE, "CN", 39.908, 116.397),
    ("서울", PLACE, "KR", 37.566, 126.978),
    ("القاهرة", PLACE, "EG", 30.063, 31.250),
    ("Київ", PLACE, "UA", 50.455, 30.524),
    ("Россия", COUNTRY, "RU", None, None),
    # the names people type most
    ("New York, NY", PLACE, "US", 40.714, -74.006),
    ("New York", PLACE, "US", 40.714, -74.006),
    ("NYC", PLACE, "US", 40.714, -74.006),
    ("Washington, DC", PLACE, "US", 38.895, -77.036),
    ("Salvador", PLACE, "BR", -12.976, -38.491),
    ("Asunción, Paraguay", PLACE, "PY", -25.287, -57.647),
    ("Paraguay", COUNTRY, "PY", None, None),
]


@pytest.mark.parametrize(("query", "etype", "cc", "lat", "lon"), CASES)
def test_place(
    builtin_geocoder: Geocoder, query: str, etype: EntityType, cc: str,
    lat: float | None, lon: float | None,
) -> None:  # fmt: skip
    best = builtin_geocoder.geocode(query).best
    assert best is not None, query
    assert (best.entity_type, best.address.country_code) == (etype, cc), best.address.formatted
    if lat is not None and lon is not None:
        assert haversine_m(best.point.lat, best.point.lon, lat, lon) < 25_000


def test_structured_locality_and_state(builtin_geocoder: Geocoder) -> None:
    for state in ("DC", "District of Columbia"):
        request = GeocodeRequest(locality="Washington", admin_district=state)
        best = builtin_geocoder.geocode(request).best
        assert best is not None and best.entity_type is PLACE
        assert haversine_m(best.point.lat, best.point.lon, 38.895, -77.036) < 25_000


@pytest.mark.parametrize(
    "query",
    [
        "Москва, Russia",  # every word explained: may be High, but must be the city
        "Salvador",  # a city of that name and a country it is part of: never High
        "Atlantis Springs, Greece",  # a word nothing explains: never High
        "Αθήνα Ωκεανίδα, Greece",
    ],
)
def test_no_wrong_high(builtin_geocoder: Geocoder, query: str) -> None:
    best = builtin_geocoder.geocode(query).best
    assert best is not None
    if best.entity_type is COUNTRY:
        assert best.confidence is not Confidence.HIGH, query
    if query == "Salvador":
        assert best.confidence is not Confidence.HIGH
