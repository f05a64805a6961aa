"""The background job processor: decode each upload once into stored rows, geocode the rows in
chunks, and sweep expired results.

Both phases resume after a crash. Decoding stores rows with INSERT OR IGNORE on (job, seq), so a
re-run of an interrupted decode stores nothing twice; geocoding picks up the rows that have no
answer yet, and each chunk's answers and counts are committed together. A file that cannot be
read at all aborts its job with the reason and keeps no rows: never a silently partial result.

Jobs run one at a time, oldest first; the parallelism is inside a job (the executor's pool).
The server runs the runner in a process of its own (:mod:`geobatch.jobs.process`); tests call
:meth:`JobRunner.run_once` inline.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Protocol

from geobatch.config import Settings
from geobatch.errors import InputError
from geobatch.formats.batch import BatchCodec, BatchRow, Outcome
from geobatch.jobs.executor import Kind, LocalExecutor, Request, chunked
from geobatch.jobs.keys import usage_day
from geobatch.jobs.kinds import PREPAID_KINDS, stored_row_outcome
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.results import render_result
from geobatch.jobs.store import Job, JobStore, RowAnswer
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

log = logging.getLogger(__name__)

DAY = 86_400.0
RETRY_SECONDS = 10.0  # after an unexpected error (index unusable, disk full) try again later


class ChunkExecutor(Protocol):
    """What the runner needs of an executor (:class:`LocalExecutor` fits)."""

    def __enter__(self) -> ChunkExecutor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def map_chunks(
        self, kind: Kind, chunks: Iterable[list[Request]]
    ) -> Generator[list[Answer], None, None]: ...


class Flag(Protocol):
    """An event the runner waits on: ``threading.Event``, or ``multiprocessing.Event`` when the
    runner works in another process than the one that wakes and stops it."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


ExecutorFactory = Callable[[], ChunkExecutor]
OutcomeOf = Callable[[BatchRow, Answer], Outcome]


def local_executor_factory(settings: Settings) -> ExecutorFactory:
    def factory() -> ChunkExecutor:
        return LocalExecutor(settings.index_dir, settings.workers)

    return factory


class TooManyEntities(InputError):
    pass


# A job failing this many times in a row on the server's side is aborted.
MAX_JOB_ATTEMPTS = 5
# A job during which the runner process died this many times (killed for memory, crashed) is
# aborted: its server restarts the runner, which would otherwise take the same job up again,
# for ever, and the jobs queued behind it would never run. Counted in the store, so it holds
# across runner and server restarts.
MAX_RUNNER_DEATHS = 3


