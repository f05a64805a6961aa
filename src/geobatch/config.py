"""Settings as a value: built once at the edge (CLI, server) and passed down.

Every setting is one :class:`Option` row in :data:`OPTIONS`: its field in :class:`Settings`, its
``GEOBATCH_*`` environment variable, its key in a TOML configuration file (the variable's name
without the prefix, lower case), how its text is read and checked, and one line of help. Values
come from, lowest first: the defaults, the configuration file, the environment, then the
command line (which the CLI applies with :meth:`Settings.with_changes`). A value that cannot be
used stops the program with one line naming where it came from (:class:`ConfigError`).

Only :func:`load` (and :meth:`Settings.from_env`, its shorthand) read the environment or a file;
everything else is handed a ``Settings``. To add a setting: a field in ``Settings`` (or
``JobLimits``) with its default, and a row in ``OPTIONS``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

ENV_PREFIX = "GEOBATCH_"
CONFIG_ENV = "GEOBATCH_CONFIG"
INDEX_ENV = "GEOBATCH_INDEX"
WORKERS_ENV = "GEOBATCH_WORKERS"
DATA_DIR_ENV = "GEOBATCH_DATA_DIR"

MB = 1024 * 1024
MAX_WORKERS = 256  # geocoding processes a host runs
CLUSTER_ENV = "GEOBATCH_CLUSTER"


def default_index_dir() -> Path:
    """The per-user index directory (for example ``~/.local/share/geobatch/index``)."""
    return Path(platformdirs.user_data_dir("geobatch", appauthor=False)) / "index"


def default_data_dir() -> Path:
    """Where the job service keeps its database, uploads and results by default."""
    return Path(platformdirs.user_data_dir("geobatch", appauthor=False)) / "service"


def default_workers() -> int:
    return os.cpu_count() or 1


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
    index_dir: Path = field(default_factory=default_index_dir)
    workers: int = field(default_factory=default_workers)
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
    # Single-request APIs (Bing Locations, Nominatim): requests per second allowed to one key
    # (0: no limit) and the burst it may send at once; past them the answer is 429.
    key_rate: float = 100.0
    key_burst: int = 100
    # Open access: requests without a key may use the single-request APIs, limited per client
    # address (a public Nominatim's policy is one request per second).
    open_access: bool = False
    open_rate: float = 1.0
    open_burst: int = 10
    # Load the index for single requests when the server starts (in the background), so the
    # first request does not wait seconds for it.
    preload: bool = True
    # uvicorn's line per request; at thousands of single requests a second it costs about a
    # tenth of the server's time (/metrics counts requests either way).
    access_log: bool = True
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
    # Writes to the data directory (new jobs, keys, usage, answers) are refused with 503 while
    # its disk has less than this free, so a full disk is met with a reason, not an I/O error.
    min_free_mb: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment (and the file ``GEOBATCH_CONFIG`` names)."""
        return load(environ).settings

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (for command-line overrides)."""
        return replace(self, **changes)


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the setting and where it came from."""


# --- reading values ------------------------------------------------------------------------------

Parser = Callable[[object], object]


def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a string or a number")
    return str(value).strip()


def _whole(minimum: int, maximum: int = 2**53) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        try:
            number = value if isinstance(value, int) else int(_text(value))
        except ValueError:
            raise ValueError(f"must be a whole number (at least {minimum})") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}")
        if number > maximum:
            raise ValueError(f"must be at most {maximum:,}")
        return number

    return parse


def _number(minimum: float, *, above: bool = False) -> Parser:
    def parse(value: object) -> float:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            number = float(value) if isinstance(value, int | float) else float(_text(value))
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        if number < minimum or (above and number == minimum):
            raise ValueError(f"must be {'more than' if above else 'at least'} {minimum:g}")
        return number

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def _path(value: object) -> Path:
    text = _text(value)
    if not text:
        raise ValueError("must be a path")
    return Path(text).expanduser()


def _words(value: object) -> frozenset[str]:
    items = value if isinstance(value, list) else _text(value).split(",")
    return frozenset(_text(p).lower() for p in items if _text(p))


def _optional_text(value: object) -> str | None:
    return _text(value) or None


