"""The batch layer's executors and workers: order, a bounded window, per-row fallback, the
geocoder kept per worker process, a broken pool replaced, and what a run says when it cannot
finish. The fakes are top-level so that worker processes can unpickle them.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from geobatch.batch import worker
from geobatch.batch.csvrun import BatchIncomplete, run_csv
from geobatch.batch.csvsplit import RecordSplitter, Slice
from geobatch.batch.csvtask import CsvSpec
from geobatch.batch.executors import ExecutorLost, LocalExecutor, chunked
from geobatch.batch.worker import IndexLocation, answer, geocoder_for
from geobatch.errors import IndexError_
from geobatch.formats.plaincsv import ForwardColumns
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

T = TypeVar("T")
OPENED: list[str] = []


class FakeGeocoder:
    """No results; 'boom' raises, 'sleep' is slow, 'short' drops an answer, 'die' kills the
    worker process."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]:
        queries = [request.query or "" for request in requests]
        # Only in a worker process, never in the test's own. (Not an environment variable set
        # by the test: a pool started by a fork server, as after another test left a thread
        # running, gets the environment of that server, not the test's.)
        if any("die" in query for query in queries) and multiprocessing.parent_process():
            os._exit(9)
        if any("boom" in query for query in queries):
            raise RuntimeError("boom in batch")
        if any("sleep" in query for query in queries):
            time.sleep(0.3)
        answers = [Answer(ResultStatus.NO_RESULT, reason=query) for query in queries]
        return answers[1:] if any("short" in query for query in queries) else answers

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        if any(request.lat == 13 for request in requests):
            raise ValueError("unlucky latitude")
        return [Answer(ResultStatus.NO_RESULT, reason=f"{r.lat},{r.lon}") for r in requests]


def fake_opener(index_dir: Path) -> FakeGeocoder:
    OPENED.append(str(index_dir))
    return FakeGeocoder()


def failing_opener(index_dir: Path) -> FakeGeocoder:
    raise IndexError_(f"no index at {index_dir}")


def echo(value: T) -> T:
    return value


def pid() -> int:
    return os.getpid()


def spec_for(index: Path) -> CsvSpec:
    return CsvSpec(
        kind="forward",
        index=IndexLocation(index),
        header=("q",),
        columns=ForwardColumns(query="q"),
        delimiter=",",
        out_delimiter=",",
    )


def csv_reasons(data: bytes) -> list[str]:
    return [line.split(",")[-1] for line in data.decode().splitlines()]


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [([], 3, []), ([1, 2, 3], 3, [[1, 2, 3]]), ([1, 2, 3, 4], 3, [[1, 2, 3], [4]])],
)
def test_chunked(items: list[int], size: int, expected: list[list[int]]) -> None:
    assert list(chunked(items, size)) == expected
    with pytest.raises(ValueError, match="at least 1"):
        next(chunked([1], 0))


def test_a_failing_batch_is_answered_row_by_row() -> None:
    geocoder = FakeGeocoder()
    requests = [GeocodeRequest(query=q) for q in ("a", "boom", "b")]
    answers = answer(geocoder, "forward", requests)
    assert [(a.status, a.reason) for a in answers] == [
        ("NoResult", "a"),
        ("Failed", "boom in batch"),
        ("NoResult", "b"),
    ]
    short = answer(geocoder, "forward", [GeocodeRequest(query="short")])
    assert short[0].status is ResultStatus.FAILED and "0 answers for 1" in short[0].reason
    points = answer(geocoder, "reverse", [ReverseRequest(12.0, 0.0), ReverseRequest(13.0, 0.0)])
    assert [a.reason for a in points] == ["12.0,0.0", "unlucky latitude"]


def test_the_geocoder_is_opened_once_and_again_when_the_index_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "open_geocoder", fake_opener)
    OPENED.clear()
    (tmp_path / "a.gbx.sqlite").write_bytes(b"1")
    location = IndexLocation(tmp_path)
    first = geocoder_for(location)
    assert geocoder_for(location) is first
    (tmp_path / "b.gbx.sqlite").write_bytes(b"2")  # a new data set imported
    assert geocoder_for(location) is not first
    assert [str(tmp_path), str(tmp_path)] == OPENED


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_runs_tasks(workers: int) -> None:
    with LocalExecutor(workers) as executor:
        assert executor.slots == workers
        futures = [executor.submit(echo, n) for n in range(10)]
        assert [f.result(timeout=60) for f in futures] == list(range(10))
        pids = {executor.submit(pid).result(timeout=60) for _ in range(4)}
    assert (pids == {os.getpid()}) == (workers == 1)


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalExecutor(0)


