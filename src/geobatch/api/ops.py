"""What operators ask of a service: ``/healthz`` (is the index there and the job runner alive)
and ``/metrics`` in the Prometheus text format (requests and their latency per API, jobs by
state, rows geocoded per second).

Request figures are counted by :class:`RequestMetrics`, a plain ASGI middleware (one dict update
and a bisect per request, no lock: the event loop runs it in one thread). The API label is the
route family, so the number of series stays small whatever paths clients send.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geobatch.api import openapi
from geobatch.index.format import data_set_files
from geobatch.jobs.store import JobStore

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAMILIES = (
    ("/rest/v1/dataflows", "bing_dataflow"),
    ("/rest/v1/locations", "bing_locations"),
    ("/nominatim", "nominatim"),
    ("/batch-", "geocode_farm"),
    ("/forward", "geocode_farm"),
    ("/reverse", "geocode_farm"),
    ("/healthz", "operations"),
    ("/metrics", "operations"),
)


def api_of(path: str) -> str:
    folded = "/" + path.lstrip("/").lower()
    for prefix, name in _FAMILIES:
        if folded.startswith(prefix):
            return name
    return "other"


@dataclass
class _Latency:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0


class RequestCounts:
    """Requests by API and status, and latency by API, since the server started."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.latency: dict[str, _Latency] = {}

    def observe(self, api: str, status: int, seconds: float) -> None:
        key = (api, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        latency = self.latency.get(api)
        if latency is None:
            latency = self.latency[api] = _Latency()
        latency.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        latency.total += seconds


class RequestMetrics:
    """ASGI middleware: count every HTTP request into ``counts``."""

    def __init__(self, app: ASGIApp, counts: RequestCounts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.counts.observe(api_of(scope["path"]), status, time.perf_counter() - started)


@dataclass
class RowRate:
    """Rows geocoded per second by the job runner, from the stored jobs' processed counts
    between two scrapes (the first scrape reports 0)."""

    last: tuple[float, int] | None = None

    def update(self, processed: int, now: float) -> float:
        rate = 0.0
        if self.last is not None and now > self.last[0]:
            rate = max(0, processed - self.last[1]) / (now - self.last[0])
        self.last = (now, processed)
        return rate


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


def render_metrics(
    metrics: RequestCounts, jobs: dict[str, tuple[int, int]], rows_per_second: float
) -> str:
    """The exposition text: counters, a latency histogram per API, and job gauges."""
    out = [
        "# HELP geobatch_http_requests_total HTTP requests answered, by API and status.",
        "# TYPE geobatch_http_requests_total counter",
    ]
    for (api, status), count in sorted(metrics.requests.items()):
        out.append(f"geobatch_http_requests_total{_labels(api=api, status=status)} {count}")
    out += [
        "# HELP geobatch_http_request_duration_seconds Time to answer a request, by API.",
        "# TYPE geobatch_http_request_duration_seconds histogram",
    ]
    name = "geobatch_http_request_duration_seconds"
    for api, latency in sorted(metrics.latency.items()):
        cumulative = 0
        for bound, count in zip((*BUCKETS, float("inf")), latency.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f"{name}_bucket{_labels(api=api, le=le)} {cumulative}")
        out.append(f"{name}_sum{_labels(api=api)} {latency.total:.6f}")
        out.append(f"{name}_count{_labels(api=api)} {cumulative}")
    out += [
        "# HELP geobatch_jobs Batch jobs in the store, by state.",
        "# TYPE geobatch_jobs gauge",
    ]
    for state, (count, _) in sorted(jobs.items()):
        out.append(f"geobatch_jobs{_labels(state=state)} {count}")
    processed = sum(rows for _, rows in jobs.values())
    out += [
        "# HELP geobatch_job_rows_processed Rows processed by the jobs in the store.",
        "# TYPE geobatch_job_rows_processed gauge",
        f"geobatch_job_rows_processed {processed}",
        "# HELP geobatch_job_rows_per_second Rows geocoded per second since the last scrape.",
        "# TYPE geobatch_job_rows_per_second gauge",
        f"geobatch_job_rows_per_second {rows_per_second:.3f}",
    ]
    return "\n".join(out) + "\n"


router = APIRouter(tags=["Operations"])


@router.get(
    "/healthz",
    summary="Health: index present, job runner alive, data directory writable",
    responses=openapi.health_responses(),
)
def healthz(request: Request) -> Response:
    state = request.app.state
    index_files = (
        data_set_files(state.settings.index_dir) if state.settings.index_dir.is_dir() else []
    )
    alive: Callable[[], bool] = state.runner_alive
    store: JobStore = state.service.store
    fault = store.disk.fault(write=True)
    body: dict[str, Any] = {
        "status": "ok",
        "index": f"{len(index_files)} data sets" if index_files else "no index",
        "runner": "alive" if alive() else "not running",
        "store": fault or "writable",
    }
    if not index_files or not alive() or fault is not None:
        body["status"] = "unavailable"
        return JSONResponse(body, 503)
    return JSONResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=openapi.metrics_responses(),
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    store: JobStore = state.service.store
    jobs = await run_in_threadpool(store.job_counts)
    rate = state.row_rate.update(sum(rows for _, rows in jobs.values()), time.monotonic())
    text = render_metrics(state.request_metrics, jobs, rate)
    return Response(text, media_type=METRICS_TYPE)
