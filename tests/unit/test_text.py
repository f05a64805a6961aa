"""Table-driven tests of the pure text helpers: folding, name keys, numbers, units, postcodes."""

from __future__ import annotations

import pytest

from geobatch.text.abbreviations import name_key, name_keys
from geobatch.text.housenumbers import housenumber_int, is_housenumber, normalize_housenumber
from geobatch.text.normalize import fold, query_tokens
from geobatch.text.postcodes import postcode_key, strip_country_prefix
from geobatch.text.units import clean_line, split_unit, strip_junk


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Landstraße 12", "landstrasse 12"),
        ("ÆGISÍÐA", "aegisida"),
        ("Þingholtsstræti", "thingholtsstraeti"),
        ("Øster Allé", "oster alle"),
        ("O'Brien  Ave.", "obrien ave"),
        ("Łódź", "lodz"),
        ("  ", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Landstrasse", "landstrasse"),
        ("Landstraße", "landstrasse"),
        ("Landstr.", "landstrasse"),
        ("Land strasse", "landstrasse"),
        ("LANDSTR", "landstrasse"),
        ("N Main St", "northmainstreet"),
        ("North Main Street", "northmainstreet"),
        ("St Johns Rd", "saintjohnsroad"),
        ("Saint Johns Road", "saintjohnsroad"),
        ("Jamaica Ave", "jamaicaavenue"),
        ("Gl. Kongevej", "gammelkongevej"),
        ("Gammel Kongevej", "gammelkongevej"),
        ("Skt. Hans Torv", "sankthanstorv"),
    ],
)
def test_name_key(name: str, key: str) -> None:
    assert name_key(name) == key


def test_umlaut_spellings_share_a_key() -> None:
    assert set(name_keys("Mühleholz")) == {"muhleholz", "muehleholz"}
    assert set(name_keys("København")) == {"kobenhavn", "koebenhavn"}
    assert set(name_keys("Århus")) == {"arhus", "aarhus"}
    assert set(name_keys("Sjælør Boulevard")) == {"sjaelorboulevard", "sjaeloerboulevard"}
    assert name_keys("Vaduz") == ["vaduz"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("203-06 Hollis Ave", ["203-06", "hollis", "ave"]),
        ("203 - 06 Hollis Ave", ["203-06", "hollis", "ave"]),
        ("Landstrasse 12a, 9495 Triesen", ["landstrasse", "12a", "9495", "triesen"]),
        ("3rd Street 12 A", ["3rd", "street", "12", "a"]),
        ("Ægisíða 12/3", ["aegisida", "12/3"]),
        ("11427-1234", ["11427-1234"]),
    ],
)
def test_query_tokens(text: str, tokens: list[str]) -> None:
    assert query_tokens(text) == tokens


@pytest.mark.parametrize(
    ("raw", "norm", "number", "shaped"),
    [
        ("12", "12", 12, True),
        ("12 A", "12a", 12, False),
        ("12a", "12a", 12, True),
        ("12-14", "12-14", 12, True),
        ("203-06", "203-06", 203, True),
        ("12/3", "12/3", 12, True),
        # Marks a query's words cannot hold (the Iceland register's "19*") are not in the key.
        ("19*", "19", 19, False),
        ("5.", "5", 5, False),
        ("4.1", "4.1", 4, False),  # marks inside a number are kept: "41" is another number
        ("12+14", "12+14", 12, False),
        ("Hauptstrasse", "hauptstrasse", None, False),
    ],
)
def test_house_numbers(raw: str, norm: str, number: int | None, shaped: bool) -> None:
    assert normalize_housenumber(raw) == norm
    assert housenumber_int(norm) == number
    assert is_housenumber(raw.lower()) is shaped


@pytest.mark.parametrize(
    ("text", "rest", "unit"),
    [
        ("Main St 5 Apt 4B", "Main St 5", "Apt 4B"),
        ("12 Main St #12", "12 Main St", "#12"),
        ("Landstrasse 12 Top 3", "Landstrasse 12", "Top 3"),
        ("Flat 2, 10 Downing St", "10 Downing St", "Flat 2"),
        ("Unit 5 12 High St", "12 High St", "Unit 5"),
        ("Miami, FL 33101", "Miami, FL 33101", None),
        ("Ste Foy", "Ste Foy", None),
        ("Suite 100, 1 Infinite Loop", "1 Infinite Loop", "Suite 100"),
    ],
)
def test_split_unit(text: str, rest: str, unit: str | None) -> None:
    assert split_unit(text) == (rest, unit)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("c/o John Smith, 10 Main St", "10 Main St"),
        ("PO Box 12, 10 Main St", "10 Main St"),
        ("Postfach 45, Landstrasse 1", "Landstrasse 1"),
        ("Landstrasse 1", "Landstrasse 1"),
    ],
)
def test_strip_junk(text: str, clean: str) -> None:
    assert strip_junk(text) == clean


@pytest.mark.parametrize(
    "text",
    [
        "Landstrasse 1",
        "  Hafnargata   3 ",
        "Ásólfsstaðir 2",
        "c/o Jón Jónsson, Austurey 2 Top 11",
        "C/O HANS JENSEN, Blesastaðir 3 #3A",
        "PO Box 12, 10 Main St Apt 4B",
        "ATTN: Billing, 1 Infinite Loop, Suite 100",
        "Stockwell Road 12",  # "stock" is a unit word only before a number
        "K\u212aLOSTERGASSE 4",  # the Kelvin sign folds to k: always searched
        "\u0130STIKLAL CAD. 12 APT 3",
    ],
)
def test_clean_line_is_strip_junk_then_split_unit(text: str) -> None:
    """clean_line skips both searches for a line with no mark of either: same outcome."""
    assert clean_line(text) == split_unit(strip_junk(text))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("11427-1234", "11427"),
        ("114271234", "11427"),
        ("FL-9495", "9495"),
        ("CH-9490", "9490"),
        ("sw1a 1aa", "SW1A1AA"),
        ("101", "101"),
    ],
)
def test_postcode_key(text: str, key: str) -> None:
    assert postcode_key(text) == key


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Städtle 1, FL-9490 Vaduz", "Städtle 1, 9490 Vaduz"),
        ("CH - 8001 Zürich", "8001 Zürich"),
        ("D-10115 Berlin", "10115 Berlin"),
        ("A-1 Highway 5", "A-1 Highway 5"),
        ("117-11 201st Street, 11412", "117-11 201st Street, 11412"),
        ("117-11 201st Street, NY-11412", "117-11 201st Street, NY-11412"),
        ("Landstrasse 12-14, DK\t-\t2300 København", "Landstrasse 12-14, 2300 København"),
        ("12-14 Main St, dk -2300", "12-14 Main St, 2300"),
        ("-9490 Vaduz", "-9490 Vaduz"),
        ("-FL-9490 Vaduz", "-9490 Vaduz"),
        ("- CH-8001 Zürich", "- 8001 Zürich"),
    ],
)
def test_strip_country_prefix(text: str, clean: str) -> None:
    assert strip_country_prefix(text) == clean
