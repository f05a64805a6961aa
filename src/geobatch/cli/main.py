"""The ``geobatch`` command: import data sets, geocode and reverse-geocode CSVs, show the index.

Thin by design: parse arguments, call the library, render. Every error meant for a person ends
as one ``geobatch: error: ...`` line on stderr, never a traceback. Exit codes:

====  ==========================================================================
0     success
1     the run failed (index unusable, a source unreadable, an I/O error, an optional
      dependency missing: the line names the extra to install)
2     the command or its input cannot be used as given (bad option, missing file,
      a file without usable columns, a text file whose encoding cannot be told, a
      corrupt workbook or Parquet file, an output extension geobatch does not write)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import tqdm  # type: ignore[import-untyped,unused-ignore]

import geobatch
from geobatch import config, native
from geobatch.batch.csvrun import Tally, run_csv
from geobatch.batch.csvsplit import Slice
from geobatch.batch.csvtask import CsvSpec
from geobatch.batch.executors import Executor, open_executor
from geobatch.batch.sinks import TABLE_DELIMITER, check_available
from geobatch.batch.worker import IndexLocation, Kind
from geobatch.cli import checks
from geobatch.cli.batchfiles import BatchInput, BatchOutput, InputOptions, open_input
from geobatch.config import Settings
from geobatch.errors import GeobatchError, InputError
from geobatch.formats import plaincsv
from geobatch.formats.filekinds import OutputKind, output_kind
from geobatch.formats.plaincsv import ForwardColumns, ReverseColumns
from geobatch.index.build import (
    DEFAULT_MEMORY_MB,
    MIN_MEMORY_MB,
    ImportSummary,
    clean_stale_work,
    ensure_builtin,
    import_source,
)
from geobatch.jobs import keys
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.store import JobStore
from geobatch.sources.detect import open_source

TRACEBACK_ENV = "GEOBATCH_TRACEBACK"  # =1: an unexpected error prints its traceback too
# Below this many input bytes per chunk a pool is not worth it: each worker loads the whole index.
POOL_MIN_BYTES_PER_CHUNK_ROW = 64


class TqdmProgress:
    """A tqdm bar on stderr behind the ``advance(n)`` interface that sources and builders call."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "it") -> None:
        self._bar = tqdm.tqdm(
            desc=desc,
            total=total or None,
            unit=unit,
            unit_scale=True,
            file=sys.stderr,
            disable=None,  # off when stderr is not a terminal
            leave=False,
        )

    def advance(self, amount: int) -> None:
        self._bar.update(amount)

    def advance_to(self, position: int) -> None:
        self._bar.update(max(0, position - self._bar.n))

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _State:
    """What the group hands its commands: the settings (file and environment), ``--index``."""

    settings: Settings
    index_override: Path | None
    loaded: config.Loaded | None = None

    def index_dir(self, local: Path | None) -> Path:
        chosen = local or self.index_override
        if chosen is not None:
            return chosen  # checked by the option's callback
        return checks.directory(self.settings.index_dir, "GEOBATCH_INDEX")


