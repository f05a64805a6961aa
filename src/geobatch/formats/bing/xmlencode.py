"""Write the succeeded / failed download of an XML upload, v1.0 or v2.0, with the element and
attribute order of the published samples (spec §9.2 "Echo rules", §10.2).

The request is echoed from the decoder's canonical fields: empty attributes dropped, booleans
written ``true``/``false``, attributes re-ordered as the service does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import BinaryIO

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.bing import schema as s
from geobatch.formats.bing import xmlwriter as w
from geobatch.formats.bing.results import (
    BingResponse,
    entity_status,
    is_interpolated,
    number,
    select_results,
    to_response,
)
from geobatch.formats.bing.xmldecode import PRESENT
from geobatch.model import Answer

# The schema marks GeocodeEntity/@Id required: an entity sent without one gets Id="" back.
_ID = frozenset({"Id"})
_BOOLEANS = frozenset({s.INCLUDE_NEIGHBORHOOD, s.INCLUDE_QUERY_PARSE, s.STRICT_MATCH})
_BOOLEANS |= {s.REV_INCLUDE_NEIGHBORHOOD}

_FORWARD_ATTRIBUTES = (
    ("Culture", s.CULTURE),
    ("IncludeNeighborhood", s.INCLUDE_NEIGHBORHOOD),
    ("MaxResults", s.MAX_RESULTS),
    ("Query", s.QUERY),
    ("IncludeQueryParse", s.INCLUDE_QUERY_PARSE),
    ("StrictMatch", s.STRICT_MATCH),
)
_REQUEST_ADDRESS = (
    ("AddressLine", s.ADDRESS_LINE),
    ("AdminDistrict", s.ADMIN_DISTRICT),
    ("Locality", s.LOCALITY),
    ("PostalCode", s.POSTAL_CODE),
    ("CountryRegion", s.COUNTRY_REGION),
    ("AdminDistrict2", s.ADMIN_DISTRICT2),
    ("District", s.DISTRICT),
    ("PostalTown", s.POSTAL_TOWN),
    ("FormattedAddress", s.FORMATTED_ADDRESS),
)
_REVERSE_ATTRIBUTES = {
    "2.0": (
        ("Culture", s.REV_CULTURE),
        ("IncludeEntityTypes", s.REV_ENTITY_TYPES),
        ("IncludeNeighborhood", s.REV_INCLUDE_NEIGHBORHOOD),
        ("MaxResults", s.REV_MAX_RESULTS),
    ),
    # The v1 sample output puts IncludeEntityTypes first.
    "1.0": (
        ("IncludeEntityTypes", s.REV_ENTITY_TYPES),
        ("Culture", s.REV_CULTURE),
        ("IncludeNeighborhood", s.REV_INCLUDE_NEIGHBORHOOD),
        ("MaxResults", s.REV_MAX_RESULTS),
    ),
}
_RESPONSE_ADDRESS = {
    "2.0": (
        ("AddressLine", "AddressLine"),
        ("AdminDistrict", "AdminDistrict"),
        ("CountryRegion", "CountryRegion"),
        ("AdminDistrict2", "AdminDistrict2"),
        ("FormattedAddress", "FormattedAddress"),
        ("Locality", "Locality"),
        ("PostalCode", "PostalCode"),
        ("Landmark", "Landmark"),
        ("Neighborhood", "Neighborhood"),
    ),
    "1.0": (
        ("AddressLine", "AddressLine"),
        ("AdminDistrict", "AdminDistrict"),
        ("CountryRegion", "CountryRegion"),
        ("District", "AdminDistrict2"),
        ("FormattedAddress", "FormattedAddress"),
        ("Locality", "Locality"),
        ("PostalCode", "PostalCode"),
        ("PostalTown", "PostalTown"),
        ("Neighborhood", "Neighborhood"),
    ),
}


def _value(echo: Mapping[str, str], key: str) -> str:
    value = echo.get(key, "").strip()
    if key in _BOOLEANS and value.casefold() in ("1", "true"):
        return "true"
    if key in _BOOLEANS and value.casefold() in ("0", "false"):
        return "false"
    return value


def _pairs(echo: Mapping[str, str], table: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, _value(echo, key)) for name, key in table]


def _request_echo(echo: Mapping[str, str], version: str) -> str:
    """The request element(s) as uploaded, in XSD order (reverse first)."""
    parts: list[str] = []
    if PRESENT + "ReverseGeocodeRequest" in echo:
        children = []
        if PRESENT + "ReverseGeocodeRequest/Location" in echo:
            location = (("Latitude", s.REV_LATITUDE), ("Longitude", s.REV_LONGITUDE))
            children.append(w.empty(3, "Location", _pairs(echo, location)))
        if PRESENT + "ReverseGeocodeRequest/ConfidenceFilter" in echo:
            confidence = (("MinimumConfidence", s.REV_MIN_CONFIDENCE),)
            children.append(w.empty(3, "ConfidenceFilter", _pairs(echo, confidence)))
        parts.append(
            _element(
                2, "ReverseGeocodeRequest", _pairs(echo, _REVERSE_ATTRIBUTES[version]), children
            )
        )
    if PRESENT + "GeocodeRequest" in echo:
        children = []
        if PRESENT + "GeocodeRequest/Address" in echo:
            children.append(w.empty(3, "Address", _pairs(echo, _REQUEST_ADDRESS)))
        if PRESENT + "GeocodeRequest/ConfidenceFilter" in echo:
            confidence = (("MinimumConfidence", s.MIN_CONFIDENCE),)
            children.append(w.empty(3, "ConfidenceFilter", _pairs(echo, confidence)))
        parts.append(_element(2, "GeocodeRequest", _pairs(echo, _FORWARD_ATTRIBUTES), children))
    return "".join(parts)


def _element(indent: int, name: str, pairs: list[tuple[str, str]], children: list[str]) -> str:
    if not children:
        return w.empty(indent, name, pairs)
    return w.start(indent, name, pairs) + "".join(children) + w.end(indent, name)


def _responses(row: BatchRow, answer: Answer) -> list[BingResponse]:
    return [
        to_response(
            result,
            row.request,
            neighborhood=row.options.include_neighborhood,
            query_parse=row.options.include_query_parse,
        )
        for result in select_results(row, answer, limit=None)
    ]


def _v2_response(response: BingResponse) -> str:
    result = response.result
    head = (
        ("Name", response.name),
        ("EntityType", response.entity_type),
        ("Confidence", response.confidence),
        ("MatchCodes", response.match_codes),
    )
    body = []
    address = _pairs(response.address, _RESPONSE_ADDRESS["2.0"])
    if any(value for _, value in address):
        body.append(w.empty(3, "Address", address))
    for point in response.points:
        body.append(
            w.empty(
                3,
                "GeocodePoint",
                (
                    ("CalculationMethod", point.calculation_method),
                    ("Latitude", number(point.latitude)),
                    ("Longitude", number(point.longitude)),
                    ("Type", "Point"),
                    ("UsageTypes", point.usage_types),
                ),
            )
        )
    for prop, value in response.query_parse:
        body.append(w.empty(3, "QueryParseValue", (("Property", prop), ("Value", value))))
    box = result.bbox
    body.append(
        w.empty(
            3,
            "BoundingBox",
            (
                ("SouthLatitude", number(box.south)),
                ("WestLongitude", number(box.west)),
                ("NorthLatitude", number(box.north)),
                ("EastLongitude", number(box.east)),
            ),
        )
    )
    point_pairs = (("Latitude", number(result.point.lat)), ("Longitude", number(result.point.lon)))
    body.append(w.empty(3, "Point", point_pairs))
    return w.start(2, "GeocodeResponse", head) + "".join(body) + w.end(2, "GeocodeResponse")


def _v2_entity(row: BatchRow, answer: Answer) -> str:
    status = entity_status(row, answer)
    entity_pairs = (
        ("Id", row.echo.get(s.ID, row.id)),
        ("MaxResults", _value(row.echo, s.ENTITY_MAX_RESULTS)),
    )
    parts = [w.start(1, "GeocodeEntity", entity_pairs, _ID), _request_echo(row.echo, "2.0")]
    parts.extend(_v2_response(response) for response in _responses(row, answer))
    parts.append(w.leaf(2, "StatusCode", status.code))
    if status.fault:
        parts.append(w.leaf(2, "FaultReason", status.fault))
    parts.append(w.leaf(2, "TraceId", uuid.uuid4().hex))
    parts.append(w.end(1, "GeocodeEntity"))
    return "".join(parts)


def _v1_response(response: BingResponse) -> str:
    result = response.result
    head = (
        ("DisplayName", response.name),
        ("EntityType", response.entity_type),
        ("Confidence", response.confidence),
        ("StatusCode", s.STATUS_SUCCESS),
    )
    body = []
    address = _pairs(response.address, _RESPONSE_ADDRESS["1.0"])
    if any(value for _, value in address):
        body.append(w.empty(3, "Address", address, "/>"))
    location = (
        "InterpolatedLocation"
        if is_interpolated(str(result.calculation_method))
        else "RooftopLocation"
    )
    point_pairs = (("Latitude", number(result.point.lat)), ("Longitude", number(result.point.lon)))
    body.append(w.empty(3, location, point_pairs, "/>"))
    for prop, value in response.query_parse:
        body.append(w.empty(3, "QueryParseValue", (("Property", prop), ("Value", value)), "/>"))
    return w.start(2, "GeocodeResponse", head) + "".join(body) + w.end(2, "GeocodeResponse")


def _v1_entity(row: BatchRow, answer: Answer) -> str:
    status = entity_status(row, answer)
    entity_pairs = (
        ("xmlns", s.GEOCODE_NS),
        ("Id", row.echo.get(s.ID, row.id)),
        ("MaxResults", _value(row.echo, s.ENTITY_MAX_RESULTS)),
    )
    parts = [w.start(1, "GeocodeEntity", entity_pairs, _ID), _request_echo(row.echo, "1.0")]
    if status.code != s.STATUS_SUCCESS:
        fault = (("StatusCode", status.code), ("FaultReason", status.fault or ""))
        parts.append(w.empty(2, "GeocodeResponse", fault))
    else:
        parts.extend(_v1_response(response) for response in _responses(row, answer))
        parts.append(w.empty(2, "DataQuality", (("feedAlias", "geofeed1"),), "/>"))
    parts.append(w.end(1, "GeocodeEntity"))
    return "".join(parts)


def encode_xml(out: BinaryIO, header: BatchHeader, rows: Iterable[tuple[BatchRow, Answer]]) -> int:
    v2 = header.version == "2.0"
    root = (("Version", "2.0"), ("xmlns", s.GEOCODE_NS)) if v2 else (("xmlns", s.GEOCODE_NS),)
    out.write((w.DECLARATION + w.start(0, "GeocodeFeed", root)).encode("utf-8"))
    count = 0
    for row, answer in rows:
        entity = _v2_entity(row, answer) if v2 else _v1_entity(row, answer)
        out.write(entity.encode("utf-8"))
        count += 1
    out.write(w.end(0, "GeocodeFeed").encode("utf-8"))
    return count
