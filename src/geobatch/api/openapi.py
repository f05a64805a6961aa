"""What the OpenAPI document (``/openapi.json``, shown at ``/docs``) says about each route: its
parameters, its body, and every status code it really answers with the body's schema.

The routes read their parameters themselves — Bing's names are case-insensitive and have
aliases, which typed FastAPI parameters cannot express — so they are declared here, as
``openapi_extra`` and ``responses`` of each route. ``tests/acceptance/test_openapi_conformance``
checks the document against the live server with a property-based client (schemathesis).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN_TEXT: Schema = {
    "type": "string",
    "enum": ["true", "false", "True", "False", "1", "0"],
    "description": "true/false or 1/0, any case",
}
JSON = "application/json"
XML = "application/xml"
JSON_UTF8 = "application/json; charset=utf-8"
XML_UTF8 = "application/xml; charset=utf-8"


UNAVAILABLE = (
    "the server's data directory cannot be used right now (disk full, read-only, gone): the "
    "message says why; try again after Retry-After seconds."
)


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def param(
    name: str,
    schema: Schema,
    description: str,
    *,
    required: bool = False,
    where: str = "query",
) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": schema,
        "description": description,
    }


def response(description: str, content: dict[str, Schema], **headers: Schema) -> Schema:
    answer: Schema = {
        "description": description,
        "content": {media: {"schema": schema} for media, schema in content.items()},
    }
    if headers:
        answer["headers"] = {name: {"schema": s} for name, s in headers.items()}
    return answer


def key_params(*, header: bool = True) -> list[Schema]:
    params = [param("key", STRING, "API key (`geobatch keys create`)")]
    if header:
        params.append(param("X-Api-Key", STRING, "API key, as a header instead", where="header"))
    return params


# --- Bing envelopes --------------------------------------------------------------------------

_ENVELOPE = {
    "authenticationResultCode": STRING,
    "brandLogoUri": STRING,
    "copyright": STRING,
    "statusCode": INTEGER,
    "statusDescription": STRING,
    "traceId": STRING,
    "errorDetails": array(STRING),
}
_ENVELOPE_REQUIRED = ("authenticationResultCode", "statusCode", "statusDescription", "traceId")


def bing_envelope(resource: Schema) -> Schema:
    resource_set = obj(
        ("estimatedTotal", "resources"), estimatedTotal=INTEGER, resources=array(resource)
    )
    return obj(_ENVELOPE_REQUIRED, **_ENVELOPE, resourceSets=array(resource_set))


BING_ERROR = obj((*_ENVELOPE_REQUIRED, "errorDetails"), **_ENVELOPE, resourceSets=array(obj()))
_COORDINATES = array(NUMBER, minItems=2, maxItems=2)
LOCATION = obj(
    ("__type", "bbox", "name", "point", "address", "confidence", "entityType", "matchCodes"),
    __type=STRING,
    bbox=array(NUMBER, minItems=4, maxItems=4),
    name=STRING,
    point=obj(("type", "coordinates"), type=STRING, coordinates=_COORDINATES),
    address={"type": "object", "additionalProperties": STRING},
    confidence={"type": "string", "enum": ["High", "Medium", "Low"]},
    entityType=STRING,
    geocodePoints=array(
        obj(
            ("type", "coordinates", "calculationMethod", "usageTypes"),
            type=STRING,
            coordinates=_COORDINATES,
            calculationMethod=STRING,
            usageTypes=array(STRING),
        )
    ),
    matchCodes=array(STRING),
    queryParseValues=array(obj(("property", "value"), property=STRING, value=STRING)),
)
DATAFLOW_JOB = obj(
    ("id", "links", "status"),
    __type=STRING,
    id=STRING,
    links=array(obj(("role", "url"), role=STRING, name=STRING, url=STRING)),
    name=STRING,
    createdDate=STRING,
    completedDate=STRING,
    description=STRING,
    errorMessage=STRING,
    failedEntityCount=INTEGER,
    processedEntityCount=INTEGER,
    totalEntityCount=INTEGER,
    status={"type": "string", "enum": ["Pending", "Completed", "Aborted"]},
)


JAVASCRIPT = "application/javascript; charset=utf-8"


def _bing_error(description: str, retry: bool = False, jsonp: bool = False) -> Schema:
    headers = {"Retry-After": INTEGER} if retry else {}
    content = {JSON_UTF8: BING_ERROR, XML_UTF8: STRING}
    if jsonp:
        content[JAVASCRIPT] = STRING
    return response(description, content, **headers)


# --- Bing Maps REST Locations ----------------------------------------------------------------

LOCATIONS_QUERY_DESCRIPTION = (
    "Bing Maps REST Locations: `query` (alias `q`) finds by free text; without it the address "
    "fields (`addressLine`, `locality`, `adminDistrict`, `postalCode`, `countryRegion`) find "
    "by address. Parameter names are case-insensitive; the first of a repeated name counts. "
    "No match is a 200 with an empty `resources` list."
)
LOCATIONS_PATH_DESCRIPTION = (
    "The path forms: `/Locations/{lat},{lon}` finds the address of a point (the comma may be "
    "percent-encoded); `/Locations/{query}` finds by free text; "
    "`/Locations/{CA|FR|DE|UK|GB|US}/…` by a structured address (a lone `-` is an empty "
    "field)."
)
_OUTPUT_PARAMS = [
    param(
        "output",
        {"type": "string", "enum": ["json", "xml", "JSON", "XML"]},
        "response format (alias `o`); default json",
    ),
    param("o", {"type": "string", "enum": ["json", "xml"]}, "alias of output"),
    param(
        "jsonp",
        {"type": "string", "pattern": "^[A-Za-z_$][A-Za-z0-9_$]*$"},
        "JSONP callback name: the body becomes `name({...})`",
    ),
    param("jsonso", STRING, "state passed as the JSONP callback's second argument"),
    param("suppressStatus", BOOLEAN_TEXT, "true: HTTP status is always 200 (alias `ss`)"),
    param("culture", STRING, "culture code (accepted; names are in the data's language)"),
    param("includeNeighborhood", BOOLEAN_TEXT, "add `address.neighborhood` (alias `inclnb`)"),
    param(
        "include",
        {"type": "string", "enum": ["ciso2", "queryParse", "ciso2,queryParse"]},
        "`ciso2`: add `address.countryRegionIso2`; `queryParse`: add how the query was read",
    ),
]
_FIND_PARAMS = [
    param(
        "maxResults",
        {"type": "integer", "minimum": 1, "maximum": 20},
        "results wanted, 1–20, default 5 (alias `maxRes`)",
    ),
    param(
        "userLocation",
        {"type": "string", "pattern": r"^-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?$"},
        "lat,lon of the user (accepted and checked; does not change the ranking)",
    ),
]


def locations_query() -> Schema:
    return {
        "parameters": [
            param("query", STRING, "free text (alias `q`)"),
            param("q", STRING, "alias of query"),
            param("addressLine", STRING, "street line: house number and street"),
            param("locality", STRING, "city or town"),
            param("adminDistrict", STRING, "state, province or region"),
            param("postalCode", STRING, "postal code"),
            param("countryRegion", STRING, "ISO 3166-1 alpha-2 country code, or a name"),
            *_FIND_PARAMS,
            *_OUTPUT_PARAMS,
            *key_params(),
        ]
    }


def locations_path() -> Schema:
    return {
        "parameters": [
            param(
                "path",
                STRING,
                "`lat,lon`, a query, or `{country}/{fields…}`",
                required=True,
                where="path",
            ),
            param(
                "includeEntityTypes",
                STRING,
                "by point: comma list of Address, Neighborhood, PopulatedPlace, Postcode1, "
                "AdminDivision1, AdminDivision2, CountryRegion",
            ),
            *_FIND_PARAMS,
            *_OUTPUT_PARAMS,
            *key_params(),
        ]
    }


def locations_responses() -> dict[int | str, Schema]:
    return {
        200: response(
            "The locations found, best first (none: an empty `resources` list). With `jsonp`, "
            "JavaScript.",
            {
                JSON_UTF8: bing_envelope(LOCATION),
                XML_UTF8: STRING,
                "application/javascript; charset=utf-8": STRING,
            },
        ),
        400: _bing_error(
            "A parameter is missing or not valid; `errorDetails` says which.", jsonp=True
        ),
        401: _bing_error("The key is missing, not valid or revoked.", jsonp=True),
        402: _bing_error("The key's daily quota is used up (UTC day).", jsonp=True),
        429: _bing_error("Too many requests from this key just now.", retry=True, jsonp=True),
        500: _bing_error("The server could not complete the request.", jsonp=True),
        503: _bing_error(UNAVAILABLE, retry=True, jsonp=True),
    }


# --- Bing Maps Geocode Dataflow --------------------------------------------------------------

_DATAFLOW_OUTPUT = param(
    "output",
    {"type": "string", "enum": ["json", "xml"]},
    "response format (alias `o`); default json",
)
_DATAFLOW_KEY = param("key", STRING, "API key", required=True)


def dataflow_create() -> Schema:
    return {
        "parameters": [
            param(
                "input",
                {"type": "string", "enum": ["xml", "csv", "tab", "pipe"]},
                "format of the posted data",
                required=True,
            ),
            param("description", {"type": "string", "maxLength": 256}, "a name for the job"),
            param(
                "dataLocation",
                STRING,
                "URL to fetch the data from instead of the body (when the server allows it)",
            ),
            _DATAFLOW_OUTPUT,
            _DATAFLOW_KEY,
        ],
        "requestBody": {
            "required": False,
            "description": "The batch file (Bing Spatial Data Services schema 1.0 or 2.0), "
            "optionally gzip- or zip-compressed.",
            "content": {
                "application/xml": {"schema": STRING},
                "text/plain": {"schema": STRING},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    }


def dataflow_params(*path: str) -> Schema:
    params = [
        param(name, STRING, f"the job's {name}", required=True, where="path") for name in path
    ]
    return {"parameters": [*params, _DATAFLOW_OUTPUT, _DATAFLOW_KEY]}


def dataflow_responses(ok: int, description: str, job: bool = True) -> dict[int | str, Schema]:
    """``job``: the route names a job (so answers 404 when there is none)."""
    answers: dict[int | str, Schema] = {
        ok: response(description, {JSON_UTF8: bing_envelope(DATAFLOW_JOB), XML_UTF8: STRING}),
        400: _bing_error("A parameter or the uploaded data cannot be used."),
        401: _bing_error("The key is missing, not valid or revoked."),
        500: _bing_error("The server could not complete the request."),
        503: _bing_error(
            "A limit is reached (pending jobs, jobs per day, daily quota), or " + UNAVAILABLE
        ),
    }
    if job:
        answers[404] = _bing_error("No such job for this key.")
    return answers


def dataflow_download_responses() -> dict[int | str, Schema]:
    answers = dataflow_responses(200, "")
    answers[200] = response(
        "The result file, in the job's input format.",
        {
            "application/xml": STRING,
            "text/csv": STRING,
            "text/tab-separated-values": STRING,
            "text/plain": STRING,
        },
    )
    answers[503] = _bing_error(UNAVAILABLE)
    return answers


# --- Geocode.Farm ----------------------------------------------------------------------------

FARM_ENVELOPE = obj(
    ("LEGAL", "STATUS"),
    LEGAL={"type": "object"},
    STATUS={"type": "object"},
    USER={"type": "object"},
    RESULTS={},
)


def _farm(description: str) -> Schema:
    return response(description, {JSON: FARM_ENVELOPE})


def farm_responses(*codes: int) -> dict[int | str, Schema]:
    text = {
        200: "The answer, in the Geocode.Farm envelope.",
        400: "The request cannot be used; STATUS says why.",
        401: "The key is missing, not valid or revoked.",
        402: "The key has no credits left today.",
        404: "No match (single calls), or no such batch for this key.",
        500: "The server could not complete the request.",
        503: UNAVAILABLE,
    }
    return {code: _farm(text[code]) for code in (200, *codes, 503)}


def farm_batch_body(kind: str) -> Schema:
    if kind == "forward":
        items: Schema = {"type": "string", "maxLength": 255}
        name, about = "addresses", "up to 1000 addresses"
    else:
        items = obj(
            ("lat", "lon"), lat={"type": ["number", "string"]}, lon={"type": ["number", "string"]}
        )
        name, about = "coordinates", "up to 1000 points"
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": obj(
                        ("key", name),
                        key=STRING,
                        **{name: array(items, maxItems=1000, description=about)},
                    )
                }
            },
        }
    }


def farm_result_params() -> Schema:
    return {
        "parameters": [
            param("id", STRING, "the batch id from the submission", required=True),
            param("key", STRING, "API key", required=True),
        ]
    }


def farm_forward_params() -> Schema:
    return {
        "parameters": [
            param("addr", STRING, "the address to look up", required=True),
            param("key", STRING, "API key", required=True),
        ]
    }


def farm_reverse_params() -> Schema:
    return {
        "parameters": [
            param("lat", NUMBER, "latitude, -90 to 90", required=True),
            param("lon", NUMBER, "longitude, -180 to 180", required=True),
            param("key", STRING, "API key", required=True),
        ]
    }


# --- Nominatim -------------------------------------------------------------------------------

SEARCH_DESCRIPTION = (
    "Nominatim `/search`: free text in `q`, or the structured `street`, `city`, `county`, "
    "`state`, `country`, `postalcode` (never both). No match is a 200 with an empty list."
)
REVERSE_DESCRIPTION = (
    "Nominatim `/reverse`: the place at `lat`,`lon`; `zoom` (0–18) sets the level of detail. "
    'No match (or a point off the globe) is a 200 with `{"error": "Unable to geocode"}`.'
)
STATUS_DESCRIPTION = "Nominatim `/status`: `OK` (text) or a JSON object; no key needed."
_FORMATS = {"type": "string", "enum": ["json", "jsonv2", "geojson", "geocodejson", "xml"]}
PLACE = obj(
    ("place_id", "licence", "lat", "lon", "type", "place_rank", "display_name", "boundingbox"),
    place_id=INTEGER,
    licence=STRING,
    lat=STRING,
    lon=STRING,
    type=STRING,
    place_rank=INTEGER,
    importance=NUMBER,
    addresstype=STRING,
    name=STRING,
    display_name=STRING,
    address={"type": "object", "additionalProperties": STRING},
    boundingbox=array(STRING, minItems=4, maxItems=4),
)
FEATURES = obj(("type", "features"), type=STRING, features=array({"type": "object"}))
NOMINATIM_ERROR = obj(("error",), error=obj(("code", "message"), code=INTEGER, message=STRING))
_COMMON = [
    param("format", _FORMATS, "output format"),
    param("addressdetails", {"type": "integer", "enum": [0, 1]}, "1: add the `address` parts"),
    param("accept-language", STRING, "accepted; names are in the data's language"),
    param(
        "json_callback",
        {"type": "string", "pattern": "^[A-Za-z_$][A-Za-z0-9_$]*$"},
        "JSONP callback (JSON formats only)",
    ),
    *key_params(),
]


def nominatim_search() -> Schema:
    return {
        "parameters": [
            param("q", STRING, "free-text query"),
            *(
                param(name, STRING, f"structured query: {name}")
                for name in (
                    "amenity",
                    "street",
                    "city",
                    "county",
                    "state",
                    "country",
                    "postalcode",
                )
            ),
            param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 50},
                "results wanted, default 10 (larger values are clamped to 50)",
            ),
            param("countrycodes", STRING, "comma list of ISO 3166-1 alpha-2 codes: a filter"),
            param("viewbox", STRING, "x1,y1,x2,y2 (lon,lat,lon,lat): preferred area"),
            param("bounded", {"type": "integer", "enum": [0, 1]}, "1: only inside `viewbox`"),
            param(
                "featureType",
                {"type": "string", "enum": ["country", "state", "city", "settlement"]},
                "only places of this level",
            ),
            *_COMMON,
        ]
    }


def nominatim_reverse() -> Schema:
    return {
        "parameters": [
            param(
                "lat", {"type": "number", "minimum": -90, "maximum": 90}, "latitude", required=True
            ),
            param(
                "lon",
                {"type": "number", "minimum": -180, "maximum": 180},
                "longitude",
                required=True,
            ),
            param(
                "zoom",
                {"type": "integer", "minimum": 0, "maximum": 18},
                "level of detail: 18 building … 10 city … 3 country",
            ),
            *_COMMON,
        ]
    }


def nominatim_status() -> Schema:
    return {
        "parameters": [
            param("format", {"type": "string", "enum": ["text", "json"]}, "text (default) or json")
        ]
    }


def nominatim_responses(path: str) -> dict[int | str, Schema]:
    errors = {
        JSON_UTF8: NOMINATIM_ERROR,
        "text/xml; charset=utf-8": STRING,
        "text/plain; charset=utf-8": STRING,
    }
    if path == "/status":
        ok = {JSON_UTF8: obj(("status", "message")), "text/plain; charset=utf-8": STRING}
        return {
            200: response("The service answers.", ok),
            400: response("Unknown format.", errors),
            500: response("The index cannot be used.", ok),
        }
    found = array(PLACE) if path == "/search" else {"type": "object"}
    ok_body = {"anyOf": [found, FEATURES, obj(("error",), error=STRING)]}
    return {
        200: response(
            "The places found (or for reverse: one place, or Unable to geocode).",
            {
                JSON_UTF8: ok_body,
                "text/xml; charset=utf-8": STRING,
                "application/javascript; charset=utf-8": STRING,
            },
        ),
        400: response("A parameter is missing or not valid.", errors),
        401: response("The key is missing, not valid or revoked.", errors),
        402: response("The key's daily quota is used up.", errors),
        429: response("Too many requests just now.", errors, **{"Retry-After": INTEGER}),
        500: response("The server could not complete the request.", errors),
        503: response(UNAVAILABLE, errors, **{"Retry-After": INTEGER}),
    }


# --- the web page's JSON API -------------------------------------------------------------------

WEB_KEY_HEADER = "X-Api-Key"
WEB_ERROR = obj(("error",), error=STRING)
_WHEN = {"type": ["number", "null"], "description": "Unix seconds"}
WEB_JOB = obj(
    (
        "id",
        "kind",
        "format",
        "direction",
        "description",
        "status",
        "decoded",
        "total",
        "processed",
        "failed",
        "succeeded",
        "created",
        "completed",
        "expires",
        "error",
        "mapping",
        "downloads",
    ),
    id=STRING,
    kind={"type": "string", "enum": ["csv", "bing"]},
    format={"type": "string", "description": "csv: forward|reverse; bing: xml|csv|tab|pipe"},
    direction=STRING,
    description=STRING,
    status={"type": "string", "enum": ["Pending", "Processing", "Completed", "Aborted"]},
    decoded={"type": "boolean"},
    total=INTEGER,
    processed=INTEGER,
    failed=INTEGER,
    succeeded=INTEGER,
    created=NUMBER,
    completed=_WHEN,
    expires=_WHEN,
    error={"type": "string", "description": "why an Aborted job stopped"},
    mapping={"type": "object", "additionalProperties": STRING},
    downloads=array(obj(("name", "label", "filename"), name=STRING, label=STRING, filename=STRING)),
)
_POINT = obj(("type", "coordinates"), type=STRING, coordinates=_COORDINATES)
WEB_FEATURE = obj(
    ("type", "geometry", "properties"),
    type={"type": "string", "enum": ["Feature"]},
    id=INTEGER,
    geometry={"anyOf": [_POINT, {"type": "null"}]},
    properties={"type": "object"},
)
WEB_FEATURES = obj(
    ("type", "features"),
    type={"type": "string", "enum": ["FeatureCollection"]},
    total=INTEGER,
    offset=INTEGER,
    query=STRING,
    status=STRING,
    reason=STRING,
    features=array(WEB_FEATURE),
)
WEB_POINTS = obj(
    ("seq", "lat", "lon", "confidence", "match_codes", "next"),
    seq=array(INTEGER),
    lat=array(NUMBER),
    lon=array(NUMBER),
    confidence=array(STRING),
    match_codes=array(STRING),
    next={"type": ["integer", "null"], "description": "`after` for the next page; null: none"},
)
WEB_INSPECTION = obj(
    ("codec", "input", "direction", "directions", "columns", "mapping", "preview", "notes"),
    codec={"type": "string", "enum": ["csv", "bing"]},
    input=STRING,
    direction=STRING,
    directions=array(STRING),
    delimiter=STRING,
    version=STRING,
    columns=array(STRING),
    mapping={"type": "object", "additionalProperties": STRING},
    preview_header=array(STRING),
    preview=array(array(STRING)),
    notes=array(STRING),
    packing={"type": "string", "enum": ["", "gzip", "zip"]},
)
WEB_KEY = obj(
    ("name", "daily_limit", "used_today"),
    name=STRING,
    daily_limit={"type": ["integer", "null"], "description": "null: unlimited"},
    used_today=INTEGER,
)
WEB_CONFIG = obj(
    ("key_header", "tile_url", "tile_attribution"),
    key_header=STRING,
    tile_url={"type": ["string", "null"]},
    tile_attribution=STRING,
)
_WEB_TEXT = {
    401: "The key is missing (send it in the X-Api-Key header), not valid or revoked.",
    404: "No such job for this key (another key's job is not found either), or no such "
    "result: the job is not completed, its results expired, or it has no such row or file.",
    500: "The server could not complete the request.",
    503: "A limit is reached: pending jobs, jobs per day, the key's daily quota or credits; or "
    + UNAVAILABLE,
}


def web_params(*params: Schema, key: bool = True) -> Schema:
    """A web route's parameters; the key is in the ``X-Api-Key`` header, never in the URL."""
    header = param(
        WEB_KEY_HEADER,
        STRING,
        "API key (`geobatch keys create`); a header, so it stays out of URLs and logs",
        required=True,
        where="header",
    )
    return {"parameters": [*params, header] if key else list(params)}


