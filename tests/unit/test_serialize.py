"""Rows, headers and answers survive the JSON round trip of the job store exactly."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest

from geobatch.formats.batch import BatchHeader, BatchRow, EntityOptions
from geobatch.formats.serialize import (
    answer_from_dict,
    answer_to_dict,
    header_from_dict,
    header_to_dict,
    row_from_dict,
    row_to_dict,
)
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

RESULT = GeocodeResult(
    point=Point(47.140_123_456_789_01, 9.520_987_654_321),
    address=Address(house_number="12", street="Städtle", locality="Vaduz", country_code="LI"),
    entity_type=EntityType.ADDRESS,
    confidence=Confidence.HIGH,
    match_codes=(MatchCode.GOOD, MatchCode.UP_HIERARCHY),
    bbox=BoundingBox(47.1, 9.5, 47.2, 9.6),
    calculation_method=CalculationMethod.INTERPOLATION,
    name="Städtle 12, 9490 Vaduz",
    source="osm",
    score=0.1 + 0.2,
    distance_m=None,
)

ROWS = [
    BatchRow(0, "001", GeocodeRequest(query="Städtle 12, Vaduz")),
    BatchRow(
        1,
        "",
        GeocodeRequest(address_line="1 Main", locality="X", postal_code="01234", max_results=3),
        EntityOptions(
            max_results=3,
            minimum_confidence=Confidence.MEDIUM,
            include_neighborhood=True,
            include_query_parse=True,
            culture="en-GB",
        ),
        echo={"Id": "2", "GeocodeRequest/Culture": "en-GB"},
    ),
    BatchRow(
        2,
        "x",
        ReverseRequest(
            -33.868_82, 151.209_296, 2, (EntityType.ADDRESS, EntityType.POPULATED_PLACE)
        ),
        EntityOptions(include_entity_types=(EntityType.ADDRESS, EntityType.POPULATED_PLACE)),
    ),
    BatchRow(3, "4", None, fault="To geocode a location, you must specify at least one field."),
]

ANSWERS = [
    Answer(ResultStatus.OK, (RESULT, RESULT)),
    Answer(ResultStatus.NO_RESULT, reason="no match"),
    Answer(ResultStatus.FAILED, reason="bad latitude"),
    Answer(ResultStatus.OK, (replace(RESULT, distance_m=12.5, address=Address()),)),
]


def _through_json(data: object) -> Any:
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: str(r.seq))
def test_row_round_trip(row: BatchRow) -> None:
    assert row_from_dict(_through_json(row_to_dict(row))) == row


@pytest.mark.parametrize("answer", ANSWERS)
def test_answer_round_trip(answer: Answer) -> None:
    assert answer_from_dict(_through_json(answer_to_dict(answer))) == answer


def test_floats_come_back_bit_for_bit() -> None:
    back = answer_from_dict(_through_json(answer_to_dict(ANSWERS[0])))
    assert back.results[0].score == 0.1 + 0.2
    assert back.results[0].point.lat.hex() == RESULT.point.lat.hex()


def test_nan_reverse_request_survives() -> None:
    row = BatchRow(0, "1", ReverseRequest(math.nan, 1.0))
    back = row_from_dict(json.loads(json.dumps(row_to_dict(row))))
    assert isinstance(back.request, ReverseRequest) and math.isnan(back.request.lat)


def test_header_round_trip() -> None:
    header = BatchHeader("pipe", "2.0", {"header": "Id|GeocodeRequest/Culture"})
    assert header_from_dict(_through_json(header_to_dict(header))) == header
