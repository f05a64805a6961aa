"""Rows and answers as JSON-compatible dicts, so the job store can keep them between the decode
and the encode of a batch. ``from_dict(to_dict(x)) == x`` exactly for every value type here.

Floats go through unchanged (``json`` writes the shortest repr, which reads back bit for bit);
enums are stored by value; tuples become lists and back. Keys are short because a 200,000-row
job stores this once per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geobatch.formats.batch import BatchHeader, BatchRow, EntityOptions
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
    ReverseRequest,
)

JsonDict = dict[str, Any]

_ADDRESS_FIELDS = tuple(Address.__dataclass_fields__)
_REQUEST_FIELDS = tuple(GeocodeRequest.__dataclass_fields__)


def _compact(values: Mapping[str, Any]) -> JsonDict:
    """Drop None values: most address and request fields are empty."""
    return {name: value for name, value in values.items() if value is not None}


# --- requests --------------------------------------------------------------------------------


def request_to_dict(request: GeocodeRequest | ReverseRequest) -> JsonDict:
    if isinstance(request, ReverseRequest):
        return {
            "k": "r",
            "lat": request.lat,
            "lon": request.lon,
            "max": request.max_results,
            "types": [str(t) for t in request.include_entity_types],
        }
    values = _compact({name: getattr(request, name) for name in _REQUEST_FIELDS})
    return {"k": "f", **values}


def request_from_dict(data: Mapping[str, Any]) -> GeocodeRequest | ReverseRequest:
    if data["k"] == "r":
        return ReverseRequest(
            lat=data["lat"],
            lon=data["lon"],
            max_results=data["max"],
            include_entity_types=tuple(EntityType(t) for t in data.get("types", ())),
        )
    return GeocodeRequest(**{name: data[name] for name in _REQUEST_FIELDS if name in data})


# --- rows and headers ------------------------------------------------------------------------


def _options_to_dict(options: EntityOptions) -> JsonDict:
    return {
        "max": options.max_results,
        "minconf": None if options.minimum_confidence is None else str(options.minimum_confidence),
        "nbhd": options.include_neighborhood,
        "parse": options.include_query_parse,
        "types": [str(t) for t in options.include_entity_types],
        "culture": options.culture,
    }


def _options_from_dict(data: Mapping[str, Any]) -> EntityOptions:
    minconf = data["minconf"]
    return EntityOptions(
        max_results=data["max"],
        minimum_confidence=None if minconf is None else Confidence(minconf),
        include_neighborhood=data["nbhd"],
        include_query_parse=data["parse"],
        include_entity_types=tuple(EntityType(t) for t in data["types"]),
        culture=data["culture"],
    )


_DEFAULT_OPTIONS = EntityOptions()


def row_to_dict(row: BatchRow) -> JsonDict:
    data: JsonDict = {"seq": row.seq, "id": row.id}
    if row.request is not None:
        data["req"] = request_to_dict(row.request)
    if row.options != _DEFAULT_OPTIONS:
        data["opt"] = _options_to_dict(row.options)
    if row.fault is not None:
        data["fault"] = row.fault
    if row.echo:
        data["echo"] = dict(row.echo)
    return data


def row_from_dict(data: Mapping[str, Any]) -> BatchRow:
    request = data.get("req")
    options = data.get("opt")
    return BatchRow(
        seq=data["seq"],
        id=data["id"],
        request=None if request is None else request_from_dict(request),
        options=_DEFAULT_OPTIONS if options is None else _options_from_dict(options),
        fault=data.get("fault"),
        echo=dict(data.get("echo", {})),
    )


def header_to_dict(header: BatchHeader) -> JsonDict:
    return {"format": header.format, "version": header.version, "details": dict(header.details)}


def header_from_dict(data: Mapping[str, Any]) -> BatchHeader:
    return BatchHeader(
        format=data["format"], version=data["version"], details=dict(data["details"])
    )


# --- results and answers ---------------------------------------------------------------------


def result_to_dict(result: GeocodeResult) -> JsonDict:
    box = result.bbox
    address = _compact({name: getattr(result.address, name) for name in _ADDRESS_FIELDS})
    return {
        "pt": [result.point.lat, result.point.lon],
        "addr": address,
        "type": str(result.entity_type),
        "conf": str(result.confidence),
        "codes": [str(code) for code in result.match_codes],
        "bbox": [box.south, box.west, box.north, box.east],
        "calc": str(result.calculation_method),
        "name": result.name,
        "src": result.source,
        "score": result.score,
        "dist": result.distance_m,
    }


def result_from_dict(data: Mapping[str, Any]) -> GeocodeResult:
    lat, lon = data["pt"]
    south, west, north, east = data["bbox"]
    return GeocodeResult(
        point=Point(lat, lon),
        address=Address(**data["addr"]),
        entity_type=EntityType(data["type"]),
        confidence=Confidence(data["conf"]),
        match_codes=tuple(MatchCode(code) for code in data["codes"]),
        bbox=BoundingBox(south, west, north, east),
        calculation_method=CalculationMethod(data["calc"]),
        name=data["name"],
        source=data["src"],
        score=data["score"],
        distance_m=data["dist"],
    )


# SQLite JSON paths into a stored answer (answer_to_dict) for the store's queries that filter
# or map results without building them: the best result's point, confidence, match codes.
BEST_POINT = "$.results[0].pt"
BEST_CONFIDENCE = "$.results[0].conf"
BEST_MATCH_CODES = "$.results[0].codes"


def answer_to_dict(answer: Answer) -> JsonDict:
    data: JsonDict = {"status": str(answer.status)}
    if answer.results:
        data["results"] = [result_to_dict(result) for result in answer.results]
    if answer.reason:
        data["reason"] = answer.reason
    return data


def answer_from_dict(data: Mapping[str, Any]) -> Answer:
    return Answer(
        status=ResultStatus(data["status"]),
        results=tuple(result_from_dict(result) for result in data.get("results", ())),
        reason=data.get("reason", ""),
    )
