"""The Bing Maps REST Locations API's wire format (``../shared/spec/bing-locations.md``): reading
a request (query parameters, case-insensitive, with their aliases; and the path forms) and
writing the Response envelope of ``Location`` resources in JSON or XML, errors included.

The address parts come from the same mapping the Dataflow results use
(:func:`geobatch.formats.bing.results.to_response`), so one answer reads the same in both APIs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from geobatch.errors import InputError
from geobatch.formats.bing import xmlwriter as w
from geobatch.formats.bing.responses import BRAND_LOGO_URI, COPYRIGHT, REST_NS
from geobatch.formats.bing.results import BingResponse, to_response
from geobatch.model import EntityType, GeocodeRequest, GeocodeResult, ReverseRequest

LOCATION_TYPE = f"Location:{REST_NS}"
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
JS_TYPE = "application/javascript; charset=utf-8"
DEFAULT_MAX_RESULTS = 5
MAX_RESULTS = 20
STRUCTURED_COUNTRIES = frozenset({"ca", "fr", "de", "uk", "gb", "us"})
ADDRESS_FIELDS = ("addressline", "locality", "admindistrict", "postalcode", "countryregion")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
_POINT = re.compile(r"^\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*,\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")
_ENTITY_TYPES = {t.value.lower(): t for t in EntityType if t is not EntityType.ROAD_BLOCK}


class LocationsError(InputError):
    """A request the API refuses with 400; the message names the parameter."""


@dataclass(frozen=True, slots=True)
class Output:
    """How to answer: ``json``/``xml``, JSONP, and whether HTTP status is always 200."""

    fmt: str = "json"
    jsonp: str | None = None
    jsonso: str | None = None
    suppress_status: bool = False


@dataclass(frozen=True, slots=True)
class LocationsRequest:
    output: Output
    request: GeocodeRequest | ReverseRequest
    max_results: int
    neighborhood: bool
    country_iso2: bool
    query_parse: bool


class Params:
    """Query parameters the Bing way: names any case, the first of a repeated name wins, a
    blank value is absent."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        for name, value in pairs:
            self.values.setdefault(name.lower(), value)

    def get(self, *names: str) -> str | None:
        for name in names:
            value = self.values.get(name)
            if value is not None and value.strip():
                return value.strip()
        return None


def _bool(params: Params, *names: str) -> bool:
    value = params.get(*names)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise LocationsError(f"{names[0]}: {value!r} is not a boolean (use true or false, 1 or 0)")


def parse_output(params: Params) -> Output:
    """The output options; read first, so that even an error is written as asked."""
    fmt = (params.get("output", "o") or "json").lower()
    jsonp = params.get("jsonp")
    out = Output(
        fmt if fmt in ("json", "xml") else "json",
        jsonp if jsonp and _CALLBACK.match(jsonp) else None,
        params.get("jsonso"),
        (params.get("suppressstatus", "ss") or "").lower() in _TRUE,
    )
    if fmt not in ("json", "xml"):
        raise _Bad(out, f"output: {fmt!r} is not a format (use json or xml)")
    if jsonp is not None and out.jsonp is None:
        raise _Bad(out, f"jsonp: {jsonp!r} is not a JavaScript function name")
    return out


class _Bad(LocationsError):
    """A 400 found while reading the output options themselves: carries what was read."""

    def __init__(self, output: Output, message: str) -> None:
        super().__init__(message)
        self.output = output


def _max_results(params: Params) -> int:
    value = params.get("maxresults", "maxres")
    if value is None:
        return DEFAULT_MAX_RESULTS
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_RESULTS:
        raise LocationsError(f"maxResults: {value!r} is not a whole number from 1 to {MAX_RESULTS}")
    return number


def _includes(params: Params) -> set[str]:
    value = params.get("include", "incl") or ""
    return {p.strip().lower() for p in value.split(",") if p.strip()}


def parse_point(text: str) -> tuple[float, float] | None:
    """``lat,lon`` as two numbers, or None when the text is no point at all."""
    match = _POINT.match(text)
    if match is None:
        return None
    try:
        lat, lon = float(match.group(1)), float(match.group(2))
    except ValueError:
        return None
    return lat, lon


def _check_point(lat: float, lon: float, name: str = "point") -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise LocationsError(f"{name}: the coordinates are not numbers")
    if not -90.0 <= lat <= 90.0:
        raise LocationsError(f"{name}: latitude {lat:g} is outside -90 to 90")
    if not -180.0 <= lon <= 180.0:
        raise LocationsError(f"{name}: longitude {lon:g} is outside -180 to 180")


