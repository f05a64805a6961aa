"""Unit tests of the tabular readers (OpenAddresses, GeoNames, postcode centroids) and detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.errors import SourceError
from geobatch.sources.detect import open_source
from geobatch.sources.geonames import (
    GeoNamesSource,
    Layout,
    PostcodeCentroidSource,
    alt_names,
    detect_layout,
    is_latin_name,
    latin_alt_names,
    place_kind,
)
from geobatch.sources.openaddresses import OpenAddressesSource, parse_point
from geobatch.sources.records import AddressRecord, PlaceKind, PlaceRecord, PostcodeRecord

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tabular"


class CountingProgress:
    def __init__(self) -> None:
        self.total = 0
        self.calls = 0

    def advance(self, amount: int) -> None:
        assert amount > 0
        self.total += amount
        self.calls += 1


def fixture(name: str) -> Path:
    return FIXTURES / name


# --- value parsers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        ("-21.93", "64.14", (-21.93, 64.14)),
        (" 9.5 ", "47.1", (9.5, 47.1)),
        ("180", "-90", (180.0, -90.0)),
        ("180.0001", "0", None),
        ("0", "90.5", None),
        ("0", "0", None),
        ("nan", "1", None),
        ("inf", "1", None),
        ("", "1", None),
        ("12,5", "1", None),
    ],
)
def test_parse_point(lon: str, lat: str, expected: tuple[float, float] | None) -> None:
    assert parse_point(lon, lat) == expected


@pytest.mark.parametrize(
    ("name", "latin"),
    [
        ("Reykjavík", True),
        ("Þingeyri", True),
        ("Ærøskøbing", True),
        ("Straße", True),
        ("Hawaiʻi", True),
        ("'s-Hertogenbosch", True),
        ("St. Gallen", True),
        ("Рейкьявик", False),
        ("レイキャヴィーク", False),
        ("ٹryzn", False),  # one Arabic letter in a romanisation
        ("ba la fu te", False),  # machine romanisation of a Chinese name
        ("rdmwnd  washynqtwn", False),
        ("BRF", False),  # airport code
        ("NL416", False),  # statistical id
        ("NL_GM0796", False),
        ("", False),
        ("--", False),
    ],
)
def test_is_latin_name(name: str, latin: bool) -> None:
    assert is_latin_name(name) is latin


def test_latin_alt_names_dedupes_and_drops_primary() -> None:
    names = ["Reykjavik", "reykjavík", "Reykjavík", "Рейкьявик", " Reikiavik ", "REK"]
    assert latin_alt_names(names, "Reykjavík") == ("Reykjavik", "Reikiavik")


def test_alt_names_keep_other_scripts_but_no_romanisation_noise() -> None:
    names = ["Рейкьявик", "レイキャビク", "ريكيافيك", "rey ki ya wei ke", "Рейкьявик 2", "REK"]
    assert alt_names(names, "Reykjavík") == ("Рейкьявик", "レイキャビク", "ريكيافيك")


@pytest.mark.parametrize(
    ("feature_class", "code", "population", "kind"),
    [
        ("P", "PPLC", 5000, PlaceKind.CITY),
        ("P", "PPL", 250_000, PlaceKind.CITY),
        ("P", "PPL", 25_000, PlaceKind.TOWN),
        ("P", "PPL", 900, PlaceKind.VILLAGE),
        ("P", "PPL", 0, PlaceKind.VILLAGE),
        ("P", "PPLA", 5000, PlaceKind.TOWN),
        ("P", "PPLA", 150_000, PlaceKind.CITY),
        ("P", "PPLA3", 500, PlaceKind.VILLAGE),
        ("P", "PPLX", 0, PlaceKind.SUBURB),
        ("P", "PPLF", 0, PlaceKind.HAMLET),
        ("P", "PPLL", 0, PlaceKind.LOCALITY),
        ("P", "PPLH", 10_000, None),
        ("P", "PPLQ", 0, None),
        ("A", "ADM1", 0, PlaceKind.STATE),
        ("A", "ADM2", 0, PlaceKind.COUNTY),
        ("A", "ADM3", 0, None),
        ("A", "PCLI", 0, PlaceKind.COUNTRY),
        ("A", "PCLD", 0, PlaceKind.COUNTRY),
        ("H", "STM", 0, None),
    ],
)
def test_place_kind(feature_class: str, code: str, population: int, kind: PlaceKind | None) -> None:
    assert place_kind(feature_class, code, population) is kind


@pytest.mark.parametrize(
    ("line", "layout"),
    [
        ("\t".join(["3413829", "Reykjavík", *[""] * 17]), Layout.DUMP),
        ("lat,lon,name,admin1,admin2,cc", Layout.SIMPLE),
        ("LAT,LON,NAME,ADMIN1,ADMIN2,CC", Layout.SIMPLE),
        ("\t".join(["id", "name", *[""] * 17]), None),
        ("LON,LAT,NUMBER,STREET", None),
        ("", None),
    ],
)
def test_detect_layout(line: str, layout: Layout | None) -> None:
    assert detect_layout(line) is layout


# --- OpenAddresses ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["oa_small.csv", "oa_small.csv.gz"])
def test_openaddresses_reads_rows_and_counts_bad_ones(name: str) -> None:
    source = OpenAddressesSource(fixture(name))
    records = list(source.read())
    assert source.name == name
    assert source.skipped == 4  # no number, unparseable, off the globe, (0, 0)
    assert records == [
        AddressRecord(
            lon=-21.9330052,
            lat=64.1477992,
            housenumber="12",
            street="Þórsgata",
            locality="Reykjavík",
            district="Miðborg",
            postcode="101",
        ),
        AddressRecord(
            lon=-21.8824296,
            lat=64.122957,
            housenumber="4b",
            street="Aðalland",
            unit="2 h.",
            locality="Reykjavík",
            district="Háaleitis- og Bústaðahverfi",
            postcode="108",
        ),
        AddressRecord(
            lon=-122.4238774,
            lat=37.7721392,
            housenumber="7",
            street="OCTAVIA ST",
            locality="SAN FRANCISCO",
            region="CA",
            postcode="94102",
        ),
        AddressRecord(lon=-21.9, lat=64.1, housenumber="8", street=None),
    ]


def test_openaddresses_optional_columns_and_country_code() -> None:
    source = OpenAddressesSource(fixture("oa_minimal.csv"), country_code="us")
    assert list(source.read()) == [
        AddressRecord(
            lon=-122.27, lat=37.87, housenumber="2000", street="Center St", country_code="US"
        )
    ]


@pytest.mark.parametrize("name", ["oa_small.csv", "oa_small.csv.gz", "geonames_dump.zip"])
def test_progress_adds_up_to_size_hint(name: str) -> None:
    source = open_source(fixture(name))
    progress = CountingProgress()
    list(source.read(progress))
    assert progress.total == source.size_hint == fixture(name).stat().st_size


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_source", "name", "message"),
    [
        (OpenAddressesSource, "missing.csv", "does not exist"),
        (OpenAddressesSource, "oa_no_number.csv", "has no NUMBER column"),
        (OpenAddressesSource, "geonames_simple.csv", "has no NUMBER, STREET columns"),
        (OpenAddressesSource, "not_gzip.csv.gz", "not a readable gzip file"),
        (OpenAddressesSource, "oa_truncated.csv.gz", "not a readable gzip file"),
        (OpenAddressesSource, "binary.dat", "not UTF-8 text"),
        (GeoNamesSource, "missing.txt", "does not exist"),
        (GeoNamesSource, "oa_small.csv", "is not a GeoNames file"),
        (GeoNamesSource, "not_zip.zip", "not a readable zip file"),
        (PostcodeCentroidSource, "geonames_simple.csv", r"needs ZIP \(or POSTCODE\), LAT and LON"),
        (PostcodeCentroidSource, "missing.csv", "does not exist"),
    ],
)
def test_unreadable_files_raise_one_source_error(
    make_source: type[OpenAddressesSource | GeoNamesSource | PostcodeCentroidSource],
    name: str,
    message: str,
) -> None:
    source = make_source(fixture(name))
    with pytest.raises(SourceError, match=message) as caught:
        list(source.read())
    assert name in str(caught.value)
    assert source.size_hint >= 0


# --- GeoNames ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["geonames_dump.txt", "geonames_dump.zip"])
def test_geonames_dump(name: str) -> None:
    source = GeoNamesSource(fixture(name))
    places = {(r.name, r.kind): r for r in source.read() if isinstance(r, PlaceRecord)}
    assert source.skipped == 2  # unparseable latitude, wrong column count
    assert source.ignored == 2  # a stream, a historical place
    assert sorted(places) == sorted(
        [
            ("Reykjavík", PlaceKind.CITY),
            ("Redmond", PlaceKind.TOWN),
            ("Vaduz", PlaceKind.CITY),
            ("Triesen", PlaceKind.TOWN),
            ("Smallville", PlaceKind.VILLAGE),
            ("Midtown", PlaceKind.SUBURB),
            ("Washington", PlaceKind.STATE),
            ("King County", PlaceKind.COUNTY),
            ("Iceland", PlaceKind.COUNTRY),
        ]
    )
    redmond = places["Redmond", PlaceKind.TOWN]
    assert (redmond.lon, redmond.lat, redmond.population) == (-122.12151, 47.67399, 60598)
    assert (redmond.country_code, redmond.admin1_code) == ("US", "WA")
    # Names in other scripts are kept as their speakers write them; machine romanisations not.
    assert redmond.alt_names == ("Redmund", "Melrose", "Редмонд")
    reykjavik = places["Reykjavík", PlaceKind.CITY]
    assert reykjavik.alt_names == ("Reykjavik", "Reikiavik", "Рейкьявик")
    assert reykjavik.admin1_code is None  # GeoNames admin1 codes are ISO only in the US


def test_geonames_simple_csv() -> None:
    source = GeoNamesSource(fixture("geonames_simple.csv"))
    records = list(source.read())
    assert source.skipped == 2  # no name; nan latitude
    assert records == [
        PlaceRecord(
            name="Vaduz",
            kind=PlaceKind.TOWN,
            lon=9.52154,
            lat=47.14151,
            country_code="LI",
            admin1="Vaduz",
        ),
        PlaceRecord(
            name="Bradford",
            kind=PlaceKind.TOWN,
            lon=-1.75206,
            lat=53.79391,
            country_code="GB",
            admin1="England",
            admin2="Bradford",
        ),
    ]


def test_postcode_centroids_restore_leading_zeros() -> None:
    source = PostcodeCentroidSource(fixture("zip_centroids.csv"))
    records = [r for r in source.read() if isinstance(r, PostcodeRecord)]
    assert source.skipped == 2
    assert [r.postcode for r in records] == ["10001", "00601", "98052"]
    assert records[0] == PostcodeRecord("10001", lon=-73.997293, lat=40.75065, country_code="US")


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("oa_small.csv", OpenAddressesSource),
        ("oa_small.csv.gz", OpenAddressesSource),
        ("oa_minimal.csv", OpenAddressesSource),
        ("geonames_dump.txt", GeoNamesSource),
        ("geonames_dump.zip", GeoNamesSource),
        ("geonames_simple.csv", GeoNamesSource),
        ("zip_centroids.csv", PostcodeCentroidSource),
    ],
)
def test_open_source_picks_the_reader(name: str, kind: type[object]) -> None:
    assert isinstance(open_source(fixture(name)), kind)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unknown.csv", "is not a format geobatch can import"),
        ("oa_no_number.csv", "is not a format geobatch can import"),
        ("binary.dat", "is not a format geobatch can import"),
        ("missing.csv", "does not exist"),
        ("not_gzip.csv.gz", "not a readable gzip file"),
        ("not_zip.zip", "not a readable zip file"),
    ],
)
def test_open_source_rejects(name: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(fixture(name))


def test_open_source_rejects_a_directory() -> None:
    with pytest.raises(SourceError, match="is a directory"):
        open_source(FIXTURES)


@pytest.mark.parametrize(
    "name", ["extract.osm.pbf", "extract.pbf", "extract.osm", "extract.osm.bz2"]
)
def test_open_source_hands_osm_files_to_the_osm_reader(tmp_path: Path, name: str) -> None:
    osm = pytest.importorskip("geobatch.sources.osm")
    path = tmp_path / name
    path.write_bytes(b"")
    assert isinstance(open_source(path), osm.OsmSource)
