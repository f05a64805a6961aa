"""House numbers with marks a query cannot carry ("19*"), on a small made-up index.

The Iceland register writes some numbers with an asterisk; a query's words are split at
punctuation, so "Fljótasel 19*" is asked for as "19". The index keys them the same way, so the
address is within reach, and two points for one number far apart are Ambiguous, never High.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.model import Confidence, MatchCode
from geobatch.sources.detect import open_source

# LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE: "19" and "19*" about 110 m apart.
ROWS = [
    ("-21.8290", "64.0970", "19", "Fljótasel", "109"),
    ("-21.8290", "64.0980", "19*", "Fljótasel", "109"),
    ("-21.8280", "64.0970", "21", "Fljótasel", "109"),
    ("-21.9441", "64.1508", "5*", "Geirsgata", "101"),
]


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    folder = tmp_path_factory.mktemp("marks")
    csv = folder / "is-marks-oa.csv"
    lines = ["LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE"]
    lines += [f"{lon},{lat},{n},{street},,Reykjavík,,,{pc}" for lon, lat, n, street, pc in ROWS]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = folder / "index"
    import_source(index, open_source(Path(csv)))
    return Geocoder.open(index)


@pytest.mark.parametrize("query", ["Geirsgata 5*, 101 Reykjavík", "Geirsgata 5, 101 Reykjavík"])
def test_a_marked_number_is_found(geocoder: Geocoder, query: str) -> None:
    best = geocoder.geocode(query).best
    assert best is not None
    assert (best.address.house_number, best.confidence) == ("5*", Confidence.HIGH)
    assert best.point.lat == pytest.approx(64.1508)


@pytest.mark.parametrize("query", ["Fljótasel 19*, 109 Reykjavík", "Fljótasel 19, 109 Reykjavík"])
def test_a_number_held_twice_far_apart_is_ambiguous(geocoder: Geocoder, query: str) -> None:
    best = geocoder.geocode(query).best
    assert best is not None
    assert best.address.house_number in ("19", "19*")
    assert MatchCode.AMBIGUOUS in best.match_codes
    assert best.confidence is not Confidence.HIGH
