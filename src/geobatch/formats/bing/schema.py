"""The Bing Geocode Dataflow data schema as names: fields, column layouts, value vocabularies and
the fault messages the documentation shows.

Every field is known by one canonical key, the v2.0 text header name (``GeocodeRequest/Query``).
XML attributes and v1.0 positional columns are mapped onto the same keys, so validation and
encoding are written once for all formats and versions.
"""

from __future__ import annotations

import re
from typing import Final

from geobatch.model import Confidence, EntityType

GEOCODE_NS: Final = "http://schemas.microsoft.com/search/local/2010/5/geocode"
VERSION_LINE: Final = "Bing Spatial Data Services, 2.0"
# Parsed from the raw first line, not split on the delimiter: the version line keeps its comma
# in tab and pipe files too (spec §11.2; the official toolkit gets this wrong).
VERSION_LINE_RE: Final = re.compile(
    r'^\s*"?\s*Bing Spatial Data Services\s*,\s*([0-9][0-9.]*)', re.IGNORECASE
)
DELIMITERS: Final = {"csv": ",", "tab": "\t", "pipe": "|"}
TEXT_FORMATS: Final = tuple(DELIMITERS)

# --- canonical keys: request side -------------------------------------------------------------
ID: Final = "Id"
CULTURE: Final = "GeocodeRequest/Culture"
QUERY: Final = "GeocodeRequest/Query"
ADDRESS_LINE: Final = "GeocodeRequest/Address/AddressLine"
ADMIN_DISTRICT: Final = "GeocodeRequest/Address/AdminDistrict"
COUNTRY_REGION: Final = "GeocodeRequest/Address/CountryRegion"
ADMIN_DISTRICT2: Final = "GeocodeRequest/Address/AdminDistrict2"
DISTRICT: Final = "GeocodeRequest/Address/District"  # the v1.0 name of AdminDistrict2
FORMATTED_ADDRESS: Final = "GeocodeRequest/Address/FormattedAddress"  # output-only: a fault
LOCALITY: Final = "GeocodeRequest/Address/Locality"
POSTAL_CODE: Final = "GeocodeRequest/Address/PostalCode"
POSTAL_TOWN: Final = "GeocodeRequest/Address/PostalTown"
MIN_CONFIDENCE: Final = "GeocodeRequest/ConfidenceFilter/MinimumConfidence"
STRICT_MATCH: Final = "GeocodeRequest/StrictMatch"
MAX_RESULTS: Final = "GeocodeRequest/MaxResults"  # XML only
INCLUDE_NEIGHBORHOOD: Final = "GeocodeRequest/IncludeNeighborhood"  # XML only
INCLUDE_QUERY_PARSE: Final = "GeocodeRequest/IncludeQueryParse"  # XML only
REV_CULTURE: Final = "ReverseGeocodeRequest/Culture"  # XML only; text uses GeocodeRequest/Culture
REV_ENTITY_TYPES: Final = "ReverseGeocodeRequest/IncludeEntityTypes"
REV_LATITUDE: Final = "ReverseGeocodeRequest/Location/Latitude"
REV_LONGITUDE: Final = "ReverseGeocodeRequest/Location/Longitude"
REV_MAX_RESULTS: Final = "ReverseGeocodeRequest/MaxResults"  # XML only
REV_INCLUDE_NEIGHBORHOOD: Final = "ReverseGeocodeRequest/IncludeNeighborhood"  # XML only
REV_MIN_CONFIDENCE: Final = "ReverseGeocodeRequest/ConfidenceFilter/MinimumConfidence"  # XML
ENTITY_MAX_RESULTS: Final = "GeocodeEntity/MaxResults"  # misplaced in the v1 sample; tolerated

# --- canonical keys: response side (v2.0 text columns) ----------------------------------------
R_ADDRESS_LINE: Final = "GeocodeResponse/Address/AddressLine"
R_ADMIN_DISTRICT: Final = "GeocodeResponse/Address/AdminDistrict"
R_COUNTRY_REGION: Final = "GeocodeResponse/Address/CountryRegion"
R_ADMIN_DISTRICT2: Final = "GeocodeResponse/Address/AdminDistrict2"
R_FORMATTED_ADDRESS: Final = "GeocodeResponse/Address/FormattedAddress"
R_LOCALITY: Final = "GeocodeResponse/Address/Locality"
R_POSTAL_CODE: Final = "GeocodeResponse/Address/PostalCode"
R_POSTAL_TOWN: Final = "GeocodeResponse/Address/PostalTown"
R_NEIGHBORHOOD: Final = "GeocodeResponse/Address/Neighborhood"
R_LANDMARK: Final = "GeocodeResponse/Address/Landmark"
R_CONFIDENCE: Final = "GeocodeResponse/Confidence"
R_NAME: Final = "GeocodeResponse/Name"
R_ENTITY_TYPE: Final = "GeocodeResponse/EntityType"
R_MATCH_CODES: Final = "GeocodeResponse/MatchCodes"
R_LATITUDE: Final = "GeocodeResponse/Point/Latitude"
R_LONGITUDE: Final = "GeocodeResponse/Point/Longitude"
R_SOUTH: Final = "GeocodeResponse/BoundingBox/SouthLatitude"
R_WEST: Final = "GeocodeResponse/BoundingBox/WestLongitude"
R_NORTH: Final = "GeocodeResponse/BoundingBox/NorthLatitude"
R_EAST: Final = "GeocodeResponse/BoundingBox/EastLongitude"
R_QUERY_PARSE: Final = "GeocodeResponse/QueryParseValues"
R_GEOCODE_POINTS: Final = "GeocodeResponse/GeocodePoints"
STATUS_CODE: Final = "StatusCode"
FAULT_REASON: Final = "FaultReason"
TRACE_ID: Final = "TraceId"