class JobRunner:
    """Process jobs from ``store``: :meth:`run_forever` until stopped (:meth:`start` does that in
    a thread), or :meth:`run_once` inline.

    ``wake`` and ``stopping`` are the events :meth:`wake` and :meth:`stop` set; pass
    ``multiprocessing`` events to wake and stop a runner working in another process.
    """

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        codecs: Mapping[str, BatchCodec],
        executor_factory: ExecutorFactory | None = None,
        clock: Callable[[], float] = time.time,
        *,
        wake: Flag | None = None,
        stopping: Flag | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.paths = DataPaths(settings.data_dir).create()
        self.codecs = codecs
        self.executor_factory = executor_factory or local_executor_factory(settings)
        self.clock = clock
        self._wake: Flag = threading.Event() if wake is None else wake
        self._stopping: Flag = threading.Event() if stopping is None else stopping
        self._thread: threading.Thread | None = None
        self._executor: ChunkExecutor | None = None
        self._last_sweep = 0.0
        self._failures: dict[str, int] = {}  # job id → consecutive server-side failures

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="geobatch-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was created: look for work now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the chunk in hand and stop; an unfinished job resumes at the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Shut the executor's pool down (after :meth:`run_forever` has returned)."""
        self._close_executor()

    def run_forever(self) -> None:
        """Work until stopped: jobs as they come (woken by :meth:`wake`), the sweep when due."""
        while not self._stopping.is_set():
            try:
                self.sweep_if_due()
                worked = self.run_once()
            except Exception:
                log.exception("job runner error; retrying in %.0f s", RETRY_SECONDS)
                self._wake.wait(RETRY_SECONDS)
                self._wake.clear()
                continue
            if not worked:
                self._wake.wait(min(self.settings.sweep_seconds, 60.0))
                self._wake.clear()

    def _executor_open(self) -> ChunkExecutor:
        # Opened on first need and kept: each worker loads the index once, not once per job.
        if self._executor is None:
            self._executor = self.executor_factory().__enter__()
        return self._executor

    def _close_executor(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.__exit__(None, None, None)

    # --- work --------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Process every active job (oldest first); False when there was none.

        A job that keeps failing on the server's side (its file unreadable, the disk full) is
        retried a few times, then aborted with the reason: it must not hold up the jobs queued
        behind it forever.
        """
        jobs = self.store.active_jobs()
        for job in jobs:
            if self._stopping.is_set():
                break
            try:
                self.process(job)
            except (sqlite3.Error, OSError) as exc:
                tries = self._failures.get(job.id, 0) + 1
                self._failures[job.id] = tries
                log.exception("job %s failed (attempt %d of %d)", job.id, tries, MAX_JOB_ATTEMPTS)
                if tries >= MAX_JOB_ATTEMPTS:
                    self._failures.pop(job.id, None)
                    self._abort(job, f"the server could not process this job: {exc}")
        return bool(jobs)

    def process(self, job: Job) -> None:
        """Decode the job's file if it has one (by its kind's codec), then geocode its rows.

        A job created with its rows already stored (a Geocode.Farm batch) needs no codec.
        An attempt that never returns here (the process died) is counted in the store.
        """
        deaths = self.store.enter_job(job.id)
        if deaths >= MAX_RUNNER_DEATHS:
            self._abort(
                job,
                f"the job runner stopped {deaths} times while working on this job (out of "
                "memory, or a crash); it is not tried again: split it into smaller jobs, or "
                "tell the server's operator",
            )
            self.store.leave_job(job.id)
            return
        try:
            self._process(job)
        finally:
            self.store.leave_job(job.id)

    def _process(self, job: Job) -> None:
        codec = self.codecs.get(job.kind)
        if codec is None and not job.decoded:
            self._abort(job, f"this server has no codec for {job.kind!r} jobs")
            return
        if not job.decoded and codec is not None and not self._decode(job, codec):
            return
        self.store.start_processing(job.id)
        job = self.store.get_job(job.id) or job
        self._geocode(job, stored_row_outcome if codec is None else codec.outcome)
        if self._stopping.is_set() or self.store.count_unanswered(job.id) != 0:
            return
        if codec is not None and not self._render_results(job.id, codec):
            return
        now = self.clock()
        self.store.complete(job.id, now, now + self.settings.retention_days * DAY)
        log.info("job %s completed", job.id)

    def _render_results(self, job_id: str, codec: BatchCodec) -> bool:
        """Write the finished job's result files, so its downloads stream ready files; False
        when stopping (the job completes after the restart).

        A file that cannot be written now (the disk full) is left out: the download renders
        it on request, as it would any missing file, rather than the job failing.
        """
        job = self.store.get_job(job_id)
        if job is None:
            return False
        counts: tuple[tuple[Outcome, int], ...] = (
            ("succeeded", job.succeeded),
            ("failed", job.failed),
        )
        for outcome, count in counts:
            if self._stopping.is_set():
                return False
            if count == 0:
                continue
            try:
                render_result(
                    self.store, codec, job, outcome, self.paths.result_file(job.id, outcome)
                )
            except Exception:
                log.exception("job %s: the %s file could not be written now", job.id, outcome)
        return True

    def _abort(self, job: Job, message: str) -> None:
        now = self.clock()
        self.store.abort(job.id, message, now, now + self.settings.retention_days * DAY)
        self.paths.remove_job_files(job.id)
        log.info("job %s aborted: %s", job.id, message)

    def _decode(self, job: Job, codec: BatchCodec) -> bool:
        """Store every row of the upload; True when done, False when aborted or stopping."""
        upload = self.paths.upload(job.id)
        limit = self.settings.limits.max_entities
        try:
            with upload.open("rb") as stream:
                batch = codec.decode(stream, job.input_format)
                self.store.start_decode(job.id, batch.header)
                for rows in chunked(batch.rows(), self.settings.chunk_size):
                    if rows[-1].seq >= limit:
                        raise TooManyEntities(
                            f"the upload has more than {limit:,} entities, the most one job "
                            "may hold; split it into smaller jobs"
                        )
                    self.store.add_rows(job.id, rows)
                    if self._stopping.is_set():
                        return False
        except FileNotFoundError:
            self._abort(job, "the uploaded data was lost before it could be read; upload again")
            return False
        except InputError as exc:
            self._abort(job, str(exc))
            return False
        except UnicodeDecodeError as exc:
            self._abort(job, f"the upload is not UTF-8 text ({exc.reason} at byte {exc.start})")
            return False
        except (sqlite3.Error, OSError):
            raise  # the server's trouble, not the file's: retried later
        except Exception as exc:
            # Anything else raised while reading the user's file (a parser's own error, an XML
            # bomb refused by defusedxml) is about that file: abort rather than retry forever.
            log.exception("job %s: the codec failed on the upload", job.id)
            self._abort(job, f"the upload could not be read: {str(exc) or type(exc).__name__}")
            return False
        total = self.store.finish_decode(job.id)
        if total == 0:
            self._abort(job, "the upload holds no entities")
            return False
        upload.unlink(missing_ok=True)  # every row is in the store now
        return True

    def _geocode(self, job: Job, outcome_of: OutcomeOf) -> None:
        executor = self._executor_open()
        in_flight: deque[list[BatchRow]] = deque()

        def forward_parts() -> Iterator[list[Request]]:
            after = -1
            while not self._stopping.is_set():
                rows = self.store.unanswered_rows(job.id, after, self.settings.chunk_size)
                if not rows:
                    return
                after = rows[-1].seq
                in_flight.append(rows)
                yield [
                    r.request for r in rows if r.request is not None and _wants(r, GeocodeRequest)
                ]

        for forward in executor.map_chunks("forward", forward_parts()):
            rows = in_flight.popleft()
            reverse_requests: list[Request] = [
                r.request for r in rows if _wants(r, ReverseRequest) and r.request is not None
            ]
            reverse: list[Answer] = []
            if reverse_requests:
                # Reverse geocoding is vectorised and quick: one call per chunk is enough.
                reverse = next(iter(executor.map_chunks("reverse", [reverse_requests])))
            answers = _merge(rows, forward, reverse)
            self.store.store_answers(
                job,
                (
                    RowAnswer(row.seq, answer, outcome_of(row, answer))
                    for row, answer in zip(rows, answers, strict=True)
                ),
                None if job.kind in PREPAID_KINDS else usage_day(self.clock()),
            )

    # --- retention ---------------------------------------------------------------------------

    def sweep_if_due(self) -> None:
        now = self.clock()
        if now - self._last_sweep >= self.settings.sweep_seconds:
            self.sweep(now)
            self._last_sweep = now

    def sweep(self, now: float) -> int:
        """Delete the results of jobs past their expiry; forget them once out of the list."""
        expired = self.store.expired_jobs(now)
        for job_id in expired:
            self.store.purge(job_id)
            self.paths.remove_job_files(job_id)
            log.info("job %s: results expired and deleted", job_id)
        self.store.forget_jobs(now - self.settings.list_days * DAY)
        return len(expired)


def _wants(row: BatchRow, kind: type[GeocodeRequest] | type[ReverseRequest]) -> bool:
    return row.fault is None and isinstance(row.request, kind)


def _merge(rows: list[BatchRow], forward: list[Answer], reverse: list[Answer]) -> list[Answer]:
    """Answers in row order: geocoded ones from each kind's list, faults as Failed."""
    forward_iter, reverse_iter = iter(forward), iter(reverse)
    answers = []
    for row in rows:
        if _wants(row, GeocodeRequest):
            answers.append(next(forward_iter))
        elif _wants(row, ReverseRequest):
            answers.append(next(reverse_iter))
        else:
            reason = row.fault or "the entity holds no request"
            answers.append(Answer(status=ResultStatus.FAILED, reason=reason))
    return answers
