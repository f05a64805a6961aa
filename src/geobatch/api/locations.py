"""The Bing Maps REST Locations API (``../shared/spec/bing-locations.md``): find a location by
query, by address (query parameters or the per-country path forms) and by point, in JSON or XML.

Same keys, daily quotas and rate limits as the other APIs (see :mod:`geobatch.jobs.single`);
errors in the Bing envelope with real HTTP status codes: 400 bad parameter, 401 key missing or
not valid, 402 daily quota used up, 429 too many requests (with ``Retry-After``), 500 our fault.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from geobatch.api import openapi
from geobatch.api.access import EngineFailed, admit, results_of, run, single_service
from geobatch.api.bing import trace_id
from geobatch.errors import InputError
from geobatch.formats.locations import (
    Rendered,
    output_of,
    parse_request,
    render_error,
    render_locations,
    select,
)
from geobatch.jobs.errors import NotAuthenticated, StoreUnavailable
from geobatch.jobs.ratelimit import retry_after
from geobatch.jobs.single import QuotaExceeded, RateLimited
from geobatch.model import GeocodeRequest

log = logging.getLogger(__name__)

PREFIX = "/rest/v1/locations"  # matched lower-cased: see geobatch.api.app.LowercasePaths
MARKER = "/locations/"


class AnyPathConvertor(PathConvertor):
    """Starlette's ``path`` stops at a newline (``.*``); a query in the path may hold one
    (``%0A``), and must be answered as a query, not a 404."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", AnyPathConvertor())


def _send(rendered: Rendered, headers: dict[str, str] | None = None) -> Response:
    return Response(rendered.body, rendered.status, headers, media_type=rendered.media_type)


def _error_response(request: Request, exc: Exception) -> Response:
    output = output_of(exc, request.query_params.multi_items())
    headers: dict[str, str] = {}
    auth = None
    if isinstance(exc, NotAuthenticated):
        status, auth = 401, exc.reason
    elif isinstance(exc, RateLimited):
        status = 429
        headers["Retry-After"] = str(retry_after(exc.wait))
    elif isinstance(exc, QuotaExceeded):
        status = 402
    elif isinstance(exc, StoreUnavailable):
        status = 503  # the data directory cannot be used (full, read-only, gone)
        headers["Retry-After"] = str(exc.retry_after)
        log.warning("%s refused: %s", request.url.path, exc)
    elif isinstance(exc, InputError):
        status = 400
    else:
        status = 500
        if not isinstance(exc, EngineFailed):
            log.error("%s failed", request.url.path, exc_info=exc)
        exc = Exception("the server could not complete the request")
    rendered = render_error(status, [str(exc)], trace_id(), output, authentication=auth)
    return _send(rendered, headers)


class LocationsRoute(APIRoute):
    """A route whose errors are answered in the Locations envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def locations_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ClientDisconnect:
                raise
            except Exception as exc:
                return _error_response(request, exc)  # no I/O: in the event loop

        return locations_handler


router = APIRouter(route_class=LocationsRoute, tags=["Bing Maps Locations"])


def _segments(request: Request) -> list[str]:
    """The path segments after /Locations/, percent-decoded, in their original case (the
    application lower-cases /REST/ paths for routing; the raw path keeps the letters)."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("utf-8", "replace").split("?", 1)[0]
    at = path.lower().find(MARKER)
    if at < 0:
        return []
    rest = path[at + len(MARKER) :].strip("/")
    return [urllib.parse.unquote(part) for part in rest.split("/")] if rest else []


def _answer(request: Request, segments: list[str]) -> Response:
    caller = admit(request)
    asked = parse_request(request.query_params.multi_items(), segments)
    service = single_service(request)
    if isinstance(asked.request, GeocodeRequest):
        answer = service.forward(caller, asked.request)
    else:
        answer = service.reverse(caller, asked.request)
    results = select(results_of(answer), asked.request, asked.max_results)
    return _send(render_locations(asked, results, trace_id()))


@router.get(
    PREFIX,
    summary="Find a location by query or by address",
    description=openapi.LOCATIONS_QUERY_DESCRIPTION,
    openapi_extra=openapi.locations_query(),
    responses=openapi.locations_responses(),
)
async def find(request: Request) -> Response:
    return await run(request, lambda r: _answer(r, []))


@router.get(
    PREFIX + "/{path:anypath}",
    summary="Find a location by point, by query or by structured address (path forms)",
    description=openapi.LOCATIONS_PATH_DESCRIPTION,
    openapi_extra=openapi.locations_path(),
    responses=openapi.locations_responses(),
)
async def find_by_path(request: Request) -> Response:
    return await run(request, lambda r: _answer(r, _segments(r)))
