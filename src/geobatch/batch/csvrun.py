"""The coordinator of a CSV run: route slices to an executor, write their output in input
order, and say exactly what is missing when the run cannot finish.

The coordinator reads bytes and cuts them at record boundaries (:mod:`.csvsplit`); it parses
no row and formats no result, so one process can feed many workers. At most ``window`` tasks
are in flight, so memory stays flat however long the input is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from geobatch.batch.csvsplit import Slice
from geobatch.batch.csvtask import CsvPiece, CsvSpec, geocode_slice, oversize_line
from geobatch.batch.executors import Executor, ExecutorLost
from geobatch.errors import GeobatchError

# A task that fails for the executor's reasons (a worker killed, a lost connection) is sent
# again this many times before the run gives up.
TASK_ATTEMPTS = 3
CHECK_SECONDS = 1.0  # how often a wait for a task checks that the executor still runs


class BatchIncomplete(GeobatchError):
    """The run stopped before every row was answered; the message names the first line missing
    and how many rows were written before it."""

    def __init__(self, message: str, written_rows: int, first_missing_line: int) -> None:
        super().__init__(message)
        self.written_rows = written_rows
        self.first_missing_line = first_missing_line


@dataclass
class Tally:
    """Input rows answered so far, by status."""

    ok: int = 0
    no_result: int = 0
    failed: int = 0
    lines: int = field(default=0)  # input lines written (data lines, blank ones included)

    @property
    def rows(self) -> int:
        return self.ok + self.no_result + self.failed

    def add(self, piece: CsvPiece, lines: int) -> None:
        self.ok += piece.ok
        self.no_result += piece.no_result
        self.failed += piece.failed
        self.lines += lines


class ByteSink(Protocol):
    """Where the output bytes go: a binary file, or a sink that turns them into another format."""

    def write(self, data: bytes, /) -> object: ...


@dataclass
class _Task:
    piece: Slice
    future: Future[CsvPiece]
    attempts: int = 1


def run_csv(
    spec: CsvSpec,
    slices: Iterable[Slice],
    executor: Executor,
    out: ByteSink,
    progress: Callable[[Slice], None] = lambda piece: None,
    *,
    window: int | None = None,
) -> Tally:
    """Answer every slice on ``executor`` and write the output bytes to ``out`` in order.

    Raises :class:`BatchIncomplete` when a slice cannot be answered (its tasks kept failing,
    or the executor is lost); what was written before it is complete and in order. An error
    of the run itself (an index that cannot be opened) is raised as it is.
    """
    tally = Tally()
    pending: deque[_Task] = deque()
    source = iter(slices)
    exhausted = False
    while True:
        limit = window or 2 * executor.slots + 1
        while not exhausted and len(pending) < limit:
            piece = next(source, None)
            if piece is None:
                exhausted = True
                break
            pending.append(_Task(piece, _submit(spec, piece, executor, tally)))
        if not pending:
            return tally
        task = pending[0]
        try:
            result = _wait(task.future, executor)
        except Exception as exc:
            if isinstance(exc, GeobatchError) and not isinstance(exc, ExecutorLost):
                raise  # the run's own error (the index is unusable): every task would fail alike
            if task.attempts >= TASK_ATTEMPTS:
                raise _incomplete(task.piece, tally, exc) from exc
            task.attempts += 1
            task.future = _submit(spec, task.piece, executor, tally)
            continue
        pending.popleft()
        out.write(result.data)
        tally.add(result, task.piece.lines)
        progress(task.piece)


def _wait(future: Future[CsvPiece], executor: Executor) -> CsvPiece:
    """The task's result; raises :class:`ExecutorLost` if the executor is lost meanwhile."""
    while True:
        try:
            return future.result(timeout=CHECK_SECONDS)
        except TimeoutError:
            executor.check()


def _submit(spec: CsvSpec, piece: Slice, executor: Executor, tally: Tally) -> Future[CsvPiece]:
    if piece.oversize:
        # Nothing to geocode: answered here, without sending the line's first bytes anywhere.
        done: Future[CsvPiece] = Future()
        done.set_result(oversize_line(spec, piece.data, piece.first_line, piece.oversize))
        return done
    try:
        return executor.submit(geocode_slice, spec, piece.data, piece.first_line)
    except ExecutorLost as exc:
        raise _incomplete(piece, tally, exc) from exc


def _incomplete(piece: Slice, tally: Tally, exc: BaseException) -> BatchIncomplete:
    reason = str(exc) or type(exc).__name__
    return BatchIncomplete(
        f"input lines {piece.first_line:,} and after were not geocoded ({reason}); "
        f"the {tally.rows:,} rows before them were written",
        tally.rows,
        piece.first_line,
    )
