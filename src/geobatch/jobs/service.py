"""The job service as the API sees it: one function per operation (create, status, result file,
list), each checking the key and the limits and raising a :mod:`geobatch.jobs.errors` error
whose message can be shown to the caller as it is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from geobatch.config import Settings
from geobatch.formats.batch import BatchCodec, Outcome
from geobatch.jobs import uploads
from geobatch.jobs.errors import BadJobRequest, JobNotFound
from geobatch.jobs.keys import authenticate, check_quota, usage_day
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.results import render_result
from geobatch.jobs.store import ApiKey, Charge, Job, JobLimitsCheck, JobStatus, JobStore

DAY = 86_400.0


def clean_up_after_crash(paths: DataPaths, store: JobStore) -> int:
    """Delete what a crash can leave behind: half-received bodies, and uploads whose job row was
    never inserted (create_job moves the upload into place before it inserts the row, so the
    runner never sees a job without its file). Returns the number of orphaned uploads deleted.

    Run at startup only, before requests are served: a create_job in progress has exactly such
    an upload for a moment.
    """
    paths.clear_incoming()
    orphans = [entry.name for entry in paths.uploads.iterdir() if store.get_job(entry.name) is None]
    for job_id in orphans:
        paths.remove_job_files(job_id)
    return len(orphans)


@dataclass(frozen=True, slots=True)
class NewJobRequest:
    """A create-job call, parsed: which codec, which input format, where the data comes from."""

    kind: str
    input_format: str
    description: str | None = None
    data_location: str | None = None


class JobService:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        codecs: Mapping[str, BatchCodec],
        on_new_job: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.codecs = codecs
        self.paths = DataPaths(settings.data_dir).create()
        self.on_new_job = on_new_job
        self.clock = clock

    def authenticate(self, secret: str | None) -> ApiKey:
        return authenticate(self.store, secret)

    # --- create ------------------------------------------------------------------------------

    def check_request(self, key: ApiKey, request: NewJobRequest) -> None:
        """Everything that can be refused before the body is read (cheap checks first)."""
        limit = self.settings.limits.max_description
        if request.description is not None and len(request.description) > limit:
            raise BadJobRequest(f"the description is longer than {limit} characters")
        if request.data_location is not None:
            if not self.settings.data_location_enabled:
                raise BadJobRequest(
                    "dataLocation is not enabled on this server; post the data in the body"
                )
            uploads.check_data_location(
                request.data_location,
                self.settings.data_location_hosts,
                self.settings.data_location_schemes,
            )
        now = self.clock()
        check_quota(self.store, key, now)
        # A key at its job limits is refused before its upload is received and unpacked; the
        # exact check is repeated with the insert (create_job), as two requests may race.
        self.store.check_job_limits(key.id, request.kind, self._limits_check(now))

    def _limits_check(self, now: float) -> JobLimitsCheck:
        limits = self.settings.limits
        return JobLimitsCheck(limits.max_pending_jobs, limits.max_jobs_per_day, now)

    async def submit(self, key: ApiKey, request: NewJobRequest, body: AsyncIterable[bytes]) -> Job:
        """Check, receive the body, and queue the job (the blocking parts run in a thread)."""
        await asyncio.to_thread(self.check_request, key, request)
        raw = await self.receive_body(body)
        return await asyncio.to_thread(self.create_job, key, request, raw)

    async def receive_body(self, body: AsyncIterable[bytes]) -> Path:
        """Stream a request body into the incoming folder; the caller passes it to create_job."""
        raw = self.paths.incoming / uuid.uuid4().hex
        await uploads.receive(body, raw, self.settings.limits.max_upload_bytes)
        return raw

    def create_job(self, key: ApiKey, request: NewJobRequest, raw: Path | None) -> Job:
        """Unpack the received body (or fetch ``dataLocation``) and queue the job, with the
        entities its upload holds set aside from the key's daily allowance (at most the
        entity limit of a job: more aborts it). Refused with :class:`OutOfCredits` (a
        :class:`LimitExceeded`) when the key has too few left.

        ``raw`` is the received body (possibly empty); it is consumed either way.
        """
        try:
            self.check_request(key, request)
            has_body = raw is not None and raw.stat().st_size > 0
            if request.data_location is not None:
                if has_body:
                    raise BadJobRequest(
                        "give the data either in the body or as dataLocation, not both"
                    )
                raw = self.paths.incoming / uuid.uuid4().hex
                uploads.fetch(
                    request.data_location,
                    raw,
                    self.settings.limits.max_upload_bytes,
                    deadline=self.settings.data_location_seconds,
                )
            elif not has_body:
                raise BadJobRequest(
                    "the request has no data: post the batch file as the request body"
                )
            assert raw is not None
            job_id = uuid.uuid4().hex
            upload = self.paths.upload(job_id)
            uploads.unpack(raw, upload, self.settings.limits.max_upload_bytes)
        finally:
            if raw is not None:
                raw.unlink(missing_ok=True)
        try:
            now = self.clock()
            job = self.store.create_job(
                job_id,
                key.id,
                request.kind,
                request.input_format,
                request.description,
                self._limits_check(now),
                self._reservation(key, request, upload, now),
            )
        except BaseException:
            upload.unlink(missing_ok=True)
            raise
        self.on_new_job()
        return job

    def _reservation(
        self, key: ApiKey, request: NewJobRequest, upload: Path, now: float
    ) -> Charge | None:
        """What to set aside of a limited key's allowance for an upload: as many entities as it
        can hold (a byte scan, about 1 ms per MB), at most as many as a job may have (more
        aborts the job). None for a key without a daily limit: nothing to count against."""
        if key.daily_limit is None:
            return None
        codec = self.codecs.get(request.kind)
        bound = 0  # no codec: nothing set aside now, the rows are covered as they are stored
        if codec is not None:
            with upload.open("rb") as stream:
                bound = codec.entity_bound(stream, request.input_format)
        credits = min(bound, self.settings.limits.max_entities)
        return Charge(key.id, usage_day(now), credits, key.daily_limit)

    # --- read --------------------------------------------------------------------------------

    def get_job(self, key: ApiKey, job_id: str, kind: str | None = None) -> Job:
        """The key's job (of ``kind``, when given: each API sees only its own jobs); another
        key's job is reported as not found, not as forbidden."""
        job = self.store.get_job(job_id.lower())
        if job is None or job.key_id != key.id or (kind is not None and job.kind != kind):
            raise JobNotFound(f"there is no job {job_id!r} for this key")
        return job

    def list_jobs(self, key: ApiKey, kind: str | None = None) -> list[Job]:
        since = self.clock() - self.settings.list_days * DAY
        return self.store.jobs_for_key(key.id, since, kind)

    def result_file(
        self, key: ApiKey, job_id: str, outcome: Outcome, kind: str | None = None
    ) -> tuple[Job, Path]:
        """The rendered ``succeeded`` or ``failed`` file of a completed job (written by the runner
        at completion; rendered here when missing).

        The file can be deleted by the sweep at any moment after this returns; to serve it,
        use :meth:`open_result`.
        """
        job = self.get_job(key, job_id, kind)
        if job.status is not JobStatus.COMPLETED:
            raise JobNotFound(f"job {job.id} has no results: its status is {job.status}")
        # Past expiry the results are gone even if the sweep has not run yet (it runs hourly).
        if job.purged or (job.expires is not None and job.expires <= self.clock()):
            raise self._expired(job)
        count = job.succeeded if outcome == "succeeded" else job.failed
        if count == 0:
            raise JobNotFound(f"job {job.id} has no {outcome} entities")
        path = self.paths.result_file(job.id, outcome)
        if not path.exists():
            try:
                self._render(job, outcome, path)
            except FileNotFoundError:
                raise self._expired(job) from None  # the sweep removed the results folder
        return job, path

    def open_result(
        self, key: ApiKey, job_id: str, outcome: Outcome, kind: str | None = None
    ) -> tuple[Job, BinaryIO]:
        """:meth:`result_file`, opened: an open file stays readable when the sweep deletes it,
        so a purge racing the download cannot turn into a server error. The caller closes it.
        """
        job, path = self.result_file(key, job_id, outcome, kind)
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise self._expired(job) from None
        # The sweep marks a job purged before it deletes its files: when it is not marked now,
        # the file just opened was rendered from the job's complete rows.
        current = self.store.get_job(job.id)
        if current is None or current.purged:
            stream.close()
            raise self._expired(job)
        return job, stream

    def _expired(self, job: Job) -> JobNotFound:
        return JobNotFound(
            f"the results of job {job.id} have expired "
            f"({self.settings.retention_days:g} days after completion)"
        )

    def _render(self, job: Job, outcome: Outcome, path: Path) -> None:
        codec = self.codecs.get(job.kind)
        if codec is None:
            raise JobNotFound(f"job {job.id} has no result files: it is a {job.kind} job")
        render_result(self.store, codec, job, outcome, path)
