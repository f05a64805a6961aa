"""Compile the geocoding engine's hot modules to C with mypyc (see src/geobatch/native.py).

Usage: python scripts/compile.py [--if-stale] [--clean]

  --if-stale  do nothing when every module has a compiled copy newer than its source
  --clean     remove the compiled copies: the sources run as Python

GEOBATCH_PURE=1 acts as --clean. Without a C compiler the build fails with one clear line and
the package keeps working as Python (exit 0), unless GEOBATCH_REQUIRE_NATIVE=1 (CI), which makes
that failure an error.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SRC = Path(__file__).resolve().parents[1] / "src"


def _native() -> ModuleType:
    """geobatch/native.py on its own: importing the package would warn about the very stale
    modules this script is about to rebuild."""
    spec = importlib.util.spec_from_file_location(
        "_geobatch_native", SRC / "geobatch" / "native.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_n = _native()
NATIVE_MODULES: tuple[str, ...] = _n.NATIVE_MODULES
extensions_of = _n.extensions_of
source_of = _n.source_of
stale_modules = _n.stale_modules


def clean() -> int:
    removed = 0
    for module in NATIVE_MODULES:
        for path in extensions_of(module):
            path.unlink()
            removed += 1
    for shared in SRC.glob("*__mypyc.*"):  # the group's shared library
        shared.unlink()
        removed += 1
    shutil.rmtree(SRC / "build", ignore_errors=True)
    return removed


def up_to_date() -> bool:
    return all(extensions_of(m) for m in NATIVE_MODULES) and not stale_modules()


def build() -> bool:
    clean()
    sources = [str(source_of(m).relative_to(SRC)) for m in NATIVE_MODULES]
    print(f"compiling {len(sources)} engine modules with mypyc (about 30 s) …", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *sources],
        cwd=SRC,
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(SRC / "build", ignore_errors=True)
    if done.returncode != 0 or not up_to_date():
        clean()
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        print("\n".join(tail), file=sys.stderr)
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true")
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args()
    if args.clean or os.environ.get("GEOBATCH_PURE") == "1":
        print(f"removed {clean()} compiled files: geobatch runs as pure Python")
        return 0
    if args.if_stale and up_to_date():
        return 0
    if build():
        print(f"compiled {len(NATIVE_MODULES)} modules: the engine runs as C extensions")
        return 0
    message = "mypyc could not compile the engine (is a C compiler installed?)"
    if os.environ.get("GEOBATCH_REQUIRE_NATIVE") == "1":
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"warning: {message}; geobatch runs as pure Python, about 1.7x slower", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