def _index_option(help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        callback=checks.directory_option,
        help=help_text,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(geobatch.__version__, "--version", prog_name="geobatch")
@_index_option(
    "Index directory (default: $GEOBATCH_INDEX, else the per-user data directory). "
    "Commands accept --index too."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of settings (default: $GEOBATCH_CONFIG, if set); GEOBATCH_* variables "
    "override it. 'geobatch config' shows the effective values.",
)
@click.pass_context
def cli(ctx: click.Context, index_dir: Path | None, config_file: Path | None) -> None:
    """Batch geocoding over open data (OpenStreetMap, OpenAddresses, GeoNames).

    \b
    Typical use:
      geobatch import liechtenstein.osm.pbf      # add a data set to the index
      geobatch geocode addresses.csv -o out.csv  # address -> coordinates
      geobatch reverse points.csv -o out.csv     # coordinates -> address
      geobatch info                              # what the index holds

    A built-in world gazetteer (countries, regions, cities) is always in the index, so
    geocode and reverse answer at city level even before any import.
    """
    try:
        loaded = config.load(config_file=config_file)
    except config.ConfigError as exc:
        raise SettingError(f"bad setting: {exc}") from None
    ctx.obj = _State(loaded.settings, index_dir, loaded)


class SettingError(click.ClickException):
    """A setting (file or environment) that cannot be used: one line, exit 2."""

    exit_code = 2


# --- config ----------------------------------------------------------------------------------


@cli.command("config")
@click.pass_obj
def config_command(state: _State) -> None:
    """Show the effective settings and where each comes from.

    Sources, lowest first: the defaults, the TOML file (--config or $GEOBATCH_CONFIG), the
    GEOBATCH_* environment variables, then command-line options. A file holds the same names
    as the variables, in lower case without the prefix:

    \b
      # geobatch.toml
      index = "/srv/geobatch/index"
      workers = 4
      open_access = true

    \b
    Example:
      geobatch --config geobatch.toml config
    """
    loaded = state.loaded or config.load()
    where = loaded.config_file
    click.echo(f"# configuration file: {where if where is not None else 'none'}")
    rows = config.describe(loaded)
    if state.index_override is not None:
        rows = [
            (k, config.toml_value(state.index_override), "--index") if k == "index" else (k, v, src)
            for k, v, src in rows
        ]
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        if value:
            click.echo(f"{key:<{width}} = {value}  # {source}")
        else:
            click.echo(f"# {key:<{width - 2}} = (not set)  # {source}")


# --- import ----------------------------------------------------------------------------------


@cli.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@_index_option("Index directory to import into (overrides the global --index).")
@click.option(
    "--memory",
    "memory_mb",
    type=click.IntRange(MIN_MEMORY_MB, 10_000_000),
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    metavar="MB",
    help="Memory the import may use; beyond it, work is spilled to disk in the index folder.",
)
@click.pass_obj
def import_command(
    state: _State, sources: tuple[Path, ...], index_dir: Path | None, memory_mb: int
) -> None:
    """Import data sets (OSM, OpenAddresses, GeoNames) into the index.

    Accepted: OSM .pbf extracts, OpenAddresses CSVs, GeoNames dumps and postcode centroid files.

    Tabular files may be plain, gzip or zip. Re-importing a data set of the same name
    replaces it; the other data sets are not rebuilt. Memory stays within --memory whatever
    the size of the source (a country of 20 million addresses imports in 2 GB). One summary
    line is printed per source; a source that cannot be read is reported and the others are
    still imported.

    \b
    Example:
      geobatch import liechtenstein-latest.osm.pbf us-ca-oa.csv
      geobatch import --memory 1000 germany-latest.osm.pbf
    """
    index = state.index_dir(index_dir)
    if not any(path.is_file() for path in sources):
        for path in sources:  # nothing to import: say why before building anything
            _require_file(path, "source")
    clean_stale_work(index)
    _ensure_builtin(index)
    failures = 0
    for path in sources:
        try:
            summary = _import_one(index, path, memory_mb)
        except (GeobatchError, click.UsageError) as exc:
            failures += 1
            _error(_message(exc))
            continue
        click.echo(_summary_line(summary))
    if failures:
        raise click.exceptions.Exit(1)


def _import_one(index: Path, path: Path, memory_mb: int = DEFAULT_MEMORY_MB) -> ImportSummary:
    _require_file(path, "source")
    source = open_source(path)
    with TqdmProgress(f"reading {path.name}", source.size_hint, unit="B") as progress:
        return import_source(index, source, progress, memory_mb=memory_mb, stages=_stage)


@contextmanager
def _stage(what: str, total: int) -> Iterator[TqdmProgress]:
    """A progress bar for one stage of an import after reading (rows, rate, time left)."""
    with TqdmProgress(what, total, unit=" rows") as bar:
        yield bar


def _ensure_builtin(index: Path) -> None:
    """Build the built-in gazetteer into ``index`` when it is missing, saying so on stderr."""
    with TqdmProgress("building the built-in gazetteer") as progress:
        summary = ensure_builtin(index, progress)
    if summary is not None:
        click.echo(_summary_line(summary), err=True)
    from geobatch.index.format import usable_data_sets

    for problem in usable_data_sets(index)[1]:
        click.echo(f"geobatch: warning: {problem}", err=True)


def _summary_line(summary: ImportSummary) -> str:
    counts = sorted(summary.counts.items())
    parts = ", ".join(f"{count:,} {kind}" for kind, count in counts) or "nothing"
    return f"{summary.source}: {parts} in {summary.seconds:.1f} s -> {summary.path}"


# --- geocode / reverse -----------------------------------------------------------------------


def _batch_options(func: click.decorators.FC) -> click.decorators.FC:
    decorators: list[Callable[[click.decorators.FC], click.decorators.FC]] = [
        click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path)),
        click.option(
            "-o",
            "--output",
            "output_path",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            callback=checks.output_option,
            help="Output file; its extension chooses the format: .csv (.tsv: tab-separated), "
            ".geojson, .gpkg (GeoPackage) or .parquet (GeoParquet). '-' writes CSV to stdout.",
        ),
        click.option(
            "--encoding",
            default=None,
            metavar="NAME",
            help="Encoding of a CSV input (utf-8, cp1252, utf-16, latin-1, ...). Default: "
            "detected: UTF-8, UTF-16/32 with a BOM, else Windows-1252 when it reads as such.",
        ),
        click.option(
            "--sheet",
            default=None,
            metavar="NAME",
            help="The sheet of an .xlsx input to read (default: the first).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, checks.MAX_WORKERS),
            default=None,
            help="Worker processes (default: $GEOBATCH_WORKERS, else the CPU count).",
        ),
        click.option(
            "--chunk-size",
            type=click.IntRange(1, checks.MAX_CHUNK_SIZE),
            default=1000,
            show_default=True,
            help="Rows sent to a worker at a time.",
        ),
        click.option(
            "--max-results",
            type=click.IntRange(1, 100),
            default=1,
            show_default=True,
            help="Candidates per row; above 1, each candidate gets its own output row, best first.",
        ),
        click.option(
            "--excel-safe/--no-excel-safe",
            default=True,
            show_default=True,
            help="In a CSV output, put a ' before values a spreadsheet would run as formulas "
            "(=, +, -, @, tab, CR; numbers such as -122.1 are left alone). Turn off for "
            "programs that read the output. GeoJSON, GeoPackage and Parquet outputs always "
            "keep values exactly.",
        ),
        _cluster_option(
            "Send the work to the Dask scheduler at this address (tcp://HOST:8786) instead of "
            "local processes; every worker must read the index at the same path "
            "(default: $GEOBATCH_CLUSTER, else local)."
        ),
        _index_option("Index directory (overrides the global --index)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _cluster_option(help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    return click.option("--cluster", metavar="ADDRESS", default=None, help=help_text)


@dataclass(frozen=True, slots=True)
class BatchArgs:
    """One geocode or reverse run, as the command line asked for it."""

    kind: Kind
    input_path: Path
    output_path: Path
    index: Path
    workers: int
    chunk_size: int = 1000
    max_results: int = 1
    excel_safe: bool = True
    cluster: str | None = None
    encoding: str | None = None
    sheet: str | None = None


@cli.command("geocode")
@_batch_options
@click.pass_obj
def geocode_command(
    state: _State,
    input_path: Path,
    output_path: Path,
    workers: int | None,
    chunk_size: int,
    max_results: int,
    encoding: str | None,
    sheet: str | None,
    excel_safe: bool,
    cluster: str | None,
    index_dir: Path | None,
) -> None:
    """Geocode a file of addresses (address -> coordinates).

    INPUT is a CSV file (delimiter , ; tab | and encoding detected: UTF-8, UTF-16 and
    Windows-1252, as Excel saves them), an Excel workbook (.xlsx, first sheet or --sheet) or
    a Parquet file; '-' reads standard input. Its header names the address columns, ignoring
    case and punctuation: a free-text column (query, address, q, full_address,
    formatted_address, search) and/or structured ones (address_line/street, locality/city,
    admin_district/state, admin_district2/county, postal_code/zip, country, postal_town).

    The output holds every input column, then lat, lon, the address parts, entity_type,
    confidence, match_codes, bbox_*, status (OK, NoResult, Failed) and reason. Result columns
    whose names clash with input columns get a gb_ prefix. Bad rows get status Failed and a
    reason in their own output row; they never stop the run. The output's extension chooses
    its format: CSV, GeoJSON (.geojson), GeoPackage (.gpkg) or GeoParquet (.parquet), each a
    point per row with a result. Reading .xlsx needs 'geobatch[excel]', Parquet
    'geobatch[parquet]'.

    \b
    Example:
      geobatch geocode addresses.csv -o geocoded.csv --workers 4
      geobatch geocode addresses.xlsx -o geocoded.gpkg
      geobatch geocode addresses.csv -o - | head
    """
    index, count = state.index_dir(index_dir), workers or state.settings.workers
    where = cluster or state.settings.cluster
    run_batch(
        BatchArgs(
            "forward",
            input_path,
            output_path,
            index,
            count,
            chunk_size,
            max_results,
            excel_safe,
            where,
            encoding,
            sheet,
        )
    )


@cli.command("reverse")
@_batch_options
@click.pass_obj
def reverse_command(
    state: _State,
    input_path: Path,
    output_path: Path,
    workers: int | None,
    chunk_size: int,
    max_results: int,
    encoding: str | None,
    sheet: str | None,
    excel_safe: bool,
    cluster: str | None,
    index_dir: Path | None,
) -> None:
    """Reverse-geocode a file of points (coordinates -> address).

    INPUT is a CSV, .xlsx or Parquet file, as for 'geobatch geocode'. Its header must have a
    latitude column (lat, latitude, y) and a longitude column (lon, lng, long, longitude, x),
    in WGS84 degrees. Rows whose coordinates are not numbers or out of range get status
    Failed and the reason; the run goes on. The output's extension chooses its format (.csv,
    .geojson, .gpkg, .parquet).

    \b
    Example:
      geobatch reverse points.csv -o addresses.csv
      geobatch reverse points.parquet -o addresses.parquet
    """
    index, count = state.index_dir(index_dir), workers or state.settings.workers
    where = cluster or state.settings.cluster
    run_batch(
        BatchArgs(
            "reverse",
            input_path,
            output_path,
            index,
            count,
            chunk_size,
            max_results,
            excel_safe,
            where,
            encoding,
            sheet,
        )
    )


def run_batch(args: BatchArgs) -> Tally:
    """Geocode or reverse an input file into an output file; return the count of rows by status.

    The input is a CSV (any delimiter; UTF-8, UTF-16 or Windows-1252), an .xlsx workbook or
    a Parquet file; the output's extension chooses CSV, GeoJSON, GeoPackage or Parquet. The
    output is written to ``OUTPUT.partial`` and renamed to ``OUTPUT`` once complete, so a run
    that fails or is interrupted never leaves a short file under the name asked for.
    """
    _check_paths(args.input_path, args.output_path)
    out_kind = output_kind(str(args.output_path))
    check_available(out_kind)
    options = InputOptions(args.chunk_size, args.encoding, args.sheet)
    with open_input(args.input_path, options) as source:
        columns = _detect(args.kind, source.header)
        if args.cluster is None:
            _ensure_builtin(args.index)
        csv_out = out_kind is OutputKind.CSV
        spec = CsvSpec(
            kind=args.kind,
            index=IndexLocation(args.index.absolute()),
            header=tuple(source.header),
            columns=columns,
            delimiter=source.delimiter,
            out_delimiter=_output_delimiter(args.output_path, source.delimiter)
            if csv_out
            else TABLE_DELIMITER,
            max_results=args.max_results,
            # Formula quotes are for files people open in spreadsheets: CSV only.
            excel_safe=args.excel_safe and csv_out,
            encoding=source.encoding,
        )
        started = time.perf_counter()
        with open_executor(_workers_for(args), args.cluster) as executor:
            if args.cluster is not None:
                _quiet_dask()
            output = BatchOutput(args.output_path, out_kind, spec.layout, source)
            try:
                output.write_header(_header_bytes(spec, source.bom_out))
                tally = _run_slices(args, source, spec, executor, output)
            except (GeobatchError, OSError, csv.Error) as exc:
                note = output.abandon()
                if note is None:
                    raise
                raise GeobatchError(f"{_message(exc)}; {note}") from None
            except BaseException:
                note = output.abandon()
                if note is not None:
                    _error(note)
                raise
            output.finish()
    _print_summary(args, tally, time.perf_counter() - started)
    return tally


def _output_delimiter(path: Path, input_delimiter: str) -> str:
    """A .tsv or .tab output is tab-separated; any other CSV keeps the input's delimiter."""
    if path.suffix.casefold() in (".tsv", ".tab"):
        return "\t"
    return plaincsv.output_delimiter(input_delimiter)


def _quiet_dask() -> None:
    """The Dask client (and tornado, its event loop) log lost connections to stderr; the CLI's
    error line says what matters."""
    for name in ["distributed", "tornado", *logging.root.manager.loggerDict]:
        if name.split(".")[0] in {"distributed", "tornado"}:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _check_paths(input_path: Path, output_path: Path) -> None:
    if str(input_path) != "-":
        _require_file(input_path, "input")
        if output_path.exists() and output_path.resolve() == input_path.resolve():
            raise click.UsageError(f"the output {output_path} would overwrite the input")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise click.UsageError(f"{what} file not found: {path}")
    if path.is_dir():
        raise click.UsageError(f"{what} is a directory, not a file: {path}")


def _detect(kind: Kind, header: list[str]) -> ForwardColumns | ReverseColumns:
    if kind == "forward":
        return plaincsv.detect_forward_columns(header)
    return plaincsv.detect_reverse_columns(header)


def _run_slices(
    args: BatchArgs, source: BatchInput, spec: CsvSpec, executor: Executor, output: BatchOutput
) -> Tally:
    with TqdmProgress(f"{args.kind} {args.input_path.name}", source.total, source.unit) as bar:

        def advance(piece: Slice) -> None:
            output.lines += piece.lines
            bar.advance_to(source.position(piece))
            output.flush_if_stdout()

        return run_csv(spec, source.slices, executor, output.stream, advance)


def _header_bytes(spec: CsvSpec, bom: bool) -> bytes:
    text = io.StringIO()
    writer = plaincsv.CsvWriter(text, spec.out_delimiter, excel_safe=spec.excel_safe)
    writer.writerow(spec.layout.header)
    return (codecs.BOM_UTF8 if bom else b"") + text.getvalue().encode("utf-8")


def _workers_for(args: BatchArgs) -> int:
    """One process for a file of about one chunk: a pool would load the index per worker."""
    if args.workers > 1 and str(args.input_path) != "-":
        small = POOL_MIN_BYTES_PER_CHUNK_ROW * args.chunk_size
        if args.input_path.stat().st_size < small:
            return 1
    return args.workers


def _print_summary(args: BatchArgs, tally: Tally, seconds: float) -> None:
    rows = tally.rows
    rate = rows / seconds if seconds > 0 else 0.0
    where = "stdout" if str(args.output_path) == "-" else str(args.output_path)
    click.echo(
        f"{rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s): "
        f"{tally.ok:,} OK, {tally.no_result:,} no result, {tally.failed:,} failed -> {where}",
        err=True,
    )


# --- info ------------------------------------------------------------------------------------


@cli.command("info")
@_index_option("Index directory to describe (overrides the global --index).")
@click.pass_obj
def info_command(state: _State, index_dir: Path | None) -> None:
    """Show where the index is and which data sets it holds.

    Per data set: its rows by kind, its size on disk and its format version. A data set of
    another format version (or of geobatch before the mapped format) is listed with what to
    do about it.

    \b
    Example:
      geobatch --index /srv/geobatch info
    """
    from geobatch.index.format import FORMAT_VERSION, data_set_files, old_format_files

    index = state.index_dir(index_dir)
    click.echo(f"engine: {native.describe()}")
    if not index.is_dir():
        click.echo(f"index: {index} (not built yet: geobatch import or geocode creates it)")
        return
    click.echo(f"index: {index} (format {FORMAT_VERSION})")
    files = data_set_files(index)
    old = old_format_files(index)
    if not files and not old:
        click.echo("data sets: none")
        return
    click.echo("data sets:")
    total = 0
    for path in files:
        total += path.stat().st_size
        click.echo(_describe_data_set(path))
    for path in old:
        click.echo(f"  {path.name}: written by an older geobatch (SQLite); import it again")
    lexicon = sorted(index.glob("lexicon-*"))
    lexicon_size = sum(p.stat().st_size for p in lexicon)
    click.echo(f"  vocabulary (lexicon of all data sets): {_human_size(lexicon_size)}")
    click.echo(f"total on disk: {_human_size(total + lexicon_size)}")


def _describe_data_set(path: Path) -> str:
    from geobatch.index.container import read_meta
    from geobatch.index.format import FORMAT_VERSION

    meta = read_meta(path)
    size = _human_size(path.stat().st_size)
    if meta is None:
        return f"  {path.name}: unreadable (cut short or not an index file); import it again"
    version = meta.get("format_version")
    counts = meta.get("counts", {})
    kinds = ", ".join(
        f"{int(counts[k]):,} {k}" for k in ("addresses", "streets", "places", "postcodes",
                                            "areas", "interpolations") if counts.get(k)
    )  # fmt: skip
    note = "" if version == FORMAT_VERSION else " (another format: import it again)"
    return (
        f"  {meta.get('source', path.name)}: {kinds or 'empty'}; {size} on disk; format "
        f"{version}{note}; imported {meta.get('imported_at', '?')}"
    )


@cli.command("reindex")
@_index_option("Index directory (overrides the global --index).")
@click.pass_obj
def reindex_command(state: _State, index_dir: Path | None) -> None:
    """Rebuild the index-wide vocabulary from the data sets (after removing a data set file).

    geobatch does this by itself after every import and when it opens an index whose data
    sets changed; run it where the index is read-only to the processes that use it.
    """
    from geobatch.index.lexicon import rebuild_lexicon

    index = state.index_dir(index_dir)
    started = time.monotonic()
    box, _ = rebuild_lexicon(index)
    click.echo(f"vocabulary rebuilt in {time.monotonic() - started:.1f} s -> {box}")


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:,.1f} {unit}"


