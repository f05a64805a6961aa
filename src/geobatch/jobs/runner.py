"""The background job processor: several jobs at once, shared fairly between keys.

Each job goes through three steps: its upload is decoded into stored rows (in a process of its
own, with a time limit: :mod:`geobatch.jobs.steps`), its rows are geocoded as tasks on the
executor (local worker processes or a Dask cluster: :mod:`geobatch.batch`), and it is finished
(result files rendered, then Completed; also a step). The runner itself only schedules: it
reads blocks of unanswered rows from the store as JSON text, hands them to the executor, and
writes the records that come back. Tasks are taken from the keys with work in turn, one block
at a time, so a key's 200,000-row job does not hold another key's 10-row batch, and a job
whose upload is still being decoded holds nobody.

The store stays the one record of what is done. Each block's answers, the job's counts and
the key's usage are committed together, and a row already answered is never counted again; a
task lost with its worker, or a runner killed mid-job, costs that block a second run, never a
lost or doubled row. A job whose tasks keep failing (the cluster is gone) is tried again with
a growing pause, then aborted with the reason.

A job can end under the runner: cancelled (Aborted) or deleted by its owner, which the store
does at once (its rows deleted, so no answer can be stored nor usage counted for it any more).
At its next look at the store the runner lets go of it: its tasks not yet started are cancelled,
the answers of those running are dropped, its decode or finish step is ended, and it is never
finished nor taken up again.

:meth:`JobRunner.run_once` processes the jobs active when called (tests); the server runs
:meth:`JobRunner.run_forever` in a process of its own (:mod:`geobatch.jobs.process`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from geobatch.batch.executors import Executor, ExecutorLost, open_executor
from geobatch.batch.rowtask import RowRecord, RowsSpec, answer_rows, stored_row_outcome
from geobatch.batch.worker import IndexLocation
from geobatch.config import Settings
from geobatch.errors import GeobatchError
from geobatch.formats.batch import BatchCodec
from geobatch.jobs.keys import usage_day
from geobatch.jobs.kinds import PREPAID_KINDS
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.steps import InlineSteps, StepEnd, Steps, TooManyEntities, abort_job
from geobatch.jobs.store import ACTIVE, Job, JobStatus, JobStore

log = logging.getLogger(__name__)

__all__ = ["MAX_JOB_ATTEMPTS", "MAX_RUNNER_DEATHS", "JobRunner", "TooManyEntities"]

DAY = 86_400.0
RETRY_SECONDS = 10.0  # after an unexpected error (index unusable, disk full) try again later
REFRESH_SECONDS = 1.0  # how often the store is read for new jobs while working
CHECK_SECONDS = 1.0  # how often, while waiting for tasks, the executor is checked
WAIT_SECONDS = 0.05  # the longest the loop sleeps while tasks or steps run
# A job failing this many times in a row on the server's side (its file unreadable, the disk
# full, its tasks lost with the cluster) is aborted; between tries the pause doubles from this.
MAX_JOB_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0
# A job during which the runner process died this many times (killed for memory, crashed) is
# aborted: its server restarts the runner, which would otherwise take the same job up again,
# for ever, and the jobs queued behind it would never run. Counted in the store, so it holds
# across runner and server restarts.
MAX_RUNNER_DEATHS = 3


class Flag(Protocol):
    """An event the runner waits on: ``threading.Event``, or ``multiprocessing.Event`` when the
    runner works in another process than the one that wakes and stops it."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


ExecutorFactory = Callable[[], Executor]


def default_executor_factory(settings: Settings) -> ExecutorFactory:
    def factory() -> Executor:
        return open_executor(settings.workers, settings.cluster, nice=True)

    return factory


@dataclass
class _Active:
    """A job the runner has taken up."""

    job: Job
    codec: BatchCodec | None
    decoding: bool = False
    finishing: bool = False
    cursor: int = -1  # the last seq handed to a task
    exhausted: bool = False  # no unanswered row after the cursor when last looked
    in_flight: int = 0
    # The job ended under the runner (cancelled, deleted, aborted): it is let go of as soon as
    # its last running task is back; nothing more is sent, stored or finished for it.
    gone: bool = False

    @property
    def geocodable(self) -> bool:
        return self.job.decoded and not self.finishing and not self.gone


