"""Batch rows and their answers as GeoJSON (RFC 7946): one Feature per row, at the best
result's point, with what a map popup or a table shows; a row without a result has a null
geometry and its status and reason. Coordinates are longitude, latitude."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, BinaryIO

from geobatch.formats.batch import BatchRow
from geobatch.model import Answer, GeocodeRequest, GeocodeResult, ResultStatus, ReverseRequest

_STRUCTURED = ("address_line", "locality", "admin_district2", "admin_district", "postal_code")


def query_text(row: BatchRow) -> str:
    """What a row asked, as one line: its free text, its structured fields, or its point."""
    request = row.request
    if isinstance(request, ReverseRequest):
        return f"{request.lat:.6f}, {request.lon:.6f}"
    if isinstance(request, GeocodeRequest):
        parts = [request.query] if request.query else []
        parts += [getattr(request, name) for name in _STRUCTURED if getattr(request, name)]
        if request.country:
            parts.append(request.country)
        return ", ".join(part for part in parts if part)
    return ""


def status_of(row: BatchRow, answer: Answer) -> str:
    """OK, NoResult or Failed, as the CLI's status column says."""
    if row.fault is not None:
        return str(ResultStatus.FAILED)
    if answer.best is None and answer.status is ResultStatus.OK:
        return str(ResultStatus.NO_RESULT)
    return str(answer.status)


def reason_of(row: BatchRow, answer: Answer) -> str:
    if row.fault is not None:
        return row.fault
    if answer.best is None:
        return answer.reason or (
            "no match found" if answer.status is not ResultStatus.FAILED else "geocoding failed"
        )
    return ""


def result_properties(result: GeocodeResult) -> dict[str, Any]:
    return {
        "formatted": result.address.formatted or result.name or "",
        "entity_type": str(result.entity_type),
        "confidence": str(result.confidence),
        "match_codes": [str(code) for code in result.match_codes],
        "calculation_method": str(result.calculation_method),
        "country_code": result.address.country_code or "",
    }


def point_geometry(result: GeocodeResult) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [result.point.lon, result.point.lat]}


def feature(row: BatchRow, answer: Answer) -> dict[str, Any]:
    """A row at its best result's point (null geometry without one)."""
    best = answer.best
    properties: dict[str, Any] = {
        "seq": row.seq,
        "id": row.id,
        "query": query_text(row),
        "status": status_of(row, answer),
        "reason": reason_of(row, answer),
    }
    geometry: dict[str, Any] | None = None
    if best is not None:
        geometry = point_geometry(best)
        properties.update(result_properties(best))
    return {"type": "Feature", "id": row.seq, "geometry": geometry, "properties": properties}


def answer_features(query: str, answer: Answer) -> list[dict[str, Any]]:
    """Every result of a single query's answer, best first."""
    return [
        {
            "type": "Feature",
            "geometry": point_geometry(result),
            "properties": {"query": query, "rank": rank, **result_properties(result)},
        }
        for rank, result in enumerate(answer.results)
    ]


def collection(rows: Iterable[tuple[BatchRow, Answer]], **members: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        **members,
        "features": [feature(row, answer) for row, answer in rows],
    }


def write_collection(out: BinaryIO, rows: Iterable[tuple[BatchRow, Answer]]) -> int:
    """Stream a FeatureCollection of ``rows`` (one feature a line); returns the count."""
    out.write(b'{"type":"FeatureCollection","features":[\n')
    count = 0
    for row, answer in rows:
        if count:
            out.write(b",\n")
        out.write(json.dumps(feature(row, answer), ensure_ascii=False).encode("utf-8"))
        count += 1
    out.write(b"\n]}\n")
    return count
