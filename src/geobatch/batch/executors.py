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
import itertools
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Protocol, TypeVar

from geobatch.batch import worker
from geobatch.batch.lifeline import die_with_parent
from geobatch.batch.worker import Opener
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

    def check(self) -> None:
        """Raise :class:`ExecutorLost` when the tasks in flight can no longer finish (their
        futures may then never resolve: coordinators call this while they wait)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


def _init_worker(opener: Opener, nice: bool) -> None:
    """Pool initializer: leave Ctrl-C to the parent, die with the parent, and be nice (when
    the parent answers people: a server)."""
    worker.open_geocoder = opener
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, OOM) cannot shut its pool down: without this the
    # workers would idle for ever, each holding an index in memory.
    die_with_parent()
    if nice:
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

    def __init__(self, workers: int, *, opener: Opener | None = None, nice: bool = False) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        # How its workers open an index: read when made, and handed to each worker process.
        self.opener = opener or worker.open_geocoder
        # A server's workers yield to the process answering HTTP; a CLI's need not (its parent
        # only moves bytes), and on a busy machine a niced worker loses to everyone else.
        self.nice = nice
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        return self.workers

    def check(self) -> None:
        pass  # a broken pool fails its futures by itself

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
            return _run_here(self.opener, fn, *args)
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
                max_workers=self.workers,
                mp_context=_start_context(),
                initializer=_init_worker,
                initargs=(self.opener, self.nice),
            )
        return self._pool


def _run_here(opener: Opener, fn: Callable[..., T], /, *args: Any) -> Future[T]:
    future: Future[T] = Future()
    default = worker.open_geocoder
    worker.open_geocoder = opener
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    finally:
        worker.open_geocoder = default
    return future


def chunked(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def open_executor(
    workers: int, cluster: str | None = None, *, opener: Opener | None = None, nice: bool = False
) -> Executor:
    """The Dask executor when ``cluster`` (a scheduler address) is given, else the local one."""
    if cluster:
        from geobatch.batch.dask import DaskExecutor

        return DaskExecutor(cluster)
    return LocalExecutor(workers, opener=opener, nice=nice)
