"""The Nominatim v1 API's wire format (``../shared/spec/nominatim-api.md``): reading ``/search``
and ``/reverse`` parameters into requests, and writing places in the formats ``json``,
``jsonv2``, ``geojson``, ``geocodejson`` and ``xml``, errors included.

Our results carry Bing's vocabulary (entity type, confidence); here they are said in OSM's:
``class``/``type``, ``place_rank``, ``addresstype`` and an ``address`` keyed by OSM labels. The
index keeps no OSM object ids, so places have no ``osm_type``/``osm_id`` (as Nominatim's own
artificial postcode places) and ``place_id`` is a stable number made from the place itself.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geobatch.errors import InputError
from geobatch.formats.bing import xmlwriter as w
from geobatch.model import Confidence, EntityType, GeocodeRequest, GeocodeResult, ReverseRequest

FORMATS = ("xml", "json", "jsonv2", "geojson", "geocodejson")
JSON_FORMATS = frozenset(FORMATS[1:])
LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"
ATTRIBUTION = "Data © OpenStreetMap contributors and the open data sources of this server"
UNABLE = "Unable to geocode"
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
JS_TYPE = "application/javascript; charset=utf-8"
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
STRUCTURED = ("amenity", "street", "city", "county", "state", "country", "postalcode")
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


class NominatimError(InputError):
    """A request Nominatim would refuse: ``status`` and the format the error is written in."""

    def __init__(self, message: str, status: int = 400, fmt: str | None = "json") -> None:
        super().__init__(message)
        self.status = status
        self.fmt = fmt


# --- OSM's words for our entity types --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    osm_class: str
    osm_type: str
    rank: int
    addresstype: str
    geocodejson: str  # GeocodeJSON's "type": house, street, locality, city, county, state, …


KINDS: dict[EntityType, Kind] = {
    EntityType.ADDRESS: Kind("place", "house", 30, "place", "house"),
    EntityType.ROAD_BLOCK: Kind("highway", "residential", 26, "road", "street"),
    EntityType.POSTCODE: Kind("place", "postcode", 21, "postcode", "locality"),
    EntityType.NEIGHBORHOOD: Kind("place", "neighbourhood", 20, "neighbourhood", "district"),
    EntityType.POPULATED_PLACE: Kind("place", "city", 16, "city", "city"),
    EntityType.ADMIN_DIVISION2: Kind("boundary", "administrative", 12, "county", "county"),
    EntityType.ADMIN_DIVISION1: Kind("boundary", "administrative", 8, "state", "state"),
    EntityType.COUNTRY: Kind("boundary", "administrative", 4, "country", "country"),
}
IMPORTANCE = {Confidence.HIGH: 0.8, Confidence.MEDIUM: 0.5, Confidence.LOW: 0.2}

# Reverse ``zoom`` -> the entity types a result may have, finest first (spec §3's zoom table:
# 18 building, 16-17 streets, 14-15 neighbourhood, 10-13 city, 8-9 county, 5-7 state, <5 country).
_COARSE = (
    EntityType.NEIGHBORHOOD,
    EntityType.POPULATED_PLACE,
    EntityType.ADMIN_DIVISION2,
    EntityType.ADMIN_DIVISION1,
    EntityType.COUNTRY,
)


def zoom_types(zoom: int) -> tuple[EntityType, ...]:
    """The entity types a reverse at ``zoom`` may answer with; empty: the finest there is."""
    if zoom >= 16:
        return ()
    if zoom >= 14:
        return _COARSE
    if zoom >= 10:
        return _COARSE[1:]
    if zoom >= 8:
        return _COARSE[2:]
    if zoom >= 5:
        return _COARSE[3:]
    return _COARSE[4:]


_FEATURE_TYPES: dict[str, frozenset[EntityType]] = {
    "country": frozenset({EntityType.COUNTRY}),
    "state": frozenset({EntityType.ADMIN_DIVISION1}),
    "city": frozenset({EntityType.POPULATED_PLACE}),
    "settlement": frozenset(
        {
            EntityType.ADMIN_DIVISION1,
            EntityType.ADMIN_DIVISION2,
            EntityType.POPULATED_PLACE,
            EntityType.NEIGHBORHOOD,
        }
    ),
}


# --- parameters --------------------------------------------------------------------------------


def _flag(params: Mapping[str, str], name: str, default: bool) -> bool:
    """Nominatim's booleans: only ``0`` is false (geopy sends ``True``)."""
    value = params.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip() != "0"


def _int(params: Mapping[str, str], name: str, default: int, fmt: str | None) -> int:
    value = params.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise NominatimError(f"Parameter '{name}' must be a number.", fmt=fmt) from None