def _url(value: object) -> str | None:
    text = _text(value)
    if text and not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/") or None


# --- the options ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: ``target`` is the Settings field (``limits.x`` for a JobLimits field)."""

    target: str
    env: str
    parse: Parser
    help: str
    scale: int = 1  # the stored value is the given one times this (MB -> bytes)

    @property
    def key(self) -> str:
        """The setting's key in a TOML file: the variable without ``GEOBATCH_``, lower case."""
        return self.env.removeprefix(ENV_PREFIX).lower()


OPTIONS: tuple[Option, ...] = (
    Option("index_dir", INDEX_ENV, _path, "index directory"),
    Option("data_dir", DATA_DIR_ENV, _path, "job service data directory"),
    Option("workers", WORKERS_ENV, _whole(1, MAX_WORKERS), "geocoding worker processes"),
    Option("chunk_size", "GEOBATCH_CHUNK_SIZE", _whole(1, 1_000_000), "rows per geocoding chunk"),
    Option(
        "min_free_mb",
        "GEOBATCH_MIN_FREE_MB",
        _whole(0, 1_000_000),
        "free MB the data directory's disk keeps; below it writes get 503",
    ),
    Option(
        "limits.max_upload_bytes",
        "GEOBATCH_MAX_UPLOAD_MB",
        _whole(1, 1_000_000),
        "largest upload, MB",
        scale=MB,
    ),
    Option("limits.max_entities", "GEOBATCH_MAX_ENTITIES", _whole(1), "entities per Bing job"),
    Option(
        "limits.max_pending_jobs", "GEOBATCH_MAX_PENDING_JOBS", _whole(1), "unfinished jobs per key"
    ),
    Option(
        "limits.max_jobs_per_day",
        "GEOBATCH_MAX_JOBS_PER_DAY",
        _whole(1),
        "jobs per key per 24 hours",
    ),
    Option(
        "retention_days",
        "GEOBATCH_RETENTION_DAYS",
        _number(0, above=True),
        "days a finished job's results are kept",
    ),
    Option(
        "sweep_seconds",
        "GEOBATCH_SWEEP_SECONDS",
        _number(0, above=True),
        "seconds between sweeps for expired results",
    ),
    Option(
        "data_location_enabled", "GEOBATCH_DATA_LOCATION", _flag, "fetch Bing dataLocation URLs"
    ),
    Option(
        "data_location_hosts",
        "GEOBATCH_DATA_LOCATION_HOSTS",
        _words,
        "hosts dataLocation may name (comma list)",
    ),
    Option(
        "data_location_schemes",
        "GEOBATCH_DATA_LOCATION_SCHEMES",
        _words,
        "URL schemes dataLocation may use",
    ),
    Option(
        "data_location_seconds",
        "GEOBATCH_DATA_LOCATION_SECONDS",
        _number(0, above=True),
        "time limit of one dataLocation download, s",
    ),
    Option("public_url", "GEOBATCH_PUBLIC_URL", _url, "base URL of links in replies"),
    Option(
        "farm_expiry_hours",
        "GEOBATCH_FARM_EXPIRY_HOURS",
        _number(0, above=True),
        "hours a Geocode.Farm batch stays fetchable",
    ),
    Option(
        "farm_include_accuracy",
        "GEOBATCH_FARM_ACCURACY",
        _flag,
        "accuracy in Geocode.Farm batch results",
    ),
    Option(
        "key_rate",
        "GEOBATCH_KEY_RATE",
        _number(0),
        "single requests per second per key (0: no limit)",
    ),
    Option("key_burst", "GEOBATCH_KEY_BURST", _whole(1), "single requests a key may burst"),
    Option(
        "open_access",
        "GEOBATCH_OPEN_ACCESS",
        _flag,
        "single-request APIs answer requests without a key",
    ),
    Option(
        "open_rate",
        "GEOBATCH_OPEN_RATE",
        _number(0, above=True),
        "keyless requests per second per client address",
    ),
    Option("preload", "GEOBATCH_PRELOAD", _flag, "load the index when the server starts"),
    Option("access_log", "GEOBATCH_ACCESS_LOG", _flag, "log a line per HTTP request"),
    Option("excel_safe", "GEOBATCH_EXCEL_SAFE", _flag, "neutralise formulas in CSV-like outputs"),
    Option("web_tile_url", "GEOBATCH_WEB_TILE_URL", _url, "tile URL template of the web map"),
    Option(
        "web_tile_attribution",
        "GEOBATCH_WEB_TILE_ATTRIBUTION",
        _text,
        "attribution of those tiles",
    ),
    Option("cluster", CLUSTER_ENV, _optional_text, "Dask scheduler address (tcp://HOST:8786)"),
    Option(
        "decode_seconds",
        "GEOBATCH_DECODE_SECONDS",
        _number(0, above=True),
        "time limit to decode one upload, s",
    ),
    Option("decoders", "GEOBATCH_DECODERS", _whole(1, 64), "uploads decoded at the same time"),
    Option(
        "open_burst",
        "GEOBATCH_OPEN_BURST",
        _whole(1),
        "keyless requests a client address may burst",
    ),
)
_BY_KEY = {option.key: option for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The settings, and for each option's ``target`` where its value came from: ``default``,
    a file path, or an environment variable (the CLI adds ``--option`` for its own)."""

    settings: Settings
    sources: dict[str, str]
    config_file: Path | None = None


def read_config_file(path: Path) -> dict[str, object]:
    """The settings of a TOML file; an unknown key is refused (a typo would be ignored)."""
    try:
        with path.open("rb") as file:
            table = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"the configuration file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the configuration file {path} cannot be read: {exc}") from None
    table = table.get("geobatch", table) if isinstance(table.get("geobatch"), dict) else table
    for key in table:
        if key not in _BY_KEY:
            close = difflib.get_close_matches(key, _BY_KEY, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (geobatch config lists them)"
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")
    return table


def load(environ: Mapping[str, str] | None = None, config_file: Path | str | None = None) -> Loaded:
    """Build the settings from the defaults, a TOML file (``config_file``, else the one
    ``GEOBATCH_CONFIG`` names, if any) and the ``GEOBATCH_*`` environment variables."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(CONFIG_ENV, "").strip():
        config_file = env[CONFIG_ENV].strip()
    path = Path(config_file).expanduser() if config_file is not None else None
    from_file = read_config_file(path) if path is not None else {}
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        given: tuple[object, str, str] | None = None  # value, source, how to name it
        if option.key in from_file:
            raw = from_file[option.key]
            given = (raw, str(path), f"{path}: {option.key} = {raw!r}")
        if env.get(option.env, "").strip():
            given = (env[option.env], option.env, f"{option.env}={env[option.env]!r}")
        if given is None:
            sources[option.target] = "default"
            continue
        raw, where, named = given
        try:
            value = option.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{named} {exc}") from None
        if option.scale != 1 and isinstance(value, int):
            value *= option.scale
        values[option.target] = value
        sources[option.target] = where
    return Loaded(_build(values), sources, path)


def _build(values: Mapping[str, object]) -> Settings:
    top = {k: v for k, v in values.items() if "." not in k}
    limits = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("limits.")}
    if top.get("data_location_schemes") == frozenset():
        top.pop("data_location_schemes")  # an empty list means the default, https only
    return Settings(**top, limits=JobLimits(**limits))  # type: ignore[arg-type]


def value_of(settings: Settings, target: str) -> object:
    """The value of an option's target (``limits.max_entities``) in ``settings``."""
    owner: object = settings
    for part in target.split("."):
        owner = getattr(owner, part)
    return owner


def describe(loaded: Loaded) -> list[tuple[str, str, str]]:
    """(key, value as TOML would write it, source) of every option, for ``geobatch config``."""
    rows = []
    for option in OPTIONS:
        value = value_of(loaded.settings, option.target)
        if option.scale != 1 and isinstance(value, int):
            value //= option.scale
        rows.append((option.key, toml_value(value), loaded.sources[option.target]))
    return rows


def toml_value(value: object) -> str:
    """A value as a TOML file would hold it; an unset one as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, frozenset):
        return json.dumps(sorted(value))
    return json.dumps(str(value), ensure_ascii=False)


def setting_names() -> list[str]:
    """Every Settings field (a test checks each has an option, or is internal)."""
    return [f.name for f in fields(Settings)]
