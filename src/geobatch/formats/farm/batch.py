"""The batch replies: the immediate answer to a submission and the result URL's answer.

The job service owns the batch's life (ids, states, times, answers); these functions only shape
what it hands over into the bodies of the spec's samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from geobatch.formats.batch import BatchRow
from geobatch.formats.farm.envelope import (
    FarmEndpoint,
    FarmUser,
    JsonObject,
    format_timestamp,
    legal_section,
    status_section,
    user_section,
)
from geobatch.formats.farm.parse import ECHO_LAT, ECHO_LON, ECHO_REQUEST
from geobatch.formats.farm.results import batch_result
from geobatch.model import Answer

NO_RESULTS = "NO_RESULTS"
# How long results stay fetchable: Geocode.Farm's sample expires 72 hours after creation.
RESULT_RETENTION = timedelta(hours=72)


class BatchState(StrEnum):
    """``REQUEST.status`` of a batch."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class FarmBatchInfo:
    """What the job service knows of a batch that the REQUEST section shows. Times are UTC
    datetimes or Unix seconds (the job store's floats)."""

    batch_id: str
    endpoint: FarmEndpoint  # BATCH_FORWARD, or BATCH_REVERSE for our extension
    state: BatchState
    entities: int
    created: datetime | float
    expires: datetime | float


def result_url(base_url: str, endpoint: FarmEndpoint, batch_id: str, key: str) -> str:
    """``<base>/batch-forward/result/?id=<id>&key=<key>`` on our own server (``base_url`` is
    its public root, e.g. ``http://127.0.0.1:8080`` or ``https://geo.example.org/farm/``)."""
    query = urlencode({"id": batch_id, "key": key})
    return f"{base_url.rstrip('/')}/{endpoint}/result/?{query}"


def _request_section(batch: FarmBatchInfo) -> JsonObject:
    return {
        "status": str(batch.state),
        "entities": batch.entities,
        "created": format_timestamp(batch.created),
        "expires": format_timestamp(batch.expires),
    }


def render_submit_response(
    batch: FarmBatchInfo,
    user: FarmUser,
    *,
    base_url: str,
    credit_used: int | None = None,
) -> JsonObject:
    """The HTTP 200 reply to ``POST /batch-forward/``: LEGAL, STATUS (``credit_used`` defaults to
    the number of entities: credits are charged at submission), USER, and REQUEST with the
    ``result_url`` (carrying ``user.key``)."""
    request = _request_section(batch)
    request["result_url"] = result_url(base_url, batch.endpoint, batch.batch_id, user.key)
    return {
        "LEGAL": legal_section(),
        "STATUS": status_section(
            batch.endpoint, credit_used=batch.entities if credit_used is None else credit_used
        ),
        "USER": user_section(user, batch.endpoint),
        "REQUEST": request,
    }


def _echo(row: BatchRow) -> object:
    """The ``request`` of a RESULTS entry: the address exactly as submitted; for our reverse
    extension the coordinate pair as submitted, ``{"lat": "...", "lon": "..."}``."""
    if row.echo.keys() >= {ECHO_LAT, ECHO_LON} and ECHO_REQUEST not in row.echo:
        return {"lat": row.echo[ECHO_LAT], "lon": row.echo[ECHO_LON]}
    return row.echo.get(ECHO_REQUEST, "")


def result_entry(row: BatchRow, answer: Answer, *, include_accuracy: bool = False) -> JsonObject:
    """One ``{"request", "result"}`` of RESULTS. A row that could not be asked (a blank address),
    found nothing, or failed says ``"NO_RESULTS"``: the spec has no other per-row outcome."""
    best = answer.best if row.fault is None else None
    result: object = (
        NO_RESULTS if best is None else batch_result(best, include_accuracy=include_accuracy)
    )
    return {"request": _echo(row), "result": result}


def render_result_response(
    batch: FarmBatchInfo,
    rows: Iterable[tuple[BatchRow, Answer]] = (),
    *,
    include_accuracy: bool = False,
) -> JsonObject:
    """The reply of the result URL: LEGAL, STATUS (no ``credit_used``: polling is free), REQUEST
    (no ``result_url``), and — only when DONE — RESULTS in submission order (sorted by ``seq``
    here, so the store may hand rows over in any order). No USER section, as in the sample.

    ``rows`` is ignored unless the state is DONE. ``include_accuracy`` adds our ``accuracy``
    word to each result (not in the spec).
    """
    body: JsonObject = {
        "LEGAL": legal_section(),
        "STATUS": status_section(batch.endpoint),
        "REQUEST": _request_section(batch),
    }
    if batch.state is BatchState.DONE:
        ordered = sorted(rows, key=lambda pair: pair[0].seq)
        body["RESULTS"] = [
            result_entry(row, answer, include_accuracy=include_accuracy) for row, answer in ordered
        ]
    return body