def _float(params: Mapping[str, str], name: str, fmt: str | None) -> float:
    value = params.get(name, "").strip()
    if not value:
        raise NominatimError(f"Parameter '{name}' missing.", fmt=fmt)
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise NominatimError(f"Parameter '{name}' must be a number.", fmt=fmt)
    return number


def output_format(params: Mapping[str, str], default: str) -> str:
    """The ``format`` asked for; an unknown one is a 400 written as plain text (``fmt=None``)."""
    value = params.get("format", "").strip().lower() or default
    if value not in FORMATS:
        raise NominatimError(f"Parameter 'format' must be one of: {', '.join(FORMATS)}", fmt=None)
    return value


@dataclass(frozen=True, slots=True)
class Common:
    """Parameters every endpoint reads."""

    fmt: str
    addressdetails: bool
    callback: str | None
    querystring: str = ""


def _common(params: Mapping[str, str], default_fmt: str, addressdetails: bool) -> Common:
    fmt = output_format(params, default_fmt)
    callback = params.get("json_callback", "").strip() or None
    if callback is not None and (fmt not in JSON_FORMATS or not _CALLBACK.match(callback)):
        raise NominatimError("Invalid json_callback value", fmt=fmt)
    polygons = [p for p in ("polygon_geojson", "polygon_kml", "polygon_svg", "polygon_text")]
    if sum(_flag(params, p, False) for p in polygons) > 1:
        raise NominatimError("Too many polygon output options selected.", fmt=fmt)
    return Common(fmt, _flag(params, "addressdetails", addressdetails), callback)


@dataclass(frozen=True, slots=True)
class Search:
    """A parsed ``/search``: the request (None: ``q=`` was empty, answer nothing) and filters."""

    common: Common
    request: GeocodeRequest | None
    limit: int
    query_text: str
    country_codes: frozenset[str] = frozenset()
    viewbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    bounded: bool = False
    entity_types: frozenset[EntityType] = field(default_factory=frozenset)


def parse_search(params: Mapping[str, str]) -> Search:
    common = _common(params, "jsonv2", False)
    fmt = common.fmt
    limit = min(max(_int(params, "limit", DEFAULT_LIMIT, fmt), 1), MAX_LIMIT)
    q = params.get("q")
    structured = {name: params.get(name, "").strip() for name in STRUCTURED}
    if q is not None and q.strip() and any(structured.values()):
        raise NominatimError(
            "Structured query parameters (amenity, street, city, county, state, postalcode, "
            "country) cannot be used together with 'q' parameter.",
            fmt=fmt,
        )
    feature = params.get("featureType", params.get("featuretype", "")).strip().lower()
    if feature and feature not in _FEATURE_TYPES:
        raise NominatimError(
            f"Parameter 'featureType' must be one of: {', '.join(_FEATURE_TYPES)}", fmt=fmt
        )
    codes = frozenset(
        c.strip().lower()
        for c in params.get("countrycodes", "").split(",")
        if len(c.strip()) == 2 and c.strip().isalpha()
    )
    viewbox = _viewbox(params.get("viewbox") or params.get("viewboxlbrt"), fmt)
    ask = min(MAX_LIMIT, limit * 3) if (codes or viewbox or feature) else limit
    request: GeocodeRequest | None
    if q is not None and not any(structured.values()):
        text = q.strip()
        request = GeocodeRequest(query=text, max_results=ask) if text else None
    elif any(structured.values()):
        street = " ".join(p for p in (structured["street"], structured["amenity"]) if p)
        request = GeocodeRequest(
            address_line=street or None,
            locality=structured["city"] or None,
            admin_district2=structured["county"] or None,
            admin_district=structured["state"] or None,
            postal_code=structured["postalcode"] or None,
            country=structured["country"] or None,
            max_results=ask,
        )
        text = ", ".join(v for v in structured.values() if v)
    else:
        raise NominatimError("Nothing to search for.", fmt=fmt)
    return Search(
        common=common,
        request=request,
        limit=limit,
        query_text=text,
        country_codes=codes,
        viewbox=viewbox,
        bounded=_flag(params, "bounded", False),
        entity_types=_FEATURE_TYPES.get(feature, frozenset()),
    )


