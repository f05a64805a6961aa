"""What the single-request routes share: the caller's key (``key`` query parameter, any case,
or an ``X-Api-Key`` header), the client's address, the service, and the engine's answer turned
into results or an error."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from geobatch.jobs.single import Caller, SingleService
from geobatch.model import Answer, GeocodeResult, ResultStatus

log = logging.getLogger(__name__)

KEY_HEADER = "x-api-key"
# The engine says so when a row raised inside it (geobatch.geocode.geocoder): our fault, a 500.
INTERNAL_REASON = "internal error"


class EngineFailed(Exception):
    """The engine raised on this request: answered 500."""


def request_key(request: Request) -> str | None:
    for name, value in request.query_params.multi_items():
        if name.lower() == "key" and value.strip():
            return value.strip()
    header = request.headers.get(KEY_HEADER, "").strip()
    return header or None


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def single_service(request: Request) -> SingleService:
    service: SingleService = request.app.state.single
    return service


def admit(request: Request) -> Caller:
    return single_service(request).admit(request_key(request), client_address(request))


def results_of(answer: Answer) -> list[GeocodeResult]:
    """The results of an answer; a request the engine could not read (no words to look up,
    say) has none, as in a batch; an engine fault raises :class:`EngineFailed`."""
    if answer.status is ResultStatus.FAILED:
        if answer.reason.startswith(INTERNAL_REASON):
            log.error("single request failed: %s", answer.reason)
            raise EngineFailed(answer.reason)
        return []
    return list(answer.results)


async def run(request: Request, answer: Callable[[Request], Response]) -> Response:
    """Answer a single request in the event loop: it takes well under a millisecond of work
    (key check, quota, engine), less than handing it to a thread would cost. Until the index
    is loaded that would block the server for seconds: then a thread does it."""
    if single_service(request).ready:
        return answer(request)
    return await run_in_threadpool(answer, request)


def preload(open_geocoder: Callable[[], object]) -> None:
    """Open the single-request geocoder in a background thread (the server starts at once; a
    request arriving meanwhile waits for the same load instead of starting another)."""

    def load() -> None:
        started = time.perf_counter()
        try:
            open_geocoder()
        except Exception as exc:  # the requests will report it; the server keeps running
            log.warning("could not load the index for single requests: %s", exc)
            return
        log.info("index loaded for single requests in %.1f s", time.perf_counter() - started)

    threading.Thread(target=load, name="geobatch-preload", daemon=True).start()
