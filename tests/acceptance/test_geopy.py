"""geopy itself against a real server: its ``Bing`` and ``Nominatim`` classes with only the
domain changed, compared with the library's own answers on the same index; the errors a geopy
user expects (bad key, bad input, quota, rate limit); and geopy's ``RateLimiter`` against the
per-key limit's 429."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from geopy.adapters import URLLibAdapter
from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
)
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Bing, Nominatim

from geobatch.geocode.geocoder import Geocoder
from geobatch.model import EntityType, GeocodeRequest, GeocodeResult
from tests.acceptance.conftest import Server, start_server

pytestmark = pytest.mark.acceptance

TIMEOUT = 60  # geopy's default is 1 s; the machine is shared
ADDRESS = "Hauptstrasse 3, 9401 Oberdorf"
POINT = (47.0201, 9.0201)


@pytest.fixture(scope="module")
def geocoder(acceptance_index: Path) -> Geocoder:
    """The server's engine on the same index: the answers geopy must see."""
    return Geocoder.open(acceptance_index)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path) -> Iterator[Server]:
    """Open access on, index preloaded; key ``geo`` unlimited, key ``tiny`` 2 a day."""
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("geo",),
        GEOBATCH_OPEN_ACCESS="1",
        GEOBATCH_OPEN_RATE="1000",
        GEOBATCH_OPEN_BURST="1000",
        GEOBATCH_PRELOAD="1",
    )
    running.add_key("tiny", "--daily-limit", "2")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path) -> Iterator[Server]:
    """Two requests a second per key, bursts of two; no open access."""
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("slow",),
        GEOBATCH_KEY_RATE="2",
        GEOBATCH_KEY_BURST="2",
        GEOBATCH_PRELOAD="1",
    )
    yield running
    running.stop()