def _viewbox(value: str | None, fmt: str) -> tuple[float, float, float, float] | None:
    if value is None or not value.strip():
        return None
    try:
        x1, y1, x2, y2 = (float(p) for p in value.split(","))
    except ValueError:
        raise NominatimError("Bad parameter 'viewbox'. Expected 4 coordinates.", fmt=fmt) from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise NominatimError("Bad parameter 'viewbox'. Expected 4 coordinates.", fmt=fmt)
    west, east = sorted((max(-180.0, min(180.0, x1)), max(-180.0, min(180.0, x2))))
    south, north = sorted((max(-90.0, min(90.0, y1)), max(-90.0, min(90.0, y2))))
    if west == east or south == north:
        raise NominatimError("Bad parameter 'viewbox'. Not a box.", fmt=fmt)
    return west, south, east, north


def filter_results(search: Search, results: Sequence[GeocodeResult]) -> list[GeocodeResult]:
    """The results the search's filters keep (country codes, bounded viewbox, feature type),
    at most ``limit``. An unbounded viewbox only prefers what lies inside it."""
    kept = [
        r
        for r in results
        if (
            not search.country_codes
            or (r.address.country_code or "").lower() in search.country_codes
        )
        and (not search.entity_types or r.entity_type in search.entity_types)
        and (not (search.bounded and search.viewbox) or _inside(r, search.viewbox))
    ]
    if search.viewbox and not search.bounded:
        kept.sort(key=lambda r: not _inside(r, search.viewbox))  # stable: best first within
    return kept[: search.limit]


def _inside(result: GeocodeResult, box: tuple[float, float, float, float] | None) -> bool:
    if box is None:
        return True
    west, south, east, north = box
    return west <= result.point.lon <= east and south <= result.point.lat <= north


@dataclass(frozen=True, slots=True)
class Reverse:
    common: Common
    request: ReverseRequest | None  # None: the point is off the globe (answered "Unable")
    zoom: int


def parse_reverse(params: Mapping[str, str]) -> Reverse:
    common = _common(params, "xml", True)
    lat = _float(params, "lat", common.fmt)
    lon = _float(params, "lon", common.fmt)
    zoom = min(max(_int(params, "zoom", 18, common.fmt), 0), 18)
    types = zoom_types(zoom)
    querystring = f"lat={lat}&lon={lon}&zoom={zoom}"
    common = Common(common.fmt, common.addressdetails, common.callback, querystring)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return Reverse(common, None, zoom)
    request = ReverseRequest(lat, lon, max(1, len(types)), types)
    return Reverse(common, request, zoom)


def pick_reverse(reverse: Reverse, results: Sequence[GeocodeResult]) -> GeocodeResult | None:
    """The one place a reverse answers: the finest of the results the zoom allows."""
    if reverse.request is None or not results:
        return None
    allowed = reverse.request.include_entity_types
    if not allowed:
        return results[0]
    fitting = [r for r in results if r.entity_type in allowed]
    return max(fitting, key=lambda r: KINDS[r.entity_type].rank, default=None)


# --- places ------------------------------------------------------------------------------------


def _coordinate(value: float) -> str:
    return f"{value:.7f}"


def place_id(result: GeocodeResult) -> int:
    """A stable number for a place: the same place gets the same id from any server."""
    key = f"{result.entity_type}|{result.point.lat:.7f}|{result.point.lon:.7f}|{result.name}"
    return zlib.crc32(key.encode("utf-8")) + 1


def address_parts(result: GeocodeResult) -> dict[str, str]:
    """The ``address`` object: OSM labels, most specific first, ``country_code`` last."""
    a = result.address
    parts = [
        ("house_number", a.house_number),
        ("road", a.street),
        ("neighbourhood", a.neighborhood),
        ("city", a.locality),
        ("county", a.admin_district2),
        ("state", a.admin_district),
        ("postcode", a.postal_code),
        ("country", a.country),
        ("country_code", (a.country_code or "").lower() or None),
    ]
    return {k: v.strip() for k, v in parts if v and v.strip()}


def display_name(result: GeocodeResult) -> str:
    """Nominatim's comma list, most specific first and with the country."""
    a = result.address
    out: list[str] = []
    for part in (
        a.house_number,
        a.street,
        a.neighborhood,
        a.locality,
        a.admin_district2,
        a.admin_district,
        a.postal_code,
        a.country,
    ):
        text = (part or "").strip()
        if text and (not out or out[-1] != text):
            out.append(text)
    if not out:
        return a.formatted or result.name or ""
    name = _name(result)
    if name and name not in out:
        out.insert(0, name)
    return ", ".join(out)


