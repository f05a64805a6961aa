"""The runner in a child process: it completes jobs it is woken for, stops when asked, waits
while another runner holds the data directory's lock, and is started again if it dies; killed
with SIGKILL in the middle of a job, it loses none of the job's work, and a row that kills it
aborts only its own job, named in the error."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from geobatch.config import Settings
from geobatch.jobs.keys import create_key, usage_day
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.process import RunnerProcess, only_runner
from geobatch.jobs.service import JobService, NewJobRequest
from geobatch.jobs.store import ApiKey, JobStatus, JobStore
from tests.unit.test_jobs_support import LineCodec, echo_executor, settings_for

CODECS = {"lines": LineCodec()}


@dataclass
class Service:
    settings: Settings
    store: JobStore
    service: JobService
    key: ApiKey

    def submit(self, text: str) -> str:
        async def body() -> AsyncIterator[bytes]:
            yield text.encode()

        raw = asyncio.run(self.service.receive_body(body()))
        return self.service.create_job(self.key, NewJobRequest("lines", "txt"), raw).id

    def status(self, job_id: str) -> JobStatus:
        job = self.store.get_job(job_id)
        assert job is not None
        return job.status

    def wait_for(self, job_id: str, status: JobStatus, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.status(job_id) is status:
                return
            time.sleep(0.05)
        pytest.fail(f"job {job_id} is {self.status(job_id)}, not {status}, after {seconds} s")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = settings_for(tmp_path)
    store = JobStore(settings.data_dir / "jobs.sqlite")
    key = create_key(store, "tester").key
    yield Service(settings, store, JobService(store, settings, CODECS), key)
    store.close()


def test_the_runner_process_completes_a_job_and_stops(service: Service) -> None:
    runner = RunnerProcess(service.settings, CODECS, echo_executor)
    service.service.on_new_job = runner.wake
    with runner:
        assert runner.pid is not None and runner.is_alive()
        job_id = service.submit("a\nfail\n@47.1,9.5\nb\n")
        service.wait_for(job_id, JobStatus.COMPLETED)
    assert not runner.is_alive() and runner.exitcode == 0
    job = service.store.get_job(job_id)
    assert job is not None and (job.processed, job.failed) == (4, 1)


def test_a_second_runner_waits_until_the_first_lets_go(service: Service) -> None:
    lock = DataPaths(service.settings.data_dir).create().runner_lock
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:  # another runner, as far as the child can tell
        with only_runner(lock, threading.Event()) as ok:
            assert ok
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        runner = RunnerProcess(service.settings, CODECS, echo_executor)
        service.service.on_new_job = runner.wake
        with runner:
            job_id = service.submit("a\nb\n")
            time.sleep(1.5)
            assert service.status(job_id) is JobStatus.PENDING
            release.set()
            service.wait_for(job_id, JobStatus.COMPLETED)
    finally:
        release.set()
        holder.join()


def test_a_runner_stopped_while_waiting_for_the_lock_exits(service: Service) -> None:
    lock = DataPaths(service.settings.data_dir).create().runner_lock
    release = threading.Event()

    def hold() -> None:
        with only_runner(lock, threading.Event()):
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        runner = RunnerProcess(service.settings, CODECS, echo_executor)
        runner.start()
        time.sleep(1.0)
        runner.stop(timeout=10)
        assert runner.exitcode == 0
    finally:
        release.set()
        holder.join()


def test_stop_before_start_does_nothing(service: Service) -> None:
    RunnerProcess(service.settings, CODECS, echo_executor).stop()


def test_a_runner_that_died_is_started_again(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("geobatch.jobs.process.RESTART_SECONDS", 0.0)
    runner = RunnerProcess(service.settings, CODECS, echo_executor)
    service.service.on_new_job = runner.wake
    with runner:
        assert not runner.ensure_running()  # alive: nothing to do
        first = runner.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)  # as the OOM killer would
        deadline = time.monotonic() + 10
        while runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.ensure_running()
        assert runner.pid != first and runner.is_alive()
        job_id = service.submit("a\nb\n")
        service.wait_for(job_id, JobStatus.COMPLETED)
    assert not runner.is_alive() and not runner.ensure_running()  # stopped: stays stopped


def _kill_when(runner: RunnerProcess, ready: Callable[[], bool], seconds: float = 60.0) -> None:
    """SIGKILL the runner once ``ready()``; wait for the death and start the next runner."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, "the runner did not get there in time"
        time.sleep(0.005)
    assert runner.pid is not None
    os.kill(runner.pid, signal.SIGKILL)
    _restart_after_death(runner)


def _restart_after_death(runner: RunnerProcess, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while runner.is_alive():
        assert time.monotonic() < deadline, "the runner did not die"
        time.sleep(0.02)
    assert runner.ensure_running()


def test_three_kills_during_a_job_lose_none_of_its_work(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's kill -9 three times during one job: it resumes each time and completes, every
    row answered and counted once (its key's usage is exactly the rows)."""
    monkeypatch.setattr("geobatch.jobs.process.RESTART_SECONDS", 0.0)
    rows = 1500
    runner = RunnerProcess(service.settings, CODECS, echo_executor)
    service.service.on_new_job = runner.wake
    with runner:
        job_id = service.submit("~slow\n" * rows)

        def processed_past(count: int) -> Callable[[], bool]:
            def ready() -> bool:
                job = service.store.get_job(job_id)
                return job is not None and job.processed > count

            return ready

        for past in (150, 600, 1000):
            _kill_when(runner, processed_past(past))
        service.wait_for(job_id, JobStatus.COMPLETED, seconds=120)
    job = service.store.get_job(job_id)
    assert job is not None and (job.total, job.processed, job.failed) == (rows, rows, 0)
    assert service.store.usage(service.key.id, usage_day(time.time())) == rows


def test_a_row_that_kills_the_runner_aborts_only_its_job(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row whose geocoding kills the runner process (as the OOM killer would): after its
    block ran alone, then the row alone twice, its job is aborted naming it; the job queued
    behind it completes."""
    monkeypatch.setattr("geobatch.jobs.process.RESTART_SECONDS", 0.0)
    runner = RunnerProcess(service.settings, CODECS, echo_executor)
    service.service.on_new_job = runner.wake
    with runner:
        bad = service.submit("a\nb\nc\nd\ne\n!die\nf\ng\n")
        good = service.submit("x\ny\n")
        deaths = 0
        while service.status(bad) is not JobStatus.ABORTED:
            assert deaths < 6, f"the runner died {deaths} times and the job still runs"
            if not runner.is_alive():
                _restart_after_death(runner)
                deaths += 1
            time.sleep(0.02)
        service.wait_for(good, JobStatus.COMPLETED)
    assert deaths == 4
    job = service.store.get_job(bad)
    assert job is not None and job.error_message is not None
    assert "entity 6 of the upload (Id '5')" in job.error_message, job.error_message
