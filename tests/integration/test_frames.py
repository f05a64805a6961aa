"""geocode_frame / reverse_frame on real DataFrames over a real index: the same frame comes back
with the CLI's result columns, answers equal to the engine's, GeoDataFrames with geopandas, and
a named extra when pandas is missing."""

from __future__ import annotations

import builtins
import math
from pathlib import Path
from typing import Any

import pytest

import geobatch
from geobatch.frames import MissingExtra
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.model import GeocodeRequest
from geobatch.sources.osm import OsmSource
from tests.conftest import REPO_ROOT

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("frames-index")
    ensure_builtin(path)
    import_source(path, OsmSource(REPO_ROOT / "tests" / "fixtures" / "geocode" / "twovillages.osm"))
    return path


def test_free_text_column(index: Path) -> None:
    df = pd.DataFrame(
        {"id": [7, 8, 9, 10], "Address": ["Hauptstrasse 3, 9401 Oberdorf", "Vaduz", None, "qqqq"]},
        index=["a", "b", "c", "d"],
    )
    out = geobatch.geocode_frame(df, index=index, progress=False, geometry=False)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert list(out.columns[:2]) == ["id", "Address"] and "formatted_address" in out.columns
    engine = Geocoder.open(index)
    best = engine.geocode("Hauptstrasse 3, 9401 Oberdorf").best
    assert best is not None
    assert math.isclose(out.loc["a", "lat"], best.point.lat, abs_tol=1e-6)
    assert out.loc["a", "entity_type"] == str(best.entity_type)
    assert list(out["status"]) == ["OK", "OK", "Failed", "NoResult"]
    assert math.isnan(out.loc["c", "lat"]) and out.loc["c", "reason"]


def test_structured_columns_and_clashing_names(index: Path) -> None:
    df = pd.DataFrame({"street": ["Hauptstrasse 3"], "city": ["Oberdorf"], "status": ["new"]})
    out = geobatch.geocode_frame(df, index=index, progress=False, geometry=False)
    assert out.loc[0, "status"] == "new" and out.loc[0, "gb_status"] == "OK"
    engine = Geocoder.open(index)
    best = engine.geocode(GeocodeRequest(address_line="Hauptstrasse 3", locality="Oberdorf")).best
    assert best is not None and math.isclose(out.loc[0, "lon"], best.point.lon, abs_tol=1e-6)


def test_reverse_frame_and_geodataframe(index: Path) -> None:
    gpd = pytest.importorskip("geopandas")
    df = pd.DataFrame({"latitude": [47.0201, "x"], "longitude": [9.0201, 9.0]})
    out = geobatch.reverse_frame(df, index=index, progress=False)
    assert isinstance(out, gpd.GeoDataFrame) and str(out.crs) == "EPSG:4326"
    best = Geocoder.open(index).reverse(47.0201, 9.0201).best
    assert best is not None
    assert out.loc[0, "formatted_address"] == (best.address.formatted or "")
    assert math.isclose(out.geometry[0].x, best.point.lon, abs_tol=1e-6)
    assert out.loc[1, "status"] == "Failed" and "latitude" in out.loc[1, "reason"]


def test_results_have_geo_interface(index: Path) -> None:
    shapely = pytest.importorskip("shapely.geometry")
    best = Geocoder.open(index).geocode("Hauptstrasse 3, 9401 Oberdorf").best
    assert best is not None
    feature = best.__geo_interface__
    assert feature["type"] == "Feature" and feature["properties"]["street"] == "Hauptstrasse"
    point = shapely.shape(feature["geometry"])
    assert (point.x, point.y) == (best.point.lon, best.point.lat)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"address": ["Vaduz"]})
    real_import = builtins.__import__

    def no_pandas(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(MissingExtra, match=r"pip install 'geobatch\[pandas\]'"):
        geobatch.geocode_frame(frame, progress=False)
