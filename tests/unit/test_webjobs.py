"""The web page's job operations on a real store and runner: cancel and delete while the runner
decodes, geocodes or writes the results (it stops, nothing comes back to life, no partial row or
file stays, no row is charged that was not stored), pages of results, another key's jobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from geobatch.batch.executors import LocalExecutor
from geobatch.formats.batch import BatchRow, Outcome
from geobatch.jobs.errors import BadJobRequest, JobNotFound
from geobatch.jobs.keys import create_key, usage_day
from geobatch.jobs.results import render_result
from geobatch.jobs.runner import JobRunner
from geobatch.jobs.steps import ProcessSteps
from geobatch.jobs.store import Job, JobStatus, JobStore, ResultFilter
from geobatch.jobs.webjobs import CANCELLED, WebJobs, downloads
from tests.unit.test_jobs_runner import CODECS, Harness
from tests.unit.test_jobs_support import LineBatch, LineCodec, echo_executor, echo_opener

T = TypeVar("T")


class HookBeforeSubmit(LocalExecutor):
    """The echo executor (tasks run inside ``submit``), calling ``hook`` before the
    ``before``-th block is run; ``blocks`` counts the blocks it was given."""

    def __init__(self, hook: Callable[[], object], before: int) -> None:
        super().__init__(1, opener=echo_opener)
        self.hook = hook
        self.before = before
        self.blocks = 0

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        self.blocks += 1
        if self.blocks == self.before:
            self.hook()
        return super().submit(fn, *args)


class HookingCodec(LineCodec):
    """Calls ``hook`` after the fourth row is read (the first chunk of 3 is stored by then)."""

    def __init__(self) -> None:
        self.hook: Callable[[], object] = lambda: None
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


def _hooked_runner(harness: Harness, hook: Callable[[], object], before: int) -> HookBeforeSubmit:
    """Replace the harness's runner by one whose executor calls ``hook``; the service wakes the
    runner as the server's does (a cancel or delete is noticed at once)."""
    executor = HookBeforeSubmit(hook, before)
    harness.runner.stop()
    harness.runner = JobRunner(harness.store, harness.settings, CODECS, lambda: executor)
    harness.service.on_new_job = harness.runner.wake
    return executor


def _usage(harness: Harness) -> int:
    return harness.store.usage(harness.key.id, usage_day(time.time()))


LINES = "\n".join(f"street {n}" for n in range(30)) + "\n"


@pytest.mark.parametrize("before", [2, 4])
def test_cancel_while_geocoding_stops_the_job_for_good(harness: Harness, before: int) -> None:
    """Cancelled while a block is answered but not yet stored (2), or after some blocks were
    stored (4: blocks go two at a time with one worker): the answers in hand are not stored,
    no other block is sent, and only the rows stored before the cancel were counted."""
    web = _web(harness)
    job_id = harness.submit(LINES)
    executor = _hooked_runner(harness, lambda: web.cancel(harness.key, job_id), before)
    harness.runner.run_once()
    job = web.job(harness.key, job_id)
    assert job.status is JobStatus.ABORTED and job.error_message == CANCELLED
    assert (job.processed, job.failed) == (0, 0)
    assert harness.store.row_count(job_id) == 0  # no partial result is kept
    assert not harness.service.paths.results(job_id).exists()
    assert executor.blocks == before  # the block in hand at the cancel was the last sent
    stored_before = 3 * (before - 2)  # blocks of 3 rows, collected two by two
    assert _usage(harness) == stored_before
    assert not harness.runner.run_once()  # nothing left to work on
    assert web.job(harness.key, job_id).status is JobStatus.ABORTED
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
        assert not h.service.paths.upload(job_id).exists()
        assert not h.runner.run_once()
    finally:
        h.close()


def test_delete_while_geocoding_leaves_nothing_behind(harness: Harness) -> None:
    web = _web(harness)
    job_id = harness.submit(LINES)
    executor = _hooked_runner(harness, lambda: web.delete(harness.key, job_id), 2)
    harness.runner.run_once()
    assert harness.store.get_job(job_id) is None
    assert harness.store.row_count(job_id) == 0
    assert executor.blocks == 2
    assert _usage(harness) == 0  # the block answered before the delete was never stored
    assert not harness.service.paths.results(job_id).exists()
    assert not harness.service.paths.upload(job_id).exists()
    with pytest.raises(JobNotFound):
        web.job(harness.key, job_id)
    assert not harness.runner.run_once()


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_a_job_ended_while_its_results_are_written_keeps_no_file(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The owner's request deletes the files there are at that moment; a file the finish step
    writes after it must go too, and the job must not become Completed."""
    web = _web(harness)
    job_id = harness.submit("a\nfail\nb\n")
    written: list[Outcome] = []

    def render_then_end(
        store: JobStore, codec: Any, job: Job, outcome: Outcome, path: Path
    ) -> None:
        render_result(store, codec, job, outcome, path)
        written.append(outcome)
        if len(written) == 1:  # between the two files
            getattr(web, how)(harness.key, job_id)

    monkeypatch.setattr("geobatch.jobs.steps.render_result", render_then_end)
    harness.runner.run_once()
    assert written == ["succeeded", "failed"]
    assert not harness.service.paths.results(job_id).exists()
    job = harness.store.get_job(job_id)
    if how == "delete":
        assert job is None
    else:
        assert job is not None and job.status is JobStatus.ABORTED
        assert job.error_message == CANCELLED and downloads(job) == []
    assert not harness.runner.run_once()


def test_cancel_ends_a_decode_running_in_its_own_process(tmp_path: Path) -> None:
    """A decode step is a process with a time limit of minutes: a cancelled job's must end now,
    not at that limit, and give its place to the next upload (one decoder here)."""
    h = Harness(tmp_path, decode_seconds=600.0, decoders=1)
    h.runner.stop()
    steps = ProcessSteps(h.settings)
    h.runner = JobRunner(h.store, h.settings, CODECS, echo_executor, steps=steps)
    h.service.on_new_job = h.runner.wake
    web = _web(h)
    try:
        slow = h.submit("!slow 600\na\n")
        h.runner.start()
        # Processing: the step has read the file's header and chews on its first row.
        _wait(lambda: _status(h, slow) is JobStatus.PROCESSING, "the decode did not start")
        (process,) = [step.process for step in steps._running]
        after = h.submit("b\nc\n")
        web.cancel(h.key, slow)
        _wait(lambda: not process.is_alive(), "the cancelled job's decode still runs")
        _wait(lambda: _status(h, after) is JobStatus.COMPLETED, "the next job did not complete")
        job = web.job(h.key, slow)
        assert job.status is JobStatus.ABORTED and job.error_message == CANCELLED
        assert h.store.row_count(slow) == 0
        assert not h.service.paths.upload(slow).exists()
    finally:
        h.close()


def _status(h: Harness, job_id: str) -> JobStatus | None:
    job = h.store.get_job(job_id)
    return None if job is None else job.status


def _wait(done: Callable[[], bool], message: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.02)
    pytest.fail(f"{message} after {seconds:g} s")


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
