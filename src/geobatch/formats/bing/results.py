"""Our answers in Bing's vocabulary: which results an entity gets back (MinimumConfidence,
MaxResults, IncludeEntityTypes), and each result as the fields of a ``GeocodeResponse``.

Shared by the XML and text encoders so both say the same thing about the same answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from geobatch.formats.batch import BatchRow
from geobatch.formats.bing import schema as s
from geobatch.model import (
    Address,
    Answer,
    CalculationMethod,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    ResultStatus,
    ReverseRequest,
)

# Countries that write the house number after the street ("Hauptstraße 5"); elsewhere before.
_NUMBER_AFTER_STREET = frozenset(
    {"AT", "BA", "BE", "BG", "CH", "CL", "CZ", "DE", "DK", "EE", "ES", "FI", "GR", "HR", "HU"}
    | {"IS", "IT", "LT", "LV", "MK", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "TR"}
)
# Where the result is a street address, its one point is good for both showing and routing.
_ROUTABLE = frozenset({EntityType.ADDRESS, EntityType.ROAD_BLOCK})


@dataclass(frozen=True, slots=True)
class GeocodePoint:
    calculation_method: str
    latitude: float
    longitude: float
    usage_types: str


@dataclass(frozen=True, slots=True)
class BingResponse:
    """One ``GeocodeResponse``: field values already in Bing's words."""

    name: str
    entity_type: str
    confidence: str
    match_codes: str
    address: dict[str, str]  # XML attribute name (AddressLine, ...) -> value, only non-empty
    points: tuple[GeocodePoint, ...]
    query_parse: tuple[tuple[str, str], ...]
    result: GeocodeResult


@dataclass(frozen=True, slots=True)
class Status:
    code: str
    fault: str | None


def entity_status(row: BatchRow, answer: Answer) -> Status:
    """StatusCode and FaultReason of an entity. Only Success and BadRequest are documented, so a
    failed geocode is BadRequest too; its FaultReason says what went wrong."""
    if row.fault is not None:
        return Status(s.STATUS_BAD_REQUEST, row.fault)
    if answer.status is ResultStatus.FAILED:
        return Status(s.STATUS_BAD_REQUEST, answer.reason or s.FAULT_GEOCODE_FAILED)
    return Status(s.STATUS_SUCCESS, None)


def select_results(row: BatchRow, answer: Answer, *, limit: int | None) -> list[GeocodeResult]:
    """The results an entity gets back, best first: at least MinimumConfidence, of an
    IncludeEntityTypes type (reverse), at most ``limit`` (MaxResults in XML, 1 in text)."""
    if row.fault is not None or answer.status is not ResultStatus.OK:
        return []
    options = row.options
    kept: list[GeocodeResult] = []
    for result in answer.results:
        if options.minimum_confidence is not None and (
            s.CONFIDENCE_ORDER[result.confidence] < s.CONFIDENCE_ORDER[options.minimum_confidence]
        ):
            continue
        if isinstance(row.request, ReverseRequest) and options.include_entity_types:
            as_bing = s.FILTER_ALIASES.get(result.entity_type, result.entity_type)
            if as_bing not in options.include_entity_types:
                continue
        kept.append(result)
    return kept[: limit if limit is not None else max(options.max_results, 1)]


def address_line(address: Address) -> str:
    """House number and street in the country's order; the formatted address's first segment
    wins when it holds both (it already has the local order and any unit)."""
    number, street = (address.house_number or "").strip(), (address.street or "").strip()
    if not street:
        return ""
    if not number:
        return street
    first = (address.formatted or "").split(",", 1)[0].strip()
    if number in first and street in first:
        return first
    if (address.country_code or "").upper() in _NUMBER_AFTER_STREET:
        return f"{street} {number}"
    return f"{number} {street}"


def _formatted(address: Address, line: str) -> str:
    if address.formatted:
        return address.formatted
    region = " ".join(p for p in (address.admin_district, address.postal_code) if p)
    parts = (line, address.locality, region, address.country)
    return ", ".join(p for p in parts if p)


def to_response(
    result: GeocodeResult,
    request: GeocodeRequest | ReverseRequest | None,
    *,
    neighborhood: bool,
    query_parse: bool,
) -> BingResponse:
    source = result.address
    line = address_line(source)
    formatted = _formatted(source, line)
    address = {
        "AddressLine": line,
        "AdminDistrict": source.admin_district or "",
        "CountryRegion": source.country or source.country_code or "",
        "AdminDistrict2": source.admin_district2 or "",
        "FormattedAddress": formatted,
        "Locality": source.locality or "",
        "PostalCode": source.postal_code or "",
        "Neighborhood": (source.neighborhood or "") if neighborhood else "",
    }
    usage = "Display, Route" if result.entity_type in _ROUTABLE else "Display"
    point = GeocodePoint(str(result.calculation_method), result.point.lat, result.point.lon, usage)
    parse: tuple[tuple[str, str], ...] = ()
    if query_parse and isinstance(request, GeocodeRequest) and request.query:
        parse = parse_query(request.query, address)
    return BingResponse(
        name=result.name or formatted,
        entity_type=str(result.entity_type),
        confidence=str(result.confidence),
        match_codes=", ".join(str(code) for code in result.match_codes),
        address={k: v for k, v in address.items() if v},
        points=(point,),
        query_parse=parse,
        result=result,
    )


_PARSE_PROPERTIES = (
    "AddressLine",
    "Locality",
    "AdminDistrict",
    "AdminDistrict2",
    "PostalCode",
    "CountryRegion",
)


def parse_query(query: str, address: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """How the query was read, as Bing's QueryParseValues: each address part of the result that
    the query spells out (whole words, any case), with the query's own spelling, in query order.
    Geocoders do not report their parse, so this is read back from the result."""
    found: list[tuple[int, str, str]] = []
    for prop in _PARSE_PROPERTIES:
        value = address.get(prop, "")
        if not value:
            continue
        match = re.search(rf"(?<!\w){re.escape(value)}(?!\w)", query, re.IGNORECASE)
        if match is not None:
            found.append((match.start(), prop, match.group(0)))
    return tuple((prop, value) for _, prop, value in sorted(found))


def is_interpolated(method: str) -> bool:
    return method in (CalculationMethod.INTERPOLATION, CalculationMethod.INTERPOLATION_OFFSET)


def number(value: float) -> str:
    """A coordinate as the samples print it: up to 15 significant digits, never an exponent."""
    text = f"{value:.15g}"
    if "e" in text or "E" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points_json(points: Sequence[GeocodePoint]) -> str:
    """GeocodePoints for text files: a JSON array whose values are all strings (spec §9.1)."""
    return _compact(
        [
            {
                "Latitude": number(p.latitude),
                "Longitude": number(p.longitude),
                "UsageTypes": p.usage_types,
                "Type": "Point",
                "CalculationMethod": p.calculation_method,
            }
            for p in points
        ]
    )


def query_parse_json(pairs: Sequence[tuple[str, str]]) -> str:
    return _compact([{"Property": p, "Value": v} for p, v in pairs]) if pairs else ""


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
