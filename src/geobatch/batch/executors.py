"""Executors: where batch tasks run. One protocol, two implementations.

- :class:`LocalExecutor` runs tasks in this process (one worker) or on a pool of worker
  processes on this machine (the default);
- :class:`geobatch.batch.dask.DaskExecutor` sends them to a ``dask.distributed`` cluster.

A task is a top-level function and picklable arguments; :meth:`Executor.submit` returns a
``concurrent.futures.Future``. Coordinators keep at most a window of tasks in flight (a few per
slot, so that workers never wait for the next task while memory stays flat) and decide
themselves what a failed task means: an executor never retries on its own, beyond replacing a
broken local pool.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Protocol, TypeVar

from geobatch.batch.lifeline import die_with_parent
from geobatch.errors import GeobatchError

T = TypeVar("T")

# Batch work yields to the processes that answer people: the server's status requests (or the
# CLI's progress bar) stay quick while every core is geocoding.
WORKER_NICENESS = 15


class ExecutorLost(GeobatchError):
    """The executor cannot run tasks any more (the cluster went away); the message says why."""


class Executor(Protocol):
    """Runs tasks; use as a context manager (``close`` on exit)."""

    @property
    def slots(self) -> int:
        """How many tasks it runs at once (worker processes, or the cluster's threads)."""
        ...

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]: ...

    def describe(self) -> str:
        """Where tasks run, for a person: "2 local worker processes", "Dask at tcp://..."."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


def _init_worker() -> None:
    """Pool initializer: leave Ctrl-C to the parent, die with the parent, and be nice."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, OOM) cannot shut its pool down: without this the
    # workers would idle for ever, each holding an index in memory.
    die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def _start_context() -> multiprocessing.context.BaseContext:
    """Fork is quickest, but forking a process that runs other threads (the HTTP server, a Dask
    client) can copy a lock held by one of them and hang the child: use a fork server then."""
    if threading.active_count() > 1:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork")


class LocalExecutor:
    """Tasks on this machine: in this process for ``workers=1`` (no pool, no pickling), else on
    a pool of ``workers`` processes. A pool broken by a dying worker is replaced at the next
    submit; the futures it held fail with ``BrokenProcessPool`` and their coordinator decides.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        return self.workers

    def describe(self) -> str:
        if self.workers == 1:
            return "1 worker (this process)"
        return f"{self.workers} local worker processes"

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        if self.workers == 1:
            return _run_here(fn, *args)
        for _ in range(2):
            pool = self._pool_open()
            try:
                return pool.submit(fn, *args)
            except BrokenProcessPool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
        raise ExecutorLost("the local worker processes keep dying")

    def _pool_open(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_start_context(), initializer=_init_worker
            )
        return self._pool


def _run_here(fn: Callable[..., T], /, *args: Any) -> Future[T]:
    future: Future[T] = Future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


def open_executor(workers: int, cluster: str | None = None) -> Executor:
    """The Dask executor when ``cluster`` (a scheduler address) is given, else the local one."""
    if cluster:
        from geobatch.batch.dask import DaskExecutor

        return DaskExecutor(cluster)
    return LocalExecutor(workers)
