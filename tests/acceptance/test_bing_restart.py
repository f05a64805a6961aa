"""A server killed with SIGKILL in the middle of a job continues it after a restart on the same
data directory, and every row comes out exactly once; its job runner process dies with it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, start_server

pytestmark = pytest.mark.acceptance

ROWS = 6000
STREETS = ("Hauptstrasse", "Kirchweg", "Bahnhofstraße", "Nowhere Lane")


@pytest.fixture
def small_chunk_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path
) -> Iterator[Server]:
    # Two workers: the pool's processes must die with the server too.
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("crash",),
        GEOBATCH_CHUNK_SIZE="25",
        GEOBATCH_WORKERS="2",
    )
    yield running
    running.stop()


def _job() -> bytes:
    lines = ["Bing Spatial Data Services, 2.0", "Id|GeocodeRequest/Query"]
    for i in range(ROWS):
        # Distinct queries, so that no chunk is answered from the per-batch cache at once.
        lines.append(
            f"{i}|{STREETS[i % 4]} {i % 97 + 1}, {'Oberdorf' if i % 2 else 'Unterdorf'} {i}"
        )
    return ("\n".join(lines) + "\n").encode()


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += children - found
            found |= children
    return found


def _alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still run (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def _ids(data: bytes) -> list[str]:
    return [line.split("|", 1)[0] for line in data.decode().splitlines()[2:] if line]


def test_sigkill_mid_job_then_restart_completes_every_row_once(
    small_chunk_server: Server, client: httpx.Client
) -> None:
    server, key = small_chunk_server, small_chunk_server.keys["crash"]
    response = bing.create(client, server.base, key, _job(), "pipe")
    assert response.status_code == 201
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = bing.status(client, f"{server.base}/REST/v1/dataflows/Geocode/{job_id}", key)
        if current.processed > 0:
            break
        time.sleep(0.01)
    assert current.status == "Pending" and 0 < current.processed < ROWS, current
    assert server.process is not None
    helpers = _descendants(server.process.pid)  # the job runner, its workers, mp's helpers
    assert len(helpers) >= 3
    server.kill()
    deadline = time.monotonic() + 10
    while _alive(helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helpers), "the job runner or its workers outlived the server's SIGKILL"

    server.restart()
    job_url = f"{server.base}/REST/v1/dataflows/Geocode/{job_id}"
    done = bing.wait(client, job_url, key)
    assert (done.status, done.total, done.processed) == ("Completed", ROWS, ROWS)
    ids: list[str] = []
    for outcome in ("succeeded", "failed"):
        if outcome in done.links:
            download = client.get(done.links[outcome], params={"key": key})
            assert download.status_code == 200
            ids += _ids(download.content)
    counts = Counter(ids)
    assert len(ids) == ROWS and set(counts.values()) == {1}
    assert set(counts) == {str(i) for i in range(ROWS)}


def test_three_sigkills_during_one_job_resume_it_each_time(
    small_chunk_server: Server, client: httpx.Client
) -> None:
    """The issue's run: the server killed three times during one job used to abort it ("runner
    stopped 3 times") and throw its geocoded rows away; now it resumes and completes."""
    server, key = small_chunk_server, small_chunk_server.keys["crash"]
    response = bing.create(client, server.base, key, _job(), "pipe")
    assert response.status_code == 201
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    for past in (ROWS // 10, ROWS // 4, ROWS // 2):
        job_url = f"{server.base}/REST/v1/dataflows/Geocode/{job_id}"
        deadline = time.monotonic() + 120
        while (current := bing.status(client, job_url, key)).processed <= past:
            assert current.status == "Pending", current
            assert time.monotonic() < deadline, "the job does not progress"
            time.sleep(0.01)
        server.kill()
        server.restart()
    job_url = f"{server.base}/REST/v1/dataflows/Geocode/{job_id}"
    done = bing.wait(client, job_url, key)
    assert (done.status, done.total, done.processed) == ("Completed", ROWS, ROWS)
    ids: list[str] = []
    for outcome in ("succeeded", "failed"):
        if outcome in done.links:
            ids += _ids(client.get(done.links[outcome], params={"key": key}).content)
    assert Counter(ids) == Counter(str(i) for i in range(ROWS))