# --- serve / keys ----------------------------------------------------------------------------


def _data_dir_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        callback=checks.data_directory_option,
        help="Job service data directory (default: $GEOBATCH_DATA_DIR, else the per-user "
        "data directory).",
    )(func)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, checks.MAX_WORKERS),
    default=None,
    help="Geocoding worker processes (default: $GEOBATCH_WORKERS, else the CPU count).",
)
@_cluster_option(
    "Run the jobs' geocoding on the Dask scheduler at this address (tcp://HOST:8786); every "
    "worker must read the index at the same path (default: $GEOBATCH_CLUSTER, else local "
    "worker processes)."
)
@click.option(
    "--open-access",
    is_flag=True,
    default=None,
    help="Answer single requests (Bing Locations, Nominatim) without a key, limited per "
    "client address ($GEOBATCH_OPEN_RATE a second). Default: $GEOBATCH_OPEN_ACCESS, else off.",
)
@_index_option("Index directory (overrides the global --index).")
@_data_dir_option
@click.pass_obj
def serve_command(
    state: _State,
    host: str,
    port: int,
    workers: int | None,
    cluster: str | None,
    open_access: bool | None,
    index_dir: Path | None,
    data_dir: Path | None,
) -> None:
    """Run the HTTP service: drop-in Bing Maps Geocode Dataflow, Bing Maps REST Locations,
    Geocode.Farm and Nominatim (under /nominatim) APIs, plus /healthz and /metrics.

    Jobs, uploads and results live in the data directory; unfinished jobs resume when the
    server starts again. Create a key first with 'geobatch keys create'; the same keys and
    daily quotas work for every API. The API is described at http://HOST:PORT/docs.

    \b
    Example:
      geobatch keys create --name me
      geobatch serve --port 8080
      curl -X POST --data-binary @input.xml \\
        'http://127.0.0.1:8080/REST/v1/Dataflows/Geocode?input=xml&key=KEY'
      curl -X POST http://127.0.0.1:8080/batch-forward/ \\
        -d '{"key": "KEY", "addresses": ["Vaduz"]}'
      curl 'http://127.0.0.1:8080/REST/v1/Locations?q=Vaduz&key=KEY'
      curl 'http://127.0.0.1:8080/nominatim/search?q=Vaduz&format=json&key=KEY'
    """
    import uvicorn

    from geobatch.api.app import create_app
    from geobatch.jobs.process import LOG_FORMAT

    settings = state.settings.with_changes(
        index_dir=state.index_dir(index_dir),
        data_dir=data_dir or state.settings.data_dir,
        workers=workers or state.settings.workers,
        cluster=cluster or state.settings.cluster,
        open_access=open_access or state.settings.open_access,
    )
    # Everything that can be refused is refused before the gazetteer is built or the server
    # starts: the directories of the environment's defaults too, and the address to listen on.
    checks.directory(settings.index_dir, "GEOBATCH_INDEX")
    checks.data_directory(settings.data_dir, "GEOBATCH_DATA_DIR")
    checks.listen_address(host, port)
    _ensure_builtin(settings.index_dir)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)  # the job runner logs alike
    where = (
        f"Dask cluster {settings.cluster}" if settings.cluster else f"{settings.workers} workers"
    )
    click.echo(
        f"geobatch: serving on http://{host}:{port} (index {settings.index_dir}, "
        f"data {settings.data_dir}, {where})",
        err=True,
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=settings.access_log,
    )


