"""geobatch: self-hosted batch geocoding over open data.

The library entry point is :func:`open`, which opens an index directory and returns a
:class:`~geobatch.geocode.geocoder.Geocoder` with ``geocode`` and ``reverse`` methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobatch.model import (
    Address,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
)
from geobatch.native import warn_if_stale

if TYPE_CHECKING:
    from geobatch.geocode.geocoder import Geocoder

__all__ = [
    "Address",
    "BoundingBox",
    "CalculationMethod",
    "Confidence",
    "EntityType",
    "GeocodeRequest",
    "GeocodeResult",
    "MatchCode",
    "Point",
    "ResultStatus",
    "geocode_frame",
    "open",
    "reverse_frame",
]

__version__ = "0.1.0"

warn_if_stale()  # a compiled module older than its source would hide an edit


def open(index: str | Path | None = None) -> Geocoder:
    """Open the index at ``index`` (default: the per-user index) for geocoding."""
    from geobatch.config import Settings
    from geobatch.geocode.geocoder import Geocoder

    settings = Settings.from_env()
    return Geocoder.open(Path(index) if index is not None else settings.index_dir)


def geocode_frame(df: Any, **options: Any) -> Any:
    """Geocode a pandas DataFrame: the same frame plus result columns (a GeoDataFrame when
    geopandas is installed). See :func:`geobatch.frames.geocode_frame` for the options."""
    from geobatch.frames import geocode_frame as run

    return run(df, **options)


def reverse_frame(df: Any, **options: Any) -> Any:
    """Reverse-geocode a DataFrame's latitude/longitude rows (see geobatch.frames)."""
    from geobatch.frames import reverse_frame as run

    return run(df, **options)
