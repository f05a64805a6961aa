"""The JSON API of the web page (``/api/web/...``): look at a dropped file, start a job, follow
the key's jobs, cancel and delete them, read a finished job's results as map points, pages of
GeoJSON and downloads, ask single queries, and draw the offline basemap.

The key travels in the ``X-Api-Key`` header, never in a URL (so it is in no access log and no
browser history). Errors are ``{"error": message}`` with the status the other APIs use: 400 bad
input, 401 key missing or not valid, 404 not found (another key's job too), 503 limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from geobatch.api import openapi
from geobatch.api.bing import OpenFileResponse
from geobatch.api.faults import store_unavailable
from geobatch.api.openapi import (
    CONFIDENCES,
    WEB_CONFIG,
    WEB_FEATURE,
    WEB_FEATURES,
    WEB_INSPECTION,
    WEB_JOB,
    WEB_KEY,
    WEB_POINTS,
    array,
    obj,
    param,
    web_job_params,
    web_params,
    web_responses,
)
from geobatch.errors import GeobatchError, InputError
from geobatch.formats import geojson
from geobatch.formats.batch import BatchRow, Outcome
from geobatch.formats.bing import INPUT_FORMATS
from geobatch.formats.csvbatch import DIRECTIONS, MAPPING
from geobatch.formats.inspect import inspect_sample
from geobatch.jobs.errors import (
    BadJobRequest,
    JobNotFound,
    LimitExceeded,
    NotAuthenticated,
    StoreUnavailable,
)
from geobatch.jobs.farm import FarmService
from geobatch.jobs.keys import used_today
from geobatch.jobs.kinds import BING, CSV
from geobatch.jobs.service import JobService, NewJobRequest
from geobatch.jobs.store import ApiKey, Job, ResultFilter
from geobatch.jobs.uploads import read_limited
from geobatch.jobs.webjobs import WebJobs, downloads
from geobatch.model import Confidence, GeocodeRequest, ReverseRequest
from geobatch.web.basemap import Basemap
from geobatch.web.sample import unpacked_head

log = logging.getLogger(__name__)

KEY_HEADER = "X-Api-Key"
PREFIX = "/api/web"
MAX_SAMPLE_BYTES = 1024 * 1024
MAX_QUERY_CHARS = 1000
JSON = "application/json"


def json_response(body: Any, status_code: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(text.encode("utf-8"), status_code, media_type=JSON)


def status_of(exc: Exception) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, JobNotFound):
        return 404
    if isinstance(exc, LimitExceeded | StoreUnavailable):
        return 503
    if isinstance(exc, InputError):
        return 400
    return 500


def _unavailable(fault: StoreUnavailable) -> Response:
    response = json_response({"error": str(fault)}, 503)
    response.headers["Retry-After"] = str(fault.retry_after)
    return response


class WebRoute(APIRoute):
    """A route whose errors are ``{"error": message}`` (the page shows the message as it is),
    whatever failed: the service, FastAPI's own check of a typed parameter, or the server."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (ClientDisconnect, HTTPException):
                raise
            except GeobatchError as exc:
                status = status_of(exc)
                if status == 500:
                    log.error("%s failed: %s", request.url.path, exc)
                if isinstance(exc, StoreUnavailable):
                    store_unavailable(request, exc)  # logs it
                    return _unavailable(exc)
                return json_response({"error": str(exc)}, status)
            except RequestValidationError as exc:
                where = ", ".join(str(error.get("loc", ("", "?"))[-1]) for error in exc.errors())
                return json_response({"error": f"not a valid value: {where}"}, 400)
            except Exception as exc:
                fault = store_unavailable(request, exc)
                if fault is not None:
                    return _unavailable(fault)
                log.exception("unexpected error on %s", request.url.path)
                return json_response({"error": "the server could not complete the request"}, 500)

        return web_handler


router = APIRouter(prefix=PREFIX, route_class=WebRoute, tags=["Web page"])


