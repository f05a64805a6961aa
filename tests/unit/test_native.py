"""The compiled engine modules: listed correctly, detected when stale, built where required."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import time
from pathlib import Path

import pytest

from geobatch import native

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_every_listed_module_exists_and_imports() -> None:
    for module in native.NATIVE_MODULES:
        assert native.source_of(module).is_file(), module
        importlib.import_module(module)


def _fake_package(tmp_path: Path) -> Path:
    """A checkout's layout: src/geobatch beside pyproject.toml (a wheel's has no such root)."""
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "src" / "geobatch"
    for module in native.NATIVE_MODULES:
        source = native.source_of(module, package)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("# source\n")
    return package


def test_describe_says_pure_python_without_compiled_copies(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    assert native.stale_modules(package) == []
    assert native.describe(package).startswith("pure Python")


def test_a_compiled_copy_older_than_its_source_is_stale(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    old, new = time.time() - 100, time.time()
    for module in native.NATIVE_MODULES:
        source = native.source_of(module, package)
        built = source.with_name(source.stem + SUFFIX)
        built.write_bytes(b"")
        os.utime(source, (old, old))
        os.utime(built, (new, new))
    assert native.stale_modules(package) == []
    n = len(native.NATIVE_MODULES)
    assert native.describe(package) == f"compiled with mypyc: {n} of {n} engine modules"
    edited = native.source_of("geobatch.geocode.forward.query", package)
    os.utime(edited, (new + 10, new + 10))  # edited (or pulled) after the build
    assert native.stale_modules(package) == ["geobatch.geocode.forward.query"]
    assert "1 older than their source" in native.describe(package)


@pytest.mark.skipif(
    os.environ.get("GEOBATCH_REQUIRE_NATIVE") != "1",
    reason="GEOBATCH_REQUIRE_NATIVE=1 (set by .ci/run) requires the compiled engine",
)
def test_the_engine_runs_compiled_where_required() -> None:
    for module in native.NATIVE_MODULES:
        importlib.import_module(module)
    assert native.loaded_compiled() == list(native.NATIVE_MODULES)
    assert native.stale_modules() == []


def test_a_compiled_file_no_longer_listed_is_stale(tmp_path: Path) -> None:
    """A copy left by an older list (or another branch) would be imported in place of its
    source: it is reported like a stale one."""
    package = _fake_package(tmp_path)
    (package / "jobs").mkdir()
    (package / "jobs" / "runner.py").write_text("# source\n")
    (package / "jobs" / f"runner{SUFFIX}").write_bytes(b"")
    assert native.stale_modules(package) == ["geobatch.jobs.runner"]
    assert native.compiled_files(package) == [package / "jobs" / f"runner{SUFFIX}"]


def test_an_installed_package_is_never_stale(tmp_path: Path) -> None:
    """pip gives every installed file the install time, so mtimes say nothing in a wheel."""
    package = _fake_package(tmp_path)
    for module in native.NATIVE_MODULES:
        source = native.source_of(module, package)
        source.with_name(source.stem + SUFFIX).write_bytes(b"")
        os.utime(source, (time.time() + 100, time.time() + 100))
    assert native.in_checkout(package) and native.stale_modules(package)
    (tmp_path / "pyproject.toml").unlink()
    assert not native.in_checkout(package)
    assert "older" not in native.describe(package)
