"""The package as users get it: a wheel built from this tree (setup.py's mypyc hook), installed
apart from the checkout, gives the same answers as the checkout — compiled, and as the pure
Python wheel of a machine without a C compiler. About a minute and a half (one mypyc build)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource
from tests.conftest import REPO_ROOT

QUERIES = ["Hauptstrasse 3, 9401 Oberdorf", "Kirchweg, Unterdorf", "Vaduz", "qqqq zzzz"]
POINTS = [(47.0201, 9.0201), (47.14, 9.52)]
SMOKE = """
import json, sys
from pathlib import Path
import geobatch
from geobatch import native
assert Path(geobatch.__file__).is_relative_to(sys.argv[1]), geobatch.__file__
g = geobatch.open(sys.argv[2])
out = {"engine": native.describe(), "compiled": native.loaded_compiled()}
out["forward"] = [[r.point.lat, r.point.lon, str(r.entity_type)]
                  for q in json.loads(sys.argv[3]) for r in g.geocode(q).results]
out["reverse"] = [[r.point.lat, r.point.lon, r.address.formatted]
                  for lat, lon in json.loads(sys.argv[4]) for r in g.reverse(lat, lon).results]
print(json.dumps(out))
"""


def _copy_tree(to: Path) -> Path:
    """The files a build reads, without compiled copies or caches of the checkout."""
    to.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO_ROOT / name, to / name)
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info", "build")
    shutil.copytree(REPO_ROOT / "src", to / "src", ignore=ignore)
    return to


def _build_and_install(tmp: Path, name: str, **env: str) -> tuple[Path, Path]:
    tree = _copy_tree(tmp / f"{name}-tree")
    wheels, target = tmp / f"{name}-wheel", tmp / f"{name}-site"
    environ = {k: v for k, v in os.environ.items() if k not in ("GEOBATCH_PURE",)} | env
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(tree),
        "--no-deps",
        "--no-build-isolation",
        "--quiet",
        "-w",
        str(wheels),
    ]
    done = subprocess.run(build, capture_output=True, text=True, env=environ, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = wheels.glob("geobatch-*.whl")
    install = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--quiet",
        "--target",
        str(target),
        str(wheel),
    ]
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return wheel, target


def _run_installed(target: Path, index: Path, cwd: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
    env["PYTHONPATH"] = str(target)
    args = [
        sys.executable,
        "-W",
        "error",
        "-c",
        SMOKE,
        str(target),
        str(index),
        json.dumps(QUERIES),
        json.dumps(POINTS),
    ]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wheel-index")
    ensure_builtin(path)
    import_source(path, OsmSource(REPO_ROOT / "tests" / "fixtures" / "geocode" / "twovillages.osm"))
    return path


def test_wheels_compiled_and_pure_answer_as_the_checkout(tmp_path: Path, index: Path) -> None:
    geocoder = Geocoder.open(index)
    expected_forward = [
        [r.point.lat, r.point.lon, str(r.entity_type)]
        for q in QUERIES
        for r in geocoder.geocode(q).results
    ]
    expected_reverse = [
        [r.point.lat, r.point.lon, r.address.formatted]
        for lat, lon in POINTS
        for r in geocoder.reverse(lat, lon).results
    ]
    assert expected_forward and expected_reverse

    wheel, site = _build_and_install(tmp_path, "compiled")
    compiled = _run_installed(site, index, tmp_path)
    assert compiled["forward"] == expected_forward
    assert compiled["reverse"] == expected_reverse
    if compiled["compiled"]:
        assert "linux" in wheel.name or "win" in wheel.name or "macos" in wheel.name
        assert str(compiled["engine"]).startswith("compiled with mypyc")
    elif os.environ.get("GEOBATCH_REQUIRE_NATIVE") == "1":
        pytest.fail(f"the wheel runs the engine as Python: {compiled['engine']}")

    _, pure_site = _build_and_install(tmp_path, "pure", GEOBATCH_PURE="1")
    pure = _run_installed(pure_site, index, tmp_path)
    assert pure["compiled"] == [] and str(pure["engine"]).startswith("pure Python")
    assert pure["forward"] == expected_forward
    assert pure["reverse"] == expected_reverse