def _name(result: GeocodeResult) -> str:
    """The place's own name: the address part its entity type stands for."""
    a = result.address
    own = {
        EntityType.ADDRESS: "",
        EntityType.ROAD_BLOCK: a.street,
        EntityType.NEIGHBORHOOD: a.neighborhood,
        EntityType.POPULATED_PLACE: a.locality,
        EntityType.POSTCODE: a.postal_code,
        EntityType.ADMIN_DIVISION2: a.admin_district2,
        EntityType.ADMIN_DIVISION1: a.admin_district,
        EntityType.COUNTRY: a.country,
    }.get(result.entity_type)
    if own is not None and (own or result.entity_type is EntityType.ADDRESS):
        return own
    return (result.name or "").split(",", 1)[0].strip()


def _bbox(result: GeocodeResult) -> list[str]:
    b = result.bbox
    return [_coordinate(b.south), _coordinate(b.north), _coordinate(b.west), _coordinate(b.east)]


def place_json(result: GeocodeResult, *, v2: bool, addressdetails: bool) -> dict[str, Any]:
    """One place in ``json`` (``class``) or ``jsonv2`` (``category``), the reference order."""
    kind = KINDS[result.entity_type]
    place: dict[str, Any] = {
        "place_id": place_id(result),
        "licence": LICENCE,
        "lat": _coordinate(result.point.lat),
        "lon": _coordinate(result.point.lon),
        "category" if v2 else "class": kind.osm_class,
        "type": kind.osm_type,
        "place_rank": kind.rank,
        "importance": IMPORTANCE.get(result.confidence, 0.1),
        "addresstype": kind.addresstype,
        "name": _name(result),
        "display_name": display_name(result),
    }
    if addressdetails:
        place["address"] = address_parts(result)
    place["boundingbox"] = _bbox(result)
    return place


def _feature(result: GeocodeResult, addressdetails: bool) -> dict[str, Any]:
    kind = KINDS[result.entity_type]
    properties: dict[str, Any] = {
        "place_id": place_id(result),
        "place_rank": kind.rank,
        "category": kind.osm_class,
        "type": kind.osm_type,
        "importance": IMPORTANCE.get(result.confidence, 0.1),
        "addresstype": kind.addresstype,
        "name": _name(result),
        "display_name": display_name(result),
    }
    if addressdetails:
        properties["address"] = address_parts(result)
    b = result.bbox
    return {
        "type": "Feature",
        "properties": properties,
        "bbox": [b.west, b.south, b.east, b.north],
        "geometry": {"type": "Point", "coordinates": [result.point.lon, result.point.lat]},
    }


def _geocodejson_feature(result: GeocodeResult, addressdetails: bool) -> dict[str, Any]:
    kind = KINDS[result.entity_type]
    a = result.address
    geocoding: dict[str, Any] = {
        "place_id": place_id(result),
        "osm_key": kind.osm_class,
        "osm_value": kind.osm_type,
        "type": kind.geocodejson,
        "label": display_name(result),
    }
    if result.distance_m is not None:
        geocoding["accuracy"] = round(result.distance_m)
    if _name(result):
        geocoding["name"] = _name(result)
    if addressdetails:
        parts = [
            ("housenumber", a.house_number),
            ("street", a.street),
            ("district", a.neighborhood),
            ("postcode", a.postal_code),
            ("city", a.locality),
            ("county", a.admin_district2),
            ("state", a.admin_district),
            ("country", a.country),
            ("country_code", (a.country_code or "").lower() or None),
        ]
        geocoding.update((k, v) for k, v in parts if v)
        admin = {
            level: name
            for level, name in (
                ("level2", a.country),
                ("level4", a.admin_district),
                ("level6", a.admin_district2),
                ("level8", a.locality),
            )
            if name
        }
        if admin:
            geocoding["admin"] = admin
    return {
        "type": "Feature",
        "properties": {"geocoding": geocoding},
        "geometry": {"type": "Point", "coordinates": [result.point.lon, result.point.lat]},
    }


# --- rendering -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str


def _json(value: object, callback: str | None) -> Rendered:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if callback:
        return Rendered(f"{callback}({text})".encode(), JS_TYPE)
    return Rendered(text.encode("utf-8"), JSON_TYPE)


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +00:00")


def _xml_place_attributes(result: GeocodeResult) -> list[tuple[str, str]]:
    kind = KINDS[result.entity_type]
    b = result.bbox
    box = ",".join(_coordinate(v) for v in (b.south, b.north, b.west, b.east))
    return [
        ("place_id", str(place_id(result))),
        ("lat", _coordinate(result.point.lat)),
        ("lon", _coordinate(result.point.lon)),
        ("boundingbox", box),
        ("place_rank", str(kind.rank)),
        ("address_rank", str(kind.rank)),
    ]


