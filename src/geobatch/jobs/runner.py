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

A runner process that dies (killed from outside, or by a job's row) leaves the blocks it had in
hand recorded in the store; the next runner runs them again alone, then row by row, and aborts a
job only when one of its rows was alone in hand at two deaths (:mod:`geobatch.jobs.blocks`).

When the data directory cannot be used (full, read-only, gone: the store raises
:class:`StoreUnavailable`), no job is blamed: the runner forgets the tasks in hand (their rows
stay unanswered) and pauses, the pause doubling from a second to a minute, until the disk is
usable again.

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
import uuid
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
from geobatch.jobs.blocks import ROW_CRASHES, BlockLedger, Culprit, Suspect
from geobatch.jobs.errors import StoreUnavailable
from geobatch.jobs.keys import usage_day
from geobatch.jobs.kinds import PREPAID_KINDS
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.steps import InlineSteps, StepEnd, Steps, TooManyEntities, abort_job
from geobatch.jobs.store import ACTIVE, Job, JobStatus, JobStore

log = logging.getLogger(__name__)

__all__ = ["MAX_JOB_ATTEMPTS", "JobRunner", "TooManyEntities"]

DAY = 86_400.0
# After an unexpected error, or while the data directory cannot be used, the runner pauses:
# from this, doubling each time it happens again in a row, up to the cap.
PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 60.0
REFRESH_SECONDS = 1.0  # how often the store is read for new jobs while working
CHECK_SECONDS = 1.0  # how often, while waiting for tasks, the executor is checked
WAIT_SECONDS = 0.05  # the longest the loop sleeps while tasks or steps run
# A job failing this many times in a row on the server's side (its file unreadable, the disk
# full, its tasks lost with the cluster) is aborted; between tries the pause doubles from this.
MAX_JOB_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0


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
    suspect: Suspect | None = None  # run again after a runner died with it in hand
    row: int | None = None  # the one row sent, row by row


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
        # Blocks in hand are recorded under this runner's id (see geobatch.jobs.blocks).
        self.runner_id = uuid.uuid4().hex
        self.blocks = BlockLedger(store)
        self._crashes_counted = False
        self._suspects: dict[str, list[Suspect]] = {}  # by job, in input order
        self._pauses = 0  # pauses in a row (unexpected errors, disk faults)

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
        try:
            self.blocks.release_all(self.runner_id)  # stopped in order: not a crash
        except (StoreUnavailable, sqlite3.Error) as exc:
            log.warning("could not record that the runner stopped: %s", exc)

    def run_forever(self) -> None:
        """Work until stopped: jobs as they come (woken by :meth:`wake`), the sweep when due."""
        while not self._stopping.is_set():
            try:
                self.sweep_if_due()
                busy = self._cycle()
            except StoreUnavailable as exc:
                self._pause(f"the data directory cannot be used: {exc}", exc)
                continue
            except Exception as exc:
                self._pause("job runner error", exc)
                continue
            if self._pauses:
                log.warning("the job runner works again")
                self._pauses = 0
            if not busy:
                self._wake.wait(self._idle_seconds())
        try:
            self._drain()
        except (StoreUnavailable, sqlite3.Error):
            self._forget_tasks()

    def _pause(self, what: str, exc: Exception) -> None:
        """Forget the tasks in hand (their rows stay unanswered, so they run again) and wait,
        longer each time in a row; nothing is counted against the jobs."""
        seconds = min(PAUSE_SECONDS * 2**self._pauses, MAX_PAUSE_SECONDS)
        self._pauses += 1
        if isinstance(exc, StoreUnavailable):
            log.error("%s; the job runner pauses for %.0f s", what, seconds)
        else:
            log.exception("%s; the job runner pauses for %.0f s", what, seconds)
        self._forget_tasks()
        if not isinstance(exc, StoreUnavailable):
            self._close_executor()  # it may be what failed
        self._wake.wait(seconds)
        self._wake.clear()

    def _forget_tasks(self) -> None:
        """Drop the tasks in hand without storing anything (the store may be unusable)."""
        for future in list(self._in_flight):
            future.cancel()
        self._in_flight.clear()
        for job_id, active in list(self._active.items()):
            active.in_flight = 0
            active.cursor, active.exhausted = -1, False
            if active.gone and not active.decoding and not active.finishing:
                del self._active[job_id]
                self._rows_spec.pop(job_id, None)
                self._suspects.pop(job_id, None)
        self._crashes_counted = False  # records of tasks forgotten: given back on recovery

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

    def _suspect_of(self, active: _Active) -> Suspect | None:
        found = self._suspects.get(active.job.id)
        return found[0] if found else None

    def _steps_running(self) -> bool:
        return bool(self.steps.running("decode") or self.steps.running("finish"))

    def _refresh(self, once: bool) -> None:
        """Take up active jobs not yet held; forget held ones that are no longer active."""
        self._last_refresh = time.monotonic()
        culprits: dict[str, Culprit] = {}
        if not self._crashes_counted:
            # Blocks of a runner that died are counted against themselves; this runner's own
            # records left by forgotten tasks are given back.
            self.blocks.release_all(self.runner_id)
            culprits = {c.job_id: c for c in self.blocks.count_crashes(self.runner_id)}
            self._crashes_counted = True
        jobs = {job.id: job for job in self.store.active_jobs()}
        for job_id, active in list(self._active.items()):
            if job_id not in jobs:
                self._let_go(active)
        for job_id, job in jobs.items():
            culprit = culprits.get(job_id)
            if job_id in self._active and culprit is None:
                continue
            active = self._active.get(job_id) or _Active(job, self.codecs.get(job.kind))
            self._active[job_id] = active
            self._suspects[job_id] = self.blocks.suspects(job_id)
            if culprit is not None:
                self._abort(active, self._culprit_message(culprit))
            elif active.codec is None and not job.decoded:
                self._abort(active, f"this server has no codec for {job.kind!r} jobs")
            elif job.decoded and job.status is JobStatus.PENDING:
                self.store.start_processing(job_id)  # a job stored decoded (a Farm batch)

    def _culprit_message(self, culprit: Culprit) -> str:
        try:
            found = self.store.result_row(culprit.job_id, culprit.seq)
        except (StoreUnavailable, sqlite3.Error):
            found = None
        entity = f"entity {culprit.seq + 1} of the upload"
        if found is not None and found[0].id:
            entity += f" (Id {found[0].id!r})"
        return (
            f"the job runner stopped {culprit.crashes} times while working on this job, "
            f"{ROW_CRASHES} of them with only {entity} in hand; the job is stopped "
            "so that other jobs can run: remove or fix that entity and submit the job again, "
            "or tell the server's operator"
        )

    def _drop(self, active: _Active) -> None:
        self._active.pop(active.job.id, None)
        self._rows_spec.pop(active.job.id, None)
        self._suspects.pop(active.job.id, None)

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
        # A full, read-only or vanished data directory is no job's fault: the whole runner
        # pauses (run_forever) instead of counting tries against each job.
        self.store.disk.check(write=True)
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
        if any(self._suspects.get(a.job.id) for a in wanting):
            # Blocks a runner died with in hand run alone, so a death now says which it was.
            if not self._in_flight:
                for active in wanting:
                    suspect = self._suspect_of(active)
                    if suspect is not None and self._submit_suspect(executor, active, suspect):
                        break
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
        task = _Task(active.job.id, rows[0][0], rows[-1][0])
        if not self._send(executor, active, task, rows):
            return False
        active.cursor = rows[-1][0]
        return True

    def _submit_suspect(self, executor: Executor, active: _Active, suspect: Suspect) -> bool:
        """Send a suspect block again, alone: whole the first time, then row by row."""
        job_id = active.job.id
        try:
            width = suspect.last - suspect.first + 1
            rows = self.store.unanswered_raw(job_id, suspect.first - 1, width)
        except (sqlite3.Error, OSError) as exc:
            self._trouble(active, str(exc))
            return False
        rows = [row for row in rows if row[0] <= suspect.last]
        if not rows:  # answered before its runner died
            self.blocks.done(job_id, suspect.first)
            self._suspects[job_id].remove(suspect)
            return False
        task = _Task(job_id, rows[0][0], rows[-1][0], suspect)
        if suspect.row_by_row:
            rows = [next((r for r in rows if r[0] == suspect.row), rows[0])]
            task.row = task.first = task.last = rows[0][0]
            self.blocks.sent_row(suspect, rows[0][0], self.runner_id)
        return self._send(executor, active, task, rows)

    def _send(
        self, executor: Executor, active: _Active, task: _Task, rows: list[tuple[int, str]]
    ) -> bool:
        """Record the block as in hand (unless a suspect's row, recorded already) and submit."""
        if task.row is None:
            first = task.first if task.suspect is None else task.suspect.first
            self.blocks.sent(task.job_id, first, task.last, self.runner_id)
        try:
            future = executor.submit(answer_rows, self._spec(active), rows)
        except ExecutorLost as exc:
            self._give_back(task)
            self._close_executor()
            self._trouble(active, str(exc))
            return False
        active.in_flight += 1
        self._in_flight[future] = task
        return True

    def _give_back(self, task: _Task) -> None:
        """The task came back without answers: its block is no longer in hand."""
        first = task.first if task.suspect is None else task.suspect.first
        self.blocks.given_back(task.job_id, first)

    def _stored(self, task: _Task) -> None:
        """The task's answers are stored: forget its record (a suspect row's block is kept
        while it has rows left)."""
        suspect = task.suspect
        if suspect is None:
            self.blocks.done(task.job_id, task.first)
            return
        suspects = self._suspects.get(task.job_id, [])
        if task.row is not None and task.row < suspect.last:
            left = self.store.unanswered_raw(task.job_id, task.row, 1)
            if left and left[0][0] <= suspect.last:
                self.blocks.given_back(task.job_id, suspect.first)  # keeps its count
                if suspect in suspects:
                    suspects[suspects.index(suspect)] = Suspect(
                        suspect.job_id, suspect.first, suspect.last, suspect.crashes, None
                    )
                return
        self.blocks.done(task.job_id, suspect.first)
        if suspect in suspects:
            suspects.remove(suspect)

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
                self._give_back(task)
                self._trouble(active, f"geocoding rows {task.first}-{task.last} failed: {reason}")
                continue
            job = active.job
            # Charged to the day it was created on, what it set aside was of that day too.
            day = None if job.kind in PREPAID_KINDS else usage_day(job.created)
            try:
                self.store.store_records(job, records, day)
            except (sqlite3.Error, OSError) as exc:
                self._give_back(task)
                self._trouble(active, str(exc))  # the rows stay unanswered: sent again
                continue
            self._stored(task)
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
                self._give_back(task)
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
            self._give_back(task)
            active = self._active.get(task.job_id)
            if active is not None:
                active.in_flight -= 1
                active.cursor, active.exhausted = -1, False
                if active.gone:
                    self._let_go(active)

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