def web_job_params(*params: Schema) -> Schema:
    return web_params(
        param("job_id", STRING, "the job's id (`id` in the job list)", required=True, where="path"),
        *params,
    )


def web_responses(
    ok: int, description: str, content: dict[str, Schema], bad: str | None, *codes: int
) -> dict[int | str, Schema]:
    """``ok`` with ``content``; ``bad``: what a 400 means (None: the route has no input that
    can be wrong, only the key and ids that are looked up); ``codes``: more error statuses.
    Every error body is ``{"error": message}``; 401 and 500 are always possible."""
    answers: dict[int | str, Schema] = {ok: response(description, content)}
    if bad is not None:
        answers[400] = response(bad, {JSON: WEB_ERROR})
    for code in sorted({401, 500, 503, *codes}):
        answers[code] = response(_WEB_TEXT[code], {JSON: WEB_ERROR})
    return answers


def web_job_upload() -> Schema:
    return {
        **web_params(
            param(
                "codec",
                {"type": "string", "enum": ["csv", "bing"]},
                "`csv`: a plain CSV run as the CLI runs it; `bing`: a Bing Dataflow file",
                required=True,
            ),
            param(
                "input",
                {"type": "string", "enum": ["forward", "reverse", "xml", "csv", "tab", "pipe"]},
                "csv: `forward` or `reverse`; bing: the file's format",
                required=True,
            ),
            param("description", {"type": "string", "maxLength": 256}, "a name for the job"),
        ),
        "requestBody": {
            "required": True,
            "description": "The file, optionally gzip- or zip-compressed.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": STRING},
                "text/plain": {"schema": STRING},
            },
        },
    }


