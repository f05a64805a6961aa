"""The Geocode.Farm v4 endpoints (``../shared/spec/geocode-farm.md``): batch forward, its result
URL, the single forward and reverse calls, and our batch-reverse extension. Each route parses
with :mod:`geobatch.formats.farm`, calls one :class:`FarmService` function, and renders.

Paths end in ``/`` as documented; the same paths without it are answered too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from geobatch.api import openapi
from geobatch.api.farm_errors import FarmRoute, json_response
from geobatch.api.params import Query, base_url
from geobatch.formats.farm import (
    FarmEndpoint,
    FarmError,
    FarmSubmission,
    parse_batch_forward,
    parse_batch_reverse,
    parse_single_forward,
    parse_single_reverse,
    render_result_response,
    render_single_forward,
    render_single_reverse,
    render_submit_response,
    single_http_status,
)
from geobatch.jobs.farm import FarmService
from geobatch.jobs.uploads import read_limited

# 1000 addresses of 255 characters, even as \uXXXX escapes, fit well within this.
MAX_BODY_BYTES = 8 * 1024 * 1024

router = APIRouter(route_class=FarmRoute, tags=["Geocode.Farm"])

Handler = Callable[..., Any]


def _both(
    method: str, path: str, summary: str, extra: dict[str, Any], codes: tuple[int, ...]
) -> Callable[[Handler], Handler]:
    """Register a route at its documented path and at the same path without the slash;
    ``extra`` and ``codes`` describe its parameters and status codes in the OpenAPI document."""

    def register(func: Handler) -> Handler:
        router.add_api_route(
            path,
            func,
            methods=[method],
            summary=summary,
            openapi_extra=extra,
            responses=openapi.farm_responses(*codes),
        )
        router.add_api_route(
            path.rstrip("/"), func, methods=[method], summary=summary, include_in_schema=False
        )
        return func

    return register


def _farm(request: Request) -> FarmService:
    farm: FarmService = request.app.state.farm
    return farm


async def read_body(request: Request) -> bytes:
    """The whole body, refused with a 400 past ``MAX_BODY_BYTES`` (read on a little further,
    so the client gets the answer rather than a reset connection)."""
    chunks: list[bytes] = []
    await read_limited(
        request.stream(),
        MAX_BODY_BYTES,
        chunks.append,
        lambda: FarmError(
            400, f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB"
        ),
    )
    return b"".join(chunks)


async def _submit(request: Request, submission: FarmSubmission) -> Response:
    request.state.farm_key = submission.key
    info, user = await run_in_threadpool(_farm(request).submit, submission)
    return json_response(render_submit_response(info, user, base_url=base_url(request)))


def _result(request: Request, endpoint: FarmEndpoint) -> Response:
    query = Query.of(request)
    key = query.values.get("key", "")
    if not key.strip():
        raise FarmError(401, "the API key is missing: add &key=YOUR_API_KEY to the result URL")
    batch_id = query.values.get("id", "")
    if not batch_id.strip():
        raise FarmError(404, "the batch id is missing: use the result_url of the submission")
    view = _farm(request).batch(key, batch_id, endpoint)
    include = request.app.state.settings.farm_include_accuracy
    return json_response(render_result_response(view.info, view.rows, include_accuracy=include))


@_both(
    "POST",
    "/batch-forward/",
    "Batch Forward: submit up to 1000 addresses",
    openapi.farm_batch_body("forward"),
    (400, 401, 402, 500),
)
async def batch_forward(request: Request) -> Response:
    return await _submit(request, parse_batch_forward(await read_body(request)))


@_both(
    "GET",
    "/batch-forward/result/",
    "Batch Forward: state and results",
    openapi.farm_result_params(),
    (401, 404, 500),
)
def batch_forward_result(request: Request) -> Response:
    return _result(request, FarmEndpoint.BATCH_FORWARD)


@_both(
    "POST",
    "/batch-reverse/",
    "Batch Reverse (our extension): submit up to 1000 points",
    openapi.farm_batch_body("reverse"),
    (400, 401, 402, 500),
)
async def batch_reverse(request: Request) -> Response:
    return await _submit(request, parse_batch_reverse(await read_body(request)))


@_both(
    "GET",
    "/batch-reverse/result/",
    "Batch Reverse (our extension): state and results",
    openapi.farm_result_params(),
    (401, 404, 500),
)
def batch_reverse_result(request: Request) -> Response:
    return _result(request, FarmEndpoint.BATCH_REVERSE)


@_both(
    "GET",
    "/forward/",
    "Forward geocode one address",
    openapi.farm_forward_params(),
    (400, 401, 402, 404, 500),
)
def forward(request: Request) -> Response:
    params = Query.of(request).values
    key, geocode_request = parse_single_forward(params)
    request.state.farm_key = key
    answer, user = _farm(request).forward(key, geocode_request)
    body = render_single_forward(answer, addr=params["addr"], user=user)
    return json_response(body, single_http_status(answer))


@_both(
    "GET",
    "/reverse/",
    "Reverse geocode one point",
    openapi.farm_reverse_params(),
    (400, 401, 402, 404, 500),
)
def reverse(request: Request) -> Response:
    params = Query.of(request).values
    key, reverse_request = parse_single_reverse(params)
    request.state.farm_key = key
    answer, user = _farm(request).reverse(key, reverse_request)
    body = render_single_reverse(answer, lat=params["lat"], lon=params["lon"], user=user)
    return json_response(body, single_http_status(answer))
