"""The executor protocol over a ``dask.distributed`` cluster.

Tasks are the same top-level functions the local pool runs; each Dask worker process keeps its
geocoder between tasks (:mod:`geobatch.batch.worker`), so the index must be at the same path on
every worker (shared storage, or a copy at that path). Workers should run one thread each
(``dask worker --nthreads 1``): geocoding holds the GIL, so more threads in one process add
nothing but memory.

Dask retries a task whose worker died on another worker by itself. When the scheduler is lost,
the futures fail and :meth:`DaskExecutor.submit` raises :class:`ExecutorLost` until it is back:
the coordinator decides whether to wait, retry or give up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future
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
        self._executor = self._client.get_executor(pure=False)  # type: ignore[no-untyped-call]
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
        if self._client.status not in {"running", "connecting"}:
            raise ExecutorLost(f"lost the Dask scheduler at {self.address}")

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        self.check()
        future: Future[T] = self._executor.submit(fn, *args)
        return future

    def close(self) -> None:
        # A client whose scheduler is gone may fail to close cleanly: it is let go all the same.
        with contextlib.suppress(Exception):
            self._executor.shutdown(wait=False)
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