def _xml_address(result: GeocodeResult, indent: int) -> list[str]:
    return [w.leaf(indent, k, v) for k, v in address_parts(result).items()]


def render_search(
    search: Search, results: Sequence[GeocodeResult], *, root: str = "searchresults"
) -> Rendered:
    common = search.common
    return render_places(common, results, query=search.query_text, root=root)


def render_places(
    common: Common, results: Sequence[GeocodeResult], *, query: str, root: str = "searchresults"
) -> Rendered:
    """A list of places (``/search``) in the asked format; no place is not an error."""
    fmt, details = common.fmt, common.addressdetails
    if fmt in ("json", "jsonv2"):
        places = [place_json(r, v2=fmt == "jsonv2", addressdetails=details) for r in results]
        return _json(places, common.callback)
    if fmt == "geojson":
        collection: dict[str, Any] = {
            "type": "FeatureCollection",
            "licence": LICENCE,
            "features": [_feature(r, details) for r in results],
        }
        return _json(collection, common.callback)
    if fmt == "geocodejson":
        collection = {
            "type": "FeatureCollection",
            "geocoding": {
                "version": "0.1.0",
                "attribution": ATTRIBUTION,
                "licence": "ODbL",
                "query": query,
            },
            "features": [_geocodejson_feature(r, details) for r in results],
        }
        return _json(collection, common.callback)
    head = [("timestamp", _timestamp()), ("attribution", ATTRIBUTION), ("querystring", query)]
    parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n', w.start(0, root, head)]
    for r in results:
        kind = KINDS[r.entity_type]
        attrs = [
            *_xml_place_attributes(r),
            ("display_name", display_name(r)),
            ("class", kind.osm_class),
            ("type", kind.osm_type),
            ("importance", str(IMPORTANCE.get(r.confidence, 0.1))),
        ]
        if details:
            parts += [w.start(1, "place", attrs), *_xml_address(r, 2), w.end(1, "place")]
        else:
            parts.append(w.empty(1, "place", attrs, close="/>"))
    parts.append(w.end(0, root))
    return Rendered("".join(parts).encode("utf-8"), XML_TYPE)


def render_reverse(common: Common, result: GeocodeResult | None) -> Rendered:
    """One place (``/reverse``), or Nominatim's "Unable to geocode" (HTTP 200) for none."""
    fmt, details = common.fmt, common.addressdetails
    if fmt == "xml":
        head = [
            ("timestamp", _timestamp()),
            ("attribution", ATTRIBUTION),
            ("querystring", common.querystring),
        ]
        parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n', w.start(0, "reversegeocode", head)]
        if result is None:
            parts.append(w.leaf(1, "error", UNABLE))
        else:
            parts.append(
                f"  <result{w.attributes(_xml_place_attributes(result))}>"
                f"{w.text(display_name(result))}</result>\n"
            )
            if details:
                parts += [w.start(1, "addressparts"), *_xml_address(result, 2)]
                parts.append(w.end(1, "addressparts"))
        parts.append(w.end(0, "reversegeocode"))
        return Rendered("".join(parts).encode("utf-8"), XML_TYPE)
    if result is None:
        return _json({"error": UNABLE}, common.callback)
    if fmt in ("json", "jsonv2"):
        return _json(
            place_json(result, v2=fmt == "jsonv2", addressdetails=details), common.callback
        )
    return render_places(common, [result], query=common.querystring)


def render_error(status: int, message: str, fmt: str | None) -> Rendered:
    """An error in the asked format: JSON, XML, or (unknown format) plain text."""
    if fmt in JSON_FORMATS:
        return _json({"error": {"code": status, "message": message}}, None)
    if fmt == "xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8" ?>\n<error>\n'
            f"  <code>{status}</code>\n  <message>{w.text(message)}</message>\n</error>\n"
        )
        return Rendered(body.encode("utf-8"), XML_TYPE)
    return Rendered(f"ERROR {status}: {message}".encode(), TEXT_TYPE)


def render_status(
    fmt: str, ok: bool, message: str, data_updated: datetime | None, version: str
) -> Rendered:
    """``/status``: text ``OK`` (500 ``ERROR: …`` otherwise) or the JSON object."""
    if fmt == "json":
        body: dict[str, Any] = {"status": 0 if ok else 700, "message": message}
        if ok and data_updated is not None:
            body["data_updated"] = data_updated.astimezone(UTC).isoformat(timespec="seconds")
        body["software_version"] = version
        return _json(body, None)
    return Rendered((message if ok else f"ERROR: {message}").encode("utf-8"), TEXT_TYPE)