@cli.group("keys")
def keys_group() -> None:
    """Manage the API keys of the HTTP service (only a hash of each key is stored)."""


def _open_store(state: _State, data_dir: Path | None) -> JobStore:
    root = data_dir or checks.data_directory(state.settings.data_dir, "GEOBATCH_DATA_DIR")
    return JobStore(DataPaths(root).create().database, state.settings.min_free_mb)


@keys_group.command("create")
@click.option("--name", required=True, callback=checks.key_name_option, help="Who the key is for.")
@click.option(
    "--email",
    default=None,
    callback=checks.email_option,
    help="Contact address of the key's owner.",
)
@click.option(
    "--daily-limit",
    default="unlimited",
    show_default=True,
    help="Entities the key may geocode per day (UTC), or 'unlimited'.",
)
@_data_dir_option
@click.pass_obj
def keys_create(
    state: _State, name: str, email: str | None, daily_limit: str, data_dir: Path | None
) -> None:
    """Create a key and print it. It is shown this once only: keep it.

    \b
    Example:
      geobatch keys create --name "Ada Lovelace" --email ada@example.org --daily-limit 10000
    """
    limit = checks.daily_limit(daily_limit)
    store = _open_store(state, data_dir)
    try:
        new = keys.create_key(store, name, email, limit)
    finally:
        store.close()
    click.echo(new.secret)
    click.echo(
        f"key {new.key.id} created for {new.key.name}; this is the only time it is shown", err=True
    )