@dataclass
class _Task:
    job_id: str
    first: int
    last: int


class JobRunner:
    """Process jobs from ``store``: :meth:`run_forever` until stopped (:meth:`start` does that in
    a thread), or :meth:`run_once` inline.

    ``wake`` and ``stopping`` are the events :meth:`wake` and :meth:`stop` set; pass
    ``multiprocessing`` events to wake and stop a runner working in another process.
    ``steps`` runs decoding and finishing (default: inline, no time limit).
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
        steps: Steps | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.paths = DataPaths(settings.data_dir).create()
        self.codecs = codecs
        self.executor_factory = executor_factory or default_executor_factory(settings)
        self.clock = clock
        self.steps = steps or InlineSteps(store, settings, clock)
        self._wake: Flag = threading.Event() if wake is None else wake
        self._stopping: Flag = threading.Event() if stopping is None else stopping
        self._thread: threading.Thread | None = None
        self._executor: Executor | None = None
        self._executor_retry = 0.0
        self._last_check = 0.0
        self._last_sweep = 0.0
        self._last_refresh = -REFRESH_SECONDS
        self._active: dict[str, _Active] = {}
        self._in_flight: dict[Future[list[RowRecord]], _Task] = {}
        self._last_key: int | None = None  # the key served last, for taking turns
        self._rows_spec: dict[str, RowsSpec] = {}
        # Kept across take-ups of a job (run_once drops the jobs it leaves waiting).
        self._failures: dict[str, int] = {}  # consecutive failures on the server's side
        self._retry_at: dict[str, float] = {}  # monotonic time before which a job waits

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="geobatch-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was created: look for work now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the tasks in hand and stop; an unfinished job resumes at the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        """End running steps and shut the executor down (after :meth:`run_forever` returned)."""
        self.steps.stop()
        self._close_executor()
        for active in list(self._active.values()):
            self._drop(active)

    def run_forever(self) -> None:
        """Work until stopped: jobs as they come (woken by :meth:`wake`), the sweep when due."""
        while not self._stopping.is_set():
            try:
                self.sweep_if_due()
                busy = self._cycle()
            except Exception:
                log.exception("job runner error; retrying in %.0f s", RETRY_SECONDS)
                self._reset()
                self._wake.wait(RETRY_SECONDS)
                self._wake.clear()
                continue
            if not busy:
                self._wake.wait(self._idle_seconds())
        self._drain()

    def _idle_seconds(self) -> float:
        """How long to sleep with nothing to do: until the next job's retry, at most a minute."""
        longest = min(self.settings.sweep_seconds, 60.0)
        waiting = [self._retry_at[j] for j in self._active if j in self._retry_at]
        if not waiting:
            return longest
        return max(0.05, min(longest, min(waiting) - time.monotonic()))

    def run_once(self) -> bool:
        """Process the active jobs until each is done or waits for a retry; False when there
        was none. (A job that keeps failing on the server's side is aborted after
        :data:`MAX_JOB_ATTEMPTS` calls.)"""
        if not self.store.active_jobs():
            return False
        self._last_refresh = -REFRESH_SECONDS
        self._retry_at.clear()  # a call is a try: the pauses are for run_forever
        self._executor_retry = 0.0
        try:
            while not self._stopping.is_set() and self._cycle(once=True):
                pass
        finally:
            self._drain()
        return True

    # --- the loop ----------------------------------------------------------------------------

    def _cycle(self, once: bool = False) -> bool:
        """One turn: take up new jobs, run steps, feed tasks, store answers. False when idle
        (``once``: when nothing is left to do without waiting for a retry)."""
        now = time.monotonic()
        if self._wake.is_set() or now - self._last_refresh >= REFRESH_SECONDS:
            self._wake.clear()
            self._refresh(once)
        for end in self.steps.ended():
            self._step_ended(end)
        self._start_steps(now)
        self._feed(now)
        self._collect(timeout=WAIT_SECONDS if self._in_flight else 0)
        if not self._in_flight and self._steps_running() and not self._stopping.is_set():
            self._stopping.wait(WAIT_SECONDS)
        ready = [
            a for a in self._active.values() if not a.gone and self._ready(a, time.monotonic())
        ]
        if once:
            if not ready:
                for active in list(self._active.values()):
                    self._drop(active)  # waiting for a retry: the next call tries again
            return bool(self._active)
        return bool(self._in_flight or self._steps_running() or ready)

    def _ready(self, active: _Active, now: float) -> bool:
        return self._retry_at.get(active.job.id, 0.0) <= now

    def _steps_running(self) -> bool:
        return bool(self.steps.running("decode") or self.steps.running("finish"))

    def _refresh(self, once: bool) -> None:
        """Take up active jobs not yet held; forget held ones that are no longer active."""
        self._last_refresh = time.monotonic()
        jobs = {job.id: job for job in self.store.active_jobs()}
        for job_id, active in list(self._active.items()):
            if job_id not in jobs:
                self._let_go(active)
        for job_id, job in jobs.items():
            if job_id in self._active:
                continue
            deaths = self.store.enter_job(job_id)
            active = _Active(job, self.codecs.get(job.kind))
            self._active[job_id] = active
            if deaths >= MAX_RUNNER_DEATHS:
                self._abort(
                    active,
                    f"the job runner stopped {deaths} times while working on this job (out of "
                    "memory, or a crash); it is not tried again: split it into smaller jobs, or "
                    "tell the server's operator",
                )
            elif active.codec is None and not job.decoded:
                self._abort(active, f"this server has no codec for {job.kind!r} jobs")
            elif job.decoded and job.status is JobStatus.PENDING:
                self.store.start_processing(job_id)  # a job stored decoded (a Farm batch)

    def _drop(self, active: _Active) -> None:
        self._active.pop(active.job.id, None)
        self._rows_spec.pop(active.job.id, None)
        try:
            self.store.leave_job(active.job.id)
        except sqlite3.Error:
            log.exception("job %s: could not record that the runner left it", active.job.id)

    def _abort(self, active: _Active, message: str) -> None:
        abort_job(self.store, self.settings, active.job.id, message, self.clock())
        self._let_go(active)

    def _let_go(self, active: _Active) -> None:
        """The job is no longer active (cancelled or deleted by its owner, aborted, or
        completed by its finish step): stop working on it, and forget it once its running
        tasks are back (their answers are dropped)."""
        job_id = active.job.id
        if not active.gone:
            active.gone = True
            self._failures.pop(job_id, None)
            self._retry_at.pop(job_id, None)
            if active.decoding or active.finishing:
                self._end_step(active)
            for future, task in list(self._in_flight.items()):
                if task.job_id == job_id and future.cancel():  # not started yet
                    del self._in_flight[future]
                    active.in_flight -= 1
        if not active.in_flight and not active.decoding and not active.finishing:
            self._drop(active)

    def _end_step(self, active: _Active) -> None:
        """End the step of a job that left the active jobs. A finish step that completed it
        is left to end by itself; any other (decoding a cancelled job, rendering the results
        of one) is stopped now, and the files it may have written are deleted."""
        job_id = active.job.id
        try:
            current = self.store.get_job(job_id)
        except sqlite3.Error:
            log.exception("job %s: could not read it; its step runs on", job_id)
            return
        if current is not None and current.status is not JobStatus.ABORTED:
            return  # Completed by its finish step: _step_ended lets go of it
        self.steps.cancel(job_id)
        active.decoding = active.finishing = False
        self.paths.remove_job_files(job_id)

    def _trouble(self, active: _Active, message: str) -> None:
        """A failure on the server's side: pause the job, abort it after too many in a row.

        The failures of one attempt count once: when the cluster goes away, every task in
        flight fails with it, and that is one try of the job, not a try per task."""
        job_id = active.job.id
        active.exhausted = False
        active.cursor = -1  # rows of lost tasks are read again
        if self._retry_at.get(job_id, 0.0) > time.monotonic():
            log.warning("job %s: %s (in the attempt that failed already)", job_id, message)
            return
        failures = self._failures[job_id] = self._failures.get(job_id, 0) + 1
        log.error(
            "job %s failed (attempt %d of %d): %s", job_id, failures, MAX_JOB_ATTEMPTS, message
        )
        if failures >= MAX_JOB_ATTEMPTS:
            self._abort(active, f"the server could not process this job: {message}")
            return
        self._retry_at[job_id] = time.monotonic() + BACKOFF_SECONDS * 2 ** (failures - 1)

    # --- steps -------------------------------------------------------------------------------

    def _start_steps(self, now: float) -> None:
        if self._stopping.is_set():
            return
        for active in self._turns():
            if active.gone or active.decoding or active.finishing or not self._ready(active, now):
                continue
            job = active.job
            if not job.decoded:
                if self.steps.running("decode") >= self.settings.decoders:
                    continue
                active.decoding = True
                self._run_step(active, "decode")
            elif active.exhausted and not active.in_flight:
                try:
                    left = self.store.count_unanswered(job.id)
                except (sqlite3.Error, OSError) as exc:
                    self._trouble(active, str(exc))
                    continue
                if left == 0:
                    active.finishing = True
                    self._run_step(active, "finish")
                else:
                    active.exhausted, active.cursor = False, -1  # a lost task's rows

    def _run_step(self, active: _Active, kind: str) -> None:
        try:
            if kind == "decode":
                self.steps.start("decode", active.job, active.codec)
            else:
                self.steps.start("finish", active.job, active.codec)
        except (sqlite3.Error, OSError) as exc:
            active.decoding = active.finishing = False
            self._trouble(active, str(exc))

    def _step_ended(self, end: StepEnd) -> None:
        active = self._active.get(end.job_id)
        if active is None:
            return
        if end.kind == "decode":
            active.decoding = False
        else:
            active.finishing = False
        if active.gone:
            self._let_go(active)  # cancelled or deleted while the step ran
            return
        if end.fatal is not None:
            if end.kind == "finish":
                # The rows are all answered: complete it; downloads render the files.
                now = self.clock()
                self.store.complete(end.job_id, now, now + self.settings.retention_days * DAY)
                self._drop(active)
            else:
                self._abort(active, end.fatal)
            return
        if end.trouble is not None:
            self._trouble(active, end.trouble)
            return
        self._failures.pop(end.job_id, None)
        job = self.store.get_job(end.job_id)
        if job is None or job.status not in ACTIVE:
            self._drop(active)  # completed, or aborted by the step with its reason
            return
        active.job = job
        if job.decoded:
            self.store.start_processing(job.id)

    # --- tasks -------------------------------------------------------------------------------

    def _turns(self) -> list[_Active]:
        """Held jobs in the order they take turns: the key after the last one served first;
        each key's jobs oldest first."""
        keys = sorted({a.job.key_id for a in self._active.values()})
        if self._last_key is not None:
            later = [k for k in keys if k > self._last_key]
            keys = later + [k for k in keys if k <= self._last_key]
        order = {key: n for n, key in enumerate(keys)}
        return sorted(
            self._active.values(), key=lambda a: (order[a.job.key_id], a.job.created, a.job.id)
        )

    def _executor_open(self) -> Executor | None:
        if self._executor is None:
            if time.monotonic() < self._executor_retry:
                for active in self._active.values():  # they wait with the executor
                    if active.geocodable:
                        self._retry_at[active.job.id] = max(
                            self._retry_at.get(active.job.id, 0.0), self._executor_retry
                        )
                return None
            try:
                self._executor = self.executor_factory().__enter__()
            except GeobatchError as exc:
                self._executor_retry = time.monotonic() + BACKOFF_SECONDS
                for active in list(self._active.values()):
                    if active.geocodable and self._ready(active, time.monotonic()):
                        self._trouble(active, str(exc))
                return None
        return self._executor

    def _close_executor(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            try:
                executor.__exit__(None, None, None)
            except Exception:
                log.exception("closing the executor failed")

    def _feed(self, now: float) -> None:
        """Hand blocks of rows to the executor, one key after another, up to its window."""
        if self._stopping.is_set():
            return
        wanting = [
            a for a in self._turns() if a.geocodable and not a.exhausted and self._ready(a, now)
        ]
        if not wanting:
            return
        executor = self._executor_open()
        if executor is None:
            return
        window = 2 * executor.slots
        while wanting and len(self._in_flight) < window:
            served: set[int] = set()
            for active in list(wanting):
                if len(self._in_flight) >= window:
                    break
                if active.job.key_id in served:
                    continue  # one block per key per round
                if not self._submit(executor, active):
                    wanting.remove(active)
                    continue
                served.add(active.job.key_id)
                self._last_key = active.job.key_id
            if not served:
                break

    def _submit(self, executor: Executor, active: _Active) -> bool:
        """Send the job's next block; False when it has none (or could not be sent)."""
        try:
            rows = self.store.unanswered_raw(active.job.id, active.cursor, self.settings.chunk_size)
        except (sqlite3.Error, OSError) as exc:
            self._trouble(active, str(exc))
            return False
        if not rows:
            active.exhausted = True
            return False
        try:
            future = executor.submit(answer_rows, self._spec(active), rows)
        except ExecutorLost as exc:
            self._close_executor()
            self._trouble(active, str(exc))
            return False
        active.cursor = rows[-1][0]
        active.in_flight += 1
        self._in_flight[future] = _Task(active.job.id, rows[0][0], rows[-1][0])
        return True

    def _spec(self, active: _Active) -> RowsSpec:
        spec = self._rows_spec.get(active.job.id)
        if spec is None:
            outcome = stored_row_outcome if active.codec is None else active.codec.outcome
            spec = RowsSpec(IndexLocation(self.settings.index_dir), outcome)
            self._rows_spec[active.job.id] = spec
        return spec

    def _collect(self, timeout: float) -> None:
        """Store the answers of the tasks that are done (waiting up to ``timeout`` for one)."""
        if not self._in_flight:
            return
        done, _ = concurrent.futures.wait(
            list(self._in_flight), timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        if not done:
            self._check_executor()
            return
        for future in done:
            task = self._in_flight.pop(future)
            active = self._active.get(task.job_id)
            if active is None:
                continue
            active.in_flight -= 1
            if active.gone:
                self._let_go(active)  # its answers are not wanted: forget it once all are back
                continue
            try:
                records = future.result()
            except Exception as exc:
                reason = str(exc) or type(exc).__name__
                self._trouble(active, f"geocoding rows {task.first}-{task.last} failed: {reason}")
                continue
            job = active.job
            # Charged to the day it was created on, what it set aside was of that day too.
            day = None if job.kind in PREPAID_KINDS else usage_day(job.created)
            try:
                self.store.store_records(job, records, day)
            except (sqlite3.Error, OSError) as exc:
                self._trouble(active, str(exc))  # the rows stay unanswered: sent again
                continue
            self._failures.pop(job.id, None)

    def _check_executor(self) -> None:
        """Now and then: when the executor is lost, its tasks will never come back; count them
        as failed and let the executor be opened again."""
        now = time.monotonic()
        if self._executor is None or now - self._last_check < CHECK_SECONDS:
            return
        self._last_check = now
        try:
            self._executor.check()
        except ExecutorLost as exc:
            log.error("%s; the tasks in flight are sent again", exc)
            self._close_executor()
            for future in list(self._in_flight):
                future.cancel()
                task = self._in_flight.pop(future)
                active = self._active.get(task.job_id)
                if active is not None:
                    active.in_flight -= 1
                    if active.gone:
                        self._let_go(active)
                    else:
                        self._trouble(active, str(exc))

    def _drain(self) -> None:
        """Store what the tasks in hand bring back (stopping, or the end of run_once)."""
        deadline = time.monotonic() + 20.0
        while self._in_flight and time.monotonic() < deadline:
            self._collect(timeout=0.5)
        for future in list(self._in_flight):
            future.cancel()
            task = self._in_flight.pop(future)
            active = self._active.get(task.job_id)
            if active is not None:
                active.in_flight -= 1
                active.cursor, active.exhausted = -1, False
                if active.gone:
                    self._let_go(active)

    def _reset(self) -> None:
        """After an unexpected error: forget the tasks in hand and the executor."""
        self._drain()
        self._close_executor()
        for active in list(self._active.values()):
            active.cursor, active.exhausted = -1, False

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
