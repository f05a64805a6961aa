"""Which modules are compiled to C with mypyc, and whether the compiled copies are current.

The geocoding engine's hot modules are plain, fully typed Python that mypyc (the compiler the
mypy project ships) turns into C extensions: about 1.7 times the forward speed, the same answers.
``scripts/compile.py`` builds them next to their sources (``scripts/setup.sh`` runs it); Python
then imports the extension in place of the ``.py``. Without a C compiler, or with
``GEOBATCH_PURE=1``, the same modules run as Python. Standard library only: imported by the
package itself, before anything else.
"""

from __future__ import annotations

import importlib.machinery
import sys
import warnings
from pathlib import Path

# Compiled as one group, so calls between them are C calls. The value types (model.py) stay
# Python: ``value_type`` builds them at import time.
NATIVE_MODULES = (
    "geobatch.text.scripts",
    "geobatch.text.normalize",
    "geobatch.text.abbreviations",
    "geobatch.text.housenumbers",
    "geobatch.text.postcodes",
    "geobatch.text.units",
    "geobatch.text.localities",
    "geobatch.text.letters",
    "geobatch.index.geodesy",
    "geobatch.index.strings",
    "geobatch.index.dataset",
    "geobatch.index.read",
    "geobatch.geocode.rules",
    "geobatch.geocode.fuzzy",
    "geobatch.geocode.vocabulary",
    "geobatch.geocode.interpolate",
    "geobatch.geocode.formatting",
    "geobatch.geocode.forward.query",
    "geobatch.geocode.forward.lookup",
    "geobatch.geocode.forward.typos",
    "geobatch.geocode.forward.analysis",
    "geobatch.geocode.forward.candidate",
    "geobatch.geocode.forward.evidence",
    "geobatch.geocode.forward.numbers",
    "geobatch.geocode.forward.streets",
    "geobatch.geocode.forward.places",
    "geobatch.geocode.forward.postcodes",
    "geobatch.geocode.forward.ranking",
    "geobatch.geocode.reverse",
    "geobatch.geocode.geocoder",
)

PACKAGE_DIR = Path(__file__).resolve().parent


def source_of(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def extensions_of(module: str, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The compiled copies of ``module`` lying next to its source (normally none or one)."""
    source = source_of(module, package_dir)
    return [
        source.with_name(source.stem + suffix)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if source.with_name(source.stem + suffix).exists()
    ]


def compiled_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Every compiled module file in the package, listed in NATIVE_MODULES or not."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(p for p in package_dir.rglob("*") if p.name.endswith(suffixes))


def stale_modules(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Modules whose compiled copy is older than their source, or that are no longer meant to
    be compiled: Python would import the copy, so an edit (or a ``git pull``) would silently
    not count."""
    stale = []
    for module in NATIVE_MODULES:
        source = source_of(module, package_dir)
        built = extensions_of(module, package_dir)
        if built and source.exists() and source.stat().st_mtime > built[0].stat().st_mtime:
            stale.append(module)
    listed = {p for m in NATIVE_MODULES for p in extensions_of(m, package_dir)}
    for path in compiled_files(package_dir):
        if path not in listed:
            relative = path.relative_to(package_dir.parent)
            stale.append(".".join((*relative.parts[:-1], relative.name.split(".")[0])))
    return stale


def loaded_compiled() -> list[str]:
    """Of the modules imported so far, those running compiled."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [
        m
        for m in NATIVE_MODULES
        if m in sys.modules and str(getattr(sys.modules[m], "__file__", "")).endswith(suffixes)
    ]


def describe(package_dir: Path = PACKAGE_DIR) -> str:
    """One line for ``geobatch info`` and the benchmarks: how the engine runs."""
    built = sum(1 for m in NATIVE_MODULES if extensions_of(m, package_dir))
    if built == 0:
        how = (
            "python scripts/compile.py builds them"
            if in_checkout(package_dir)
            else ("this installation has none: no C compiler where it was built")
        )
        return f"pure Python ({how})"
    stale = stale_modules(package_dir) if in_checkout(package_dir) else []
    note = f", {len(stale)} older than their source" if stale else ""
    return f"compiled with mypyc: {built} of {len(NATIVE_MODULES)} engine modules{note}"


def in_checkout(package_dir: Path = PACKAGE_DIR) -> bool:
    """Whether the package runs from a source checkout (``src/geobatch`` beside pyproject.toml)
    rather than an installed wheel, whose files all get the install time as their mtime."""
    return package_dir.parent.name == "src" and (package_dir.parents[1] / "pyproject.toml").exists()


def warn_if_stale() -> None:
    if not in_checkout():
        return  # a wheel's compiled modules were built from its own sources
    stale = stale_modules()
    if stale:
        warnings.warn(
            f"the compiled copies of {len(stale)} geobatch modules ({stale[0]}, …) are older "
            "than their sources and are what Python imports: run `python scripts/compile.py` "
            "(or `bash scripts/setup.sh`) to rebuild them, or `python scripts/compile.py "
            "--clean` to run the sources as they are",
            RuntimeWarning,
            stacklevel=2,
        )
