"""Streets of one name in many towns, addresses with scattered points, typos in numbered streets:
on a small made-up OpenAddresses file imported with the real importer (no mocks).

- A batch asks for one answer: streets that cannot come near the best one are not read
  (``forward.streets.street_candidates``). The answer must be the one a full read gives.
- One address with several points far apart (a farm's buildings, a register's duplicates) is
  answered with the heart of the cluster, flagged Ambiguous, never High.
- A misspelt street found among the streets of the postcode the query names, holding its house
  number, settles the reading, numbered streets ("205th Sureet") included.
- A misspelt name near two streets of the town that both hold the number is never High.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.index.spatial import haversine_m
from geobatch.model import Confidence, GeocodeRequest, MatchCode
from geobatch.sources.detect import open_source

# (town, postcode, lat, lon): every town has a Hafnargata with numbers 1-6 (step ~25 m east).
TOWNS = [
    ("Akranes", "300", 64.32, -22.07),
    ("Grindavík", "240", 63.84, -22.43),
    ("Vogar", "190", 63.98, -22.38),
    ("Dalvík", "620", 65.97, -18.53),
    ("Eskifjörður", "735", 65.07, -14.01),
    ("Stokkseyri", "825", 63.83, -21.06),
]
STEP = 0.0005
# A farm "Ytri-Vellir 1" with four points: the first the file lists is 2 km off, the other
# three within 30 m of each other (the farm house and its barns).
FARM = [(65.2600, -14.4000), (65.2420, -14.4000), (65.2421, -14.4002), (65.2419, -14.4001)]
# Two streets of one town, each one edit from "Skólbraut", both with a number 14, ~370 m apart.
NEAR_NAMES = [("Skólabraut", 64.1530, -21.9950), ("Sólbraut", 64.1555, -22.0010)]
# Numbered streets in two ZIP codes (Queens style).
QUEENS = [
    ("205th Street", "11412", "Saint Albans", 40.6980, -73.7490, ["112-40", "112-42", "112-44"]),
    ("205th Street", "11423", "Hollis", 40.7110, -73.7550, ["90-01", "90-03"]),
    ("204th Street", "11412", "Saint Albans", 40.6985, -73.7500, ["112-41", "112-42", "112-43"]),
]


def _rows() -> list[str]:
    rows = []
    for town, postcode, lat, lon in TOWNS:
        for n in range(1, 7):
            rows.append(f"{lon + n * STEP},{lat},{n},Hafnargata,,{town},,,{postcode},IS")
    for lat, lon in FARM:
        rows.append(f"{lon},{lat},1,Ytri-Vellir,,Egilsstaðir,,,701,IS")
    for street, lat, lon in NEAR_NAMES:
        for n in (12, 14, 16):
            rows.append(f"{lon + n * STEP},{lat},{n},{street},,Seltjarnarnes,,,170,IS")
    for street, zip_code, town, lat, lon, numbers in QUEENS:
        for i, number in enumerate(numbers):
            rows.append(f"{lon + i * STEP},{lat},{number},{street},,{town},,NY,{zip_code},US")
    return rows


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    folder = tmp_path_factory.mktemp("namesakes")
    csv = folder / "namesakes-oa.csv"
    header = "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,COUNTRY"
    csv.write_text("\n".join([header, *_rows()]) + "\n", encoding="utf-8")
    index = folder / "index"
    import_source(index, open_source(Path(csv)))
    return Geocoder.open(index).prepare(reverse=False)


QUERIES = [
    "Hafnargata 3, 240 Grindavík",
    "Hafnargata 3, Grindavík",
    "Hafnargata 3, 240",
    "Hafnargata 3, 620 Grindavík",  # postcode and town disagree
    "Hafnargata 9, 735 Eskifjörður",  # no such number: interpolated or the street
    "Hafnargata 3",  # six towns: ambiguous
    "Hafnargata, Vogar",
    "Hafnargta 4, 825 Stokkseyri",
    "Hafnargata 2, 300 Akranes, Iceland",
    "Ytri-Vellir 1, 701 Egilsstaðir",
    "112-42 205th Street, 11412",
    "205th Street, 11423",
    "Skólbraut 14, 170 Seltjarnarnes",
    "Hafnargta 4",
]


@pytest.mark.parametrize("query", QUERIES)
def test_one_answer_is_the_first_of_many(geocoder: Geocoder, query: str) -> None:
    """Asking for one answer reads fewer streets; what it returns must not change."""
    one = geocoder.geocode(GeocodeRequest(query=query, max_results=1))
    many = geocoder.geocode(GeocodeRequest(query=query, max_results=10))
    assert one.best is not None and many.best is not None
    assert one.best.address == many.best.address
    assert one.best.point == many.best.point
    assert one.best.match_codes == many.best.match_codes
    assert one.best.confidence is many.best.confidence


@pytest.mark.parametrize(
    ("query", "town"),
    [
        ("Hafnargata 3, 240 Grindavík", "Grindavík"),
        ("Hafnargata 3, Dalvík", "Dalvík"),
        ("Hafnargata 5, 825", "Stokkseyri"),
    ],
)
def test_the_named_town_decides(geocoder: Geocoder, query: str, town: str) -> None:
    best = geocoder.geocode(query).best
    assert best is not None
    assert best.address.locality == town
    assert best.confidence is Confidence.HIGH
    assert best.match_codes == (MatchCode.GOOD,)


def test_no_town_among_six_is_ambiguous(geocoder: Geocoder) -> None:
    answer = geocoder.geocode(GeocodeRequest(query="Hafnargata 3", max_results=6))
    assert MatchCode.AMBIGUOUS in answer.results[0].match_codes
    assert {r.address.locality for r in answer.results} == {t for t, _, _, _ in TOWNS}
    assert all(r.confidence is not Confidence.HIGH for r in answer.results)


def test_scattered_points_answer_the_heart_of_the_cluster(geocoder: Geocoder) -> None:
    best = geocoder.geocode("Ytri-Vellir 1, 701 Egilsstaðir").best
    assert best is not None
    assert best.address.house_number == "1"
    lat, lon = FARM[1]
    assert haversine_m(best.point.lat, best.point.lon, lat, lon) < 30
    assert MatchCode.AMBIGUOUS in best.match_codes
    assert best.confidence is not Confidence.HIGH


def test_a_typo_in_a_numbered_street_is_read_in_the_named_zip(geocoder: Geocoder) -> None:
    best = geocoder.geocode("112-42 205th Sureet, 11412").best
    assert best is not None
    assert (best.address.street, best.address.house_number) == ("205th Street", "112-42")
    assert best.address.postal_code == "11412"


def test_a_typo_without_town_still_finds_the_street_everywhere(geocoder: Geocoder) -> None:
    """No town to narrow the search: the whole index is searched, and a street found there
    holding the number is not also looked up as a misspelt place."""
    answer = geocoder.geocode(GeocodeRequest(query="Hafnargta 4", max_results=6))
    assert answer.best is not None
    assert (answer.best.address.street, answer.best.address.house_number) == ("Hafnargata", "4")
    assert MatchCode.AMBIGUOUS in answer.best.match_codes
    assert {r.address.locality for r in answer.results} == {t for t, _, _, _ in TOWNS}


def test_a_typo_near_two_streets_of_the_town_is_not_high(geocoder: Geocoder) -> None:
    best = geocoder.geocode("Skólbraut 14, 170 Seltjarnarnes").best
    assert best is not None
    assert best.address.street in ("Skólabraut", "Sólbraut")
    assert best.address.house_number == "14"
    assert best.confidence is Confidence.MEDIUM


def test_a_typo_near_one_street_of_the_town_stays_high(geocoder: Geocoder) -> None:
    best = geocoder.geocode("Hafnargta 4, 825 Stokkseyri").best
    assert best is not None
    assert (best.address.street, best.address.locality) == ("Hafnargata", "Stokkseyri")
    assert best.confidence is Confidence.HIGH


def test_a_typo_in_the_word_of_a_numbered_street_stays_high(geocoder: Geocoder) -> None:
    """204th Street, two edits away, holds 112-42 too; but the digits were typed as 205th has
    them: the typo is in "Sureet", and a neighbouring numbered street is no rival."""
    best = geocoder.geocode("112-42 205th Sureet, 11412").best
    assert best is not None
    assert best.address.street == "205th Street"
    assert best.confidence is Confidence.HIGH
