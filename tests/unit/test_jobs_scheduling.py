"""Several jobs at once (issue 13.1): keys take turns block by block, a job whose upload is
slow to decode holds no other key's jobs, and a decode over its time limit aborts its job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from geobatch.jobs.keys import create_key
from geobatch.jobs.runner import JobRunner
from geobatch.jobs.service import JobService, NewJobRequest
from geobatch.jobs.steps import ProcessSteps
from geobatch.jobs.store import ApiKey, JobStatus, JobStore
from tests.unit import test_jobs_support as support
from tests.unit.test_jobs_support import LineCodec, echo_executor, settings_for

CODECS = {"lines": LineCodec()}


class Jobs:
    def __init__(self, tmp: Path, **changes: object) -> None:
        self.settings = settings_for(tmp, **changes)
        self.store = JobStore(self.settings.data_dir / "jobs.sqlite")
        self.service = JobService(self.store, self.settings, CODECS)

    def key(self, name: str) -> ApiKey:
        return create_key(self.store, name).key

    def submit(self, key: ApiKey, text: str) -> str:
        async def body() -> AsyncIterator[bytes]:
            yield text.encode()

        raw = asyncio.run(self.service.receive_body(body()))
        return self.service.create_job(key, NewJobRequest("lines", "txt"), raw).id

    def status(self, job_id: str) -> JobStatus:
        job = self.store.get_job(job_id)
        assert job is not None
        return job.status

    def wait_for(self, job_id: str, *statuses: JobStatus, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.status(job_id) in statuses:
                return
            time.sleep(0.02)
        pytest.fail(f"job {job_id} is {self.status(job_id)} after {seconds} s")


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Jobs]:
    made = Jobs(tmp_path, decode_seconds=2.0)
    yield made
    made.store.close()


def test_keys_take_turns_block_by_block(jobs: Jobs) -> None:
    alice, bob = jobs.key("alice"), jobs.key("bob")
    first = jobs.submit(alice, "".join(f"a{n}\n" for n in range(30)))
    second = jobs.submit(alice, "".join(f"c{n}\n" for n in range(30)))
    late = jobs.submit(bob, "".join(f"b{n}\n" for n in range(9)))  # submitted last
    support.ANSWERED.clear()
    runner = JobRunner(jobs.store, jobs.settings, CODECS, echo_executor)
    assert runner.run_once()
    assert {jobs.status(j) for j in (first, second, late)} == {JobStatus.COMPLETED}
    owners = [query[0] for query in support.ANSWERED]
    # Blocks of 3 rows, the keys in turn; alice's older job before her second.
    assert "".join(owners) == "aaabbb" * 3 + "a" * 21 + "c" * 30


def test_a_slow_decode_holds_no_other_keys_job(jobs: Jobs) -> None:
    alice, bob = jobs.key("alice"), jobs.key("bob")
    slow = jobs.submit(alice, "!slow 1.2\na\n")
    quick = jobs.submit(bob, "b\nc\n")
    runner = JobRunner(
        jobs.store, jobs.settings, CODECS, echo_executor, steps=ProcessSteps(jobs.settings)
    )
    runner.start()
    try:
        jobs.wait_for(quick, JobStatus.COMPLETED, seconds=20)
        assert jobs.status(slow) in {JobStatus.PENDING, JobStatus.PROCESSING}
        jobs.wait_for(slow, JobStatus.COMPLETED, seconds=20)
    finally:
        runner.stop()


def test_a_decode_over_its_time_limit_aborts_its_job_only(jobs: Jobs) -> None:
    alice, bob = jobs.key("alice"), jobs.key("bob")
    hostile = jobs.submit(alice, "!slow 600\na\n")
    runner = JobRunner(
        jobs.store, jobs.settings, CODECS, echo_executor, steps=ProcessSteps(jobs.settings)
    )
    runner.start()
    try:
        time.sleep(0.5)
        quick = jobs.submit(bob, "b\n")
        runner.wake()
        jobs.wait_for(quick, JobStatus.COMPLETED, seconds=20)
        jobs.wait_for(hostile, JobStatus.ABORTED, seconds=20)
    finally:
        runner.stop()
    job = jobs.store.get_job(hostile)
    assert job is not None and job.error_message is not None
    assert job.error_message.startswith("reading the upload took longer than 2 s")
    assert jobs.store.row_count(hostile) == 0
