"""The FastAPI application: the job service started and stopped with the server, Bing routes
matched case-insensitively with errors in the Bing envelope, and the Geocode.Farm routes (whose
errors are answered in its own envelope, see :mod:`geobatch.api.farm_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from geobatch import __version__
from geobatch.api import bing, farm, locations, nominatim, openapi, ops, web
from geobatch.api.access import preload
from geobatch.api.faults import store_unavailable
from geobatch.api.params import output_format_or_json
from geobatch.config import Settings
from geobatch.errors import GeobatchError, InputError
from geobatch.formats.batch import BatchCodec
from geobatch.formats.bing import BingCodec, render_error
from geobatch.formats.csvbatch import PlainCsvCodec
from geobatch.jobs.errors import JobNotFound, LimitExceeded, NotAuthenticated, StoreUnavailable
from geobatch.jobs.farm import FarmService
from geobatch.jobs.kinds import CSV
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.process import RunnerProcess
from geobatch.jobs.runner import ExecutorFactory
from geobatch.jobs.service import JobService, clean_up_after_crash
from geobatch.jobs.single import SingleService
from geobatch.jobs.store import JobStore
from geobatch.web.page import make_router as web_page_router

log = logging.getLogger(__name__)

REST_PREFIX = "/rest/"
# A query parameter: its name (possibly percent-encoded, "k%65y") and its value.
_QUERY_PARAM = re.compile(r"([?&])([^=&\s\"]*)=([^&\s\"]*)")


def _redact(text: str) -> str:
    """Blank every parameter whose *decoded* name is ``key`` (any case, any encoding)."""

    def hide(m: re.Match[str]) -> str:
        name = urllib.parse.unquote_plus(m.group(2)).strip().lower()
        return f"{m.group(1)}{m.group(2)}=***" if name == "key" else m.group(0)

    return _QUERY_PARAM.sub(hide, text)


class RedactKeys(logging.Filter):
    """Keep API keys out of the access log: they travel in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _redact(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


class LowercasePaths:
    """Bing paths are case-insensitive (spec §2.1): lower-case them, and drop a trailing slash.

    Only paths under /REST/ change, so /docs and /openapi.json stay as FastAPI serves them.
    Job ids are lower-case hex, so lower-casing them is harmless.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("//"):  # a client's base URL ending in "/" (geopy's domain)
                path = "/" + path.lstrip("/")
                scope = dict(scope, path=path)
            if path.lower().startswith(REST_PREFIX):
                scope = dict(scope, path=path.lower().rstrip("/"))
        await self.app(scope, receive, send)


def _error(request: Request, status_code: int, message: str, auth: str | None = None) -> Response:
    fmt = getattr(request.state, "fmt", None) or output_format_or_json(request)
    body, media_type = render_error(
        status_code, [message], fmt, bing.trace_id(), authentication=auth
    )
    return Response(body, status_code, media_type=media_type)


def _status_of(exc: GeobatchError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, JobNotFound):
        return 404
    if isinstance(exc, LimitExceeded | StoreUnavailable):
        return 503
    if isinstance(exc, InputError):
        return 400
    return 500


def _install_error_handlers(app: FastAPI) -> None:
    async def on_geobatch_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GeobatchError)
        status = _status_of(exc)
        if status == 500:
            log.error("request failed: %s", exc)
        if isinstance(exc, StoreUnavailable):
            store_unavailable(request, exc)  # logs it
        auth = exc.reason if isinstance(exc, NotAuthenticated) else None
        response = _error(request, status, str(exc), auth)
        if isinstance(exc, StoreUnavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {
            404: f"there is no resource at {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        response = _error(request, exc.status_code, message)
        response.headers.update(exc.headers or {})  # 405 carries Allow
        return response

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        return _error(request, 400, f"the request is not valid: {exc}")

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        # The client hung up mid-upload: not a server fault, and nobody is left to answer (the
        # partial body was already removed by uploads.receive). Registered for this class, not
        # Exception, so Starlette ends the request here rather than re-raising to the server,
        # which would log a traceback.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=400)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        fault = store_unavailable(request, exc)
        if fault is not None:
            response = _error(request, 503, str(fault))
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        log.exception("unexpected error on %s", request.url.path)
        return _error(request, 500, "the server could not complete the request")

    app.add_exception_handler(GeobatchError, on_geobatch_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(Exception, on_unexpected)


RUNNER_CHECK_SECONDS = 2.0


async def _supervise(runner: RunnerProcess) -> None:
    """Restart the job runner if it dies while the server runs (in the event loop's thread,
    which lives as long as the server, as :meth:`RunnerProcess.start` needs)."""
    while True:
        await asyncio.sleep(RUNNER_CHECK_SECONDS)
        runner.ensure_running()


def create_app(
    settings: Settings,
    *,
    codecs: Mapping[str, BatchCodec] | None = None,
    executor_factory: ExecutorFactory | None = None,
) -> FastAPI:
    """The server application; the job runner works in a child process while the application is
    up (``executor_factory``, if given, must be picklable: it is sent to that process)."""
    codecs = codecs or {
        bing.KIND: BingCodec(excel_safe=settings.excel_safe),
        CSV: PlainCsvCodec(excel_safe=settings.excel_safe),
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        paths = DataPaths(settings.data_dir).create()
        store = JobStore(paths.database, settings.min_free_mb)
        clean_up_after_crash(paths, store)  # before any request: nothing is in flight yet
        runner = RunnerProcess(settings, codecs, executor_factory)
        app.state.settings = settings
        app.state.service = JobService(store, settings, codecs, on_new_job=runner.wake)
        app.state.farm = farm_service = FarmService(store, settings, on_new_job=runner.wake)
        # One geocoder for every single-request API: the index is loaded once per server.
        app.state.single = SingleService(store, settings, farm_service._single_geocoder)
        app.state.runner_alive = runner.is_alive
        if settings.preload:
            preload(app.state.single.geocoder)
        logging.getLogger("uvicorn.access").addFilter(RedactKeys())
        runner.start()
        supervisor = asyncio.create_task(_supervise(runner))
        try:
            yield
        finally:
            supervisor.cancel()
            runner.stop()
            store.close()

    app = FastAPI(
        title="geobatch",
        summary="Self-hosted geocoding: drop-in Bing Maps Geocode Dataflow, Bing Maps REST "
        "Locations, Geocode.Farm and Nominatim APIs.",
        version=__version__,
        lifespan=lifespan,
    )
    app.include_router(bing.router)
    app.include_router(farm.router)
    app.include_router(web.router)
    app.include_router(web_page_router())
    app.include_router(locations.router)
    app.include_router(nominatim.router)
    app.include_router(ops.router)
    openapi.finish_document(app)
    _install_error_handlers(app)
    app.add_middleware(LowercasePaths)
    app.state.request_metrics = counts = ops.RequestCounts()
    app.state.row_rate = ops.RowRate()
    app.add_middleware(ops.RequestMetrics, counts=counts)
    return app
