"""Local executor: answer chunks of requests in order, in-process or on a pool of worker processes.

Each worker opens the index once (pool initializer) and keeps the geocoder in a module global. At
most ``2 × workers`` chunks are in flight, so memory stays flat however long the input is; results
come back in input order. A chunk whose worker raises is answered again row by row in this
process, and a row that still raises becomes a Failed answer: one bad row never ends a batch.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, TypeVar

from geobatch.jobs.lifeline import die_with_parent
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

Kind = Literal["forward", "reverse"]
Request = GeocodeRequest | ReverseRequest
T = TypeVar("T")


class BatchGeocoder(Protocol):
    """What the executor needs of a geocoder (``geobatch.geocode.geocoder.Geocoder`` fits)."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]: ...

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]: ...


OpenGeocoder = Callable[[Path], BatchGeocoder]


def _open_index(index_dir: Path) -> BatchGeocoder:
    from geobatch.geocode.geocoder import Geocoder

    # Built before the first chunk: a worker's first rows should not wait for its typo indexes.
    return Geocoder.open(index_dir).prepare()


# How executors open a geocoder. Tests replace it with a top-level (picklable) fake factory;
# LocalExecutor reads it when constructed and hands it to each worker.
open_geocoder: OpenGeocoder = _open_index

_worker_geocoder: BatchGeocoder | None = None
_worker_open_error: Exception | None = None


def chunked(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _answer_chunk(geocoder: BatchGeocoder, kind: Kind, chunk: Sequence[Request]) -> list[Answer]:
    if not chunk:
        return []
    if kind == "forward":
        answers = geocoder.geocode_batch([r for r in chunk if isinstance(r, GeocodeRequest)])
    else:
        answers = geocoder.reverse_batch([r for r in chunk if isinstance(r, ReverseRequest)])
    if len(answers) != len(chunk):
        raise ValueError(f"geocoder gave {len(answers)} answers for {len(chunk)} requests")
    return answers


def _answer_rows(geocoder: BatchGeocoder, kind: Kind, chunk: Sequence[Request]) -> list[Answer]:
    """Answer one request at a time; a request that raises becomes a Failed answer."""
    answers = []
    for request in chunk:
        try:
            answers.extend(_answer_chunk(geocoder, kind, [request]))
        except Exception as exc:
            answers.append(Answer(status=ResultStatus.FAILED, reason=_describe(exc)))
    return answers


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


WORKER_NICENESS = 15


def _init_worker(opener: OpenGeocoder, index_dir: Path) -> None:
    """Pool initializer: leave Ctrl-C to the parent, die with the parent, and open the index once
    for this process.

    A failure to open is kept and raised by each task rather than here: an initializer that
    raises breaks the whole pool and prints a traceback from every worker.
    """
    global _worker_geocoder, _worker_open_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, OOM) cannot shut its pool down: without this the
    # workers would idle for ever, each holding an index in memory. (With a fork server as
    # parent, it exits when its own parent dies, and so these follow.)
    die_with_parent()
    # Batch work yields to the process that answers people: the server's status requests
    # (or the CLI's progress bar) stay quick while every core is geocoding.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    try:
        _worker_geocoder = opener(index_dir)
    except Exception as exc:
        _worker_open_error = exc


def _worker_run(kind: Kind, chunk: list[Request]) -> list[Answer]:
    if _worker_geocoder is None:
        raise _worker_open_error or RuntimeError("worker geocoder was not opened")
    return _answer_chunk(_worker_geocoder, kind, chunk)


def _start_context() -> multiprocessing.context.BaseContext:
    """Fork is quickest, but forking a process that runs other threads (the HTTP server, its
    job runner) can copy a lock held by one of them and hang the child: use a fork server."""
    if threading.active_count() > 1:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork")


class LocalExecutor:
    """Answer chunks of requests on this machine; use as a context manager.

    ``workers=1`` runs everything in this process (no pool), which is simplest to debug.
    """

    def __init__(self, index_dir: Path, workers: int, *, opener: OpenGeocoder | None = None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.index_dir = index_dir
        self.workers = workers
        self.window = 2 * workers
        self._opener = opener or open_geocoder
        self._local: BatchGeocoder | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_start_context(),
                initializer=_init_worker,
                initargs=(self._opener, self.index_dir),
            )
        else:
            self._local_geocoder()
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
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _local_geocoder(self) -> BatchGeocoder:
        """The in-process geocoder, opened on first use (raises if the index is unusable)."""
        if self._local is None:
            self._local = self._opener(self.index_dir)
        return self._local

    def map_chunks(
        self, kind: Kind, chunks: Iterable[list[Request]]
    ) -> Generator[list[Answer], None, None]:
        """Answers for each chunk, in input order, with at most ``window`` chunks read ahead."""
        if self._pool is None:
            for chunk in chunks:
                yield self._answer_here(kind, chunk)
            return
        pending: deque[tuple[list[Request], Future[list[Answer]] | None]] = deque()
        for chunk in chunks:
            pending.append((chunk, self._submit(kind, chunk)))
            while len(pending) >= self.window:
                yield self._collect(kind, *pending.popleft())
        while pending:
            yield self._collect(kind, *pending.popleft())

    def _submit(self, kind: Kind, chunk: list[Request]) -> Future[list[Answer]] | None:
        """Send a chunk to the pool; None when the pool is broken (the chunk runs here)."""
        if self._pool is None:
            return None
        try:
            return self._pool.submit(_worker_run, kind, chunk)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return None

    def _collect(
        self, kind: Kind, chunk: list[Request], future: Future[list[Answer]] | None
    ) -> list[Answer]:
        if future is None:
            return self._answer_here(kind, chunk)
        try:
            return future.result()
        except Exception:
            # The worker failed (a bad row, or the pool broke): redo this chunk row by row here.
            return _answer_rows(self._local_geocoder(), kind, chunk)

    def _answer_here(self, kind: Kind, chunk: list[Request]) -> list[Answer]:
        geocoder = self._local_geocoder()
        try:
            return _answer_chunk(geocoder, kind, chunk)
        except Exception:
            return _answer_rows(geocoder, kind, chunk)
