"""Errors on the Geocode.Farm routes, answered in Geocode.Farm's envelope rather than Bing's.

The routes use :class:`FarmRoute`, which catches whatever a route raises and maps it to the
spec's status codes: 400 bad input, 401 key missing or not valid, 402 no credits left, 404 no
such batch, 500 our fault; and 503 (not in the spec, which documents no outage) while the data
directory cannot be used (full, read-only, gone), with the reason and a Retry-After header.
The error body carries USER when the request's key is valid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from geobatch.api.faults import store_unavailable
from geobatch.errors import GeobatchError, InputError
from geobatch.formats.farm import FarmEndpoint, FarmError, JsonObject, encode_json, render_error
from geobatch.jobs.errors import JobNotFound, LimitExceeded, NotAuthenticated, StoreUnavailable
from geobatch.jobs.farm import FarmService

log = logging.getLogger(__name__)

JSON = "application/json"
INTERNAL_MESSAGE = "An unexpected error occurred. Contact support if issue persists."


def json_response(body: JsonObject, status_code: int = 200) -> Response:
    return Response(encode_json(body), status_code, media_type=JSON)


def status_of(exc: Exception) -> int:
    if isinstance(exc, StoreUnavailable):
        return 503
    if isinstance(exc, FarmError):
        return exc.status_code
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, LimitExceeded):
        return 402
    if isinstance(exc, JobNotFound):
        return 404
    if isinstance(exc, InputError):
        return 400
    return 500


def _key_of(request: Request, exc: Exception) -> str | None:
    """The key the request carried: read from the body by the parser, else the query string."""
    if isinstance(exc, FarmError) and exc.key:
        return exc.key
    key: str | None = getattr(request.state, "farm_key", None)
    return key or request.query_params.get("key")


def _error_response(request: Request, exc: Exception, endpoint: FarmEndpoint) -> Response:
    exc = store_unavailable(request, exc) or exc
    status = status_of(exc)
    if status == 500:
        log.error("%s failed", request.url.path, exc_info=exc)
    message = str(exc) if isinstance(exc, GeobatchError) else INTERNAL_MESSAGE
    user = None
    if status not in (401, 503):  # no USER when the store cannot be read
        farm: FarmService = request.app.state.farm
        user = farm.user_if_valid(_key_of(request, exc))
    response = json_response(render_error(status, message, endpoint=endpoint, user=user), status)
    if isinstance(exc, StoreUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def endpoint_of(path: str) -> FarmEndpoint:
    """The call a route path belongs to: its first segment (``/batch-forward/result/``)."""
    return FarmEndpoint(path.strip("/").split("/", 1)[0])


class FarmRoute(APIRoute):
    """An API route whose errors are answered in the Geocode.Farm envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = endpoint_of(self.path)

        async def farm_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ClientDisconnect:
                raise  # nobody to answer: the application's handler ends it quietly
            except Exception as exc:
                return await run_in_threadpool(_error_response, request, exc, endpoint)

        return farm_handler
