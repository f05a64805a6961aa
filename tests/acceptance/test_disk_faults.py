"""A real server whose data directory turns immutable, fills up, or vanishes in the middle of
its work: writes are answered 503 with the reason (reads too where SQLite could not even read
without crashing), neither the server nor its job runner dies, and everything works again once
the disk does, the job in progress completing with every row once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, server_env
from tests.acceptance.test_bing_restart import _descendants, _ids
from tests.diskfaults import chattr, fill, require_immutable, small_tmpfs

pytestmark = pytest.mark.acceptance

ROWS = 3000


def _job(rows: int = ROWS) -> bytes:
    lines = ["Bing Spatial Data Services, 2.0", "Id|GeocodeRequest/Query"]
    lines += [f"{i}|Hauptstrasse {i % 97 + 1}, Oberdorf {i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _start(data_dir: Path, index: Path, **env: str) -> Server:
    server = Server(
        data_dir=data_dir,
        index_dir=index,
        env=server_env(GEOBATCH_CHUNK_SIZE="25", GEOBATCH_WORKERS="1", **env),
    )
    server.add_key("disk")
    return server.start()


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers.get("Retry-After"), response.headers
    details = response.json()["errorDetails"]
    assert any(words in detail for detail in details), details


def _all_rows_once(client: httpx.Client, done: bing.Status, key: str, rows: int) -> None:
    ids: list[str] = []
    for outcome in ("succeeded", "failed"):
        if outcome in done.links:
            download = client.get(done.links[outcome], params={"key": key})
            assert download.status_code == 200
            ids += _ids(download.content)
    assert Counter(ids) == Counter(str(i) for i in range(rows))


def _running_job(client: httpx.Client, server: Server, key: str) -> str:
    response = bing.create(client, server.base, key, _job(), "pipe")
    assert response.status_code == 201, response.text
    job_url = response.headers["Location"]
    _until(lambda: bing.status(client, job_url, key).processed > 0, 60, "the job did not start")
    return job_url


def test_an_immutable_data_directory_is_refused_not_a_crash(
    tmp_path: Path, acceptance_index: Path, client: httpx.Client
) -> None:
    """The issue's reproduction (chattr +i mid-job killed the server with SIGBUS, 3 of 3)."""
    require_immutable(tmp_path)
    server = _start(tmp_path / "data", acceptance_index)
    key = server.keys["disk"]
    try:
        assert server.process is not None
        helpers = _descendants(server.process.pid)  # the job runner and its children
        job_url = _running_job(client, server, key)
        chattr("+i", server.data_dir)
        try:
            time.sleep(1.0)  # the runner meets it too
            _refused(bing.create(client, server.base, key, _job(10), "pipe"), "immutable")
            # Reads are refused too: a reader writes SQLite's WAL index, and would crash.
            _refused(client.get(job_url, params={"key": key}), "immutable")
            health = client.get(f"{server.base}/healthz")
            assert health.status_code == 503 and "immutable" in health.json()["store"]
            assert health.json()["runner"] == "alive"
            assert server.process.poll() is None
            assert helpers <= _descendants(server.process.pid), "the job runner died"
        finally:
            chattr("-i", server.data_dir)
        done = bing.wait(client, job_url, key)  # the runner resumes by itself
        assert (done.status, done.processed) == ("Completed", ROWS)
        _all_rows_once(client, done, key, ROWS)
        created = bing.create(client, server.base, key, _job(10), "pipe")
        assert created.status_code == 201, created.text
        assert server.log is not None
        log = server.log.read_text()
        assert "Bus error" not in log and "immutable" in log
    finally:
        chattr("-i", server.data_dir)
        server.stop()


def test_a_full_disk_refuses_writes_and_serves_reads(
    tmp_path: Path, acceptance_index: Path, client: httpx.Client
) -> None:
    with small_tmpfs(tmp_path / "disk", 48) as disk:
        server = _start(disk / "data", acceptance_index, GEOBATCH_MIN_FREE_MB="16")
        key = server.keys["disk"]
        try:
            job_url = _running_job(client, server, key)
            filler = fill(disk, leave_bytes=8 * 1024 * 1024)
            time.sleep(1.0)
            _refused(bing.create(client, server.base, key, _job(10), "pipe"), "is full")
            before = bing.status(client, job_url, key)  # reads go on
            time.sleep(1.5)
            assert bing.status(client, job_url, key).processed == before.processed  # paused
            assert server.process is not None and server.process.poll() is None
            filler.unlink()
            done = bing.wait(client, job_url, key)
            assert (done.status, done.processed) == ("Completed", ROWS)
            _all_rows_once(client, done, key, ROWS)
            created = bing.create(client, server.base, key, _job(10), "pipe")
            assert created.status_code == 201, created.text
        finally:
            server.stop()


def test_a_vanished_data_directory_is_refused_until_it_is_back(
    tmp_path: Path, acceptance_index: Path, client: httpx.Client
) -> None:
    server = _start(tmp_path / "data", acceptance_index)
    key = server.keys["disk"]
    moved = tmp_path / "moved-away"
    try:
        job_url, _ = bing.run_job(client, server.base, key, _job(10), "pipe")
        server.data_dir.rename(moved)
        try:
            _refused(bing.create(client, server.base, key, _job(10), "pipe"), "is gone")
            _refused(client.get(job_url, params={"key": key}), "is gone")
        finally:
            moved.rename(server.data_dir)
        assert bing.status(client, job_url, key).status == "Completed"
        created = bing.create(client, server.base, key, _job(10), "pipe")
        assert created.status_code == 201, created.text
        assert server.process is not None and server.process.poll() is None
    finally:
        if moved.exists():
            moved.rename(server.data_dir)
        server.stop()
