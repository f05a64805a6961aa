"""Choose the reader a source file needs, from its name and, for tabular files, its first line."""

from __future__ import annotations

from pathlib import Path

from geobatch.errors import SourceError
from geobatch.sources.files import first_line
from geobatch.sources.geonames import (
    GeoNamesSource,
    PostcodeCentroidSource,
    detect_layout,
    is_postcode_header,
)
from geobatch.sources.openaddresses import OpenAddressesSource, is_openaddresses_header
from geobatch.sources.records import Source
from geobatch.sources.tiger import TigerSource, is_tiger_archive, is_tiger_header

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2")
EXPECTED_FORMATS = (
    "an OpenStreetMap extract (.osm.pbf, .pbf, .osm, .osm.bz2), an OpenAddresses CSV "
    "(LON,LAT,NUMBER,STREET,...), a GeoNames dump (.txt/.zip) or simplified CSV "
    "(lat,lon,name,admin1,admin2,cc), a postcode centroid CSV (ZIP,LAT,LON), or US TIGER "
    "house-number ranges in Nominatim's layout (from;to;interpolation;...;geometry, a .csv or "
    "the .tar.gz of many)"
)


def open_source(path: Path) -> Source:
    """The reader for ``path``, chosen from its name and, for tabular files, its first line."""
    if not path.exists():
        raise SourceError(f"{path} does not exist.")
    if path.name.lower().endswith(OSM_SUFFIXES):
        # osm pulls in osmium; import it only when an OSM file is actually imported.
        from geobatch.sources.osm import OsmSource

        return OsmSource(path)
    if path.is_dir():
        raise SourceError(f"{path} is a directory, not a data file.")
    if is_tiger_archive(path):
        return TigerSource(path)
    source = _tabular_source(path, _sniff(path))
    if source is None:
        raise SourceError(
            f"{path} is not a format geobatch can import (expected {EXPECTED_FORMATS})."
        )
    return source


def _sniff(path: Path) -> str:
    """The first line, or "" when the file is not text at all (so it is reported as unknown)."""
    try:
        return first_line(path)
    except SourceError:
        if path.suffix.lower() in (".gz", ".zip"):
            raise  # a broken archive deserves its own message, not "unknown format"
        return ""


def _tabular_source(path: Path, header: str) -> Source | None:
    if is_openaddresses_header(header):
        return OpenAddressesSource(path)
    if detect_layout(header) is not None:
        return GeoNamesSource(path)
    if is_postcode_header(header):
        return PostcodeCentroidSource(path)
    if is_tiger_header(header):
        return TigerSource(path)
    return None
