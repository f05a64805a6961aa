"""The value types: equal values, pickling across processes, immutability checked by mypy."""

from __future__ import annotations

import dataclasses
import pickle
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

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


def _answer() -> Answer:
    result = GeocodeResult(
        Point(47.14, 9.52),
        Address(house_number="12", street="Landstrasse", locality="Triesen", postal_code="9495"),
        EntityType.ADDRESS,
        Confidence.HIGH,
        (MatchCode.GOOD,),
        BoundingBox.around(47.14, 9.52, 25.0),
        CalculationMethod.INTERPOLATION,
        name="Landstrasse 12, 9495 Triesen",
        source="li.osm.pbf",
        score=0.9,
        distance_m=3.5,
    )
    return Answer(ResultStatus.OK, (result, result), reason="")


@pytest.mark.parametrize(
    "value",
    [
        Point(1.5, -2.25),
        BoundingBox(1.0, 2.0, 3.0, 4.0),
        Address(street="Hauptgata", country_code="is"),
        GeocodeRequest(query="Landstrasse 12", postal_code="9495", max_results=3),
        ReverseRequest(47.1, 9.5, 2, (EntityType.ADDRESS, EntityType.COUNTRY)),
        _answer(),
        Answer(ResultStatus.FAILED, reason="latitude 91.0 is outside -90..90"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_survive_pickling_and_hash_like_their_copies(value: object) -> None:
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        copy = pickle.loads(pickle.dumps(value, protocol=protocol))
        assert copy == value
        assert type(copy) is type(value)
        assert hash(copy) == hash(value)


def test_a_pickled_answer_keeps_its_enums_and_nested_values() -> None:
    answer = pickle.loads(pickle.dumps(_answer()))
    best = answer.best
    assert best is not None
    assert best.entity_type is EntityType.ADDRESS
    assert best.calculation_method is CalculationMethod.INTERPOLATION
    assert best.match_codes == (MatchCode.GOOD,)
    assert best.address.locality == "Triesen"
    assert isinstance(best.point, Point)


def test_replace_makes_a_changed_copy() -> None:
    point = Point(1.0, 2.0)
    moved = dataclasses.replace(point, lat=5.0)
    assert (moved.lat, moved.lon, point.lat) == (5.0, 2.0, 1.0)


def test_mypy_rejects_assigning_to_a_field(tmp_path: Path) -> None:
    """Value types are not frozen at run time (for speed); the type checker keeps them
    immutable. If ``value_type`` lost ``frozen_default`` this would pass mypy and fail here."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from geobatch.model import Answer, Point, ResultStatus
            Point(1.0, 2.0).lat = 3.0
            Answer(ResultStatus.OK).reason = "changed"
            """
        )
    )
    out, _, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), "--config-file", "", str(probe)]
    )
    assert status == 1, out
    assert 'Property "lat" defined in "Point" is read-only' in out
    assert 'Property "reason" defined in "Answer" is read-only' in out
