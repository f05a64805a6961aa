"""Where the files of an index live, and which format version they are in.

An index is a directory. Each imported source is one data set file named after the source
(``liechtenstein-latest.osm.pbf.gbx``), a :mod:`container <geobatch.index.container>` mapped
from disk; the index-wide vocabulary (:mod:`geobatch.index.lexicon`) is rebuilt from the data
sets after every import. A file of another format version (or the SQLite files of geobatch
before format 3) is refused with one line saying to import the source again.
"""

from __future__ import annotations

import re
from pathlib import Path

from geobatch.errors import IndexError_
from geobatch.index.container import read_meta

# 3: mapped containers instead of SQLite (the SQLite files were schema 1-2).
# 4: keys keep the letters of every script, with a transliterated alternate ("москва",
#    "moskva"); the built-in gazetteer keeps names in other scripts.
FORMAT_VERSION = 4
SUFFIX = ".gbx"
OLD_SUFFIX = ".gbx.sqlite"
BUILTIN_NAME = "builtin-world"
KIND_DATA_SET = "data-set"


def data_set_file(index_dir: Path, source_name: str) -> Path:
    """The file that holds ``source_name`` in ``index_dir`` (a safe file name from the source)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source_name).strip("._") or "source"
    return index_dir / f"{safe}{SUFFIX}"


def data_set_files(index_dir: Path) -> list[Path]:
    """Every data set in ``index_dir``, the built-in gazetteer first, then by name."""
    files = sorted(index_dir.glob(f"*{SUFFIX}")) if index_dir.is_dir() else []
    return sorted(files, key=lambda p: (not p.name.startswith(BUILTIN_NAME), p.name))


def old_format_files(index_dir: Path) -> list[Path]:
    """Data set files of an older geobatch (SQLite) lying in ``index_dir``."""
    return sorted(index_dir.glob(f"*{OLD_SUFFIX}")) if index_dir.is_dir() else []


def usable_data_sets(index_dir: Path) -> tuple[list[Path], list[str]]:
    """The data set files of ``index_dir`` this version can read, and one line for each it
    cannot (cut short, foreign, another format version) saying what to do. Those are left
    out: the rest of the index stays usable."""
    good: list[Path] = []
    problems: list[str] = []
    for path in data_set_files(index_dir):
        meta = read_meta(path)
        if meta is None:
            problems.append(
                f"{path} is left out: it is not a complete geobatch index file (cut short, or "
                "another kind of file); import its source again or remove it"
            )
        elif meta.get("kind") != KIND_DATA_SET:
            problems.append(f"{path} is left out: it is not a geobatch data set; remove it")
        elif meta.get("format_version") != FORMAT_VERSION:
            problems.append(
                f"{path} is left out: it was written by another version of geobatch (format "
                f"{meta.get('format_version')}, this version reads {FORMAT_VERSION}); import "
                "its source again"
            )
        else:
            good.append(path)
    for path in old_format_files(index_dir):
        if not path.name.startswith(BUILTIN_NAME):
            problems.append(
                f"{path} is left out: it was written by an older geobatch (SQLite); import its "
                "source again, then delete it"
            )
    return good, problems


def format_version_of(path: Path) -> int | None:
    """The format version a data set file was written with, or None if it is unreadable."""
    meta = read_meta(path)
    if meta is None:
        return None
    version = meta.get("format_version")
    return version if isinstance(version, int) else None


def check_version(path: Path, version: object) -> None:
    if version != FORMAT_VERSION:
        raise IndexError_(
            f"{path} was written by another version of geobatch (format {version}, this "
            f"version reads {FORMAT_VERSION}): import its source again"
        )
