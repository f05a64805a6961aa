"""Forward geocoding in scripts other than Latin, one small OSM file per script.

``tests/fixtures/scripts/*.osm`` each hold a town, a suburb, two streets and their numbered
addresses, written as the country writes them: Cyrillic, Greek, Arabic (with Arabic-Indic
digits), Hebrew, Japanese (no spaces between words) and Korean. All six go into one index with
the real importer; every query is asked as its writers would, and, where the script has a Latin
spelling people use, in Latin letters too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.model import Confidence, EntityType, GeocodeRequest
from geobatch.sources.osm import OsmSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scripts"
SCRIPTS = ("cyrillic", "greek", "arabic", "hebrew", "japanese", "korean")
HIGH, MEDIUM = Confidence.HIGH, Confidence.MEDIUM


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    index = tmp_path_factory.mktemp("scripts")
    for name in SCRIPTS:
        import_source(index, OsmSource(FIXTURES / f"{name}.osm"))
    return Geocoder.open(index)


# (query, street as the data writes it, house number as written, town, confidence)
ADDRESSES = {
    "cyrillic": [
        ("улица Ленина 5, Звенигород", "улица Ленина", "5", "Звенигород", HIGH),
        ("УЛИЦА ЛЕНИНА 5 ЗВЕНИГОРОД", "улица Ленина", "5", "Звенигород", HIGH),
        ("Звенигород, ул. Ленина 7", "улица Ленина", "7", "Звенигород", HIGH),
        ("Московская улица 12а, 143180", "Московская улица", "12А", "Звенигород", HIGH),
        # asked in Latin letters: the transliterated keys of street and town
        ("ulitsa Lenina 5, Zvenigorod", "улица Ленина", "5", "Звенигород", HIGH),
        ("Moskovskaya ulitsa 3, 143180 Zvenigorod", "Московская улица", "3", "Звенигород", HIGH),
        # the street's English name (name:en) finds it too
        ("Lenin Street 1, Zvenigorod", "улица Ленина", "1", "Звенигород", HIGH),
    ],
    "greek": [
        ("Οδός Σιόκου 4, Ναύπλιο", "Οδός Σιόκου", "4", "Ναύπλιο", HIGH),
        ("ΟΔΟΣ ΣΙΟΚΟΥ 4, ΝΑΥΠΛΙΟ", "Οδός Σιόκου", "4", "Ναύπλιο", HIGH),  # capitals, no accents
        ("Οδ. Σιόκου 6, 211 00", "Οδός Σιόκου", "6", "Ναύπλιο", HIGH),
        ("Βασιλέως Κωνσταντίνου 10, Ναύπλιο", "Βασιλέως Κωνσταντίνου", "10", "Ναύπλιο", HIGH),
        ("Odos Siokou 8, Navplio", "Οδός Σιόκου", "8", "Ναύπλιο", HIGH),
    ],
    "arabic": [
        ("شارع الجمهورية ٣، الفيوم", "شارع الجمهورية", "3", "الفيوم", HIGH),  # Arabic digits
        ("شارع الجمهورية 5, الفيوم", "شارع الجمهورية", "5", "الفيوم", HIGH),
        ("شارع السلام 9، 63511", "شارع السلام", "٩", "الفيوم", HIGH),  # the data's ٩
        ("شَارِع السَّلَام ٧، الفيوم", "شارع السلام", "7", "الفيوم", HIGH),  # vowel points
    ],
    "hebrew": [
        ("רחוב הרצל 4, רחובות", "רחוב הרצל", "4", "רחובות", HIGH),
        ("שדרות ירושלים 8, 7610001 רחובות", "שדרות ירושלים", "8", "רחובות", HIGH),
        # the English names of street (name:en) and town (the place's name:en)
        ("Herzl Street 6, Rehovot", "רחוב הרצל", "6", "רחובות", HIGH),
    ],
    "japanese": [
        ("鎌倉市小町通り3", "小町通り", "3", "鎌倉市", HIGH),  # no spaces at all
        ("小町通り 3, 鎌倉市", "小町通り", "3", "鎌倉市", HIGH),
        ("〒248-0005 鎌倉市若宮大路２", "若宮大路", "2", "鎌倉市", HIGH),  # full-width digit
        ("若宮大路4、鎌倉市", "若宮大路", "4", "鎌倉市", HIGH),  # Japanese comma
    ],
    "korean": [
        ("수원시 정조로 12", "정조로", "12", "수원시", HIGH),
        ("팔달로 14, 16253 수원시", "팔달로", "14", "수원시", HIGH),
        ("Suwon, 정조로 13", "정조로", "13", "수원시", HIGH),  # the town's English name
    ],
}
CASES = [(script, *case) for script, cases in ADDRESSES.items() for case in cases]


@pytest.mark.parametrize(("script", "query", "street", "number", "town", "conf"), CASES)
def test_address_in_its_script(
    geocoder: Geocoder, script: str, query: str, street: str, number: str, town: str,
    conf: Confidence,
) -> None:  # fmt: skip
    best = geocoder.geocode(query).best
    assert best is not None, f"{script}: nothing for {query!r}"
    assert best.entity_type is EntityType.ADDRESS, (script, query, best.address.formatted)
    assert (best.address.street, best.address.house_number) == (street, number)
    assert best.address.locality == town
    assert best.confidence is conf


@pytest.mark.parametrize(
    ("query", "name", "etype"),
    [
        ("Звенигород", "Звенигород", EntityType.POPULATED_PLACE),
        ("Zvenigorod", "Звенигород", EntityType.POPULATED_PLACE),
        ("Верхний Посад", "Верхний Посад", EntityType.NEIGHBORHOOD),
        ("Ναύπλιο", "Ναύπλιο", EntityType.POPULATED_PLACE),
        ("Nafplio", "Ναύπλιο", EntityType.POPULATED_PLACE),
        ("الفيوم", "الفيوم", EntityType.POPULATED_PLACE),
        ("רחובות", "רחובות", EntityType.POPULATED_PLACE),
        ("鎌倉市", "鎌倉市", EntityType.POPULATED_PLACE),
        ("雪ノ下", "雪ノ下", EntityType.NEIGHBORHOOD),
        ("수원시", "수원시", EntityType.POPULATED_PLACE),
    ],
)
def test_place_in_its_script(geocoder: Geocoder, query: str, name: str, etype: EntityType) -> None:
    best = geocoder.geocode(query).best
    assert best is not None and best.name == name and best.entity_type is etype


def test_structured_request_in_cyrillic(geocoder: Geocoder) -> None:
    request = GeocodeRequest(
        address_line="ул. Ленина 3", locality="Звенигород", postal_code="143180"
    )
    best = geocoder.geocode(request).best
    assert best is not None and best.address.formatted.startswith("улица Ленина 3")
    assert best.confidence is HIGH


@pytest.mark.parametrize(
    "query",
    [
        "улица Ленина 5, Звенигород, Неведомск",  # a town the index does not know
        "鎌倉市小町通り3 本覚寺",  # a word the index does not know, glued to nothing
    ],
)
def test_words_nothing_explains_are_never_high(geocoder: Geocoder, query: str) -> None:
    best = geocoder.geocode(query).best
    assert best is not None and best.entity_type is EntityType.ADDRESS
    assert best.confidence is not HIGH
