"""US TIGER house-number ranges in Nominatim's layout: read, imported, answered by
interpolation along the range with its parity, street, state and ZIP.

``tests/fixtures/tabular/tiger.csv`` is hand-written: Main St in two ZIPs (odd and even sides
of 100-199, odd 201-299 further east), Oak Ave numbered against its drawing direction, and two
broken rows. The archive Nominatim publishes (a .tar.gz of such CSVs) is made from it here.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from geobatch.errors import SourceError
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.index.spatial import haversine_m
from geobatch.model import CalculationMethod, Confidence, EntityType, GeocodeRequest, MatchCode
from geobatch.sources.detect import open_source
from geobatch.sources.records import InterpolationRecord, PostcodeRecord, StreetRecord
from geobatch.sources.tiger import TigerSource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tabular" / "tiger.csv"


def test_reader_yields_ranges_streets_and_zips() -> None:
    source = open_source(FIXTURE)
    assert isinstance(source, TigerSource)
    records = list(source.read())
    lines = [r for r in records if isinstance(r, InterpolationRecord)]
    streets = [r for r in records if isinstance(r, StreetRecord)]
    zips = {r.postcode: r for r in records if isinstance(r, PostcodeRecord)}
    assert len(lines) == len(streets) == 4 and source.skipped == 2
    assert lines[0].numbered == ((0, "101"), (1, "199")) and lines[0].scheme == "odd"
    assert (streets[0].admin1, streets[0].admin2, streets[0].postcode) == (
        "Alabama", "Testcounty", "36001",
    )  # fmt: skip
    assert set(zips) == {"36001", "36002"} and zips["36001"].country_code == "US"


def test_archive_of_many_counties(tmp_path: Path) -> None:
    archive = tmp_path / "tiger-nominatim-preprocessed.csv.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURE, arcname="tiger/01001.csv")
        tar.add(FIXTURE, arcname="tiger/01003.csv")
    records = list(open_source(archive).read())
    assert sum(isinstance(r, InterpolationRecord) for r in records) == 8


def test_not_a_range_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        other = tmp_path / "other.csv"
        other.write_text("a;b\n1;2\n", encoding="utf-8")
        tar.add(other, arcname="x/other.csv")
    with pytest.raises(SourceError, match="not a TIGER range file"):
        list(TigerSource(bad).read())


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    index = tmp_path_factory.mktemp("tiger")
    import_source(index, open_source(FIXTURE))
    return Geocoder.open(index)


def _share_along(lat: float, lon: float, west: float, east: float) -> float:
    return (lon - west) / (east - west)


@pytest.mark.parametrize(
    "request_",
    [
        GeocodeRequest(query="151 Main St, AL 36001"),
        GeocodeRequest(query="151 Main St, 36001"),
        GeocodeRequest(address_line="151 Main St", admin_district="Alabama", postal_code="36001"),
        GeocodeRequest(address_line="151 Main St", admin_district="AL", postal_code="36001"),
    ],
)
def test_number_interpolated_along_its_range(geocoder: Geocoder, request_: GeocodeRequest) -> None:
    best = geocoder.geocode(request_).best
    assert best is not None and best.entity_type is EntityType.ADDRESS
    assert best.calculation_method is CalculationMethod.INTERPOLATION
    assert best.confidence is not Confidence.HIGH
    # 151 is 50/98 of the way along 101-199, on the odd side (latitude 32.5000, not 32.4999).
    assert abs(_share_along(best.point.lat, best.point.lon, -86.5, -86.49) - 50 / 98) < 1e-6
    assert abs(best.point.lat - 32.5) < 1e-6
    address = best.address
    assert (address.house_number, address.street, address.postal_code) == (
        "151",
        "Main St",
        "36001",
    )
    assert (address.admin_district, address.admin_district2) == ("Alabama", "Testcounty")


def test_parity_and_zip_choose_the_range(geocoder: Geocoder) -> None:
    even = geocoder.geocode("150 Main St, 36001").best
    assert even is not None and abs(even.point.lat - 32.4999) < 1e-6
    east = geocoder.geocode("251 Main St, AL 36002").best
    assert east is not None and east.address.postal_code == "36002"
    assert abs(_share_along(east.point.lat, east.point.lon, -86.49, -86.48) - 50 / 98) < 1e-6


def test_range_drawn_against_its_numbers(geocoder: Geocoder) -> None:
    best = geocoder.geocode("4 Oak Ave, 36002").best  # 5 at the north end, 1 at the south
    assert best is not None and best.calculation_method is CalculationMethod.INTERPOLATION
    assert haversine_m(best.point.lat, best.point.lon, 32.5075, -86.48) < 5


def test_number_outside_every_range_falls_back_to_the_street(geocoder: Geocoder) -> None:
    best = geocoder.geocode("999 Main St, AL 36001").best
    assert best is not None and best.entity_type is EntityType.ROAD_BLOCK
    assert MatchCode.UP_HIERARCHY in best.match_codes
