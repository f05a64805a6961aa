"""The steps of a job that are not geocoding: decoding its upload into stored rows, and
finishing it (its result files rendered, then Completed). Each works on the store alone.

The server runs each step in a process of its own (:class:`ProcessSteps`) with a time limit:
a hostile upload that takes a parser hours (expat's quadratic tokens, CVE-2023-52425) is
killed and its job aborted with the reason, and meanwhile the runner goes on feeding other
jobs' rows to the workers. Tests run steps inline (:class:`InlineSteps`).

A step resumes safely after any crash: rows are stored with INSERT OR IGNORE on (job, seq), and
result files are written under temporary names and renamed into place.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from geobatch.batch.executors import chunked
from geobatch.batch.lifeline import die_with_parent
from geobatch.config import Settings
from geobatch.errors import InputError
from geobatch.formats.batch import BatchCodec, Outcome
from geobatch.jobs.errors import StoreUnavailable
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.results import render_result
from geobatch.jobs.store import ACTIVE, Job, JobCancelled, JobStore

log = logging.getLogger(__name__)

DAY = 86_400.0
StepKind = Literal["decode", "finish"]
SERVER_TROUBLE_EXIT = 3  # a step's exit code for the server's trouble (disk, database): retried


class TooManyEntities(InputError):
    pass


@dataclass(frozen=True, slots=True)
class StepEnd:
    """How a step ended: ``ok`` (the job may have been aborted by the step, with its reason),
    else ``trouble`` (the server's: tried again later) or ``fatal`` (the job's: aborted)."""

    job_id: str
    kind: StepKind
    ok: bool
    trouble: str | None = None
    fatal: str | None = None


def abort_job(store: JobStore, settings: Settings, job_id: str, message: str, now: float) -> None:
    store.abort(job_id, message, now, now + settings.retention_days * DAY)
    DataPaths(settings.data_dir).remove_job_files(job_id)
    log.info("job %s aborted: %s", job_id, message)


def decode_job(
    store: JobStore, settings: Settings, codec: BatchCodec, job: Job, now: Callable[[], float]
) -> None:
    """Store every row of the job's upload; abort the job when the upload cannot be read.

    Raises ``sqlite3.Error`` or ``OSError`` for the server's own trouble (tried again later).
    """
    paths = DataPaths(settings.data_dir)
    upload = paths.upload(job.id)
    limit = settings.limits.max_entities
    try:
        with upload.open("rb") as stream:
            batch = codec.decode(stream, job.input_format)
            store.start_decode(job.id, batch.header)
            for rows in chunked(batch.rows(), settings.chunk_size):
                if rows[-1].seq >= limit:
                    raise TooManyEntities(
                        f"the upload has more than {limit:,} entities, the most one job "
                        "may hold; split it into smaller jobs"
                    )
                store.add_rows(job.id, rows)
    except JobCancelled:
        # Cancelled or deleted by its owner meanwhile: the store refused the rows, and the
        # owner's request already deleted the job's rows and files (what is left here: none).
        log.info("job %s: cancelled while its upload was read; reading stopped", job.id)
        DataPaths(settings.data_dir).remove_job_files(job.id)
        return
    except FileNotFoundError:
        message = "the uploaded data was lost before it could be read; upload again"
        abort_job(store, settings, job.id, message, now())
        return
    except InputError as exc:
        abort_job(store, settings, job.id, str(exc), now())
        return
    except UnicodeDecodeError as exc:
        message = f"the upload is not UTF-8 text ({exc.reason} at byte {exc.start})"
        abort_job(store, settings, job.id, message, now())
        return
    except (sqlite3.Error, OSError, StoreUnavailable):
        raise  # the server's trouble (a full disk, say), not the file's: retried later
    except Exception as exc:
        # Anything else raised while reading the user's file (a parser's own error, an XML
        # bomb refused by defusedxml) is about that file: abort rather than retry forever.
        log.exception("job %s: the codec failed on the upload", job.id)
        message = f"the upload could not be read: {str(exc) or type(exc).__name__}"
        abort_job(store, settings, job.id, message, now())
        return
    if store.finish_decode(job.id) == 0:
        abort_job(store, settings, job.id, "the upload holds no entities", now())
        return
    upload.unlink(missing_ok=True)  # every row is in the store now


def finish_job(
    store: JobStore,
    settings: Settings,
    codec: BatchCodec | None,
    job: Job,
    now: Callable[[], float],
) -> None:
    """Write the result files of a job whose every row is answered, then mark it Completed.

    A file that cannot be written now (the disk full) is left out: the download renders it on
    request, as it would any missing file, rather than the job failing.
    """
    current = store.get_job(job.id)
    if current is None or current.status not in ACTIVE:
        return  # deleted, or cancelled (Aborted) by its owner
    if codec is not None:
        paths = DataPaths(settings.data_dir)
        counts: tuple[tuple[Outcome, int], ...] = (
            ("succeeded", current.succeeded),
            ("failed", current.failed),
        )
        for outcome, count in counts:
            if count == 0:
                continue
            try:
                render_result(store, codec, current, outcome, paths.result_file(job.id, outcome))
            except Exception:
                log.exception("job %s: the %s file could not be written now", job.id, outcome)
    completed = now()
    if not store.complete(job.id, completed, completed + settings.retention_days * DAY):
        # Cancelled or deleted while its files were written: the owner's request deleted the
        # files there were then, these are deleted here (no partial result stays on disk).
        DataPaths(settings.data_dir).remove_job_files(job.id)
        log.info("job %s: cancelled while its results were written; they are deleted", job.id)
        return
    log.info("job %s completed", job.id)


def run_step(
    store: JobStore,
    settings: Settings,
    codec: BatchCodec | None,
    kind: StepKind,
    job: Job,
    now: Callable[[], float],
) -> None:
    if kind == "decode":
        assert codec is not None
        decode_job(store, settings, codec, job, now)
    else:
        finish_job(store, settings, codec, job, now)


class Steps(Protocol):
    """Runs steps and reports how they ended."""

    def start(self, kind: StepKind, job: Job, codec: BatchCodec | None) -> None: ...

    def ended(self) -> list[StepEnd]:
        """Steps that ended since the last call (a step over its time limit is ended here)."""
        ...

    def running(self, kind: StepKind) -> int: ...

    def cancel(self, job_id: str) -> None:
        """End the running steps of a job that was cancelled or deleted (not reported by
        :meth:`ended`)."""
        ...

    def stop(self) -> None:
        """End every running step (they resume at the next start)."""
        ...


class InlineSteps:
    """Each step runs to its end inside :meth:`start` (tests; no time limit)."""

    def __init__(self, store: JobStore, settings: Settings, now: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self._ended: list[StepEnd] = []

    def start(self, kind: StepKind, job: Job, codec: BatchCodec | None) -> None:
        try:
            run_step(self.store, self.settings, codec, kind, job, self.now)
        except (sqlite3.Error, OSError) as exc:
            log.exception("job %s: %s step failed", job.id, kind)
            self._ended.append(StepEnd(job.id, kind, False, trouble=str(exc)))
            return
        self._ended.append(StepEnd(job.id, kind, True))

    def ended(self) -> list[StepEnd]:
        ended, self._ended = self._ended, []
        return ended

    def running(self, kind: StepKind) -> int:
        return 0

    def cancel(self, job_id: str) -> None:
        pass  # nothing runs between calls

    def stop(self) -> None:
        pass


@dataclass
class _Running:
    process: multiprocessing.process.BaseProcess
    kind: StepKind
    job_id: str
    started: float


class ProcessSteps:
    """Each step in a child process, killed after ``settings.decode_seconds``.

    A decode over its time is aborted with the reason; a finish over it completes the job
    without its files (downloads render them on request). A child killed by a signal (the OOM
    killer) aborts its job when decoding, since the same upload would kill the next one too.
    """

    def __init__(self, settings: Settings, log_level: int = logging.WARNING) -> None:
        self.settings = settings
        self.log_level = log_level
        # The runner may run threads (a Dask client): a fork server, not fork, starts children.
        self._context = multiprocessing.get_context("forkserver")
        self._running: list[_Running] = []

    def start(self, kind: StepKind, job: Job, codec: BatchCodec | None) -> None:
        process = self._context.Process(
            target=_step_main,
            args=(self.settings, codec, kind, job, self.log_level),
            name=f"geobatch-{kind}",
            daemon=True,
        )
        process.start()
        self._running.append(_Running(process, kind, job.id, time.monotonic()))

    def running(self, kind: StepKind) -> int:
        return sum(1 for step in self._running if step.kind == kind)

    def ended(self) -> list[StepEnd]:
        ended, still = [], []
        limit = self.settings.decode_seconds
        for step in self._running:
            process = step.process
            if process.is_alive():
                if time.monotonic() - step.started <= limit:
                    still.append(step)
                    continue
                process.kill()
                process.join(5.0)
                ended.append(self._over_time(step, limit))
                continue
            process.join()
            ended.append(self._exited(step, process.exitcode))
        self._running = still
        return ended

    @staticmethod
    def _over_time(step: _Running, limit: float) -> StepEnd:
        if step.kind == "decode":
            reason = (
                f"reading the upload took longer than {limit:g} s, the most one job may "
                "take; split it into smaller jobs, or check the file (a single huge XML "
                "token or attribute is slow to parse)"
            )
            return StepEnd(step.job_id, step.kind, False, fatal=reason)
        return StepEnd(step.job_id, step.kind, False, fatal="rendering the results took too long")

    @staticmethod
    def _exited(step: _Running, code: int | None) -> StepEnd:
        if code == 0:
            return StepEnd(step.job_id, step.kind, True)
        if code is not None and code < 0 and step.kind == "decode":
            name = (
                signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
            )
            reason = (
                f"the process reading the upload was killed ({name}), most likely for "
                "memory; split it into smaller jobs"
            )
            return StepEnd(step.job_id, step.kind, False, fatal=reason)
        return StepEnd(step.job_id, step.kind, False, trouble=f"{step.kind} exited with {code}")

    def cancel(self, job_id: str) -> None:
        ending = [step for step in self._running if step.job_id == job_id]
        self._running = [step for step in self._running if step.job_id != job_id]
        _end(ending)

    def stop(self) -> None:
        ending, self._running = self._running, []
        _end(ending)


def _end(steps: list[_Running]) -> None:
    for step in steps:
        step.process.terminate()
    for step in steps:
        step.process.join(5.0)
        if step.process.is_alive():
            step.process.kill()
            step.process.join(5.0)


def _step_main(
    settings: Settings, codec: BatchCodec | None, kind: StepKind, job: Job, log_level: int
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us in order
    die_with_parent()
    logging.basicConfig(level=log_level or logging.WARNING)
    store = JobStore(DataPaths(settings.data_dir).database, settings.min_free_mb)
    try:
        run_step(store, settings, codec, kind, job, time.time)
    except (sqlite3.Error, OSError, StoreUnavailable):
        log.exception("job %s: %s step failed", job.id, kind)
        raise SystemExit(SERVER_TROUBLE_EXIT) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            store.close()
