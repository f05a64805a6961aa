"""The runner on a real store: decode once, geocode in chunks, resume, abort, expire, render."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from geobatch.batch.executors import Executor, LocalExecutor
from geobatch.config import JobLimits
from geobatch.jobs.errors import BadJobRequest, JobNotFound, LimitExceeded
from geobatch.jobs.keys import create_key
from geobatch.jobs.runner import MAX_JOB_ATTEMPTS, JobRunner
from geobatch.jobs.service import JobService, NewJobRequest, clean_up_after_crash
from geobatch.jobs.store import ApiKey, Job, JobStatus, JobStore
from tests.unit.test_jobs_support import LineCodec, echo_executor, echo_opener, settings_for

CODECS = {"lines": LineCodec()}
T = TypeVar("T")


class Harness:
    def __init__(self, tmp: Path, **changes: object) -> None:
        self.settings = settings_for(tmp, **changes)
        self.store = JobStore(self.settings.data_dir / "jobs.sqlite")
        self.service = JobService(self.store, self.settings, CODECS)
        self.runner = JobRunner(self.store, self.settings, CODECS, echo_executor)
        self.key = create_key(self.store, "tester").key

    def submit(self, text: str, key: ApiKey | None = None) -> str:
        raw = asyncio.run(self.service.receive_body(_body(text.encode())))
        request = NewJobRequest("lines", "txt")
        return self.service.create_job(key or self.key, request, raw).id

    def close(self) -> None:
        self.runner.stop()
        self.store.close()


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 5):
        yield data[start : start + 5]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def test_a_job_runs_to_completion(harness: Harness) -> None:
    job_id = harness.submit("a\nfail\n@47.1,9.5\n-\nb\nc\nd\n")
    assert harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert (job.total, job.processed, job.failed) == (7, 7, 2)
    assert job.completed is not None and job.expires is not None
    assert not harness.service.paths.upload(job_id).exists()  # rows are in the store now
    _, path = harness.service.result_file(harness.key, job_id, "succeeded")
    assert path.read_text().splitlines() == [
        "0|0|OK|a",
        "2|2|OK|47.1,9.5",
        "4|4|OK|b",
        "5|5|OK|c",
        "6|6|OK|d",
    ]
    _, failed = harness.service.result_file(harness.key, job_id, "failed")
    assert failed.read_text() == "1|1|Failed|fail\n3|3|Failed|empty entity\n"
    assert not harness.runner.run_once()  # nothing left to do


def test_result_files_are_written_before_the_job_is_completed(harness: Harness) -> None:
    job_id = harness.submit("a\nfail\nb\n")
    paths = harness.service.paths
    completed = harness.store.complete

    def check_files_then_complete(job_id: str, now: float, expires: float) -> bool:
        assert paths.result_file(job_id, "succeeded").exists()
        assert paths.result_file(job_id, "failed").exists()
        return completed(job_id, now, expires)

    harness.store.complete = check_files_then_complete  # type: ignore[method-assign]
    harness.runner.run_once()
    ready = {o: paths.result_file(job_id, o).read_bytes() for o in ("succeeded", "failed")}
    left = sorted(f.name for f in paths.results(job_id).iterdir())
    assert left == ["failed", "succeeded"]  # and no temporary files
    for outcome, data in ready.items():
        paths.result_file(job_id, outcome).unlink()
        _, path = harness.service.result_file(harness.key, job_id, outcome)  # rendered now
        assert path.read_bytes() == data


def test_only_outcomes_with_rows_get_a_file(harness: Harness) -> None:
    job_id = harness.submit("a\nb\n")
    harness.runner.run_once()
    paths = harness.service.paths
    assert paths.result_file(job_id, "succeeded").exists()
    assert not paths.result_file(job_id, "failed").exists()


def test_a_result_file_that_cannot_be_written_is_rendered_on_request(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = harness.submit("a\nb\n")

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("geobatch.jobs.steps.render_result", disk_full)
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert not harness.service.paths.result_file(job_id, "succeeded").exists()
    _, path = harness.service.result_file(harness.key, job_id, "succeeded")
    assert path.read_text() == "0|0|OK|a\n1|1|OK|b\n"


def test_unreadable_file_aborts_with_reason(harness: Harness) -> None:
    job_id = harness.submit("!unreadable\na\n")
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.ABORTED
    assert job.error_message == "the file is unreadable"


def test_failure_late_in_the_file_keeps_no_partial_rows(harness: Harness) -> None:
    job_id = harness.submit("a\nb\nc\nd\n!late-failure\ne\n")
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.ABORTED
    assert job.error_message == "line 5 cannot be read"
    assert harness.store.row_count(job_id) == 0
    with pytest.raises(JobNotFound):
        harness.service.result_file(harness.key, job_id, "succeeded")


def test_a_codec_error_aborts_instead_of_retrying(harness: Harness) -> None:
    job_id = harness.submit("a\n!parser-bug\n")
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.ABORTED
    assert job.error_message == "the upload could not be read: unexpected token"


def test_not_utf8_aborts(harness: Harness) -> None:
    job_id = harness.submit("ok")
    harness.service.paths.upload(job_id).write_bytes(b"\xff\xfe\x00bad")
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.ABORTED
    assert "UTF-8" in (job.error_message or "")


def test_too_many_entities_aborts(tmp_path: Path) -> None:
    h = Harness(tmp_path, limits=JobLimits(max_entities=4))
    try:
        ok, big = h.submit("a\nb\nc\nd\n"), h.submit("a\nb\nc\nd\ne\n")
        h.runner.run_once()
        assert (s := h.store.get_job(ok)) is not None and s.status is JobStatus.COMPLETED
        job = h.store.get_job(big)
        assert job is not None and job.status is JobStatus.ABORTED
        assert "more than 4 entities" in (job.error_message or "")
    finally:
        h.close()


class CrashAfter(LocalExecutor):
    """An executor whose process dies (like a killed server) when a task after the first
    ``tasks`` is submitted."""

    def __init__(self, tasks: int) -> None:
        super().__init__(1, opener=echo_opener)
        self.left = tasks

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        if self.left == 0:
            raise SystemExit("killed")
        self.left -= 1
        return super().submit(fn, *args)


def crash_after_two() -> Executor:
    return CrashAfter(2)


def test_resume_after_a_crash_mid_geocode(harness: Harness) -> None:
    lines = [f"q{i}" for i in range(20)]
    job_id = harness.submit("\n".join(lines))
    crashing = JobRunner(harness.store, harness.settings, CODECS, crash_after_two)
    with pytest.raises(SystemExit):
        crashing.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and (job.status, job.processed) == (JobStatus.PROCESSING, 6)
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert (job.total, job.processed, job.failed) == (20, 20, 0)
    _, path = harness.service.result_file(harness.key, job_id, "succeeded")
    assert [line.split("|")[3] for line in path.read_text().splitlines()] == lines


def test_resume_after_a_crash_mid_decode(harness: Harness) -> None:
    job_id = harness.submit("\n".join(f"q{i}" for i in range(10)))
    with harness.service.paths.upload(job_id).open("rb") as stream:
        batch = LineCodec().decode(stream, "txt")
    harness.store.start_decode(job_id, batch.header)
    harness.store.add_rows(job_id, list(batch.rows())[:4])  # killed after one chunk
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None
    assert (job.status, job.total, job.processed) == (JobStatus.COMPLETED, 10, 10)


def test_another_keys_job_is_not_found(harness: Harness) -> None:
    job_id = harness.submit("a")
    other = create_key(harness.store, "other").key
    with pytest.raises(JobNotFound):
        harness.service.get_job(other, job_id)
    assert harness.service.get_job(harness.key, job_id.upper()).id == job_id


def test_results_expire(harness: Harness) -> None:
    job_id = harness.submit("a\nfail")
    harness.runner.run_once()
    _, path = harness.service.result_file(harness.key, job_id, "succeeded")
    job = harness.store.get_job(job_id)
    assert job is not None and job.expires is not None
    assert harness.runner.sweep(job.expires - 1) == 0
    assert harness.runner.sweep(job.expires) == 1
    assert not path.exists()
    with pytest.raises(JobNotFound, match="expired"):
        harness.service.result_file(harness.key, job_id, "succeeded")
    assert harness.service.list_jobs(harness.key)[0].id == job_id


def test_empty_body_is_refused(harness: Harness) -> None:
    with pytest.raises(BadJobRequest, match="no data"):
        harness.submit("")


def test_pending_limit(tmp_path: Path) -> None:
    h = Harness(tmp_path, limits=JobLimits(max_pending_jobs=1))
    try:
        h.submit("a")
        with pytest.raises(LimitExceeded):
            h.submit("b")
        assert len(list(h.service.paths.upload("x").parent.iterdir())) == 1
    finally:
        h.close()


def test_background_thread_processes_and_stops(harness: Harness) -> None:
    harness.runner.start()
    job_id = harness.submit("a\nb")
    harness.runner.wake()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = harness.store.get_job(job_id)
        if job is not None and job.status is JobStatus.COMPLETED:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the job did not complete in 10 s")


def test_a_job_failing_on_the_server_side_does_not_block_the_queue(harness: Harness) -> None:
    stuck = harness.submit("a\nb\n")
    upload = harness.service.paths.upload(stuck)
    upload.unlink()
    upload.mkdir()  # reading it raises IsADirectoryError, an OSError: the server's trouble
    behind = harness.submit("c\nd\n")
    for _ in range(MAX_JOB_ATTEMPTS):
        harness.runner.run_once()
    done = harness.store.get_job(behind)
    assert done is not None and done.status is JobStatus.COMPLETED
    job = harness.store.get_job(stuck)
    assert job is not None and job.status is JobStatus.ABORTED
    assert "could not process" in (job.error_message or "")


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (JobLimits(max_pending_jobs=1), "pending jobs"),
        (JobLimits(max_jobs_per_day=1), "in the last 24 hours"),
    ],
)
def test_job_limits_are_checked_before_the_body_is_read(
    tmp_path: Path, limits: JobLimits, message: str
) -> None:
    h = Harness(tmp_path, limits=limits)
    try:
        h.submit("a")
        if limits.max_pending_jobs > 1:
            h.runner.run_once()  # completed: no longer pending, still among the day's jobs
        read: list[bytes] = []

        async def body() -> AsyncIterator[bytes]:
            read.append(b"c")
            yield b"c\n"

        with pytest.raises(LimitExceeded, match=message):
            asyncio.run(h.service.submit(h.key, NewJobRequest("lines", "txt"), body()))
        assert read == []
        assert list(h.service.paths.incoming.iterdir()) == []
    finally:
        h.close()


def test_startup_clean_up_deletes_orphaned_uploads(harness: Harness) -> None:
    job_id = harness.submit("a")
    paths = harness.service.paths
    orphan = paths.upload("0" * 32)  # moved into place, then a crash before the row
    orphan.write_text("a\n")
    (paths.incoming / "half-received").write_bytes(b"a")
    assert clean_up_after_crash(paths, harness.store) == 1
    assert not orphan.exists()
    assert paths.upload(job_id).exists()
    assert list(paths.incoming.iterdir()) == []
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


def test_results_are_refused_once_expired_even_before_the_sweep(harness: Harness) -> None:
    job_id = harness.submit("a")
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.expires is not None
    expires = job.expires
    harness.service.clock = lambda: expires - 1
    harness.service.result_file(harness.key, job_id, "succeeded")
    harness.service.clock = lambda: expires
    with pytest.raises(JobNotFound, match="have expired"):
        harness.service.result_file(harness.key, job_id, "succeeded")
    with pytest.raises(JobNotFound, match="have expired"):
        harness.service.open_result(harness.key, job_id, "succeeded")


def test_an_opened_result_survives_a_purge(harness: Harness) -> None:
    job_id = harness.submit("a\nb")
    harness.runner.run_once()
    job, stream = harness.service.open_result(harness.key, job_id, "succeeded")
    with stream:
        assert job.expires is not None and harness.runner.sweep(job.expires) == 1
        assert not harness.service.paths.result_file(job_id, "succeeded").exists()
        assert stream.read().count(b"\n") == 2
    with pytest.raises(JobNotFound, match="have expired"):
        harness.service.open_result(harness.key, job_id, "succeeded")


def test_a_purge_between_rendering_and_opening_is_not_found(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = harness.submit("a")
    harness.runner.run_once()
    service = harness.service
    result_file = service.result_file

    def then_purge(*args: Any) -> tuple[Job, Path]:
        found = result_file(*args)
        harness.store.purge(job_id)  # the sweep: mark purged, then delete the files
        service.paths.remove_job_files(job_id)
        return found

    monkeypatch.setattr(service, "result_file", then_purge)
    with pytest.raises(JobNotFound, match="have expired"):
        service.open_result(harness.key, job_id, "succeeded")


class DieOnPoison(LocalExecutor):
    """An executor whose process dies (like a runner killed by what it runs) when a block
    holding the query ``poison`` is submitted."""

    def __init__(self) -> None:
        super().__init__(1, opener=echo_opener)

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        rows: list[tuple[int, str]] = args[1]
        if any('"poison"' in text for _, text in rows):
            raise SystemExit("killed by a row")
        return super().submit(fn, *args)


def die_on_poison() -> Executor:
    return DieOnPoison()


def crash_after_one() -> Executor:
    return CrashAfter(1)


def _runs_until_done(harness: Harness, factory: Callable[[], Executor], most: int) -> int:
    """Runners (a new one after each death, as the server starts them) until one returns;
    the number of deaths."""
    for deaths in range(most + 1):
        runner = JobRunner(harness.store, harness.settings, CODECS, factory)
        try:
            runner.run_once()
        except SystemExit:
            continue
        return deaths
    pytest.fail(f"the runner died more than {most} times")


def test_a_row_that_kills_the_runner_aborts_its_job_naming_it(harness: Harness) -> None:
    """The block in hand at the first death runs alone, then row by row: the row alone in hand
    at two deaths is named, its job aborted; the other job completes."""
    bad = harness.submit("a\nb\nc\nd\npoison\nf\ng\n")  # blocks 0-2, 3-5, 6
    good = harness.submit("x\ny\n")
    assert _runs_until_done(harness, die_on_poison, 8) == 4
    job = harness.store.get_job(bad)
    assert job is not None and job.status is JobStatus.ABORTED
    assert job.error_message is not None
    assert "stopped 4 times" in job.error_message
    assert "entity 5 of the upload (Id '4')" in job.error_message
    done = harness.store.get_job(good)
    assert done is not None and done.status is JobStatus.COMPLETED


def test_deaths_from_outside_cost_a_second_run_not_the_job(harness: Harness) -> None:
    """Three deaths at moments that have nothing to do with the rows (kill -9, the OOM killer)
    leave the job to complete, with every row answered once."""
    lines = [f"q{i}" for i in range(30)]
    job_id = harness.submit("\n".join(lines))
    for _ in range(3):
        runner = JobRunner(harness.store, harness.settings, CODECS, crash_after_one)
        with pytest.raises(SystemExit):
            runner.run_once()
    harness.runner.run_once()
    job = harness.store.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert (job.total, job.processed, job.failed) == (30, 30, 0)
    _, path = harness.service.result_file(harness.key, job_id, "succeeded")
    assert [line.split("|")[3] for line in path.read_text().splitlines()] == lines
    assert harness.runner.blocks.suspects(job_id) == []


def test_a_block_answered_before_its_runner_died_is_not_run_again(harness: Harness) -> None:
    job_id = harness.submit("a\nb\nc\nd\n")
    harness.runner.run_once()
    harness.runner.blocks.sent(job_id, 0, 2, "a runner that died")  # its answers were stored
    runner = JobRunner(harness.store, harness.settings, CODECS, echo_executor)
    runner.run_once()
    assert runner.blocks.suspects(job_id) == []
