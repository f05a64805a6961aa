"""Table-driven forward geocoding in each language of the shared data: German (Liechtenstein),
English (Queens), Danish (Copenhagen), Icelandic (the national register), Finnish and Swedish
(Helsinki) — abbreviations, transcribed letters, typos, units, reordering, other-language names."""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.model import Confidence, EntityType, MatchCode
from tests.integration.conftest import ICELAND, LI_2024, QUEENS, index_with

pytestmark = pytest.mark.shared_data

COPENHAGEN = "osm/copenhagen-kbh-2012.osm.pbf"
HELSINKI = "osm/helsinki-center-2019.osm.pbf"


@pytest.fixture(scope="module")
def geocoder(builtin_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    target = tmp_path_factory.mktemp("languages")
    return Geocoder.open(
        index_with(builtin_index, target, LI_2024, QUEENS, COPENHAGEN, ICELAND, HELSINKI)
    )


GOOD = (MatchCode.GOOD,)
CASES = [
    # German: Strasse/Str./Straße, umlauts typed as ae/oe/ue, FL- postcode prefix, Top unit
    ("Städtle 5, 9490 Vaduz", "Städtle", "5", "Vaduz"),
    ("staedtle 5 vaduz", "Städtle", "5", "Vaduz"),
    ("Städtle 5, FL-9490 Vaduz", "Städtle", "5", "Vaduz"),
    ("Vaduz, Städtle 5 Top 2", "Städtle", "5", "Vaduz"),
    ("Steinbösstrasse 22, 9493 Mauren", "Steinbösstrasse", "22", "Mauren"),
    ("Steinboesstrasse 22, Mauren", "Steinbösstrasse", "22", "Mauren"),
    ("Steinbösstr. 22, Mauren", "Steinbösstrasse", "22", "Mauren"),
    ("Steinbösstraße 22, Mauren", "Steinbösstrasse", "22", "Mauren"),
    ("Steinbosstrase 22, Mauren", "Steinbösstrasse", "22", "Mauren"),
    ("Rätikonstrasse 13, Vaduz", "Rätikonstrasse", "13", "Vaduz"),
    # English: Queens hyphenated numbers, Ave/Avenue, ZIP+4, units
    ("211-04 Hollis Ave, 11429", "Hollis Avenue", "211-04", None),
    ("211-04 Hollis Avenue Apt 3B, NY 11429-1234", "Hollis Avenue", "211-04", None),
    ("219-32 jamaica av 11429", "Jamaica Avenue", "219-32", None),
    ("219-32 Jamaica Avenu, 11429", "Jamaica Avenue", "219-32", None),
    # Danish: Gl./Gammel, ø/æ/å as oe/ae/aa, district postcodes
    ("Gl. Kongevej 7, 1610 København V", "Gammel Kongevej", "7", None),
    ("gammel kongevej 7, koebenhavn", "Gammel Kongevej", "7", None),
    ("Vesterbrogade 10, 1620 København V", "Vesterbrogade", "10", None),
    ("Vesterbrogde 10, 1620 Kobenhavn V", "Vesterbrogade", "10", None),
    # Icelandic: ð/þ/æ written d/th/ae, accents dropped
    ("Laugavegur 10, 101 Reykjavík", "Laugavegur", "10", "Reykjavík"),
    ("laugavegur 10 reykjavik", "Laugavegur", "10", "Reykjavík"),
    ("Aegisida 50, Reykjavik", "Ægisíða", "50", "Reykjavík"),
    ("Eyrarflöt 10, 580 Siglufjörður", "Eyrarflöt", "10", "Siglufjörður"),
    ("eyrarflot 10, siglufjordur", "Eyrarflöt", "10", "Siglufjörður"),
    ("Eyrarfloet 10, Siglufjordur", "Eyrarflöt", "10", "Siglufjörður"),
    # Finnish and Swedish: the street's Swedish name and the city's
    ("Mannerheimintie 3, 00100 Helsinki", "Mannerheimintie", "3", "Helsinki"),
    ("Mannerheimvägen 3, Helsingfors", "Mannerheimintie", "3", "Helsinki"),
]


@pytest.mark.parametrize(("query", "street", "number", "locality"), CASES)
def test_address_in_every_language(
    geocoder: Geocoder, query: str, street: str, number: str, locality: str | None
) -> None:
    best = geocoder.geocode(query).best
    assert best is not None, query
    assert best.entity_type is EntityType.ADDRESS, (query, best)
    assert (best.address.street, best.address.house_number) == (street, number)
    if locality is not None:
        assert best.address.locality == locality
    assert best.match_codes == GOOD
    assert best.confidence in (Confidence.HIGH, Confidence.MEDIUM)


def test_a_number_the_data_holds_twice_far_apart_is_ambiguous(geocoder: Geocoder) -> None:
    # The register has Hávegur 2, Siglufjörður twice, 54 m apart: it cannot say which is meant.
    best = geocoder.geocode("Hávegur 2, 580 Siglufjörður").best
    assert best is not None
    assert best.match_codes == (MatchCode.AMBIGUOUS,)
    assert best.confidence is Confidence.MEDIUM


def test_units_are_kept(geocoder: Geocoder) -> None:
    best = geocoder.geocode("211-04 Hollis Avenue Apt 3B, NY 11429").best
    assert best is not None
    assert best.address.unit == "Apt 3B"
