"""Geocode a pandas DataFrame: :func:`geocode_frame` and :func:`reverse_frame`.

The frame's columns are matched as the CLI matches a CSV header (a free-text ``address`` /
``query`` column, or structured ``street``, ``city``, ``postal_code``, ``country``…; ``lat`` and
``lon`` for reverse), the rows are answered on all cores in chunks (the CLI's executor), and the
same frame comes back with the CLI's result columns added (``lat``, ``lon`` as numbers,
``formatted_address`` … ``status``, ``reason``; a ``gb_`` prefix where a name is taken). With
geopandas installed the result is a GeoDataFrame of points (``geometry=False`` keeps a plain
DataFrame). A progress bar shows in notebooks and terminals (``progress=False`` hides it).

pandas is an optional dependency: ``pip install 'geobatch[pandas]'`` (``[geo]`` adds geopandas).
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from geobatch import errors
from geobatch.batch.executors import LocalExecutor
from geobatch.batch.worker import IndexLocation, Kind, Request, answer_at
from geobatch.config import Settings
from geobatch.errors import MissingExtra
from geobatch.formats import plaincsv
from geobatch.formats.plaincsv import ForwardColumns, ReverseColumns
from geobatch.model import Answer, ResultStatus

__all__ = ["MissingExtra", "geocode_frame", "require", "reverse_frame"]

NUMERIC = ("lat", "lon", "bbox_south", "bbox_west", "bbox_north", "bbox_east")
# Below this many rows one process answers: each pool worker would load the whole index.
POOL_MIN_ROWS = 5_000


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency, or say which extra brings it (:class:`MissingExtra`)."""
    return errors.require(module, extra, purpose)


def geocode_frame(
    df: Any,
    *,
    index: str | Path | None = None,
    workers: int | None = None,
    chunk_size: int = 1000,
    progress: bool = True,
    geometry: bool = True,
) -> Any:
    """``df`` with the best forward result of each row added as columns (see module doc)."""
    columns = plaincsv.detect_forward_columns([str(c) for c in df.columns])
    return _run(df, "forward", columns, index, workers, chunk_size, progress, geometry)


def reverse_frame(
    df: Any,
    *,
    index: str | Path | None = None,
    workers: int | None = None,
    chunk_size: int = 1000,
    progress: bool = True,
    geometry: bool = True,
) -> Any:
    """``df`` with the address at each row's ``lat``/``lon`` added as columns."""
    columns = plaincsv.detect_reverse_columns([str(c) for c in df.columns])
    return _run(df, "reverse", columns, index, workers, chunk_size, progress, geometry)


def _cells(df: Any) -> Iterator[dict[str, str]]:
    """Each row as the CLI sees a CSV row: column name -> text ("" for a missing value)."""
    names = [str(c) for c in df.columns]
    for values in df.itertuples(index=False, name=None):
        yield {name: _text(value) for name, value in zip(names, values, strict=True)}


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):
        return ""
    return str(value)


def _request(
    cells: dict[str, str], kind: Kind, columns: ForwardColumns | ReverseColumns
) -> Request | str:
    if isinstance(columns, ReverseColumns):
        return plaincsv.row_to_reverse(cells, columns)
    request = plaincsv.row_to_request(cells, columns)
    return plaincsv.EMPTY_REQUEST_REASON if request.is_empty() else request


def _run(
    df: Any,
    kind: Kind,
    columns: ForwardColumns | ReverseColumns,
    index: str | Path | None,
    workers: int | None,
    chunk_size: int,
    progress: bool,
    geometry: bool,
) -> Any:
    pandas = require("pandas", "pandas", "geocode_frame and reverse_frame")
    settings = Settings.from_env()
    index_dir = Path(index) if index is not None else settings.index_dir
    count = workers or settings.workers
    if len(df) < POOL_MIN_ROWS:
        count = 1
    asked = [_request(cells, kind, columns) for cells in _cells(df)]
    answers = _answer_all(asked, kind, index_dir, count, chunk_size, progress)
    names = plaincsv.output_names([str(c) for c in df.columns])
    rows = [plaincsv.answer_to_columns(a) for a in answers]
    result = pandas.DataFrame(
        {names[c]: [row[c] for row in rows] for c in plaincsv.RESULT_COLUMNS}, index=df.index
    )
    for column in NUMERIC:
        result[names[column]] = pandas.to_numeric(result[names[column]], errors="coerce")
    out = pandas.concat([df, result], axis=1)
    if geometry:
        try:
            geopandas = __import__("geopandas")
        except ImportError:
            return out
        points = geopandas.points_from_xy(out[names["lon"]], out[names["lat"]])
        return geopandas.GeoDataFrame(out, geometry=points, crs="EPSG:4326")
    return out


def _answer_all(
    asked: Sequence[Request | str],
    kind: Kind,
    index_dir: Path,
    workers: int,
    chunk_size: int,
    progress: bool,
) -> list[Answer]:
    """An answer per row, in order; a row that could not be asked is a Failed answer."""
    from tqdm.auto import tqdm  # a widget in notebooks, a bar in terminals

    good = [r for r in asked if not isinstance(r, str)]
    found: list[Answer] = []
    chunks = [good[i : i + chunk_size] for i in range(0, len(good), chunk_size)]
    bar = tqdm(total=len(good), desc=kind, unit="rows", disable=not progress or None)
    try:
        count = max(1, min(workers, os.cpu_count() or 1))
        location = IndexLocation(index_dir.absolute())
        with LocalExecutor(count) as executor:
            window: deque[Future[list[Answer]]] = deque()
            for chunk in [*chunks, None]:
                if chunk is not None:
                    window.append(executor.submit(answer_at, location, kind, chunk))
                # A few chunks in flight per worker; results taken in order as they come.
                while window and (chunk is None or len(window) > 2 * count):
                    answers = window.popleft().result()
                    found.extend(answers)
                    bar.update(len(answers))
    finally:
        bar.close()
    remaining = iter(found)
    return [
        Answer(ResultStatus.FAILED, reason=r) if isinstance(r, str) else next(remaining)
        for r in asked
    ]