def _dash(value: str) -> str | None:
    """Path values: a lone ``-`` means "no value"."""
    value = value.strip()
    return None if value in ("", "-") else value


def parse_request(pairs: Sequence[tuple[str, str]], segments: Sequence[str]) -> LocationsRequest:
    """A Locations request from its query parameters and the path segments after
    ``/Locations/`` (percent-decoded). Raises :class:`LocationsError` for a 400."""
    params = Params(pairs)
    output = parse_output(params)
    segments = [s for s in segments if s != ""]
    includes = _includes(params)
    neighborhood = _bool(params, "includeneighborhood", "inclnb")
    if len(segments) == 1 and (point := parse_point(segments[0])) is not None:
        lat, lon = point
        _check_point(lat, lon)
        types = _entity_types(params)
        request: GeocodeRequest | ReverseRequest = ReverseRequest(
            lat, lon, max(1, len(types)), types
        )
        return LocationsRequest(output, request, 1, neighborhood, "ciso2" in includes, False)
    max_results = _max_results(params)
    _user_context(params)
    if len(segments) == 1:
        text = segments[0].strip()
        request = GeocodeRequest(query=text, max_results=max_results)
    elif len(segments) >= 2:
        request = _structured_path(segments, max_results)
    elif (query := params.get("query", "q")) is not None:
        request = GeocodeRequest(query=query, max_results=max_results)
    else:
        fields = {name: params.get(name) for name in ADDRESS_FIELDS}
        if not any(fields.values()):
            raise LocationsError(
                "query: a value is required (or at least one of addressLine, locality, "
                "adminDistrict, postalCode, countryRegion)"
            )
        request = GeocodeRequest(
            address_line=fields["addressline"],
            locality=fields["locality"],
            admin_district=fields["admindistrict"],
            postal_code=fields["postalcode"],
            country=fields["countryregion"],
            max_results=max_results,
        )
    if request.is_empty():
        raise LocationsError("query: a value is required")
    return LocationsRequest(
        output,
        request,
        max_results,
        neighborhood,
        "ciso2" in includes,
        "queryparse" in includes,
    )


def _structured_path(segments: Sequence[str], max_results: int) -> GeocodeRequest:
    """``/Locations/{country}/…`` in the per-country orders of spec §1."""
    country = segments[0].strip().lower()
    rest = [_dash(s) for s in segments[1:]]
    if country not in STRUCTURED_COUNTRIES or len(rest) > 4:
        raise LocationsError(
            "the path after /Locations/ is neither a point (lat,lon), a query, nor a "
            "structured address (CA, FR, DE, UK, GB or US followed by its fields)"
        )
    admin = postcode = locality = line = None
    if country == "ca":
        admin, postcode, locality, line = (rest + [None] * 4)[:4]
    elif country in ("fr", "de"):
        postcode, locality, line = (rest + [None] * 3)[:3]
    elif country in ("uk", "gb"):
        postcode = rest[0]
        locality, line = (rest[1:] + [None] * 2)[:2]
    elif len(rest) == 4:  # US with ZIP
        admin, postcode, locality, line = rest
    else:
        admin, locality, line = (rest + [None] * 3)[:3]
    return GeocodeRequest(
        address_line=line,
        locality=locality,
        admin_district=admin,
        postal_code=postcode,
        country="GB" if country == "uk" else country.upper(),
        max_results=max_results,
    )


def _entity_types(params: Params) -> tuple[EntityType, ...]:
    value = params.get("includeentitytypes")
    if value is None:
        return ()
    types = []
    for name in (p.strip().lower() for p in value.split(",") if p.strip()):
        kind = _ENTITY_TYPES.get(name)
        if kind is None:
            known = ", ".join(t.value for t in _ENTITY_TYPES.values())
            raise LocationsError(f"includeEntityTypes: {name!r} is not one of {known}")
        types.append(kind)
    return tuple(dict.fromkeys(types))


def _user_context(params: Params) -> None:
    """userLocation and userMapView are accepted (and checked) but do not change the ranking."""
    location = params.get("userlocation", "ul")
    if location is not None:
        point = parse_point(location.rsplit(",", 1)[0] if location.count(",") == 2 else location)
        if point is None:
            raise LocationsError(f"userLocation: {location!r} is not a point lat,lon")
        _check_point(*point, name="userLocation")