V2_INPUT_COLUMNS: Final = (
    ID,
    CULTURE,
    QUERY,
    ADDRESS_LINE,
    ADMIN_DISTRICT,
    COUNTRY_REGION,
    ADMIN_DISTRICT2,
    FORMATTED_ADDRESS,
    LOCALITY,
    POSTAL_CODE,
    POSTAL_TOWN,
    MIN_CONFIDENCE,
    STRICT_MATCH,
    REV_ENTITY_TYPES,
    REV_LATITUDE,
    REV_LONGITUDE,
)
V2_OUTPUT_COLUMNS: Final = (
    R_ADDRESS_LINE,
    R_ADMIN_DISTRICT,
    R_COUNTRY_REGION,
    R_ADMIN_DISTRICT2,
    R_FORMATTED_ADDRESS,
    R_LOCALITY,
    R_POSTAL_CODE,
    R_POSTAL_TOWN,
    R_NEIGHBORHOOD,
    R_LANDMARK,
    R_CONFIDENCE,
    R_NAME,
    R_ENTITY_TYPE,
    R_MATCH_CODES,
    R_LATITUDE,
    R_LONGITUDE,
    R_SOUTH,
    R_WEST,
    R_NORTH,
    R_EAST,
    R_QUERY_PARSE,
    R_GEOCODE_POINTS,
    STATUS_CODE,
    FAULT_REASON,
    TRACE_ID,
)
V2_COLUMNS: Final = V2_INPUT_COLUMNS + V2_OUTPUT_COLUMNS
OUTPUT_COLUMN_SET: Final = frozenset(V2_OUTPUT_COLUMNS)


def header_key(name: str) -> str:
    """A header name folded for matching: case, spaces, ``@`` and a ``GeocodeEntity/`` prefix do
    not matter (the toolkit's names are XPath-like: ``GeocodeEntity/GeocodeRequest/@Culture``)."""
    folded = name.strip().strip('"').strip().casefold().replace("@", "").replace(" ", "")
    folded = folded.removeprefix("geocodeentity/")
    return folded


_BY_KEY: Final = {header_key(name): name for name in V2_COLUMNS}
_BY_KEY[header_key(DISTRICT)] = ADMIN_DISTRICT2
_BY_KEY[header_key("GeocodeResponse/Address/District")] = R_ADMIN_DISTRICT2
_BY_KEY["geocodeentity/id"] = ID


def canonical_column(name: str) -> str | None:
    """The canonical key of a v2 text header name, or None when the name is unknown."""
    return _BY_KEY.get(header_key(name)) or _BY_KEY.get("geocodeentity/" + header_key(name))


# --- v1.0 text: 31 positional columns (spec §10.1) --------------------------------------------
V1_WIDTH: Final = 31
V1_INPUT_POSITIONS: Final = {
    0: ID,
    1: CULTURE,
    2: QUERY,
    3: ADDRESS_LINE,
    4: ADMIN_DISTRICT,
    5: COUNTRY_REGION,
    6: DISTRICT,
    7: FORMATTED_ADDRESS,
    8: LOCALITY,
    9: POSTAL_CODE,
    10: POSTAL_TOWN,
    11: MIN_CONFIDENCE,
    29: REV_LATITUDE,
    30: REV_LONGITUDE,
}
V1_HEADER_FIRST_CELLS: Final = frozenset({"id", "geocodeentity/@id"})

# --- vocabularies -----------------------------------------------------------------------------
MAX_RESULTS_RANGE: Final = (1, 20)
CONFIDENCE_ORDER: Final = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}
CONFIDENCES: Final = {c.value.casefold(): c for c in Confidence}
# The entity types IncludeEntityTypes may name (REST Find-by-Point), most to least specific.
REVERSE_ENTITY_TYPES: Final = {
    t.value.casefold(): t
    for t in (
        EntityType.ADDRESS,
        EntityType.NEIGHBORHOOD,
        EntityType.POPULATED_PLACE,
        EntityType.POSTCODE,
        EntityType.ADMIN_DIVISION1,
        EntityType.ADMIN_DIVISION2,
        EntityType.COUNTRY,
    )
}
# Our street-level fallback answers an "Address" filter: Bing's reverse has no RoadBlock type.
FILTER_ALIASES: Final = {EntityType.ROAD_BLOCK: EntityType.ADDRESS}
TRUE_WORDS: Final = frozenset({"true", "1"})
FALSE_WORDS: Final = frozenset({"false", "0"})

STATUS_SUCCESS: Final = "Success"
STATUS_BAD_REQUEST: Final = "BadRequest"

# --- fault messages: the documentation's own words where it has them ---------------------------
FAULT_EMPTY: Final = "To geocode a location, you must specify at least one address field."
FAULT_EMPTY_V1_TEXT: Final = "Either Query or Address must be specified."
FAULT_FORMATTED: Final = (
    "The Address.FormattedAddress property must not be specified because it is an output-only "
    "property."
)
FAULT_FORMATTED_V1_TEXT: Final = (
    "The Address.FormattedAddress property must not be specified as it is an output-only property."
)
FAULT_HALF_LOCATION: Final = (
    "A reverse geocode request needs both Location.Latitude and Location.Longitude."
)
FAULT_NO_LOCATION: Final = (
    "The ReverseGeocodeRequest has no Location element with Latitude and Longitude."
)
FAULT_GEOCODE_FAILED: Final = "The location could not be geocoded."
