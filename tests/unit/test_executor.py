"""LocalExecutor: input order, a bounded read-ahead window, and per-row fallback on failure.

The fakes are top-level so that worker processes can unpickle them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from geobatch.jobs.executor import LocalExecutor, Request, chunked

from geobatch.errors import IndexError_
from geobatch.jobs import executor
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest


class FakeGeocoder:
    """Answers OK with the query as ``reason``; boom raises, sleep is slow, short drops one."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]:
        queries = [request.query or "" for request in requests]
        if any("boom" in query for query in queries):
            raise RuntimeError("boom in batch")
        if any("sleep" in query for query in queries):
            time.sleep(0.3)
        answers = [Answer(ResultStatus.OK, reason=query) for query in queries]
        return answers[1:] if any("short" in query for query in queries) else answers

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        if any(request.lat == 13 for request in requests):
            raise ValueError("unlucky latitude")
        return [Answer(ResultStatus.OK, reason=f"{r.lat},{r.lon}") for r in requests]


def fake_opener(index_dir: Path) -> FakeGeocoder:
    return FakeGeocoder()


def failing_opener(index_dir: Path) -> FakeGeocoder:
    raise IndexError_(f"no index at {index_dir}")


def forward_chunks(queries: Sequence[str], size: int) -> Iterator[list[Request]]:
    requests: list[Request] = [GeocodeRequest(query=query) for query in queries]
    return chunked(requests, size)


def reasons(results: Iterator[list[Answer]]) -> list[str]:
    return [answer.reason for chunk in results for answer in chunk]


@pytest.fixture(autouse=True)
def _fake_geocoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "open_geocoder", fake_opener)


WORKERS = [1, 2]


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        ([], 3, []),
        ([1, 2, 3], 3, [[1, 2, 3]]),
        ([1, 2, 3, 4], 3, [[1, 2, 3], [4]]),
        ([1, 2], 1, [[1], [2]]),
    ],
)
def test_chunked(items: list[int], size: int, expected: list[list[int]]) -> None:
    assert list(chunked(items, size)) == expected


def test_chunked_is_lazy_and_checks_size() -> None:
    consumed = []

    def numbers() -> Iterator[int]:
        for n in range(100):
            consumed.append(n)
            yield n

    assert next(chunked(numbers(), 10)) == list(range(10))
    assert len(consumed) == 10
    with pytest.raises(ValueError, match="at least 1"):
        next(chunked([1], 0))


@pytest.mark.parametrize("workers", WORKERS)
def test_results_come_back_in_input_order(tmp_path: Path, workers: int) -> None:
    # The first chunk is slow, so a pool finishes later chunks first.
    queries = ["sleep", *(f"q{n}" for n in range(40))]
    with LocalExecutor(tmp_path, workers) as ex:
        assert reasons(ex.map_chunks("forward", forward_chunks(queries, 3))) == queries


@pytest.mark.parametrize("workers", WORKERS)
def test_reverse_chunks(tmp_path: Path, workers: int) -> None:
    requests: list[Request] = [ReverseRequest(float(n), 1.0) for n in range(7)]
    with LocalExecutor(tmp_path, workers) as ex:
        got = reasons(ex.map_chunks("reverse", chunked(requests, 2)))
    assert got == [f"{float(n)},1.0" for n in range(7)]


@pytest.mark.parametrize("workers", WORKERS)
def test_read_ahead_is_bounded(tmp_path: Path, workers: int) -> None:
    consumed = 0

    def chunks() -> Iterator[list[Request]]:
        nonlocal consumed
        for n in range(1000):
            consumed += 1
            yield [GeocodeRequest(query=f"q{n}")]

    with LocalExecutor(tmp_path, workers) as ex:
        results = ex.map_chunks("forward", chunks())
        for taken in range(1, 20):
            next(results)
            assert consumed <= taken + ex.window
        results.close()
    assert consumed < 40


@pytest.mark.parametrize("workers", WORKERS)
def test_failing_chunk_falls_back_to_rows(tmp_path: Path, workers: int) -> None:
    queries = ["a", "boom", "b", "c", "d"]
    with LocalExecutor(tmp_path, workers) as ex:
        answers = [
            a for chunk in ex.map_chunks("forward", forward_chunks(queries, 2)) for a in chunk
        ]
    assert [a.status for a in answers] == ["OK", "Failed", "OK", "OK", "OK"]
    assert [a.reason for a in answers] == ["a", "boom in batch", "b", "c", "d"]


@pytest.mark.parametrize("workers", WORKERS)
def test_wrong_answer_count_falls_back_to_rows(tmp_path: Path, workers: int) -> None:
    queries = ["a", "short", "b"]
    with LocalExecutor(tmp_path, workers) as ex:
        answers = [
            a for chunk in ex.map_chunks("forward", forward_chunks(queries, 3)) for a in chunk
        ]
    assert [a.status for a in answers] == ["OK", "Failed", "OK"]
    assert "0 answers for 1 requests" in answers[1].reason


@pytest.mark.parametrize("workers", WORKERS)
def test_failing_reverse_row(tmp_path: Path, workers: int) -> None:
    requests: list[Request] = [ReverseRequest(12.0, 0.0), ReverseRequest(13.0, 0.0)]
    with LocalExecutor(tmp_path, workers) as ex:
        answers = next(ex.map_chunks("reverse", iter([requests])))
    assert [(a.status, a.reason) for a in answers] == [
        ("OK", "12.0,0.0"),
        ("Failed", "unlucky latitude"),
    ]


@pytest.mark.parametrize("workers", WORKERS)
def test_empty_chunks_and_input(tmp_path: Path, workers: int) -> None:
    with LocalExecutor(tmp_path, workers) as ex:
        assert list(ex.map_chunks("forward", iter([]))) == []
        assert list(ex.map_chunks("forward", iter([[], []]))) == [[], []]


def test_unusable_index_in_process(tmp_path: Path) -> None:
    with (
        pytest.raises(IndexError_, match="no index"),
        LocalExecutor(tmp_path, 1, opener=failing_opener),
    ):
        pass


def test_unusable_index_in_pool_raises_once_used(tmp_path: Path) -> None:
    with LocalExecutor(tmp_path, 2, opener=failing_opener) as ex:
        results = ex.map_chunks("forward", forward_chunks(["a", "b"], 1))
        with pytest.raises(IndexError_, match="no index"):
            next(results)


def test_explicit_opener_wins_over_module_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor, "open_geocoder", failing_opener)
    with LocalExecutor(tmp_path, 1, opener=fake_opener) as ex:
        assert reasons(ex.map_chunks("forward", forward_chunks(["a"], 1))) == ["a"]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalExecutor(tmp_path, 0)