# --- the server's parts ----------------------------------------------------------------------


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def _web(request: Request) -> WebJobs:
    state = request.app.state
    web: WebJobs | None = getattr(state, "web_jobs", None)
    if web is None or web.service is not state.service:
        web = state.web_jobs = WebJobs(state.service)
    return web


def _basemap(request: Request) -> Basemap:
    state = request.app.state
    basemap: Basemap | None = getattr(state, "web_basemap", None)
    if basemap is None:
        basemap = state.web_basemap = Basemap(state.settings.index_dir)
    return basemap


def _secret(request: Request) -> str:
    secret = request.headers.get(KEY_HEADER, "").strip()
    if not secret:
        raise NotAuthenticated(
            f"an API key is required: enter it on the page (it is sent in the {KEY_HEADER} header)",
            "NoCredentials",
        )
    return secret


def _key(request: Request) -> ApiKey:
    return _service(request).authenticate(_secret(request))


# --- parameters ------------------------------------------------------------------------------


# Offsets, limits and row numbers past what SQLite stores (64 bits) mean "past the end".
LARGEST = 2**62


def _int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadJobRequest(f"{name} must be a whole number, not {value!r}") from None
    return max(-LARGEST, min(number, LARGEST))


def _float(request: Request, name: str) -> float:
    value = request.query_params.get(name, "").strip()
    try:
        number = float(value)
    except ValueError:
        raise BadJobRequest(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise BadJobRequest(f"{name} must be a finite number")
    return number


def _filters(request: Request) -> ResultFilter:
    status = request.query_params.get("status", "").strip().lower() or "all"
    if status not in ("all", "succeeded", "failed"):
        raise BadJobRequest(f"status must be all, succeeded or failed, not {status!r}")
    wanted = request.query_params.get("confidence", "").strip()
    names = tuple(name.strip().title() for name in wanted.split(",") if name.strip())
    known = {str(c) for c in Confidence}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BadJobRequest(f"confidence must be among High, Medium, Low, not {unknown[0]!r}")
    outcome: Outcome | None = None
    if status != "all":
        outcome = "succeeded" if status == "succeeded" else "failed"
    return ResultFilter(outcome=outcome, confidence=names)


# --- views -----------------------------------------------------------------------------------


def job_json(job: Job) -> dict[str, Any]:
    details = job.header.details if job.header is not None else {}
    mapping = json.loads(details[MAPPING]) if job.kind == CSV and MAPPING in details else {}
    return {
        "id": job.id,
        "kind": job.kind,
        "format": job.input_format,
        "direction": job.input_format if job.kind == CSV else "",
        "description": job.description or "",
        "status": str(job.status),
        "decoded": job.decoded,
        "total": job.total,
        "processed": job.processed,
        "failed": job.failed,
        "succeeded": job.succeeded,
        "created": job.created,
        "completed": job.completed,
        "expires": job.expires,
        "error": job.error_message or "",
        "mapping": mapping,
        "downloads": [
            {"name": d.name, "label": d.label, "filename": d.filename} for d in downloads(job)
        ],
    }


# --- routes ----------------------------------------------------------------------------------


@router.get(
    "/config",
    summary="The page's settings (no key needed)",
    responses=web_responses(
        200, "The tile server and the key's header name.", {JSON: WEB_CONFIG}, None
    ),
)
def config(request: Request) -> Response:
    settings = request.app.state.settings
    return json_response(
        {
            "key_header": KEY_HEADER,
            "tile_url": settings.web_tile_url,
            "tile_attribution": settings.web_tile_attribution,
        }
    )


@router.get(
    "/key",
    summary="Check the key; its name and today's usage",
    openapi_extra=web_params(),
    responses=web_responses(200, "The key's name, daily limit and usage.", {JSON: WEB_KEY}, None),
)
def key_info(request: Request) -> Response:
    key = _key(request)
    service = _service(request)
    return json_response(
        {
            "name": key.name,
            "daily_limit": key.daily_limit,
            "used_today": used_today(service.store, key, service.clock()),
        }
    )


@router.post(
    "/inspect",
    summary="Detect a file's layout from its first bytes",
    openapi_extra=openapi.web_inspect(),
    responses=web_responses(
        200,
        "The layout found: codec, format, columns, the mapping to geocoder fields, a preview.",
        {JSON: WEB_INSPECTION},
        "The sample is too big, empty, binary, or of no layout the server reads.",
    ),
)
async def inspect(request: Request) -> Response:
    _key(request)
    sample = bytearray()

    def too_big() -> Exception:
        return BadJobRequest(f"send at most {MAX_SAMPLE_BYTES:,} bytes of the file to inspect")

    await read_limited(request.stream(), MAX_SAMPLE_BYTES, sample.extend, too_big)
    complete = request.query_params.get("complete", "") in ("1", "true")
    head, whole, packing = unpacked_head(bytes(sample), complete)
    found = inspect_sample(head, complete=whole)
    return json_response(
        {
            "codec": found.codec,
            "input": found.input_format,
            "direction": found.direction,
            "directions": list(found.directions),
            "delimiter": found.delimiter,
            "version": found.version,
            "columns": found.columns,
            "mapping": found.mapping,
            "preview_header": found.preview_header,
            "preview": found.preview,
            "notes": found.notes,
            "packing": packing,
        }
    )


@router.get(
    "/jobs",
    summary="The key's jobs, with progress",
    openapi_extra=web_params(),
    responses=web_responses(
        200,
        "The key's jobs of the last days, active ones first; `now` is the server's clock.",
        {JSON: obj(("jobs", "now"), jobs=array(WEB_JOB), now=openapi.NUMBER)},
        None,
    ),
)
def list_jobs(request: Request) -> Response:
    key = _key(request)
    web = _web(request)
    return json_response(
        {"jobs": [job_json(job) for job in web.jobs(key)], "now": web.service.clock()}
    )


@router.post(
    "/jobs",
    status_code=201,
    summary="Start a job: the file is the request body",
    openapi_extra=openapi.web_job_upload(),
    responses=web_responses(
        201,
        "The job, created (Pending).",
        {JSON: WEB_JOB},
        "A parameter is missing or not valid, or the file cannot be used (empty, too big, "
        "damaged compression).",
        503,
    ),
)
async def create_job(request: Request) -> Response:
    key = _key(request)
    codec = request.query_params.get("codec", "").strip().lower()
    given = request.query_params.get("input", "").strip().lower()
    if codec == "csv":
        if given not in DIRECTIONS:
            raise BadJobRequest(f"input must be forward or reverse for a CSV, not {given!r}")
        kind = CSV
    elif codec == "bing":
        if given not in INPUT_FORMATS:
            raise BadJobRequest(f"input must be one of {', '.join(INPUT_FORMATS)}, not {given!r}")
        kind = BING
    else:
        raise BadJobRequest(f"codec must be csv or bing, not {codec!r}")
    description = request.query_params.get("description", "").strip() or None
    job = await _service(request).submit(
        key, NewJobRequest(kind=kind, input_format=given, description=description), request.stream()
    )
    return json_response(job_json(job), 201)


@router.get(
    "/jobs/{job_id}",
    summary="One job, with progress",
    openapi_extra=web_job_params(),
    responses=web_responses(200, "The job.", {JSON: WEB_JOB}, None, 404),
)
def get_job(request: Request, job_id: str) -> Response:
    return json_response(job_json(_web(request).job(_key(request), job_id)))


@router.post(
    "/jobs/{job_id}/cancel",
    summary="Cancel a pending or running job",
    description="The job ends Aborted (`cancelled by its owner`): the runner stops working on "
    "it at once, and its rows and files are deleted.",
    openapi_extra=web_job_params(),
    responses=web_responses(
        200, "The job, Aborted.", {JSON: WEB_JOB}, "The job has already ended.", 404
    ),
)
def cancel_job(request: Request, job_id: str) -> Response:
    return json_response(job_json(_web(request).cancel(_key(request), job_id)))


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Delete a job and its results",
    description="A running job is stopped first; nothing of it is kept.",
    openapi_extra=web_job_params(),
    responses={
        **web_responses(204, "", {}, None, 404),
        204: {"description": "Deleted."},
    },
)
def delete_job(request: Request, job_id: str) -> Response:
    _web(request).delete(_key(request), job_id)
    return Response(status_code=204)