@keys_group.command("list")
@_data_dir_option
@click.pass_obj
def keys_list(state: _State, data_dir: Path | None) -> None:
    """List keys: id, name, email, daily limit, used today, created, revoked."""
    store = _open_store(state, data_dir)
    try:
        now = time.time()
        rows = [(k, keys.used_today(store, k, now)) for k in store.list_keys()]
    finally:
        store.close()
    if not rows:
        click.echo("no keys yet: geobatch keys create --name NAME")
        return
    click.echo("id\tname\temail\tdaily_limit\tused_today\tcreated\trevoked")
    for key, used in rows:
        limit = "unlimited" if key.daily_limit is None else str(key.daily_limit)
        revoked = _iso(key.revoked) if key.revoked is not None else ""
        fields = (key.id, key.name, key.email or "", limit, used, _iso(key.created), revoked)
        click.echo("\t".join(str(field) for field in fields))


@keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1, checks.MAX_KEY_ID))
@_data_dir_option
@click.pass_obj
def keys_revoke(state: _State, key_id: int, data_dir: Path | None) -> None:
    """Revoke a key by its id (see 'geobatch keys list'); its jobs stay until they expire."""
    store = _open_store(state, data_dir)
    try:
        if not store.revoke_key(key_id, time.time()):
            known = store.key_by_id(key_id)
            raise click.UsageError(
                f"no key {key_id}" if known is None else f"key {key_id} is already revoked"
            )
    finally:
        store.close()
    click.echo(f"key {key_id} revoked")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- entry point -----------------------------------------------------------------------------


def _error(message: str) -> None:
    click.echo(f"geobatch: error: {message}", err=True)


def _message(exc: BaseException) -> str:
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return f"{exc.format_message()} (see '{exc.ctx.command_path} --help')"
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code; errors become one line on stderr."""
    args = list(argv) if argv is not None else None
    try:
        result = cli.main(args=args, prog_name="geobatch", standalone_mode=False)
    except (click.UsageError, InputError) as exc:
        _error(_message(exc))
        return 2
    except click.ClickException as exc:
        _error(_message(exc))
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        _error("interrupted")
        return 130
    except BrokenPipeError:
        _silence_stdout()  # whoever read our stdout (head, less) has gone: stop quietly
        return 1
    except (GeobatchError, OSError, csv.Error) as exc:
        _error(_message(exc))
        return 1
    except Exception as exc:  # a bug of ours: still one line, and a way to see more
        if os.environ.get(TRACEBACK_ENV) == "1":
            traceback.print_exc()
        _error(
            f"unexpected {type(exc).__name__}: {_message(exc)} — this is a bug, please report it "
            f"(run with {TRACEBACK_ENV}=1 to see where it happened)"
        )
        return 1
    return result if isinstance(result, int) else 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the final flush at exit does not complain."""
    with suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
