"""Build hook: a wheel of geobatch carries the geocoding engine compiled with mypyc.

``pip install geobatch`` (or ``pip wheel .``, ``python -m build``) gives the same engine as
``python scripts/compile.py`` in a checkout: the modules listed in
``src/geobatch/native.py`` compiled to C extensions beside their sources, as black and
charset-normalizer ship theirs. Without a C compiler (or when mypyc cannot compile) the wheel
holds the sources only and geobatch runs as Python, saying so in ``geobatch info``;
``GEOBATCH_REQUIRE_NATIVE=1`` makes that an error (CI), ``GEOBATCH_PURE=1`` skips compiling.

An editable install (``pip install -e .``, what scripts/setup.sh does) compiles nothing: in a
checkout the sources run, so breakpoints, coverage and monkeypatching work, until the developer
asks for the compiled build with ``python scripts/compile.py``. Everything else about the
package is declared in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
REQUIRE = os.environ.get("GEOBATCH_REQUIRE_NATIVE") == "1"


def _say(message: str) -> None:
    print(f"geobatch build: {message}", file=sys.stderr, flush=True)


def _native_modules() -> list[str]:
    """The engine's modules, read from src/geobatch/native.py without importing the package."""
    spec = importlib.util.spec_from_file_location("_geobatch_native", SRC / "geobatch" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.NATIVE_MODULES)


def _compiling() -> bool:
    if os.environ.get("GEOBATCH_PURE") == "1":
        return False
    # Only a wheel (or a plain build) compiles; an editable install runs the sources.
    return any(command in sys.argv for command in ("bdist_wheel", "build_ext", "build"))


def _extensions() -> list[Any]:
    if not _compiling():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        if REQUIRE:
            raise
        _say(f"mypyc is not available ({exc}): the wheel runs the engine as Python")
        return []
    sources = [str(Path("src", *m.split(".")).with_suffix(".py")) for m in _native_modules()]
    _say(f"compiling {len(sources)} engine modules with mypyc (about a minute) …")
    try:
        # Type information only steers the generated C: a dependency missing from an isolated
        # build environment must not stop the build.
        return list(mypycify([*sources, "--ignore-missing-imports"], opt_level="3"))
    except (Exception, SystemExit) as exc:
        if REQUIRE:
            raise
        _say(f"mypyc could not compile the engine ({exc}): the wheel runs it as Python")
        return []


class OptionalBuildExt(build_ext):
    """Build all the compiled modules or none: they are one group (a shared library and a stub
    per module), so a partial build would not import. Without a working C compiler the
    package keeps its sources only (unless GEOBATCH_REQUIRE_NATIVE=1)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            if REQUIRE:
                raise
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            self.extensions = []
            _say(f"no C compiler could build the engine ({exc}): it runs as Python")


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
