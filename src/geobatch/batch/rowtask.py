"""The job service's task: a block of a job's stored rows in, the store's records of their
answers out. Runs in a worker process (local or on a Dask worker), so the coordinator — the
job runner — only moves JSON text between the store and the executor.

Rows and answers travel as the JSON the store keeps (:mod:`geobatch.formats.serialize`); the
task decides each row's outcome with the job's codec rule, so the records go into the store
as they come back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geobatch.batch.worker import IndexLocation, answer, geocoder_for
from geobatch.formats.batch import BatchRow, Outcome
from geobatch.formats.serialize import answer_to_dict, row_from_dict
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

OutcomeRule = Callable[[BatchRow, Answer], Outcome]
StoredRow = tuple[int, str]  # seq, the row as the store's JSON
RowRecord = tuple[int, str, Outcome]  # seq, the answer as the store's JSON, its outcome


def stored_row_outcome(row: BatchRow, answer: Answer) -> Outcome:
    """The outcome of a row of a job without a codec: succeeded when it has a result."""
    return "succeeded" if row.fault is None and answer.best is not None else "failed"


def dumps(data: Any) -> str:
    """JSON as the store keeps it: compact, UTF-8 text."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RowsSpec:
    """What every task of a job shares (``outcome`` must pickle: a codec's bound method, or a
    top-level function)."""

    index: IndexLocation
    outcome: OutcomeRule = stored_row_outcome


def answer_rows(spec: RowsSpec, stored: Sequence[StoredRow]) -> list[RowRecord]:
    """Geocode stored rows; one record per row, in the order given."""
    rows = [row_from_dict(json.loads(text)) for _, text in stored]
    forward = [r.request for r in rows if _wants(r, GeocodeRequest) and r.request is not None]
    reverse = [r.request for r in rows if _wants(r, ReverseRequest) and r.request is not None]
    geocoder = geocoder_for(spec.index) if forward or reverse else None
    forward_answers = iter(answer(geocoder, "forward", forward) if geocoder and forward else [])
    reverse_answers = iter(answer(geocoder, "reverse", reverse) if geocoder and reverse else [])
    records: list[RowRecord] = []
    for row in rows:
        if _wants(row, GeocodeRequest):
            result = next(forward_answers)
        elif _wants(row, ReverseRequest):
            result = next(reverse_answers)
        else:
            reason = row.fault or "the entity holds no request"
            result = Answer(status=ResultStatus.FAILED, reason=reason)
        records.append((row.seq, dumps(answer_to_dict(result)), spec.outcome(row, result)))
    return records


def _wants(row: BatchRow, kind: type[GeocodeRequest] | type[ReverseRequest]) -> bool:
    return row.fault is None and isinstance(row.request, kind)
