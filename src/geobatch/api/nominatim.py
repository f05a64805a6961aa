"""A Nominatim-compatible API under ``/nominatim`` (``../shared/spec/nominatim-api.md``):
``/search`` (free text or structured), ``/reverse`` (with ``zoom``) and ``/status``, in the
formats json, jsonv2, geojson, geocodejson and xml; the ``.php`` names are answered too.

Under a prefix because ``/reverse`` at the root is Geocode.Farm's call; Nominatim clients take a
base URL with a path (geopy: ``Nominatim(domain="host:8080/nominatim")``). ``/lookup`` is not
offered: it looks places up by OSM id, and the index keeps none.

Same keys, quotas and rate limits as the other APIs; a request without a key is served only
when the server runs with open access (as a public Nominatim), limited per client address.
Errors: 400 bad parameter, 401 key missing or not valid, 402 daily quota used up, 429 too many
requests (``Retry-After``), 500 our fault — in the body format the request asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from geobatch import __version__
from geobatch.api import openapi
from geobatch.api.access import EngineFailed, admit, results_of, run, single_service
from geobatch.errors import InputError
from geobatch.formats.nominatim import (
    NominatimError,
    Rendered,
    filter_results,
    output_format,
    parse_reverse,
    parse_search,
    pick_reverse,
    render_error,
    render_reverse,
    render_search,
    render_status,
)
from geobatch.jobs.errors import NotAuthenticated, StoreUnavailable
from geobatch.jobs.ratelimit import retry_after
from geobatch.jobs.single import QuotaExceeded, RateLimited

log = logging.getLogger(__name__)

PREFIX = "/nominatim"
CORS = {"Access-Control-Allow-Origin": "*"}
DEFAULT_FORMATS = {"search": "jsonv2", "reverse": "xml", "status": "text"}


def _send(rendered: Rendered, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(rendered.body, status, {**CORS, **(headers or {})}, rendered.media_type)


def _params(request: Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, value)
    return values


def _error_format(request: Request) -> str | None:
    endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".php")
    try:
        return output_format(_params(request), DEFAULT_FORMATS.get(endpoint, "jsonv2"))
    except NominatimError:
        return None


def _error_response(request: Request, exc: Exception) -> Response:
    headers: dict[str, str] = {}
    fmt = _error_format(request)
    if isinstance(exc, NominatimError):
        status, fmt = exc.status, exc.fmt
    elif isinstance(exc, NotAuthenticated):
        status = 401
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
        exc = Exception("Internal Server Error")
    return _send(render_error(status, str(exc), fmt), status, headers)


class NominatimRoute(APIRoute):
    """A route whose errors are answered as Nominatim answers them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def nominatim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ClientDisconnect:
                raise
            except Exception as exc:
                return _error_response(request, exc)  # no I/O: in the event loop

        return nominatim_handler


router = APIRouter(prefix=PREFIX, route_class=NominatimRoute, tags=["Nominatim"])


def _route(path: str, summary: str, description: str, extra: dict[str, Any]) -> Callable[..., Any]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        responses = openapi.nominatim_responses(path)
        router.add_api_route(
            path,
            func,
            methods=["GET"],
            summary=summary,
            description=description,
            openapi_extra=extra,
            responses=responses,
        )
        router.add_api_route(path + ".php", func, methods=["GET"], include_in_schema=False)
        return func

    return register


@_route(
    "/search",
    "Search by free text or by address parts",
    openapi.SEARCH_DESCRIPTION,
    openapi.nominatim_search(),
)
async def search(request: Request) -> Response:
    return await run(request, _search)


def _search(request: Request) -> Response:
    caller = admit(request)
    asked = parse_search(_params(request))
    results = []
    if asked.request is not None:
        answer = single_service(request).forward(caller, asked.request)
        results = filter_results(asked, results_of(answer))
    return _send(render_search(asked, results))


@_route(
    "/reverse", "The address of a point", openapi.REVERSE_DESCRIPTION, openapi.nominatim_reverse()
)
async def reverse(request: Request) -> Response:
    return await run(request, _reverse)


def _reverse(request: Request) -> Response:
    caller = admit(request)
    asked = parse_reverse(_params(request))
    found = None
    if asked.request is not None:
        answer = single_service(request).reverse(caller, asked.request)
        found = pick_reverse(asked, results_of(answer))
    return _send(render_reverse(asked.common, found))


@_route(
    "/status",
    "Whether the service can answer",
    openapi.STATUS_DESCRIPTION,
    openapi.nominatim_status(),
)
def status(request: Request) -> Response:
    fmt = _params(request).get("format", "text").strip().lower() or "text"
    if fmt not in ("text", "json"):
        raise NominatimError("Parameter 'format' must be one of: text, json", fmt=None)
    index_dir: Path = request.app.state.settings.index_dir
    updated = _index_updated(index_dir)
    ok = updated is not None
    message = "OK" if ok else f"no index at {index_dir}"
    return _send(
        render_status(fmt, ok, message, updated, f"geobatch {__version__}"),
        200 if ok or fmt == "json" else 500,
    )


def _index_updated(index_dir: Path) -> datetime | None:
    """When the index last changed (its newest file), or None when there is no index."""
    try:
        times = [p.stat().st_mtime for p in index_dir.iterdir() if p.is_file()]
    except OSError:
        return None
    return datetime.fromtimestamp(max(times), UTC) if times else None
