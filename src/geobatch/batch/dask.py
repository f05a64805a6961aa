"""The executor protocol over a ``dask.distributed`` cluster.

Tasks are the same top-level functions the local pool runs; each Dask worker process keeps its
geocoder between tasks (:mod:`geobatch.batch.worker`), so the index must be at the same path on
every worker (shared storage, or a copy at that path). Workers should run one thread each
(``dask worker --nthreads 1``): geocoding holds the GIL, so more threads in one process add
nothing but memory.

Dask retries a task whose worker died on another worker by itself. When the scheduler is lost,
the tasks in flight are lost with it: their futures fail, and the client tries to reconnect for
``connect_seconds``. A scheduler back in time (restarted at the same address) takes new tasks
through the same executor; otherwise :meth:`DaskExecutor.submit` and
:meth:`DaskExecutor.check` raise :class:`ExecutorLost`, and the coordinator decides whether to
wait, retry or give up.

Every future this executor returns resolves, whatever happens to the connection: with the
task's result, its error, or :class:`ExecutorLost`. (``distributed``'s own ``ClientExecutor``
leaves its future pending for ever when fetching a finished task's result fails, as it does
when the scheduler dies at that moment: a job runner waiting for the future never finished the
job, and a CLI run waiting for it would hang.)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from types import TracebackType
from typing import Any, TypeVar

from geobatch.batch.executors import ExecutorLost

T = TypeVar("T")

CONNECT_SECONDS = 10.0
SLOTS_REFRESH_SECONDS = 5.0


class DaskExecutor:
    """Connects to the scheduler at ``address`` (``tcp://host:8786``) when created."""

    def __init__(self, address: str, *, connect_seconds: float = CONNECT_SECONDS) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorLost(
                "a Dask cluster needs the dask.distributed package: pip install 'geobatch[cluster]'"
            ) from None
        self.address = address
        try:
            self._client = Client(  # type: ignore[no-untyped-call]
                address, timeout=connect_seconds, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise ExecutorLost(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self._lock = threading.Lock()
        # Each future given out, with its Dask future (held: one let go of is forgotten by the
        # scheduler) and the connection it was sent through (None: sent once reconnected).
        self._pending: dict[Future[Any], tuple[Any, object | None]] = {}
        self._comm: object | None = self._client.scheduler_comm
        self._slots = 1
        self._slots_read = 0.0

    @property
    def slots(self) -> int:
        now = time.monotonic()
        if now - self._slots_read >= SLOTS_REFRESH_SECONDS:
            self._slots_read = now
            try:
                threads = sum(self._client.nthreads().values())  # type: ignore[no-untyped-call]
            except Exception:
                threads = 0  # the scheduler is away: keep the last count
            if threads:
                self._slots = threads
        return self._slots

    def describe(self) -> str:
        return f"Dask cluster at {self.address} ({self.slots} worker threads)"

    def check(self) -> None:
        client = self._client
        if client.status not in {"running", "connecting"}:
            raise ExecutorLost(f"lost the Dask scheduler at {self.address}")
        comm = client.scheduler_comm
        if client.status == "running" and comm is not self._comm:
            self._comm = comm
            self._fail_sent_before(comm)

    def _fail_sent_before(self, comm: object) -> None:
        """Reconnected: the scheduler now knows no task sent through an earlier connection.
        Dask cancels those itself; any still pending is failed here, so none waits for ever."""
        with self._lock:
            stale = [f for f, (_, sent) in self._pending.items() if sent not in (None, comm)]
            tasks = [self._pending.pop(future)[0] for future in stale]
        for future, task in zip(stale, tasks, strict=True):
            with contextlib.suppress(Exception):
                task.cancel()
            self._fail(future, ExecutorLost(f"lost the Dask scheduler at {self.address}"))

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        self.check()
        try:
            task: Any = self._client.submit(fn, *args, pure=False)
        except Exception as exc:  # the client closed itself meanwhile
            raise ExecutorLost(f"lost the Dask scheduler at {self.address}: {exc}") from None
        future: Future[T] = Future()
        with self._lock:
            self._pending[future] = (task, self._client.scheduler_comm)
        future.add_done_callback(self._cancelled)
        task.add_done_callback(lambda done: self._deliver(future, done))
        return future

    def _deliver(self, future: Future[Any], task: Any) -> None:
        """In Dask's callback thread, once the task finished, failed or was cancelled (as every
        task in flight is when the client loses the scheduler): hand on its outcome."""
        with self._lock:
            self._pending.pop(future, None)
        try:
            outcome = task.result()
        except BaseException as exc:  # the task's own error, or its result could not be had
            if task.status == "cancelled" or not isinstance(exc, Exception):
                exc = ExecutorLost(f"lost the Dask scheduler at {self.address}: a task was lost")
            self._fail(future, exc)
            return
        with contextlib.suppress(InvalidStateError):  # cancelled by the coordinator
            future.set_result(outcome)

    @staticmethod
    def _fail(future: Future[Any], exc: BaseException) -> None:
        with contextlib.suppress(InvalidStateError):
            future.set_exception(exc)

    def _cancelled(self, future: Future[Any]) -> None:
        """The coordinator cancelled ``future`` (its job was cancelled): cancel its task."""
        if not future.cancelled():
            return
        with self._lock:
            held = self._pending.pop(future, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].cancel()

    def close(self) -> None:
        with self._lock:
            held, self._pending = self._pending, {}
        for future in held:  # whoever still waits for them learns they are lost
            self._fail(future, ExecutorLost(f"the Dask executor at {self.address} was closed"))
        # A client whose scheduler is gone may fail to close cleanly: it is let go all the same.
        with contextlib.suppress(Exception):
            self._client.close(timeout=5)  # type: ignore[no-untyped-call]

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
