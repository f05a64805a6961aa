"""Disk faults at the edge: an error a route raised because the data directory cannot be used
(full, read-only, gone) is answered 503 with the reason, in each API's own error body."""

from __future__ import annotations

import logging

from starlette.requests import Request

from geobatch.jobs.diskcheck import disk_fault_of
from geobatch.jobs.errors import StoreUnavailable

log = logging.getLogger(__name__)


def store_unavailable(request: Request, exc: BaseException) -> StoreUnavailable | None:
    """The disk fault behind ``exc`` (an upload that hit a full disk, a refused store access),
    or None; logged as a warning with the reason."""
    service = getattr(request.app.state, "service", None)
    store = getattr(service, "store", None)
    fault = disk_fault_of(exc, getattr(store, "disk", None))
    if fault is not None:
        log.warning("%s %s refused: %s", request.method, request.url.path, fault)
    return fault