@router.get(
    "/jobs/{job_id}/points",
    summary="Map points of a completed job, in input order",
    description="The best point of each row with a result, as parallel arrays; follow `next` "
    "(as `after`) for the next page.",
    openapi_extra=web_job_params(
        param("after", openapi.INTEGER, "the points after this row (`next`); default -1"),
        param("limit", openapi.INTEGER, "points wanted, 1–50,000 (clamped); default 50,000"),
    ),
    responses=web_responses(
        200,
        "A page of points.",
        {JSON: WEB_POINTS},
        "`after` or `limit` is not a whole number.",
        404,
    ),
)
def points(request: Request, job_id: str) -> Response:
    after = _int(request, "after", -1)
    found = _web(request).points(_key(request), job_id, after, _int(request, "limit", 50_000))
    return json_response(
        {
            "seq": [p.seq for p in found],
            "lat": [p.lat for p in found],
            "lon": [p.lon for p in found],
            "confidence": [p.confidence for p in found],
            "match_codes": [";".join(p.match_codes) for p in found],
            "next": found[-1].seq if found else None,
        }
    )


@router.get(
    "/jobs/{job_id}/results",
    summary="A page of a completed job's rows as GeoJSON",
    openapi_extra=web_job_params(
        param("offset", openapi.INTEGER, "rows to skip among those passing the filters; default 0"),
        param("limit", openapi.INTEGER, "rows wanted, 1–1,000 (clamped); default 100"),
        param(
            "status",
            {"type": "string", "enum": ["all", "succeeded", "failed"]},
            "which rows (any case); default all",
        ),
        param("confidence", CONFIDENCES, "only rows whose best result has these confidences"),
    ),
    responses=web_responses(
        200,
        "A FeatureCollection of the rows (null geometry without a result); `total` rows pass "
        "the filters.",
        {JSON: WEB_FEATURES},
        "A parameter is not valid.",
        404,
    ),
)
def results(request: Request, job_id: str) -> Response:
    offset, limit = _int(request, "offset", 0), _int(request, "limit", 100)
    _, total, rows = _web(request).page(_key(request), job_id, offset, limit, _filters(request))
    return json_response(geojson.collection(rows, total=total, offset=max(offset, 0)))


