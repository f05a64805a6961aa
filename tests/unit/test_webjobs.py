"""The web page's job operations on a real store and runner: cancel and delete while the runner
works (it stops, and nothing comes back to life), pages of results, another key's jobs."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import pytest

from geobatch.batch.worker import Kind, Request
from geobatch.formats.batch import BatchRow
from geobatch.jobs.errors import BadJobRequest, JobNotFound
from geobatch.jobs.keys import create_key
from geobatch.jobs.runner import ChunkExecutor, JobRunner
from geobatch.jobs.store import JobStatus, ResultFilter
from geobatch.jobs.webjobs import CANCELLED, WebJobs, downloads
from geobatch.model import Answer
from tests.unit.test_jobs_runner import CODECS, Harness
from tests.unit.test_jobs_support import LineBatch, LineCodec, echo_executor


class HookAfterFirstChunk:
    """The echo executor, calling ``hook`` once the first forward chunk is answered."""

    def __init__(self, hook: Callable[[], None]) -> None:
        self.inner = echo_executor()
        self.hook = hook

    def __enter__(self) -> HookAfterFirstChunk:
        self.inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, traceback)

    def map_chunks(
        self, kind: Kind, chunks: Iterable[list[Request]]
    ) -> Generator[list[Answer], None, None]:
        for number, answers in enumerate(self.inner.map_chunks(kind, chunks)):
            yield answers
            if number == 0 and kind == "forward":
                self.hook()


class HookingCodec(LineCodec):
    """Calls ``hook`` after the fourth row is read (the first chunk of 3 is stored by then)."""

    def __init__(self) -> None:
        self.hook: Callable[[], None] = lambda: None
        self.read = 0

    def decode(self, stream: BinaryIO, fmt: str) -> LineBatch:
        batch = super().decode(stream, fmt)
        codec = self

        class Hooked(LineBatch):
            def rows(self) -> Iterator[BatchRow]:
                for row in batch.rows():
                    codec.read += 1
                    if row.seq == 4:
                        codec.hook()
                    yield row

        return Hooked(batch.header, batch.lines)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def _web(harness: Harness) -> WebJobs:
    return WebJobs(harness.service, kinds=tuple(CODECS))


def _runner(harness: Harness, executor: Callable[[], ChunkExecutor]) -> JobRunner:
    harness.runner.stop()
    harness.runner = JobRunner(harness.store, harness.settings, CODECS, executor)
    return harness.runner


LINES = "\n".join(f"street {n}" for n in range(30)) + "\n"


def test_cancel_while_geocoding_stops_the_job_for_good(harness: Harness) -> None:
    web = _web(harness)
    job_id = harness.submit(LINES)
    runner = _runner(harness, lambda: HookAfterFirstChunk(lambda: web.cancel(harness.key, job_id)))
    runner.run_once()
    job = web.job(harness.key, job_id)
    assert job.status is JobStatus.ABORTED and job.error_message == CANCELLED
    assert (job.processed, job.failed) == (0, 0)
    assert harness.store.row_count(job_id) == 0  # no partial result is kept
    assert not harness.service.paths.results(job_id).exists()
    assert not runner.run_once()  # nothing left to work on
    with pytest.raises(BadJobRequest, match="already ended"):
        web.cancel(harness.key, job_id)


def test_cancel_while_decoding_stops_reading_the_file(tmp_path: Path) -> None:
    codec = HookingCodec()
    codecs = {"lines": codec}
    h = Harness(tmp_path)
    h.service.codecs = codecs
    h.runner.stop()
    h.runner = JobRunner(h.store, h.settings, codecs, echo_executor)
    try:
        web = _web(h)
        job_id = h.submit(LINES)
        codec.hook = lambda: web.cancel(h.key, job_id)
        h.runner.run_once()
        job = web.job(h.key, job_id)
        assert job.status is JobStatus.ABORTED and job.error_message == CANCELLED
        assert codec.read < 30  # the runner stopped at its next chunk
        assert h.store.row_count(job_id) == 0
    finally:
        h.close()


def test_delete_while_geocoding_leaves_nothing_behind(harness: Harness) -> None:
    web = _web(harness)
    job_id = harness.submit(LINES)
    runner = _runner(harness, lambda: HookAfterFirstChunk(lambda: web.delete(harness.key, job_id)))
    runner.run_once()
    assert harness.store.get_job(job_id) is None
    assert harness.store.row_count(job_id) == 0
    with pytest.raises(JobNotFound):
        web.job(harness.key, job_id)


def test_pages_points_and_downloads_of_a_completed_job(harness: Harness) -> None:
    web = _web(harness)
    job_id = harness.submit("a\nfail\n-\nb\nc\n")
    harness.runner.run_once()
    job, total, rows = web.page(harness.key, job_id, 1, 2, ResultFilter())
    assert total == 5 and [row.seq for row, _ in rows] == [1, 2]
    _, failed_total, failed = web.page(harness.key, job_id, 0, 10, ResultFilter("failed"))
    assert failed_total == 2 and [row.seq for row, _ in failed] == [1, 2]
    # The echo geocoder gives no results, so no row has a point to draw.
    assert web.points(harness.key, job_id, -1, 100) == []
    assert [d.name for d in downloads(job)] == ["succeeded", "failed", "geojson"]
    _, stream = web.open_download(harness.key, job_id, "geojson")
    with stream:
        assert stream.read().count(b'"Feature"') == 5
    with pytest.raises(JobNotFound, match="no 'output' file"):
        web.open_download(harness.key, job_id, "output")


def test_another_keys_jobs_are_not_found_nor_listed(harness: Harness) -> None:
    web = _web(harness)
    job_id = harness.submit("a\n")
    other = create_key(harness.store, "other").key
    assert [job.id for job in web.jobs(harness.key)] == [job_id]
    assert web.jobs(other) == []
    for call in (web.job, web.cancel, web.delete, web.completed):
        with pytest.raises(JobNotFound):
            call(other, job_id)
    assert harness.store.get_job(job_id) is not None
