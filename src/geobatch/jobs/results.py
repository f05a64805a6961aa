"""Result files: a completed job's ``succeeded`` and ``failed`` rows in its upload's format.

The runner writes them when a job's last row is answered, before the job is marked Completed, so
a download streams a ready file; the job service renders a missing one on request (a job
completed by an older version, or whose rendering failed). Either way the bytes are the codec's
encoding of the stored rows, written under a temporary name and renamed into place, so two
renderings at once both leave a whole file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from geobatch.formats.batch import BatchCodec, Outcome
from geobatch.jobs.store import Job, JobStore


def render_result(
    store: JobStore, codec: BatchCodec, job: Job, outcome: Outcome, path: Path
) -> None:
    """Write ``job``'s ``outcome`` rows to ``path`` (raises FileNotFoundError when the job's
    results folder is removed meanwhile)."""
    assert job.header is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            codec.encode(out, job.header, store.result_rows(job.id, outcome), outcome)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
