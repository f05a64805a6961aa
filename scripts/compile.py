"""Compile the geocoding engine's hot modules to C with mypyc (see src/geobatch/native.py).

Usage: python scripts/compile.py [--if-stale | --if-present] [--clean] [--src DIR]

  --if-stale    do nothing when every module has a compiled copy newer than its source
  --if-present  rebuild only a compiled build that is there and stale; a checkout without
                compiled copies keeps running its sources (scripts/test.sh uses this)
  --clean     remove the compiled copies: the sources run as Python
  --src DIR   the source tree holding the geobatch package (default: this checkout's src/)

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

DEFAULT_SRC = Path(__file__).resolve().parents[1] / "src"


class Tree:
    """One source tree's engine modules and their compiled copies."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.native = _load_native(src)
        self.modules: tuple[str, ...] = self.native.NATIVE_MODULES

    def clean(self) -> int:
        """Remove every compiled file of the package, listed today or not (a copy left from an
        older list would still be imported in place of its source)."""
        removed = 0
        for path in self.native.compiled_files(self.src / "geobatch"):
            path.unlink()
            removed += 1
        for shared in self.src.glob("*__mypyc.*"):  # the group's shared library
            shared.unlink()
            removed += 1
        shutil.rmtree(self.src / "build", ignore_errors=True)
        return removed

    def up_to_date(self) -> bool:
        built = all(self.native.extensions_of(m) for m in self.modules)
        return built and not self.native.stale_modules()

    def build(self) -> bool:
        self.clean()
        sources = [str(self.native.source_of(m).relative_to(self.src)) for m in self.modules]
        print(f"compiling {len(sources)} engine modules with mypyc (about 30 s) …", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", *sources],
            cwd=self.src,
            capture_output=True,
            text=True,
            check=False,
        )
        shutil.rmtree(self.src / "build", ignore_errors=True)
        if done.returncode != 0 or not self.up_to_date():
            self.clean()
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            print("\n".join(tail), file=sys.stderr)
            if "No module named 'setuptools'" in done.stderr + done.stdout:
                print("setuptools is missing: pip install setuptools", file=sys.stderr)
            return False
        return True


def _load_native(src: Path) -> ModuleType:
    """geobatch/native.py on its own: importing the package would warn about the very stale
    modules this script is about to rebuild."""
    spec = importlib.util.spec_from_file_location(
        "_geobatch_native", src / "geobatch" / "native.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true")
    parser.add_argument("--if-present", action="store_true")
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    args = parser.parse_args()
    tree = Tree(args.src.resolve())
    if args.clean or os.environ.get("GEOBATCH_PURE") == "1":
        print(f"removed {tree.clean()} compiled files: geobatch runs as pure Python")
        return 0
    if args.if_stale and tree.up_to_date():
        return 0
    if args.if_present and (
        tree.up_to_date() or not tree.native.compiled_files(tree.src / "geobatch")
    ):
        return 0
    if tree.build():
        print(f"compiled {len(tree.modules)} modules: the engine runs as C extensions")
        return 0
    message = "mypyc could not compile the engine (is a C compiler installed?)"
    if os.environ.get("GEOBATCH_REQUIRE_NATIVE") == "1":
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"warning: {message}; geobatch runs as pure Python, about 1.7x slower", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
