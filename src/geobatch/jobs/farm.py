"""The job service as the Geocode.Farm API sees it: submit a batch (paid for at once), read a
batch's state and results, answer the single forward and reverse calls, and describe the key's
account for the USER section.

Batches share the store, the runner and the keys with the Bing API. A batch arrives as decoded
rows, so it is stored whole together with its charge in one transaction (see
:meth:`JobStore.create_stored_job`): counters stay exact under concurrent submissions.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from geobatch.batch import worker
from geobatch.config import Settings
from geobatch.errors import GeobatchError
from geobatch.formats.batch import BatchRow
from geobatch.formats.farm import BatchState, FarmBatchInfo, FarmEndpoint, FarmSubmission, FarmUser
from geobatch.jobs.errors import JobNotFound
from geobatch.jobs.keys import authenticate, usage_day
from geobatch.jobs.kinds import FARM
from geobatch.jobs.store import ApiKey, Charge, Job, JobStatus, JobStore, StoredJob
from geobatch.model import Answer, GeocodeRequest, ReverseRequest

HOUR = 3600.0
API_DETAIL = "api"  # BatchHeader.details key naming the endpoint a batch was sent to

_STATES = {
    JobStatus.PENDING: BatchState.PENDING,
    JobStatus.PROCESSING: BatchState.PROCESSING,
    JobStatus.COMPLETED: BatchState.DONE,
}


class BatchFailed(GeobatchError):
    """The batch could not be processed: our fault (the API answers 500)."""


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch as the result URL shows it; ``rows`` only when DONE."""

    info: FarmBatchInfo
    rows: list[tuple[BatchRow, Answer]]


class FarmService:
    """Geocode.Farm operations over the job store. The geocoder for the single calls is opened
    on first use, once per process (the runner's workers hold their own)."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        on_new_job: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_new_job = on_new_job
        self.clock = clock
        self._geocoder: worker.BatchGeocoder | None = None
        self._opening = threading.Lock()

    # --- accounts ----------------------------------------------------------------------------

    def user(self, secret: str, key: ApiKey | None = None) -> FarmUser:
        """The USER facts of a key (authenticated here unless ``key`` is given)."""
        key = key or authenticate(self.store, secret)
        used = self.store.usage(key.id, usage_day(self.clock()))
        return FarmUser(secret, key.name, key.email, key.daily_limit, used)

    def user_if_valid(self, secret: str | None) -> FarmUser | None:
        """The USER facts for an error body, or None when the key is missing or not valid."""
        if not secret:
            return None
        try:
            return self.user(secret)
        except GeobatchError:
            return None

    def _charge(self, key: ApiKey, credits: int) -> Charge:
        return Charge(key.id, usage_day(self.clock()), credits, key.daily_limit)

    # --- batches -----------------------------------------------------------------------------

    def submit(self, submission: FarmSubmission) -> tuple[FarmBatchInfo, FarmUser]:
        """Authenticate, charge one credit per entity and queue the batch — all or nothing.

        Raises NotAuthenticated (401) or OutOfCredits (402) before anything is stored.
        """
        key = authenticate(self.store, submission.key)
        now = self.clock()
        stored = StoredJob(
            id=uuid.uuid4().hex,
            key_id=key.id,
            kind=FARM,
            header=submission.header,
            rows=submission.batch_rows,
            created=now,
            expires=now + self.settings.farm_expiry_hours * HOUR,
        )
        job, used = self.store.create_stored_job(stored, self._charge(key, submission.entities))
        self.on_new_job()
        user = FarmUser(submission.key, key.name, key.email, key.daily_limit, used)
        return self._info(job, submission.endpoint, BatchState.PENDING), user

    def batch(self, secret: str, batch_id: str, endpoint: FarmEndpoint) -> BatchView:
        """A batch of this key sent to ``endpoint``, with its results once DONE. Polling is free.

        Another key's batch, or one sent to the other endpoint, is not found (404).
        """
        key = authenticate(self.store, secret)
        job = self._job(key, batch_id, endpoint)
        state = self._state(job)
        rows: list[tuple[BatchRow, Answer]] = []
        if state is BatchState.DONE:
            rows = self.store.answered_rows(job.id)
            if len(rows) < job.total:  # the sweep deleted them since the job was read
                state, rows = BatchState.EXPIRED, []
        return BatchView(self._info(job, endpoint, state), rows)

    def _job(self, key: ApiKey, batch_id: str, endpoint: FarmEndpoint) -> Job:
        job = self.store.get_job(batch_id.strip().lower()) if batch_id.strip() else None
        if (
            job is None
            or job.key_id != key.id
            or job.kind != FARM
            or job.header is None
            or job.header.details.get(API_DETAIL) != str(endpoint)
        ):
            raise JobNotFound(f"there is no {endpoint} batch {batch_id!r} for this key")
        return job

    def _state(self, job: Job) -> BatchState:
        if job.purged or (job.expires is not None and self.clock() >= job.expires):
            return BatchState.EXPIRED
        state = _STATES.get(job.status)
        if state is None:
            raise BatchFailed(
                f"batch {job.id} could not be processed: {job.error_message or 'unknown error'}"
            )
        return state

    @staticmethod
    def _info(job: Job, endpoint: FarmEndpoint, state: BatchState) -> FarmBatchInfo:
        assert job.expires is not None
        return FarmBatchInfo(job.id, endpoint, state, job.total, job.created, job.expires)

    # --- single calls ------------------------------------------------------------------------

    def forward(self, secret: str, request: GeocodeRequest) -> tuple[Answer, FarmUser]:
        return self._single(secret, lambda g: g.geocode_batch([request])[0])

    def reverse(self, secret: str, request: ReverseRequest) -> tuple[Answer, FarmUser]:
        return self._single(secret, lambda g: g.reverse_batch([request])[0])

    def _single(
        self, secret: str, ask: Callable[[worker.BatchGeocoder], Answer]
    ) -> tuple[Answer, FarmUser]:
        """Charge one credit, ask, and give the credit back when nothing was found (Geocode.Farm
        reports ``credit_used: 0`` then). Returns the answer and the USER facts after it."""
        key = authenticate(self.store, secret)
        charge = self._charge(key, 1)
        used = self.store.charge(charge)
        try:
            answer = ask(self._single_geocoder())
        except BaseException:
            self.store.add_usage(key.id, charge.day, -1)
            raise
        if answer.best is None:
            self.store.add_usage(key.id, charge.day, -1)
            used -= 1
        return answer, FarmUser(secret, key.name, key.email, key.daily_limit, used)

    def _single_geocoder(self) -> worker.BatchGeocoder:
        with self._opening:
            if self._geocoder is None:
                self._geocoder = worker.open_geocoder(self.settings.index_dir)
            return self._geocoder