def bing(server: Server, key: str, **kwargs: object) -> Bing:
    return Bing(
        api_key=key,
        domain=f"127.0.0.1:{server.port}",
        scheme="http",
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def nominatim(server: Server, **kwargs: object) -> Nominatim:
    return Nominatim(
        domain=f"127.0.0.1:{server.port}/nominatim",
        scheme="http",
        user_agent="geobatch-tests",
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def same_point(lat: float, lon: float, result: GeocodeResult) -> bool:
    return abs(lat - result.point.lat) < 1e-6 and abs(lon - result.point.lon) < 1e-6


# --- Bing --------------------------------------------------------------------------------------


def test_bing_geocode_string_is_the_engines_answer(single: Server, geocoder: Geocoder) -> None:
    expected = geocoder.geocode(ADDRESS).best
    assert expected is not None and expected.entity_type is EntityType.ADDRESS
    found = bing(single, single.keys["geo"]).geocode(ADDRESS)
    assert found is not None
    assert same_point(found.latitude, found.longitude, expected)
    assert found.raw["entityType"] == "Address"
    assert found.raw["confidence"] == str(expected.confidence)
    assert "Hauptstrasse" in found.address and "Oberdorf" in found.address


def test_bing_geocode_dict_and_several_results(single: Server, geocoder: Geocoder) -> None:
    query = {"addressLine": "Hauptstrasse 3", "locality": "Oberdorf", "postalCode": "9401"}
    request = GeocodeRequest(
        address_line="Hauptstrasse 3", locality="Oberdorf", postal_code="9401", max_results=5
    )
    expected = geocoder.geocode(request).results
    found = bing(single, single.keys["geo"]).geocode(query, exactly_one=False)
    assert found is not None and len(found) == len(expected) >= 1
    for location, result in zip(found, expected, strict=True):
        assert same_point(location.latitude, location.longitude, result)
    several = bing(single, single.keys["geo"]).geocode("Oberdorf", exactly_one=False)
    assert several is not None and 1 <= len(several) <= 5


def test_bing_reverse_with_country_code(single: Server, geocoder: Geocoder) -> None:
    expected = geocoder.reverse(*POINT).best
    assert expected is not None
    found = bing(single, single.keys["geo"]).reverse(POINT, include_country_code=True)
    assert found is not None
    assert same_point(found.latitude, found.longitude, expected)
    assert found.raw["address"]["countryRegionIso2"] == expected.address.country_code


def test_bing_no_match_is_none(single: Server) -> None:
    assert bing(single, single.keys["geo"]).geocode("qqqq zzzz xyzzy") is None


def test_bing_domain_with_a_trailing_slash(single: Server) -> None:
    # geopy uses the domain verbatim: "host:port/" asks for //REST/v1/Locations.
    client = Bing(
        api_key=single.keys["geo"], domain=f"127.0.0.1:{single.port}/", scheme="http", timeout=60
    )
    assert client.geocode("Oberdorf") is not None


def test_bing_errors_raise_what_geopy_users_expect(single: Server) -> None:
    with pytest.raises(GeocoderAuthenticationFailure):
        bing(single, "not-a-key").geocode(ADDRESS)
    with pytest.raises(GeocoderQueryError):  # an empty query is a 400
        bing(single, single.keys["geo"]).geocode("")
    # geopy refuses an impossible point before sending it (warning, then ValueError) ...
    with pytest.warns(UserWarning, match="Latitude"), pytest.raises(ValueError):
        bing(single, single.keys["geo"]).reverse((95.0, 9.0))
    # ... and the server answers it 400, naming the problem.
    answer = httpx.get(
        f"{single.base}/REST/v1/Locations/95,9", params={"key": single.keys["geo"]}, timeout=30
    )
    assert answer.status_code == 400
    assert answer.json()["errorDetails"] == ["point: latitude 95 is outside -90 to 90"]
    # A query in the path may hold a newline: a query, not an unknown path (was a 404).
    newline = httpx.get(
        f"{single.base}/REST/v1/Locations/Ober%0Adorf", params={"key": single.keys["geo"]}
    )
    assert newline.status_code == 200 and newline.json()["resourceSets"][0]["resources"]


def test_bing_daily_quota_is_the_batch_apis_quota(single: Server) -> None:
    tiny = bing(single, single.keys["tiny"])
    assert tiny.geocode("qqqq zzzz xyzzy") is None  # nothing found: not charged
    assert tiny.geocode("Oberdorf") is not None
    assert tiny.geocode("Unterdorf") is not None
    with pytest.raises(GeocoderQuotaExceeded):
        tiny.geocode("Oberdorf")


# --- Nominatim ----------------------------------------------------------------------------------


def test_nominatim_search_string_and_dict(single: Server, geocoder: Geocoder) -> None:
    expected = geocoder.geocode(ADDRESS).best
    assert expected is not None
    client = nominatim(single)
    found = client.geocode(ADDRESS, addressdetails=True)
    assert found is not None
    assert same_point(found.latitude, found.longitude, expected)
    assert found.raw["address"]["road"] == expected.address.street
    assert found.raw["address"]["house_number"] == expected.address.house_number
    south, north, west, east = (float(v) for v in found.raw["boundingbox"])
    assert south <= found.latitude <= north and west <= found.longitude <= east
    structured = client.geocode({"street": "Hauptstrasse 3", "city": "Oberdorf"})
    assert structured is not None and "Hauptstrasse" in structured.address
    several = client.geocode("Oberdorf", exactly_one=False, limit=3)
    assert several is not None and 1 <= len(several) <= 3
    assert client.geocode("qqqq zzzz xyzzy") is None


def test_nominatim_reverse_and_zoom(single: Server, geocoder: Geocoder) -> None:
    expected = geocoder.reverse(*POINT).best
    assert expected is not None
    client = nominatim(single)
    found = client.reverse(POINT)
    assert found is not None
    assert same_point(found.latitude, found.longitude, expected)
    town = client.reverse(POINT, zoom=10)
    assert town is not None and town.raw["addresstype"] == "city"
    country = client.reverse(POINT, zoom=3)
    assert country is not None and country.raw["addresstype"] == "country"
    # Off the globe: Nominatim's 200 "Unable to geocode", which geopy reads as no result.
    answer = httpx.get(
        f"{single.base}/nominatim/reverse", params={"lat": 95, "lon": 9, "format": "json"}
    )
    assert answer.status_code == 200 and answer.json() == {"error": "Unable to geocode"}


def test_nominatim_formats(single: Server) -> None:
    base = f"{single.base}/nominatim/search"
    for fmt, check in (
        ("jsonv2", lambda body: body[0]["category"] == "place"),
        ("geojson", lambda body: body["features"][0]["geometry"]["type"] == "Point"),
        ("geocodejson", lambda body: body["geocoding"]["query"] == "Oberdorf"),
    ):
        answer = httpx.get(base, params={"q": "Oberdorf", "format": fmt}, timeout=30)
        assert answer.status_code == 200 and check(answer.json()), fmt
    xml = httpx.get(base, params={"q": "Oberdorf", "format": "xml"}, timeout=30)
    assert xml.headers["content-type"].startswith("text/xml") and "<place " in xml.text
    bad = httpx.get(base, params={"q": "Oberdorf", "format": "yaml"}, timeout=30)
    assert bad.status_code == 400 and bad.text.startswith("ERROR 400: Parameter 'format'")
    both = httpx.get(base, params={"q": "x", "city": "y", "format": "json"}, timeout=30)
    assert both.status_code == 400 and both.json()["error"]["code"] == 400
    status = httpx.get(f"{single.base}/nominatim/status", params={"format": "json"})
    assert status.json()["status"] == 0 and status.json()["message"] == "OK"


def test_nominatim_keys_and_open_access(single: Server, throttled: Server) -> None:
    # Open access: no key needed; a key given must be valid; a header key works.
    assert nominatim(single).geocode("Oberdorf") is not None
    bad = httpx.get(
        f"{single.base}/nominatim/search", params={"q": "Oberdorf", "key": "nope"}, timeout=30
    )
    assert bad.status_code == 401
    # Without open access the key is required, as a parameter or an X-Api-Key header.
    with pytest.raises(GeocoderAuthenticationFailure):
        nominatim(throttled).geocode("Oberdorf")
    header = httpx.get(
        f"{throttled.base}/nominatim/search",
        params={"q": "Oberdorf", "format": "json"},
        headers={"X-Api-Key": throttled.keys["slow"]},
        timeout=30,
    )
    assert header.status_code == 200 and header.json()


# --- rate limit ---------------------------------------------------------------------------------


def test_rate_limit_answers_429_and_geopys_rate_limiter_rides_it(throttled: Server) -> None:
    # The urllib adapter does not retry by itself (requests' would sleep Retry-After), so the
    # 429 reaches geopy: GeocoderRateLimited with the server's small Retry-After.
    client = bing(throttled, throttled.keys["slow"], adapter_factory=URLLibAdapter)
    with pytest.raises(GeocoderRateLimited) as limited:
        for _ in range(10):
            client.geocode("Oberdorf")
    assert limited.value.retry_after == 1
    geocode = RateLimiter(
        client.geocode, min_delay_seconds=0, max_retries=5, error_wait_seconds=1.0
    )
    found = [geocode(name) for name in ("Oberdorf", "Unterdorf", "Oberdorf", "Unterdorf")]
    assert all(location is not None for location in found)


# --- operations ---------------------------------------------------------------------------------


def test_healthz_and_metrics(single: Server) -> None:
    health = httpx.get(f"{single.base}/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["runner"] == "alive"
    before = _metric(single, 'geobatch_http_requests_total{api="bing_locations",status="200"}')
    for _ in range(3):
        assert bing(single, single.keys["geo"]).geocode("Oberdorf") is not None
    after = _metric(single, 'geobatch_http_requests_total{api="bing_locations",status="200"}')
    assert after == before + 3
    count = _metric(single, 'geobatch_http_request_duration_seconds_count{api="bing_locations"}')
    assert count >= after
    # A Geocode.Farm batch shows up among the jobs by state and the rows processed.
    submitted = httpx.post(
        f"{single.base}/batch-forward/",
        json={"key": single.keys["geo"], "addresses": ["Oberdorf", "Unterdorf"]},
        timeout=30,
    )
    assert submitted.status_code == 200
    deadline = time.monotonic() + 60
    while _metric(single, 'geobatch_jobs{state="Completed"}') < 1:
        assert time.monotonic() < deadline, "the batch did not complete"
        time.sleep(0.2)
    assert _metric(single, "geobatch_job_rows_processed") >= 2
    assert _metric(single, "geobatch_job_rows_per_second") >= 0


def _metric(server: Server, name: str) -> float:
    """A sample's value from /metrics (0 when the series does not exist yet)."""
    text = httpx.get(f"{server.base}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
