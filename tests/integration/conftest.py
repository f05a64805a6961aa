"""Integration fixtures: real indexes built once per session from the built-in gazetteer and the
shared extracts in ../shared/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.format import BUILTIN_NAME, data_set_file
from geobatch.sources.detect import open_source
from tests.conftest import shared_file


@pytest.fixture(scope="session")
def builtin_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index holding only the built-in world gazetteer (built from the installed packages)."""
    index = tmp_path_factory.mktemp("builtin")
    ensure_builtin(index)
    return index


def index_with(builtin: Path, target: Path, *relative: str) -> Path:
    """A new index: the built-in gazetteer plus the named shared files."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_set_file(builtin, BUILTIN_NAME), data_set_file(target, BUILTIN_NAME))
    for rel in relative:
        import_source(target, open_source(shared_file(rel)))
    return target


LI_2024 = "osm/liechtenstein-2024-03-03.osm.pbf"
QUEENS = "osm/queens-village-ny-2016.osm.pbf"
ICELAND = "openaddresses/iceland-stadfangaskra-20130326-oa.csv.gz"


@pytest.fixture(scope="session")
def li_geocoder(builtin_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    return Geocoder.open(index_with(builtin_index, tmp_path_factory.mktemp("li"), LI_2024))


@pytest.fixture(scope="session")
def builtin_geocoder(builtin_index: Path) -> Geocoder:
    return Geocoder.open(builtin_index)
