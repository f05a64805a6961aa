"""The single-request pieces without a server: the token buckets, and the Bing Locations and
Nominatim wire formats (parameters in, envelopes out)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from geobatch.formats import locations as loc
from geobatch.formats import nominatim as nom
from geobatch.jobs.ratelimit import RateLimiter, retry_after
from geobatch.model import (
    Address,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ReverseRequest,
)

RESULT = GeocodeResult(
    point=Point(47.0201, 9.0201),
    address=Address(
        house_number="3",
        street="Hauptstrasse",
        locality="Oberdorf",
        postal_code="9401",
        admin_district="Testland",
        country="Liechtenstein",
        country_code="LI",
        formatted="Hauptstrasse 3, 9401 Oberdorf",
    ),
    entity_type=EntityType.ADDRESS,
    confidence=Confidence.HIGH,
    match_codes=(MatchCode.GOOD,),
    bbox=BoundingBox(47.02, 9.02, 47.021, 9.021),
    calculation_method=CalculationMethod.ROOFTOP,
)
TOWN = GeocodeResult(
    point=Point(47.02, 9.02),
    address=Address(locality="Oberdorf", country="Liechtenstein", country_code="LI"),
    entity_type=EntityType.POPULATED_PLACE,
    confidence=Confidence.MEDIUM,
    match_codes=(MatchCode.UP_HIERARCHY,),
    bbox=BoundingBox(47.0, 9.0, 47.04, 9.04),
    name="Oberdorf, Liechtenstein",
)


# --- rate limiter ------------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)  # one token takes half a second
    assert limiter.take("other") == 0.0  # each caller has its own bucket
    now[0] = 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("k") > 0.0
    assert retry_after(0.01) == 1 and retry_after(1.2) == 2


def test_unlimited_and_forgetting() -> None:
    assert RateLimiter(0, 1).take("x") == 0.0
    limiter = RateLimiter(rate=1.0, burst=1, clock=lambda: 0.0, max_callers=2)
    for who in ("a", "b", "c"):
        assert limiter.take(who) == 0.0
    assert limiter.take("a") == 0.0  # forgotten: a full bucket again, never stricter
    with pytest.raises(ValueError):
        RateLimiter(-1, 1)


# --- Bing Locations ----------------------------------------------------------------------------


def test_query_parameters_any_case_with_aliases() -> None:
    asked = loc.parse_request(
        [("Q", "Vaduz"), ("MAXRES", "3"), ("includeNeighborhood", "True"), ("incl", "ciso2")], []
    )
    assert asked.request == GeocodeRequest(query="Vaduz", max_results=3)
    assert asked.neighborhood and asked.country_iso2 and not asked.query_parse
    structured = loc.parse_request([("addressLine", "Hauptstrasse 3"), ("locality", "X")], [])
    assert structured.request == GeocodeRequest(
        address_line="Hauptstrasse 3", locality="X", max_results=5
    )


def test_path_forms() -> None:
    point = loc.parse_request([], ["47.64054,-122.12934"]).request
    assert point == ReverseRequest(47.64054, -122.12934)
    query = loc.parse_request([], ["350 5th Ave, New York"]).request
    assert isinstance(query, GeocodeRequest) and query.query == "350 5th Ave, New York"
    us = loc.parse_request([], ["US", "WA", "-", "Ballard", "-"]).request
    assert us == GeocodeRequest(
        locality="Ballard", admin_district="WA", country="US", max_results=5
    )
    de = loc.parse_request([], ["DE", "10115", "Berlin", "Invalidenstr. 1"]).request
    assert isinstance(de, GeocodeRequest)
    assert (de.postal_code, de.locality, de.address_line) == ("10115", "Berlin", "Invalidenstr. 1")
    typed = loc.parse_request([("includeEntityTypes", "PopulatedPlace,countryregion")], ["1,2"])
    assert typed.request == ReverseRequest(
        1.0, 2.0, 2, (EntityType.POPULATED_PLACE, EntityType.COUNTRY)
    )


@pytest.mark.parametrize(
    ("pairs", "segments", "message"),
    [
        ([], [], "query: a value is required"),
        ([("q", "x"), ("maxResults", "21")], [], "maxResults"),
        ([("q", "x"), ("includeNeighborhood", "perhaps")], [], "not a boolean"),
        ([], ["95,10"], "latitude 95 is outside"),
        ([], ["XX", "a", "b"], "neither a point"),
        ([("includeEntityTypes", "Planet")], ["1,2"], "includeEntityTypes"),
        ([("q", "x"), ("o", "yaml")], [], "output"),
        ([("q", "x"), ("userLocation", "abc")], [], "userLocation"),
    ],
)
def test_bad_requests_name_the_parameter(
    pairs: list[tuple[str, str]], segments: list[str], message: str
) -> None:
    with pytest.raises(loc.LocationsError, match=message):
        loc.parse_request(pairs, segments)


def test_location_json_is_what_geopy_reads() -> None:
    asked = loc.parse_request([("q", "Hauptstrasse 3 Oberdorf"), ("incl", "ciso2,queryParse")], [])
    body = json.loads(loc.render_locations(asked, [RESULT], "t" * 32).body)
    assert body["statusCode"] == 200 and isinstance(body["statusCode"], int)
    resource = body["resourceSets"][0]["resources"][0]
    assert list(resource)[:3] == ["__type", "bbox", "name"]
    assert resource["point"]["coordinates"] == [47.0201, 9.0201]  # latitude first
    assert resource["bbox"] == [47.02, 9.02, 47.021, 9.021]
    assert all(isinstance(v, str) for v in resource["address"].values())
    assert resource["address"]["countryRegionIso2"] == "LI"
    assert resource["address"]["addressLine"] == "Hauptstrasse 3"
    assert {"property": "Locality", "value": "Oberdorf"} in resource["queryParseValues"]
    empty = json.loads(loc.render_locations(asked, [], "t").body)
    assert empty["resourceSets"] == [{"estimatedTotal": 0, "resources": []}]


def test_xml_jsonp_and_suppressed_status() -> None:
    asked = loc.parse_request([("q", "x"), ("o", "XML")], [])
    root = ET.fromstring(loc.render_locations(asked, [RESULT], "t").body)
    ns = {"b": loc.REST_NS}
    assert root.findtext("b:StatusCode", namespaces=ns) == "200"
    location = root.find(".//b:Location", ns)
    assert location is not None
    assert [child.tag.split("}")[1] for child in location][:4] == [
        "Name",
        "Point",
        "BoundingBox",
        "EntityType",
    ]
    out = loc.Output(jsonp="cb", jsonso="s", suppress_status=True)
    error = loc.render_error(401, ["the key is not valid"], "t", out)
    assert error.status == 200 and error.body.startswith(b"cb({") and error.body.endswith(b', "s")')
    assert json.loads(error.body[3:-6])["statusCode"] == 401


def test_reverse_entity_types_keep_the_finest() -> None:
    request = ReverseRequest(47.0, 9.0, 2, (EntityType.POPULATED_PLACE, EntityType.ADDRESS))
    assert loc.select([TOWN, RESULT], request, 1) == [RESULT]


# --- Nominatim -----------------------------------------------------------------------------------


def test_search_parameters() -> None:
    search = nom.parse_search({"q": "Oberdorf", "limit": "99", "format": "json"})
    assert search.limit == 50 and search.common.fmt == "json"
    assert search.request == GeocodeRequest(query="Oberdorf", max_results=50)
    structured = nom.parse_search({"street": "Hauptstrasse 3", "city": "Oberdorf"})
    assert structured.request is not None and structured.request.locality == "Oberdorf"
    assert structured.common.fmt == "jsonv2"
    assert nom.parse_search({"q": ""}).request is None  # empty q: an empty answer, not an error
    assert nom.parse_search({"q": "x", "extratags": "True"}).common.addressdetails is False


@pytest.mark.parametrize(
    ("params", "message", "fmt"),
    [
        ({}, "Nothing to search for.", "jsonv2"),
        ({"q": "a", "city": "b"}, "cannot be used together", "jsonv2"),
        ({"q": "a", "format": "yaml"}, "Parameter 'format' must be one of", None),
        ({"q": "a", "limit": "many"}, "Parameter 'limit' must be a number.", "jsonv2"),
        ({"q": "a", "viewbox": "1,2,3"}, "viewbox", "jsonv2"),
        ({"q": "a", "json_callback": "1bad", "format": "json"}, "json_callback", "json"),
    ],
)
def test_search_errors(params: dict[str, str], message: str, fmt: str | None) -> None:
    with pytest.raises(nom.NominatimError, match=message) as raised:
        nom.parse_search(params)
    assert raised.value.fmt == fmt


def test_reverse_parameters_and_zoom() -> None:
    assert nom.parse_reverse({"lat": "47", "lon": "9"}).request == ReverseRequest(47.0, 9.0)
    town = nom.parse_reverse({"lat": "47", "lon": "9", "zoom": "10"})
    assert town.request is not None and EntityType.ADDRESS not in town.request.include_entity_types
    assert nom.pick_reverse(town, [TOWN]) == TOWN
    assert nom.parse_reverse({"lat": "95", "lon": "9"}).request is None
    with pytest.raises(nom.NominatimError, match=r"Parameter 'lat' missing\."):
        nom.parse_reverse({"lon": "9"})
    with pytest.raises(nom.NominatimError, match="'lon' must be a number"):
        nom.parse_reverse({"lat": "1", "lon": "inf"})


def test_place_is_what_geopy_reads() -> None:
    common = nom.Common("json", True, None)
    (place,) = json.loads(nom.render_places(common, [RESULT], query="q").body)
    assert (place["lat"], place["lon"]) == ("47.0201000", "9.0201000")
    assert place["boundingbox"] == ["47.0200000", "47.0210000", "9.0200000", "9.0210000"]
    assert place["display_name"].startswith("3, Hauptstrasse, Oberdorf")
    assert place["class"] == "place" and place["place_rank"] == 30
    assert place["address"]["road"] == "Hauptstrasse"
    assert list(place["address"])[-1] == "country_code" and place["address"]["country_code"] == "li"
    assert nom.place_id(RESULT) == place["place_id"]
    v2 = json.loads(nom.render_places(nom.Common("jsonv2", False, None), [TOWN], query="q").body)
    assert v2[0]["category"] == "place" and v2[0]["name"] == "Oberdorf"
    assert v2[0]["display_name"] == "Oberdorf, Liechtenstein"


def test_other_formats() -> None:
    geo = json.loads(nom.render_places(nom.Common("geojson", True, None), [RESULT], query="q").body)
    assert geo["features"][0]["geometry"]["coordinates"] == [9.0201, 47.0201]  # lon first
    assert geo["features"][0]["bbox"] == [9.02, 47.02, 9.021, 47.021]
    gj = nom.render_places(nom.Common("geocodejson", True, None), [RESULT], query="Hauptstr")
    body = json.loads(gj.body)
    assert body["geocoding"]["query"] == "Hauptstr"
    assert body["features"][0]["properties"]["geocoding"]["housenumber"] == "3"
    xml = ET.fromstring(nom.render_places(nom.Common("xml", True, None), [RESULT], query="q").body)
    assert xml.tag == "searchresults" and xml.find("place/road") is not None
    unable = nom.render_reverse(nom.Common("json", True, None), None)
    assert json.loads(unable.body) == {"error": "Unable to geocode"}
    none_xml = ET.fromstring(nom.render_reverse(nom.Common("xml", True, None), None).body)
    assert none_xml.findtext("error") == "Unable to geocode"
    jsonp = nom.render_places(nom.Common("json", False, "my.cb"), [], query="q")
    assert jsonp.body == b"my.cb([])" and jsonp.media_type.startswith("application/javascript")


def test_errors_in_each_format() -> None:
    body = json.loads(nom.render_error(400, "Parameter 'lat' missing.", "json").body)
    assert body == {"error": {"code": 400, "message": "Parameter 'lat' missing."}}
    assert ET.fromstring(nom.render_error(401, "no", "xml").body).findtext("code") == "401"
    assert nom.render_error(400, "bad", None).body == b"ERROR 400: bad"