# --- rendering -----------------------------------------------------------------------------------


def status_description(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _round(value: float) -> float:
    return round(value, 6)


def location_json(response: BingResponse, *, iso2: bool) -> dict[str, Any]:
    """One ``Location`` resource in the documented member order."""
    result = response.result
    b = result.bbox
    address = {k[0].lower() + k[1:]: v for k, v in response.address.items()}
    if iso2 and result.address.country_code:
        address["countryRegionIso2"] = result.address.country_code.upper()
    point = [_round(result.point.lat), _round(result.point.lon)]
    return {
        "__type": LOCATION_TYPE,
        "bbox": [_round(b.south), _round(b.west), _round(b.north), _round(b.east)],
        "name": response.name,
        "point": {"type": "Point", "coordinates": point},
        "address": dict(sorted(address.items())),
        "confidence": response.confidence,
        "entityType": response.entity_type,
        "geocodePoints": [
            {
                "type": "Point",
                "coordinates": [_round(p.latitude), _round(p.longitude)],
                "calculationMethod": p.calculation_method,
                "usageTypes": [u.strip() for u in p.usage_types.split(",")],
            }
            for p in response.points
        ],
        "matchCodes": [c.strip() for c in response.match_codes.split(",") if c.strip()],
        **(
            {"queryParseValues": [{"property": p, "value": v} for p, v in response.query_parse]}
            if response.query_parse
            else {}
        ),
    }


def _xml_location(response: BingResponse, *, iso2: bool) -> list[str]:
    result = response.result
    b = result.bbox
    address = dict(response.address)
    if iso2 and result.address.country_code:
        address["CountryRegionIso2"] = result.address.country_code.upper()
    parts = [
        w.start(4, "Location"),
        w.leaf(5, "Name", response.name),
        w.start(5, "Point"),
        w.leaf(6, "Latitude", repr(_round(result.point.lat))),
        w.leaf(6, "Longitude", repr(_round(result.point.lon))),
        w.end(5, "Point"),
        w.start(5, "BoundingBox"),
        w.leaf(6, "SouthLatitude", repr(_round(b.south))),
        w.leaf(6, "WestLongitude", repr(_round(b.west))),
        w.leaf(6, "NorthLatitude", repr(_round(b.north))),
        w.leaf(6, "EastLongitude", repr(_round(b.east))),
        w.end(5, "BoundingBox"),
        w.leaf(5, "EntityType", response.entity_type),
        w.start(5, "Address"),
        *(w.leaf(6, k, v) for k, v in sorted(address.items())),
        w.end(5, "Address"),
        w.leaf(5, "Confidence", response.confidence),
        *(w.leaf(5, "MatchCode", c.strip()) for c in response.match_codes.split(",") if c.strip()),
        *(
            w.empty(5, "QueryParseValue", [("Property", p), ("Value", v)])
            for p, v in response.query_parse
        ),
    ]
    for p in response.points:
        parts += [
            w.start(5, "GeocodePoint"),
            w.leaf(6, "Latitude", repr(_round(p.latitude))),
            w.leaf(6, "Longitude", repr(_round(p.longitude))),
            w.leaf(6, "CalculationMethod", p.calculation_method),
            *(w.leaf(6, "UsageType", u.strip()) for u in p.usage_types.split(",")),
            w.end(5, "GeocodePoint"),
        ]
    parts.append(w.end(4, "Location"))
    return parts


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    status: int  # the HTTP status to send (200 with suppressStatus)


def _envelope_json(
    status: int, trace_id: str, auth: str, extra: dict[str, Any], output: Output
) -> Rendered:
    body: dict[str, Any] = {
        "authenticationResultCode": auth,
        "brandLogoUri": BRAND_LOGO_URI,
        "copyright": COPYRIGHT,
        **extra,
        "statusCode": status,
        "statusDescription": status_description(status),
        "traceId": trace_id,
    }
    text = json.dumps(dict(sorted(body.items())), ensure_ascii=False, separators=(",", ":"))
    http = 200 if output.suppress_status else status
    if output.jsonp:
        state = f", {json.dumps(output.jsonso)}" if output.jsonso is not None else ""
        return Rendered(f"{output.jsonp}({text}{state})".encode(), JS_TYPE, http)
    return Rendered(text.encode("utf-8"), JSON_TYPE, http)


def _envelope_xml(
    status: int, trace_id: str, auth: str, errors: Sequence[str], sets: list[str], output: Output
) -> Rendered:
    root = [
        ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
        ("xmlns", REST_NS),
    ]
    parts = [
        w.DECLARATION,
        w.start(0, "Response", root),
        w.leaf(1, "Copyright", COPYRIGHT),
        w.leaf(1, "BrandLogoUri", BRAND_LOGO_URI),
        w.leaf(1, "StatusCode", str(status)),
        w.leaf(1, "StatusDescription", status_description(status)),
        w.leaf(1, "AuthenticationResultCode", auth),
    ]
    if errors:
        parts += [w.start(1, "ErrorDetails"), *(w.leaf(2, "string", m) for m in errors)]
        parts.append(w.end(1, "ErrorDetails"))
    parts.append(w.leaf(1, "TraceId", trace_id))
    parts += sets or [w.empty(1, "ResourceSets", [], close="/>")]
    parts.append(w.end(0, "Response"))
    http = 200 if output.suppress_status else status
    return Rendered("".join(parts).encode("utf-8"), XML_TYPE, http)


def select(
    results: Sequence[GeocodeResult], request: GeocodeRequest | ReverseRequest, limit: int
) -> list[GeocodeResult]:
    """The results to show: for a reverse with includeEntityTypes, the finest type found (and
    a neighbourhood with its populated place, as Bing does); else the first ``limit``."""
    if isinstance(request, ReverseRequest) and request.include_entity_types:
        wanted = [r for r in results if r.entity_type in request.include_entity_types]
        if not wanted:
            return []
        finest = min(wanted, key=lambda r: _FINENESS.index(r.entity_type))
        if finest.entity_type is EntityType.NEIGHBORHOOD:
            return [r for r in wanted if r.entity_type in _NEIGHBOURHOOD_PAIR][:2]
        return [finest]
    return list(results[:limit])


_FINENESS = (
    EntityType.ADDRESS,
    EntityType.ROAD_BLOCK,
    EntityType.NEIGHBORHOOD,
    EntityType.POPULATED_PLACE,
    EntityType.POSTCODE,
    EntityType.ADMIN_DIVISION2,
    EntityType.ADMIN_DIVISION1,
    EntityType.COUNTRY,
)
_NEIGHBOURHOOD_PAIR = frozenset({EntityType.NEIGHBORHOOD, EntityType.POPULATED_PLACE})


def render_locations(
    asked: LocationsRequest, results: Sequence[GeocodeResult], trace_id: str
) -> Rendered:
    """The 200 answer: one resource set holding the results (none: an empty list)."""
    responses = [
        to_response(
            r, asked.request, neighborhood=asked.neighborhood, query_parse=asked.query_parse
        )
        for r in results
    ]
    auth = "ValidCredentials"
    if asked.output.fmt == "json":
        resources = [location_json(r, iso2=asked.country_iso2) for r in responses]
        sets = {"resourceSets": [{"estimatedTotal": len(resources), "resources": resources}]}
        return _envelope_json(200, trace_id, auth, sets, asked.output)
    xml_sets = [
        w.start(1, "ResourceSets"),
        w.start(2, "ResourceSet"),
        w.leaf(3, "EstimatedTotal", str(len(responses))),
        w.start(3, "Resources"),
    ]
    for r in responses:
        xml_sets += _xml_location(r, iso2=asked.country_iso2)
    xml_sets += [w.end(3, "Resources"), w.end(2, "ResourceSet"), w.end(1, "ResourceSets")]
    return _envelope_xml(200, trace_id, auth, (), xml_sets, asked.output)


def render_error(
    status: int,
    messages: Sequence[str],
    trace_id: str,
    output: Output,
    *,
    authentication: str | None = None,
) -> Rendered:
    """An error: the envelope with ``errorDetails`` and an empty ``resourceSets``."""
    auth = authentication or ("InvalidCredentials" if status == 401 else "ValidCredentials")
    if output.fmt == "json":
        extra = {"errorDetails": list(messages), "resourceSets": []}
        return _envelope_json(status, trace_id, auth, extra, output)
    return _envelope_xml(status, trace_id, auth, messages, [], output)


def output_of(error: Exception, pairs: Sequence[tuple[str, str]]) -> Output:
    """The output options to write an error in (the defaults when they were the error)."""
    if isinstance(error, _Bad):
        return error.output
    try:
        return parse_output(Params(pairs))
    except LocationsError:
        return Output()