@router.get(
    "/jobs/{job_id}/results/{seq}",
    summary="One row of a completed job as GeoJSON",
    openapi_extra=web_job_params(
        param(
            "seq",
            openapi.INTEGER,
            "the row's number (from 0, in input order)",
            required=True,
            where="path",
        )
    ),
    responses=web_responses(
        200, "The row as a Feature.", {JSON: WEB_FEATURE}, "`seq` is not a whole number.", 404
    ),
)
def result(request: Request, job_id: str, seq: int) -> Response:
    row, answer = _web(request).row(_key(request), job_id, max(-LARGEST, min(seq, LARGEST)))
    return json_response(geojson.feature(row, answer))


@router.get(
    "/jobs/{job_id}/download/{name}",
    summary="Download a result file",
    description="`name` is one of the job's `downloads`: `output` (a CSV job's every row, as "
    "the CLI writes it), `succeeded`, `failed` (in the upload's format), `geojson`.",
    openapi_extra=web_job_params(
        param(
            "name",
            {"type": "string", "enum": ["output", "succeeded", "failed", "geojson"]},
            "which file; a job offers those in its `downloads`",
            required=True,
            where="path",
        )
    ),
    responses=web_responses(
        200,
        "The file, as an attachment.",
        {
            "text/csv": openapi.STRING,
            "application/octet-stream": {"type": "string", "format": "binary"},
            "application/geo+json": {"type": "object"},
        },
        None,
        404,
    ),
)
def download(request: Request, job_id: str, name: str) -> Response:
    found, stream = _web(request).open_download(_key(request), job_id, name)
    response = OpenFileResponse(stream, found.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return response


def _farm(request: Request) -> FarmService:
    farm: FarmService = request.app.state.farm
    return farm


def _single(query: str, answer_features: list[dict[str, Any]], status: str, reason: str) -> Any:
    return {
        "type": "FeatureCollection",
        "query": query,
        "status": status,
        "reason": reason,
        "features": answer_features,
    }


@router.get(
    "/geocode",
    summary="Geocode one address (one credit when found)",
    openapi_extra=web_params(
        param("q", {"type": "string", "maxLength": MAX_QUERY_CHARS}, "the address", required=True)
    ),
    responses=web_responses(
        200,
        "Every result, best first, as Features (none: an empty list).",
        {JSON: WEB_FEATURES},
        "No address, or a longer one than the server takes.",
        503,
    ),
)
async def geocode(request: Request) -> Response:
    secret = _secret(request)
    query = request.query_params.get("q", "").strip()
    if not query:
        raise BadJobRequest("type an address to look up")
    if len(query) > MAX_QUERY_CHARS:
        raise BadJobRequest(f"the address is longer than {MAX_QUERY_CHARS} characters")
    farm = _farm(request)
    answer, _ = await asyncio.to_thread(
        farm.forward, secret, GeocodeRequest(query=query, max_results=5)
    )
    row = BatchRow(seq=0, id="", request=GeocodeRequest(query=query))
    return json_response(
        _single(
            query,
            geojson.answer_features(query, answer),
            geojson.status_of(row, answer),
            geojson.reason_of(row, answer),
        )
    )


@router.get(
    "/reverse",
    summary="Reverse-geocode one point (one credit when found)",
    openapi_extra=web_params(
        param("lat", openapi.NUMBER, "latitude, -90 to 90", required=True),
        param("lon", openapi.NUMBER, "longitude, -180 to 180", required=True),
    ),
    responses=web_responses(
        200,
        "The places at the point, nearest first, as Features.",
        {JSON: WEB_FEATURES},
        "`lat` or `lon` is missing, not a number, or off the globe.",
        503,
    ),
)
async def reverse(request: Request) -> Response:
    secret = _secret(request)
    lat, lon = _float(request, "lat"), _float(request, "lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadJobRequest(f"{lat}, {lon} is not a point on Earth (latitude, longitude)")
    request_ = ReverseRequest(lat=lat, lon=lon)
    answer, _ = await asyncio.to_thread(_farm(request).reverse, secret, request_)
    query = f"{lat:.6f}, {lon:.6f}"
    row = BatchRow(seq=0, id="", request=request_)
    return json_response(
        _single(
            query,
            geojson.answer_features(query, answer),
            geojson.status_of(row, answer),
            geojson.reason_of(row, answer),
        )
    )


@router.get(
    "/basemap",
    summary="Offline basemap features (areas; streets when zoomed in)",
    openapi_extra=web_params(
        param(
            "bbox",
            openapi.STRING,
            "west,south,east,north in degrees (clamped to the globe)",
            required=True,
        )
    ),
    responses=web_responses(
        200,
        "A GeoJSON FeatureCollection drawn from the index.",
        {"application/geo+json": {"type": "object"}},
        "`bbox` is missing or not four numbers with west <= east, south <= north.",
    ),
)
async def basemap(request: Request) -> Response:
    _key(request)
    parts = request.query_params.get("bbox", "").split(",")
    try:
        west, south, east, north = (float(part) for part in parts)
    except ValueError:
        raise BadJobRequest("bbox must be west,south,east,north in degrees") from None
    if not all(map(math.isfinite, (west, south, east, north))) or west > east or south > north:
        raise BadJobRequest("bbox must be west,south,east,north with west <= east, south <= north")
    west, east = max(west, -180.0), min(east, 180.0)
    south, north = max(south, -90.0), min(north, 90.0)
    body = await asyncio.to_thread(_basemap(request).view, south, west, north, east)
    return Response(body, media_type="application/geo+json")
