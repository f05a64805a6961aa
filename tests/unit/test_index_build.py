"""The index builder: one file per data set, replaced on re-import, untouched by a failed import."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from geobatch.errors import IndexError_, SourceError
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.index.dataset import DataSet
from geobatch.index.format import data_set_files
from geobatch.index.read import load_index
from geobatch.sources.detect import open_source
from geobatch.sources.osm import OsmSource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "geocode" / "twovillages.osm"


def _counts(path: Path) -> dict[str, int]:
    data = DataSet.open(path)
    return {
        "addresses": data.address_count,
        "streets": data.street_count,
        "places": data.place_count,
        "areas": data.area_count,
        "postcodes": data.postcode_count,
    }


def test_reimport_replaces_instead_of_duplicating(tmp_path: Path) -> None:
    first = import_source(tmp_path, OsmSource(FIXTURE))
    before = _counts(first.path)
    second = import_source(tmp_path, OsmSource(FIXTURE))
    assert second.path == first.path
    assert data_set_files(tmp_path) == [first.path]
    assert _counts(second.path) == before
    assert before["addresses"] == 12
    assert first.counts["addresses"] == 12
    assert first.counts["interpolations"] == 1


def test_addresses_get_locality_by_point_in_polygon(tmp_path: Path) -> None:
    import_source(tmp_path, OsmSource(FIXTURE))
    data = load_index(tmp_path)
    kirchweg = [s for s in data.streets if s.name == "Kirchweg"]
    # Kirchweg's addresses carry no addr:city: the Oberdorf polygon names their locality.
    assert [s.locality for s in kirchweg] == ["Oberdorf"]
    assert {s.country_code for s in data.streets} == {"LI"}
    haupt = sorted(s.locality or "" for s in data.streets if s.name == "Hauptstrasse")
    assert haupt == ["Oberdorf", "Unterdorf"]


def test_several_sources_live_in_one_index(tmp_path: Path) -> None:
    import_source(tmp_path, OsmSource(FIXTURE))
    csv = tmp_path / "extra-oa.csv"
    csv.write_text(
        "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"
        "9.0301,47.0301,7,Seeweg,,Oberdorf,,,9401,,\n",
        encoding="utf-8",
    )
    import_source(tmp_path, open_source(csv))
    assert len(data_set_files(tmp_path)) == 2
    geocoder = Geocoder.open(tmp_path)
    for query in ("Seeweg 7, Oberdorf", "Hauptstrasse 3, Oberdorf"):
        best = geocoder.geocode(query).best
        assert best is not None
        assert best.address.house_number is not None


def test_failed_import_leaves_the_index_intact(tmp_path: Path) -> None:
    good = import_source(tmp_path, OsmSource(FIXTURE)).path
    before = good.read_bytes()
    broken = tmp_path / "twovillages.osm"  # same name: would replace the good data set
    broken.write_text(FIXTURE.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    with pytest.raises(SourceError):
        import_source(tmp_path, OsmSource(broken))
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_bad_csv_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "addresses.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write("name,value\nx,1\n")
    with pytest.raises(SourceError, match=r"(?i)column|format"):
        import_source(tmp_path, open_source(bad))
    assert data_set_files(tmp_path) == []


def test_empty_index_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="no index"):
        load_index(tmp_path)