def web_inspect() -> Schema:
    return {
        **web_params(
            param(
                "complete",
                {"type": "string", "enum": ["1", "true", "0", "false"]},
                "1/true: the bytes are the whole file (its last line is not cut)",
            )
        ),
        "requestBody": {
            "required": True,
            "description": "The first bytes of the file (at most 1 MiB), possibly compressed.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    }


CONFIDENCES = {
    "type": "string",
    "description": "comma list of High, Medium, Low (any case): the best result's confidence",
}


# --- operations --------------------------------------------------------------------------------

HEALTH = obj(
    ("status",),
    status={"type": "string", "enum": ["ok", "unavailable"]},
    index=STRING,
    runner=STRING,
    store=STRING,
)


def health_responses() -> dict[int | str, Schema]:
    return {
        200: response(
            "The index is open, the job runner alive and the data directory writable.",
            {JSON: HEALTH},
        ),
        503: response(
            "The index, the runner or the data directory (`store`: full, read-only, gone) is "
            "not usable; the body says which.",
            {JSON: HEALTH},
        ),
    }


def metrics_responses() -> dict[int | str, Schema]:
    text = "text/plain; version=0.0.4; charset=utf-8"
    return {200: response("Prometheus text exposition format.", {text: STRING})}


def finish_document(app: FastAPI) -> None:
    """Two fixes to the document FastAPI builds. It documents a 422 for every route with a
    declared parameter; ours never answer one (a parameter that does not parse is a 400 in
    each API's own error body), so the document must not promise it. And a path parameter
    both in a route's signature and in its ``openapi_extra`` (to describe it) would be listed
    twice, which OpenAPI forbids: the one of ``openapi_extra`` is kept, in the place of the
    first."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
                    if "parameters" in operation:
                        operation["parameters"] = _merged(operation["parameters"])
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
        return app.openapi_schema or {}

    app.openapi = document  # type: ignore[method-assign]


def _merged(params: list[Schema]) -> list[Schema]:
    merged: dict[tuple[str, str], Schema] = {}
    for item in params:
        merged[(item["name"], item["in"])] = item  # a later one replaces, in the first's place
    return list(merged.values())
