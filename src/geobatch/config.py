"""Settings as a value: built once at the edge (CLI, server) and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

INDEX_ENV = "GEOBATCH_INDEX"
WORKERS_ENV = "GEOBATCH_WORKERS"


def default_index_dir() -> Path:
    """The per-user index directory (for example ``~/.local/share/geobatch/index``)."""
    return Path(platformdirs.user_data_dir("geobatch", appauthor=False)) / "index"


@dataclass(frozen=True, slots=True)
class Settings:
    index_dir: Path
    workers: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        index = env.get(INDEX_ENV)
        workers = env.get(WORKERS_ENV)
        return cls(
            index_dir=Path(index).expanduser() if index else default_index_dir(),
            workers=int(workers) if workers and workers.isdigit() else (os.cpu_count() or 1),
        )
