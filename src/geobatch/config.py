"""Settings as a value: built once at the edge (CLI, server) and passed down.

Only :meth:`Settings.from_env` reads the environment; everything else is handed a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

INDEX_ENV = "GEOBATCH_INDEX"
WORKERS_ENV = "GEOBATCH_WORKERS"
DATA_DIR_ENV = "GEOBATCH_DATA_DIR"
CLUSTER_ENV = "GEOBATCH_CLUSTER"

MB = 1024 * 1024
MAX_WORKERS = 256  # geocoding processes; each holds the index in memory


def default_index_dir() -> Path:
    """The per-user index directory (for example ``~/.local/share/geobatch/index``)."""
    return Path(platformdirs.user_data_dir("geobatch", appauthor=False)) / "index"


def default_data_dir() -> Path:
    """Where the job service keeps its database, uploads and results by default."""
    return Path(platformdirs.user_data_dir("geobatch", appauthor=False)) / "service"


@dataclass(frozen=True, slots=True)
class JobLimits:
    """Limits of the batch job service; the defaults are Bing's Enterprise-key limits."""

    max_upload_bytes: int = 300 * MB  # uncompressed, as the Bing limit is stated
    max_entities: int = 200_000
    max_pending_jobs: int = 10  # per key; more -> 503 (Bing's documented limit)
    max_jobs_per_day: int = 50  # per key, rolling 24 hours
    max_description: int = 256


@dataclass(frozen=True, slots=True)
class Settings:
    index_dir: Path
    workers: int
    data_dir: Path = field(default_factory=default_data_dir)
    limits: JobLimits = field(default_factory=JobLimits)
    chunk_size: int = 1000  # rows per geocoding chunk and per progress transaction
    retention_days: float = 14.0  # results are deleted this long after completion
    list_days: float = 15.0  # the job list shows jobs created this recently
    sweep_seconds: float = 3600.0  # how often expired results are looked for
    # The server fetches `dataLocation` URLs only when enabled, and only from these hosts
    # ("host" or "host:port", lower case) over these schemes.
    data_location_enabled: bool = False
    data_location_hosts: frozenset[str] = frozenset()
    data_location_schemes: frozenset[str] = frozenset({"https"})
    # A whole dataLocation download must finish within this (the per-read timeout alone lets
    # a host that trickles bytes hold a server thread for ever).
    data_location_seconds: float = 300.0
    public_url: str | None = None  # base of the links in responses; default: the request's
    # Geocode.Farm batches: results are fetchable this long after submission (its sample: 72 h),
    # then deleted by the sweep; independent of the Bing retention above.
    farm_expiry_hours: float = 72.0
    farm_include_accuracy: bool = False  # our extension: "accuracy" in batch results
    # Bing csv/tab/pipe downloads put a ' before values a spreadsheet would run as formulas
    # (formats/excelsafe.py); off for machine consumers that want every value exactly.
    excel_safe: bool = True
    # The web page's basemap is drawn offline from the index; online users may add a tile layer:
    # an XYZ raster URL template (https://tiles.example/{z}/{x}/{y}.png) and its attribution.
    web_tile_url: str | None = None
    web_tile_attribution: str = ""
    # Where batch tasks run: None for local worker processes, else a Dask scheduler's address
    # ("tcp://host:8786") whose workers all read the index at ``index_dir``.
    cluster: str | None = None
    # The job service: a job's upload must be decoded (and its result files written) within
    # this, else the job is aborted (one hostile upload must not hold a worker for hours).
    decode_seconds: float = 600.0
    # Jobs decoded at the same time (each in a process of its own, beside the workers).
    decoders: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        index = env.get(INDEX_ENV)
        data_dir = env.get(DATA_DIR_ENV)
        limits = JobLimits(
            max_upload_bytes=_int(env, "GEOBATCH_MAX_UPLOAD_MB", 300, high=1_000_000) * MB,
            max_entities=_int(env, "GEOBATCH_MAX_ENTITIES", 200_000, high=1_000_000_000),
            max_pending_jobs=_int(env, "GEOBATCH_MAX_PENDING_JOBS", 10, high=1_000_000),
            max_jobs_per_day=_int(env, "GEOBATCH_MAX_JOBS_PER_DAY", 50, high=1_000_000_000),
        )
        return cls(
            index_dir=Path(index).expanduser() if index else default_index_dir(),
            workers=_int(env, WORKERS_ENV, os.cpu_count() or 1, high=MAX_WORKERS),
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            limits=limits,
            chunk_size=_int(env, "GEOBATCH_CHUNK_SIZE", 1000, high=1_000_000),
            retention_days=_float(env, "GEOBATCH_RETENTION_DAYS", 14.0),
            sweep_seconds=_float(env, "GEOBATCH_SWEEP_SECONDS", 3600.0),
            data_location_enabled=_flag(env, "GEOBATCH_DATA_LOCATION"),
            data_location_hosts=_set(env, "GEOBATCH_DATA_LOCATION_HOSTS"),
            data_location_schemes=_set(env, "GEOBATCH_DATA_LOCATION_SCHEMES")
            or frozenset({"https"}),
            data_location_seconds=_float(env, "GEOBATCH_DATA_LOCATION_SECONDS", 300.0),
            public_url=env.get("GEOBATCH_PUBLIC_URL") or None,
            farm_expiry_hours=_float(env, "GEOBATCH_FARM_EXPIRY_HOURS", 72.0),
            farm_include_accuracy=_flag(env, "GEOBATCH_FARM_ACCURACY"),
            excel_safe=_switch(env, "GEOBATCH_EXCEL_SAFE", default=True),
            web_tile_url=env.get("GEOBATCH_WEB_TILE_URL", "").strip() or None,
            web_tile_attribution=env.get("GEOBATCH_WEB_TILE_ATTRIBUTION", "").strip(),
            cluster=env.get(CLUSTER_ENV, "").strip() or None,
            decode_seconds=_float(env, "GEOBATCH_DECODE_SECONDS", 600.0),
            decoders=max(1, _int(env, "GEOBATCH_DECODERS", 2)),
        )

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (for command-line overrides)."""
        return replace(self, **changes)


def _int(env: Mapping[str, str], name: str, default: int, low: int = 1, high: int = 10**12) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.removeprefix("-").isdigit()):
        raise ValueError(f"{name}={value!r} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name}={value} is out of range: give {low:,} to {high:,}")
    return number


def _float(
    env: Mapping[str, str], name: str, default: float, low: float = 0.0, high: float = 1e9
) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    # NaN fails both comparisons; infinity is above any bound.
    if not (low < number <= high):
        raise ValueError(f"{name}={value} is out of range: give more than {low:g}, up to {high:g}")
    return number


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """A yes/no setting with a default; anything but a yes or a no is refused."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={env[name]!r} is not one of 1/0, true/false, yes/no, on/off")


def _set(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in env.get(name, "").split(",") if p.strip())
