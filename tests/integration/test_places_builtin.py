"""Place-level forward geocoding on the built-in gazetteer alone: names in every script, the
names people type most, and the rules that keep a wrong place from being High."""

from __future__ import annotations

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.spatial import haversine_m
from geobatch.model import Confidence, EntityType, GeocodeRequest, MatchCode

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
    # a city of that name before a country's other name for it, or a state of its name
    ("Guadalupe", PLACE, "MX", 25.677, -100.260),
    ("Veracruz, Mexico", PLACE, "MX", 19.181, -96.142),
    ("São Paulo", PLACE, "BR", -23.548, -46.636),
    # state codes that are also words: Indiana, Louisiana, Delaware
    ("Marion, IN", PLACE, "US", 40.558, -85.659),
    ("Brazil, IN", PLACE, "US", 39.524, -87.125),
    ("Lafayette, LA", PLACE, "US", 30.224, -92.020),
    ("Dover, DE", PLACE, "US", 39.158, -75.524),
    # importance: a namesake twenty times smaller is no rival
    ("Paris", PLACE, "FR", 48.853, 2.349),
    ("Moscow", PLACE, "RU", 55.752, 37.618),
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


@pytest.mark.parametrize("query", ["Paris", "Moscow", "New York, NY", "Marion, IN"])
def test_the_largest_or_confirmed_namesake_is_high(builtin_geocoder: Geocoder, query: str) -> None:
    best = builtin_geocoder.geocode(query).best
    assert best is not None and best.confidence is Confidence.HIGH


@pytest.mark.parametrize("query", ["Springfield", "San Jose"])
def test_namesakes_of_a_size_stay_ambiguous(builtin_geocoder: Geocoder, query: str) -> None:
    best = builtin_geocoder.geocode(query).best
    assert best is not None and best.confidence is not Confidence.HIGH


@pytest.mark.parametrize(
    ("request_", "admin1"),
    [
        # Fresno, Texas (19,000) is a town of its own in the country the query names
        (GeocodeRequest(query="Fresno, United States"), "California"),
        (GeocodeRequest(locality="Fresno", country="United States"), "California"),
        (GeocodeRequest(query="Kawasaki, Japan"), "Kanagawa"),  # Kawasaki, Fukuoka: 17,000
        # "DE" is Delaware, and Demerara-Mahaica in Guyana: no scope the two share
        (GeocodeRequest(query="Georgetown, DE"), "Demerara-Mahaica"),
    ],
)
def test_a_town_of_one_name_in_the_named_scope_is_a_rival(
    builtin_geocoder: Geocoder, request_: GeocodeRequest, admin1: str
) -> None:
    """The larger place is still the answer, but the query cannot tell it from a town of the
    same name in the scope it names: Ambiguous, never High (bench_places.py counted these
    three "City, Country" answers and one "City, ST" as wrong High)."""
    answer = builtin_geocoder.geocode(request_)
    best = answer.best
    assert best is not None and best.address.admin_district == admin1
    assert MatchCode.AMBIGUOUS in best.match_codes
    assert best.confidence is Confidence.MEDIUM


@pytest.mark.parametrize(
    "request_",
    [
        GeocodeRequest(query="Houston, United States"),  # Houston, Missouri: a village
        GeocodeRequest(locality="Houston", country="United States"),
        GeocodeRequest(query="Paris, France"),
        GeocodeRequest(query="Fresno, CA"),  # the state names one of the two
    ],
)
def test_a_village_of_one_name_in_the_named_scope_is_no_rival(
    builtin_geocoder: Geocoder, request_: GeocodeRequest
) -> None:
    best = builtin_geocoder.geocode(request_).best
    assert best is not None and best.entity_type is PLACE
    assert best.confidence is Confidence.HIGH


def test_structured_locality_and_state(builtin_geocoder: Geocoder) -> None:
    for state in ("DC", "District of Columbia"):
        request = GeocodeRequest(locality="Washington", admin_district=state)
        best = builtin_geocoder.geocode(request).best
        assert best is not None and best.entity_type is PLACE
        assert haversine_m(best.point.lat, best.point.lon, 38.895, -77.036) < 25_000


@pytest.mark.parametrize(
    "query",
    [
        "Москва, Russia",  # the country is not all the query says
        "Αθήνα, Greece",
        "Salvador",  # a part of El Salvador's name: the country is no exact reading
        "Atlantis Springs, Greece",  # words nothing explains
    ],
)
def test_a_country_that_leaves_words_unexplained_is_never_high(
    builtin_geocoder: Geocoder, query: str
) -> None:
    for result in builtin_geocoder.geocode(query, max_results=10).results:
        if result.entity_type is COUNTRY:
            assert result.confidence is not Confidence.HIGH, (query, result.address.formatted)