def test_a_pool_broken_by_a_dying_worker_is_replaced(tmp_path: Path) -> None:
    spec = spec_for(tmp_path)
    with LocalExecutor(2, opener=fake_opener) as executor:
        from geobatch.batch.csvtask import geocode_slice

        doomed = executor.submit(geocode_slice, spec, b"die\n", 2)
        with pytest.raises(Exception):  # noqa: B017 - BrokenProcessPool
            doomed.result(timeout=60)
        again = executor.submit(geocode_slice, spec, b"fine\n", 2).result(timeout=60)
    assert csv_reasons(again.data) == ["fine"]


def slices_of(queries: Sequence[str], per_slice: int) -> Iterator[Slice]:
    data = "".join(f"{q}\n" for q in queries).encode()
    return iter(RecordSplitter(io.BytesIO(data), lines_per_slice=per_slice, first_line=2))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_writes_in_input_order(tmp_path: Path, workers: int) -> None:
    queries = ["sleep", *(f"q{n}" for n in range(40)), "boom"]
    out = io.BytesIO()
    with LocalExecutor(workers, opener=fake_opener) as executor:
        tally = run_csv(spec_for(tmp_path), slices_of(queries, 3), executor, out)
    assert csv_reasons(out.getvalue()) == [*queries[:-1], "boom in batch"]
    assert (tally.no_result, tally.failed, tally.lines) == (41, 1, 42)


def test_a_run_reads_ahead_a_bounded_window(tmp_path: Path) -> None:
    taken = 0

    def counted() -> Iterator[Slice]:
        nonlocal taken
        for piece in slices_of([f"q{n}" for n in range(200)], 1):
            taken += 1
            yield piece

    written: list[int] = []

    def progress(piece: Slice) -> None:
        written.append(taken)

    with LocalExecutor(2, opener=fake_opener) as executor:
        run_csv(spec_for(tmp_path), counted(), executor, io.BytesIO(), progress)
    assert all(ahead - done <= 2 * 2 + 1 for done, ahead in enumerate(written, start=1))


def test_an_unusable_index_is_the_runs_error(tmp_path: Path) -> None:
    with LocalExecutor(2, opener=failing_opener) as executor, pytest.raises(IndexError_):
        run_csv(spec_for(tmp_path), slices_of(["a", "b"], 1), executor, io.BytesIO())


class LosingExecutor(LocalExecutor):
    """Answers ``good`` tasks, then every task fails as if its worker had been lost."""

    def __init__(self, good: int) -> None:
        super().__init__(1, opener=fake_opener)
        self.good = good

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        if self.good > 0:
            self.good -= 1
            return super().submit(fn, *args)
        future: Future[Any] = Future()
        future.set_exception(ConnectionError("worker lost"))
        return future


def test_a_run_that_cannot_finish_says_which_lines_are_missing(tmp_path: Path) -> None:
    out = io.BytesIO()
    with pytest.raises(BatchIncomplete) as caught:
        run_csv(
            spec_for(tmp_path), slices_of([f"q{n}" for n in range(10)], 2), LosingExecutor(2), out
        )
    assert caught.value.first_missing_line == 6  # lines 2-5 were written
    assert caught.value.written_rows == 4
    assert "input lines 6 and after were not geocoded (worker lost)" in str(caught.value)
    assert csv_reasons(out.getvalue()) == ["q0", "q1", "q2", "q3"]


def test_a_lost_executor_ends_the_run_with_what_is_missing(tmp_path: Path) -> None:
    class Gone(LocalExecutor):
        def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
            raise ExecutorLost("lost the Dask scheduler at tcp://127.0.0.1:1")

    with pytest.raises(
        BatchIncomplete, match=r"lines 2 and after were not geocoded \(lost the Dask scheduler"
    ):
        run_csv(spec_for(tmp_path), slices_of(["a"], 1), Gone(1), io.BytesIO())
