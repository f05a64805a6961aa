"""Forward and reverse geocoding on a small made-up index: two villages, one street name in both.

The index is built from ``tests/fixtures/geocode/twovillages.osm`` with the real importer into a
real SQLite file; nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.index.spatial import haversine_m
from geobatch.model import (
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeRequest,
    MatchCode,
    ResultStatus,
    ReverseRequest,
)
from geobatch.sources.osm import OsmSource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "geocode" / "twovillages.osm"

# Where the fixture puts things (see the fixture file).
HAUPT_3_OBERDORF = (47.0201, 9.008)
HAUPT_1_UNTERDORF = (47.0201, 9.046)


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    index = tmp_path_factory.mktemp("index")
    import_source(index, OsmSource(FIXTURE))
    return Geocoder.open(index)


G, M, U, A = MatchCode.GOOD, MatchCode.AMBIGUOUS, MatchCode.UP_HIERARCHY, EntityType.ADDRESS
HIGH, MED, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW


@pytest.mark.parametrize(
    ("query", "etype", "number", "locality", "codes", "conf"),
    [
        ("Hauptstrasse 3, 9401 Oberdorf", A, "3", "Oberdorf", (G,), HIGH),
        ("hauptstr. 3 oberdorf", A, "3", "Oberdorf", (G,), HIGH),
        ("HAUPTSTRASSE 3 OBERDORF", A, "3", "Oberdorf", (G,), HIGH),
        ("Oberdorf, Hauptstrasse 3", A, "3", "Oberdorf", (G,), HIGH),
        ("Hauptstrasse 1, Unterdorf", A, "1", "Unterdorf", (G,), HIGH),
        ("Hauptstrasse 1, 9402", A, "1", "Unterdorf", (G,), HIGH),
        ("Hauptstrasse 1", A, "1", None, (M,), MED),
        ("Hauptstrasse 99, Oberdorf", EntityType.ROAD_BLOCK, None, "Oberdorf", (U,), MED),
        ("Kirchweg 12 A, Oberdorf", A, "12a", "Oberdorf", (G,), HIGH),
        ("Kirchweg 12a, Muehleholz", A, "12a", "Oberdorf", (G,), HIGH),
        ("Bahnhofstrasse 4, 9402", A, "4", "Unterdorf", (G,), HIGH),
        ("Bahnhofstrasse 4, FL-9402 Unterdorf", A, "4", "Unterdorf", (G,), HIGH),
        ("Bahnhofstraße 4, Unterdorf", A, "4", "Unterdorf", (G,), HIGH),
        ("9402", EntityType.POSTCODE, None, "Unterdorf", (G,), HIGH),
        ("Oberdorf", EntityType.POPULATED_PLACE, None, "Oberdorf", (G,), HIGH),
        ("Mühleholz", EntityType.NEIGHBORHOOD, None, "Mühleholz", (G,), HIGH),
        ("Nonexistent Road 5, Oberdorf", EntityType.POPULATED_PLACE, None, "Oberdorf", (U,), LOW),
        # typos: one edit in a short name, two in a long one, a swap counts as one
        ("Hauptstrase 3, 9401 Oberdorf", A, "3", "Oberdorf", (G,), HIGH),
        ("Hautpstrasse 3, Oberdorf", A, "3", "Oberdorf", (G,), HIGH),
        # two edits: found, but never High, even with the postcode confirming it
        ("Bahnhfstrase 4, 9402", A, "4", "Unterdorf", (G,), MED),
        ("Kirchweg 12a, Oberdorff", A, "12a", "Oberdorf", (G,), HIGH),
        ("Kirchweg 12a Oberdrof", A, "12a", "Oberdorf", (G,), HIGH),
        ("Hauptstrase 3", A, "3", "Oberdorf", (G,), MED),
        ("Oberdrof", EntityType.POPULATED_PLACE, None, "Oberdorf", (G,), MED),
    ],
)
def test_forward(
    geocoder: Geocoder,
    query: str,
    etype: EntityType,
    number: str | None,
    locality: str | None,
    codes: tuple[MatchCode, ...],
    conf: Confidence,
) -> None:
    answer = geocoder.geocode(query)
    assert answer.status is ResultStatus.OK, answer.reason
    best = answer.best
    assert best is not None
    assert best.entity_type is etype
    assert best.address.house_number == number
    if locality is not None:
        assert best.address.locality == locality
    assert best.match_codes == codes
    assert best.confidence is conf


def test_house_number_point_is_the_data_point(geocoder: Geocoder) -> None:
    best = geocoder.geocode("Hauptstrasse 3, 9401 Oberdorf").best
    assert best is not None
    assert haversine_m(best.point.lat, best.point.lon, *HAUPT_3_OBERDORF) < 1
    assert best.address.postal_code == "9401"
    assert best.address.country_code == "LI"
    assert best.address.formatted == "Hauptstrasse 3, 9401 Oberdorf, LI"
    assert best.bbox.south < best.point.lat < best.bbox.north


def test_locality_decides_between_same_named_streets(geocoder: Geocoder) -> None:
    for query, where in (("Hauptstrasse 1, Unterdorf", HAUPT_1_UNTERDORF),):
        best = geocoder.geocode(query).best
        assert best is not None
        assert haversine_m(best.point.lat, best.point.lon, *where) < 1


def test_ambiguous_street_returns_both_candidates(geocoder: Geocoder) -> None:
    answer = geocoder.geocode(GeocodeRequest(query="Hauptstrasse 1", max_results=5))
    localities = {r.address.locality for r in answer.results if r.entity_type is A}
    assert localities == {"Oberdorf", "Unterdorf"}
    assert all(r.confidence is not HIGH for r in answer.results)


def test_missing_number_is_interpolated_between_neighbours(geocoder: Geocoder) -> None:
    best = geocoder.geocode("Hauptstrasse 5, Oberdorf").best
    assert best is not None
    assert best.calculation_method is CalculationMethod.INTERPOLATION
    assert best.confidence is MED
    # halfway between 3 (lon 9.008) and 7 (lon 9.012)
    assert best.point.lon == pytest.approx(9.010, abs=1e-6)


def test_number_on_an_interpolation_line(geocoder: Geocoder) -> None:
    # Kirchweg has an addr:interpolation=even line from 20 (lat 47.022) to 30 (lat 47.026).
    best = geocoder.geocode("Kirchweg 24, Oberdorf").best
    assert best is not None
    assert best.calculation_method is CalculationMethod.INTERPOLATION
    assert best.point.lat == pytest.approx(47.0236, abs=1e-6)


def test_unit_is_kept_and_does_not_break_the_match(geocoder: Geocoder) -> None:
    for query in ("Kirchweg 12a Apt 4B, Oberdorf", "Apt 4B, Kirchweg 12a, Oberdorf"):
        best = geocoder.geocode(query).best
        assert best is not None
        assert best.address.house_number == "12a"
        assert best.address.unit == "Apt 4B"
        assert best.confidence is HIGH


def test_structured_request(geocoder: Geocoder) -> None:
    request = GeocodeRequest(address_line="Hauptstrasse 1", locality="Unterdorf")
    best = geocoder.geocode(request).best
    assert best is not None
    assert best.address.locality == "Unterdorf"
    # A locality field is never read as a street.
    assert geocoder.geocode(GeocodeRequest(locality="Hauptstrasse")).status is not ResultStatus.OK


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("Qwerty", ResultStatus.NO_RESULT),
        ("Nowhere in particular 12", ResultStatus.NO_RESULT),
        ("", ResultStatus.FAILED),
        ("   ", ResultStatus.FAILED),
        ("!!!", ResultStatus.FAILED),
    ],
)
def test_no_answer(geocoder: Geocoder, query: str, status: ResultStatus) -> None:
    answer = geocoder.geocode(query)
    assert answer.status is status
    assert answer.results == ()
    assert answer.reason


def test_batch_keeps_order_and_isolates_bad_rows(geocoder: Geocoder) -> None:
    requests = [
        GeocodeRequest(query="Hauptstrasse 3, Oberdorf"),
        GeocodeRequest(query=""),
        GeocodeRequest(query="Hauptstrasse 3, Oberdorf"),
        GeocodeRequest(query="9402"),
    ]
    answers = geocoder.geocode_batch(requests)
    assert [a.status for a in answers] == [
        ResultStatus.OK,
        ResultStatus.FAILED,
        ResultStatus.OK,
        ResultStatus.OK,
    ]
    assert answers[3].best is not None
    assert answers[3].best.entity_type is EntityType.POSTCODE


def test_reverse_nearest_address(geocoder: Geocoder) -> None:
    answer = geocoder.reverse(47.02012, 9.00801)
    best = answer.best
    assert best is not None
    assert best.entity_type is A
    assert (best.address.street, best.address.house_number) == ("Hauptstrasse", "3")
    assert best.address.locality == "Oberdorf"
    assert best.address.country_code == "LI"
    assert best.distance_m is not None and best.distance_m < 5


def test_reverse_falls_back_to_street_then_locality(geocoder: Geocoder) -> None:
    street = geocoder.reverse(47.028, 9.0102).best  # on Kirchweg, far from its numbers
    assert street is not None
    assert street.entity_type is EntityType.ROAD_BLOCK
    assert street.address.street == "Kirchweg"
    place = geocoder.reverse(47.035, 9.07).best  # inside Unterdorf, nothing near
    assert place is not None
    assert place.entity_type is EntityType.POPULATED_PLACE
    assert place.address.locality == "Unterdorf"


def test_reverse_answers_with_the_found_entitys_point(geocoder: Geocoder) -> None:
    """Not the point asked for: the address point, the street's nearest point, the place's
    own point, each with the calculation method that says how it was made (as Bing's v2
    sample answers a point in Redmond's south with Redmond's point)."""
    address = geocoder.reverse(47.02015, 9.0081).best
    assert address is not None and address.calculation_method is CalculationMethod.ROOFTOP
    assert (address.point.lat, address.point.lon) == HAUPT_3_OBERDORF
    street = geocoder.reverse(47.028, 9.0102).best  # Kirchweg runs north-south at 9.01
    assert street is not None and street.calculation_method is CalculationMethod.INTERPOLATION
    assert abs(street.point.lon - 9.01) < 1e-6 and abs(street.point.lat - 47.028) < 1e-6
    place = geocoder.reverse(47.035, 9.07).best  # inside Unterdorf, whose node is (47.02, 9.06)
    assert place is not None and place.calculation_method is CalculationMethod.ROOFTOP
    assert (place.point.lat, place.point.lon) == (47.02, 9.06)
    box = place.bbox
    assert box.south <= place.point.lat <= box.north and box.west <= place.point.lon <= box.east


def test_reverse_outside_coverage_and_bad_points(geocoder: Geocoder) -> None:
    answers = geocoder.reverse_batch(
        [
            ReverseRequest(0.0, -30.0),
            ReverseRequest(float("nan"), 9.0),
            ReverseRequest(95.0, 9.0),
            ReverseRequest(47.0, 200.0),
            ReverseRequest(47.02012, 9.00801),
        ]
    )
    assert [a.status for a in answers] == [
        ResultStatus.NO_RESULT,
        ResultStatus.FAILED,
        ResultStatus.FAILED,
        ResultStatus.FAILED,
        ResultStatus.OK,
    ]
    assert "latitude" in answers[2].reason
    assert "longitude" in answers[3].reason


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ((), [EntityType.ADDRESS]),
        ((EntityType.ADDRESS,), [EntityType.ADDRESS]),
        ((EntityType.POPULATED_PLACE,), [EntityType.POPULATED_PLACE]),
        ((EntityType.POSTCODE,), [EntityType.POSTCODE]),
        (
            (EntityType.COUNTRY, EntityType.POPULATED_PLACE),
            [EntityType.POPULATED_PLACE, EntityType.COUNTRY],
        ),
        ((EntityType.NEIGHBORHOOD,), []),  # no neighbourhood polygon contains the point
    ],
)
def test_reverse_entity_type_filter(
    geocoder: Geocoder, include: tuple[EntityType, ...], expected: list[EntityType]
) -> None:
    answer = geocoder.reverse(47.02012, 9.00801, include_entity_types=include)
    assert [r.entity_type for r in answer.results] == expected
    if not expected:
        assert answer.status is ResultStatus.NO_RESULT
        assert "Neighborhood" in answer.reason
    for r in answer.results:
        if r.entity_type is EntityType.POPULATED_PLACE:
            assert r.address.locality == "Oberdorf"
            assert r.address.street is None
        if r.entity_type is EntityType.POSTCODE:
            assert r.address.postal_code == "9401"
        if r.entity_type is EntityType.COUNTRY:
            assert r.address.country_code == "LI"
            assert r.address.locality is None


def test_library_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geobatch

    import_source(tmp_path, OsmSource(FIXTURE))
    best = geobatch.open(tmp_path).geocode("Hauptstrasse 3, Oberdorf").best
    assert best is not None
    assert best.address.house_number == "3"
    monkeypatch.setenv("GEOBATCH_INDEX", str(tmp_path))  # the default index comes from the env
    assert geobatch.open().reverse(*HAUPT_3_OBERDORF).best is not None
