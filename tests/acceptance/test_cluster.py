"""The same batches on a real Dask cluster: a ``dask scheduler`` and two ``dask worker``
processes started here on 127.0.0.1 (not an in-process LocalCluster). A CLI batch and a Bing
job through the cluster give the local run's output row for row; a worker killed with SIGKILL
mid-job costs a retry, never a row; a scheduler killed mid-job and started again lets the job
complete with every row exactly once; a CLI run whose scheduler dies says which rows are
missing and leaves no file under the output's name."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from geobatch.batch.executors import ExecutorLost
from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, free_port, server_env, start_server

pytestmark = pytest.mark.acceptance

DASK = Path(sys.executable).parent / "dask"
GEOBATCH = Path(sys.executable).parent / "geobatch"
STREETS = ("Hauptstrasse", "Kirchweg", "Bahnhofstraße", "Nowhere Lane")
START_SECONDS = 60.0


@dataclass
class DaskCluster:
    """A scheduler and single-threaded workers, each a process of its own."""

    logs: Path
    port: int = field(default_factory=free_port)
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [str(DASK), *args], stdout=log, stderr=subprocess.STDOUT, env=server_env()
            )

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-dashboard",
        )  # fmt: skip

    def add_worker(self) -> subprocess.Popen[bytes]:
        worker = self._spawn(
            f"worker-{len(self.workers)}", "worker", self.address, "--nthreads", "1",
            "--no-nanny", "--no-dashboard", "--memory-limit", "0", "--death-timeout", "120",
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_SECONDS) as client:
            client.wait_for_workers(count, timeout=START_SECONDS)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(15)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            if process is None:
                continue
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    running = DaskCluster(tmp_path)
    running.start_scheduler()
    running.add_worker()
    running.add_worker()
    try:
        running.wait_for_workers(2)
        yield running
    finally:
        running.stop()


def _queries(rows: int) -> list[str]:
    return [
        f"{STREETS[i % 4]} {i % 97 + 1}, {'Oberdorf' if i % 2 else 'Unterdorf'} {i}"
        for i in range(rows)
    ]


def test_every_task_of_the_dask_executor_resolves(cluster: DaskCluster) -> None:
    """A future that never resolves stalls its job for ever (all rows answered, the job never
    finished: distributed's ClientExecutor leaves its future pending when fetching a finished
    task's result fails, as when the scheduler dies at that moment). Every future must resolve:
    with a result the client cannot read, and with a scheduler killed and started again, after
    which the same executor takes new tasks."""
    from geobatch.batch.dask import DaskExecutor

    def unreadable() -> object:
        class Unreadable:
            def __reduce__(self) -> tuple[type[int], tuple[str]]:
                return (int, ("boom",))  # unpickled by the client: int("boom") raises

        return Unreadable()

    executor = DaskExecutor(cluster.address, connect_seconds=120)
    try:
        with pytest.raises(ValueError, match="boom"):
            executor.submit(unreadable).result(timeout=60)
        assert executor.submit(pow, 2, 10).result(timeout=60) == 1024
        running = executor.submit(time.sleep, 600)
        time.sleep(1)
        assert cluster.scheduler is not None
        cluster.kill(cluster.scheduler)
        with pytest.raises(ExecutorLost, match="lost the Dask scheduler"):
            running.result(timeout=60)
        for worker in cluster.workers:  # workers without a nanny end with their scheduler
            cluster.kill(worker)
        cluster.workers.clear()
        cluster.start_scheduler()  # the same address: the client reconnects by itself
        cluster.add_worker()
        cluster.wait_for_workers(1)
        assert executor.submit(pow, 2, 3).result(timeout=120) == 8
    finally:
        executor.close()


def _run_cli(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(GEOBATCH_INDEX=str(index))
    return subprocess.run(
        [str(GEOBATCH), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_a_cli_batch_on_the_cluster_equals_the_local_run(
    cluster: DaskCluster, acceptance_index: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "address"])
        writer.writerows([i, q] for i, q in enumerate(_queries(3000)))
        writer.writerow([3000, ""])  # a Failed row too
    local, remote = tmp_path / "local.csv", tmp_path / "cluster.csv"
    common = ("geocode", str(source), "--chunk-size", "100")
    done = _run_cli(acceptance_index, *common, "-o", str(local), "--workers", "2")
    assert done.returncode == 0, done.stderr
    done = _run_cli(acceptance_index, *common, "-o", str(remote), "--cluster", cluster.address)
    assert done.returncode == 0, done.stderr
    assert "3,001 rows" in done.stderr
    assert remote.read_bytes() == local.read_bytes()

    points = tmp_path / "points.csv"
    points.write_text("lat,lon\n" + "".join(f"47.{i:04d},9.5{i % 10}\n" for i in range(2000)))
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    assert _run_cli(acceptance_index, "reverse", str(points), "-o", str(here)).returncode == 0
    done = _run_cli(
        acceptance_index, "reverse", str(points), "-o", str(there), "--cluster", cluster.address
    )
    assert done.returncode == 0, done.stderr
    assert there.read_bytes() == here.read_bytes()


def test_a_cli_run_whose_scheduler_dies_says_what_is_missing(
    cluster: DaskCluster, acceptance_index: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("q\n" + "\n".join(_queries(60_000)) + "\n")
    out = tmp_path / "out.csv"
    env = server_env(GEOBATCH_INDEX=str(acceptance_index))
    run = subprocess.Popen(
        [
            str(GEOBATCH),
            "geocode",
            str(source),
            "-o",
            str(out),
            "--chunk-size",
            "50",
            "--cluster",
            cluster.address,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    partial = tmp_path / "out.csv.partial"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not partial.exists() or partial.stat().st_size < 20_000):
        assert run.poll() is None, run.communicate()[1]
        time.sleep(0.05)
    assert cluster.scheduler is not None
    cluster.kill(cluster.scheduler)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "were not geocoded" in lines[0] and "lost the Dask scheduler" in lines[0]
    assert f"the rows done so far are in {partial}" in lines[0]
    assert not out.exists()
    with partial.open(newline="") as f:
        written = list(csv.DictReader(f))
    assert 0 < len(written) < 60_000
    assert [row["q"] for row in written] == _queries(len(written))


@pytest.fixture
def cluster_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path, cluster: DaskCluster
) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("carol",),
        GEOBATCH_CLUSTER=cluster.address,
        GEOBATCH_CHUNK_SIZE="100",
    )
    yield running
    running.stop()


def _job(rows: int) -> bytes:
    lines = ["Bing Spatial Data Services, 2.0", "Id|GeocodeRequest/Query"]
    lines += [f"{i}|{query}" for i, query in enumerate(_queries(rows))]
    lines.append(f"{rows}|")  # an entity with nothing to look up: failed
    return ("\n".join(lines) + "\n").encode()


def _outputs(client: httpx.Client, done: bing.Status, key: str) -> dict[str, bytes]:
    found = {}
    for outcome in ("succeeded", "failed"):
        if outcome in done.links:
            response = client.get(done.links[outcome], params={"key": key})
            assert response.status_code == 200
            found[outcome] = response.content
    return found


def _ids(outputs: dict[str, bytes]) -> Counter[str]:
    ids: Counter[str] = Counter()
    for data in outputs.values():
        ids.update(line.split("|", 1)[0] for line in data.decode().splitlines()[2:] if line)
    return ids


def test_a_bing_job_on_the_cluster_equals_the_local_run(
    cluster_server: Server, server: Server, client: httpx.Client
) -> None:
    data = _job(2000)
    carol = cluster_server.keys["carol"]
    _, remote = bing.run_job(client, cluster_server.base, carol, data, "pipe")
    _, local = bing.run_job(client, server.base, server.keys["alice"], data, "pipe")
    assert remote.status == local.status == "Completed"
    assert (remote.total, remote.processed, remote.failed) == (
        local.total,
        local.processed,
        local.failed,
    )
    assert _outputs(client, remote, carol) == _outputs(client, local, server.keys["alice"])


def _wait_processing(client: httpx.Client, server: Server, key: str, data: bytes) -> str:
    response = bing.create(client, server.base, key, data, "pipe")
    assert response.status_code == 201, response.text
    job_url = response.headers["Location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = bing.status(client, job_url, key)
        if current.processed > 0:
            return job_url
        time.sleep(0.02)
    raise AssertionError("the job made no progress in 120 s")


def test_a_worker_killed_mid_job_costs_no_row(
    cluster_server: Server, cluster: DaskCluster, client: httpx.Client
) -> None:
    key, rows = cluster_server.keys["carol"], 20_000
    job_url = _wait_processing(client, cluster_server, key, _job(rows))
    cluster.kill(cluster.workers[0])
    done = bing.wait(client, job_url, key, timeout=300)
    assert (done.status, done.total, done.processed) == ("Completed", rows + 1, rows + 1)
    ids = _ids(_outputs(client, done, key))
    assert set(ids.values()) == {1} and set(ids) == {str(i) for i in range(rows + 1)}


def test_a_scheduler_killed_mid_job_and_restarted_costs_no_row(
    cluster_server: Server, cluster: DaskCluster, client: httpx.Client
) -> None:
    key, rows = cluster_server.keys["carol"], 20_000
    job_url = _wait_processing(client, cluster_server, key, _job(rows))
    assert cluster.scheduler is not None
    cluster.kill(cluster.scheduler)
    for worker in cluster.workers:
        cluster.kill(worker)
    cluster.workers.clear()
    time.sleep(2)
    cluster.start_scheduler()  # the same address
    cluster.add_worker()
    cluster.add_worker()
    cluster.wait_for_workers(2)
    done = bing.wait(client, job_url, key, timeout=300)
    assert (done.status, done.total, done.processed) == ("Completed", rows + 1, rows + 1)
    ids = _ids(_outputs(client, done, key))
    assert set(ids.values()) == {1} and set(ids) == {str(i) for i in range(rows + 1)}
