"""The job runner in a process of its own, started and stopped by the server.

Decoding uploads, feeding the worker pool, unpickling its answers and storing them all hold a
Python process's GIL; in the server's process they made the status requests of waiting clients
wait too. In a child process they cannot: the server only answers HTTP and reads and writes job
rows in the store (SQLite in WAL mode, so the two processes read freely and queue their writes).

The child is started with ``spawn`` (the server runs threads, and forking a threaded process can
copy a held lock into the child). The server wakes it when a job is created and stops it on
shutdown through two ``multiprocessing`` events. Exactly one runner works on a data directory:

- the child dies with the server: on Linux the kernel kills it when the server dies, even by
  SIGKILL (:mod:`geobatch.batch.lifeline`), and its pool's workers die with it in turn (the
  child runs no other thread, so the pool is forked from it); elsewhere it stops once it sees
  it was orphaned;
- it holds an exclusive lock on ``runner.lock`` while it works, and a second runner (a restarted
  server whose predecessor is still dying, or a second server on the same directory) waits for
  it. The lock is a POSIX record lock: the kernel drops it when the process dies, and children
  forked by the runner do not inherit it.

SIGTERM sent to the child alone ends it at once; that is safe (each chunk of answers is one
transaction), and the server stops it gracefully by the event instead. A child that dies while
the server runs is started again (:meth:`RunnerProcess.ensure_running`, called periodically by
the server).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from geobatch.batch.lifeline import die_with_parent, parent_is_alive
from geobatch.config import Settings
from geobatch.formats.batch import BatchCodec
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.runner import ExecutorFactory, Flag, JobRunner
from geobatch.jobs.steps import ProcessSteps
from geobatch.jobs.store import JobStore

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_SECONDS = 30.0  # to finish the chunks in hand before the runner is killed
LOCK_POLL_SECONDS = 0.5
PARENT_POLL_SECONDS = 0.5
RESTART_SECONDS = 5.0  # the least time between two starts of a runner that keeps dying


@dataclass(frozen=True, slots=True)
class _ChildArgs:
    """Everything the child needs, pickled to it (``executor_factory`` must be picklable: a
    top-level function, or None for ``settings.cluster``, else the local pool of
    ``settings.workers`` processes)."""

    settings: Settings
    codecs: Mapping[str, BatchCodec]
    executor_factory: ExecutorFactory | None
    parent_pid: int
    log_level: int


class RunnerProcess:
    """A :class:`JobRunner` working in a child process; use as a context manager or call
    :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        codecs: Mapping[str, BatchCodec],
        executor_factory: ExecutorFactory | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        wake, stopping = context.Event(), context.Event()
        # Dropped once the runner has stopped: that frees their named semaphores at once, which
        # otherwise wait for the interpreter's exit (and uvicorn ends by re-raising SIGTERM,
        # which skips it: multiprocessing's resource tracker would report them as leaked).
        self._wake: Flag | None = wake
        self._stopping: Flag | None = stopping
        self._context = context
        self._args = _ChildArgs(
            settings, codecs, executor_factory, os.getpid(), logging.getLogger().level
        )
        self._process = self._new_process()
        self._started = 0.0

    def _new_process(self) -> multiprocessing.process.BaseProcess:
        return self._context.Process(
            target=_child_main,
            args=(self._args, self._wake, self._stopping),
            name="geobatch-jobs",
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def start(self) -> None:
        """Start the child. Call from a thread that lives as long as the server (its main
        thread): on Linux the child is killed when the thread that started it ends."""
        self._process.start()
        self._started = time.monotonic()
        log.info("job runner started (process %s)", self._process.pid)

    def ensure_running(self) -> bool:
        """Start a new child when the last one died without being stopped (killed by the OOM
        killer, say), at most once every :data:`RESTART_SECONDS`; True when one was started.

        Without this the server would go on accepting jobs that nobody runs. Same thread rule
        as :meth:`start`.
        """
        if self._wake is None or self._process.pid is None or self._process.is_alive():
            return False  # stopped, never started, or running
        if time.monotonic() - self._started < RESTART_SECONDS:
            return False
        log.error(
            "the job runner exited unexpectedly (exit code %s); starting a new one",
            self._process.exitcode,
        )
        self._process = self._new_process()
        self.start()
        return True

    def wake(self) -> None:
        """A job was created: look for work now rather than at the next tick."""
        wake = self._wake
        if wake is not None:
            wake.set()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Let the runner finish the chunks in hand and exit; kill it if it takes too long.

        An unfinished job resumes at the next start either way.
        """
        wake, stopping = self._wake, self._stopping
        if self._process.pid is None or wake is None or stopping is None:
            return  # never started, or stopped already
        stopping.set()
        wake.set()
        self._process.join(timeout)
        if self._process.is_alive():
            log.warning("job runner did not stop in %.0f s; killing it", timeout)
            self._process.kill()
            self._process.join(5.0)
        self._wake = self._stopping = None

    def __enter__(self) -> RunnerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _child_main(args: _ChildArgs, wake: Flag, stopping: Flag) -> None:
    # Ctrl-C reaches every process of the terminal's group: the server stops us in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=args.log_level or logging.WARNING, format=LOG_FORMAT)
    if not die_with_parent(args.parent_pid):
        # Only where the kernel cannot kill us with the server: a watching thread makes the
        # executor start its pool from a fork server, whose workers a SIGKILL would orphan.
        # Single-threaded, the pool is forked from this process and its workers die with it.
        _watch_parent(args.parent_pid, wake, stopping)
    paths = DataPaths(args.settings.data_dir).create()
    with only_runner(paths.runner_lock, stopping) as held:
        if not held:
            return
        store = JobStore(paths.database, args.settings.min_free_mb)
        runner = JobRunner(
            store,
            args.settings,
            args.codecs,
            args.executor_factory,
            wake=wake,
            stopping=stopping,
            steps=ProcessSteps(args.settings, args.log_level),
        )
        try:
            runner.run_forever()
        finally:
            runner.close()
            store.close()
    log.info("job runner stopped")


def _watch_parent(parent_pid: int, wake: Flag, stopping: Flag) -> None:
    """Stop when the server has gone, where the kernel does not kill us for it (not Linux)."""

    def watch() -> None:
        while not stopping.wait(PARENT_POLL_SECONDS):
            if not parent_is_alive(parent_pid):
                log.warning("the server has gone; the job runner stops")
                stopping.set()
                wake.set()

    threading.Thread(target=watch, name="geobatch-parent-watch", daemon=True).start()


@contextlib.contextmanager
def only_runner(path: Path, stopping: Flag) -> Iterator[bool]:
    """Hold the runner lock at ``path`` while inside; yields False when ``stopping`` was set
    before the lock could be taken (another runner kept it)."""
    with path.open("a") as lock_file:
        if not _wait_for_lock(lock_file, stopping):
            yield False
            return
        yield True  # closing the file (or dying) releases the lock


def _wait_for_lock(lock_file: TextIO, stopping: Flag) -> bool:
    waiting = False
    while True:
        try:
            fcntl.lockf(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if not waiting:
                log.warning("another job runner works on this data directory; waiting for it")
                waiting = True
            if stopping.wait(LOCK_POLL_SECONDS):
                return False
            continue
        if waiting:
            log.info("the other job runner has gone; this one takes over")
        return True
