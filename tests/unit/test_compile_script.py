"""scripts/compile.py without a working C compiler: one clear line, and pure Python keeps working.

Runs the real script (mypyc included) on a copy of the source tree, with ``CC=false`` standing in
for a machine without gcc.
"""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(
        ROOT / "src" / "geobatch",
        root / "src" / "geobatch",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root / "src"


def _compile(src: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile.py"), "--src", str(src)],
        env={**os.environ, "CC": "false", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_without_a_compiler_it_warns_and_leaves_pure_python(tree: Path) -> None:
    done = _compile(tree, GEOBATCH_REQUIRE_NATIVE="0")
    assert done.returncode == 0, done.stderr
    assert "warning: mypyc could not compile the engine" in done.stderr
    assert "false'" in done.stderr  # the compiler (CC=false) failed, not the type check
    assert not list(tree.rglob("*.so"))
    assert not (tree / "build").exists()


def test_where_the_compiled_engine_is_required_it_fails(tree: Path) -> None:
    done = _compile(tree, GEOBATCH_REQUIRE_NATIVE="1")
    assert done.returncode == 1
    assert "error: mypyc could not compile the engine" in done.stderr
    assert not list(tree.rglob("*.so"))


def test_clean_removes_compiled_copies(tree: Path) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (tree / "geobatch" / "geocode" / f"query{suffix}").write_bytes(b"")
    (tree / "geobatch" / "jobs" / f"runner{suffix}").write_bytes(b"")  # not listed: still goes
    (tree / f"0123__mypyc{suffix}").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile.py"), "--src", str(tree), "--clean"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "geobatch runs as pure Python" in done.stdout
    assert not list(tree.rglob("*.so"))
