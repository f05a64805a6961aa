"""Benchmark: a soak — mixed traffic from several keys against one server, killed at random.

For ``--minutes`` (30 by default), against one ``geobatch serve`` on 127.0.0.1 (index: the built-in
gazetteer plus Liechtenstein 2024 from ../shared/data):

- two Bing keys submit Dataflow v2 pipe jobs one after another, of 1 to ``--max-rows`` rows
  (log-uniform, so most are small; each key's first job is the largest), and poll their status
  twice a second while they run;
- one Geocode.Farm key submits batches of 1 to 1,000 addresses and polls their result_url;
- ``--clients`` threads (8) make single calls without pause: Geocode.Farm ``/forward/`` and the
  Bing Locations API, on a key of their own;
- the server is killed with SIGKILL at random moments (exponential gaps, mean ``--kill-mean``
  seconds, at least 20 s apart) and started again at once on the same port and data directory.

Then the traffic stops, every accepted job is waited for, and the service's own record (the job
store) is checked against what the clients saw:

- every job a client was told was created reaches Completed; each of its input Ids is in its
  output exactly once (no row lost or doubled), the status counts match;
- every Geocode.Farm batch returns one result per address, in order;
- every job key's usage equals what its jobs geocoded (Bing: the rows processed of its jobs;
  Farm: the entities of its batches) — exact, whatever the kills (an aborted job, a failure of
  its own, may add up to its rows);
- latency: p50/p99 of status requests and of single calls, counting only answered requests;
  requests refused because the server was down are counted apart. Baseline in the same run: the
  same single call on the idle server before the load starts.

Usage: python bench/bench_soak.py [--minutes 30] [--kill-mean 180] [--clients 8]
       [--max-rows 200000] [--workers 2] [--shared ../shared/data] [--seed 1]
Exit status 1 when a check fails, so it can gate a release.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from geobatch import native
from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import AddressRecord

REPO = Path(__file__).resolve().parent.parent
GEOBATCH = Path(sys.executable).parent / "geobatch"
EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"
HEADER = (
    "Bing Spatial Data Services, 2.0\n"
    "Id|GeocodeRequest/Query|ReverseGeocodeRequest/Location/Latitude"
    "|ReverseGeocodeRequest/Location/Longitude\n"
)
MIN_KILL_GAP = 20.0
DRAIN_TIMEOUT = 900.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Service:
    """``geobatch serve`` as a process that can be killed and started again."""

    def __init__(self, index: Path, data: Path, workers: int, log: Path) -> None:
        self.index, self.data, self.log = index, data, log
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
        self.env.update(
            {
                "GEOBATCH_WORKERS": str(workers),
                "GEOBATCH_KEY_RATE": "0",  # no per-key rate limit: the soak measures the server
                "GEOBATCH_MAX_PENDING_JOBS": "1000",
                "GEOBATCH_MAX_JOBS_PER_DAY": "100000",
                "GEOBATCH_MAX_UPLOAD_MB": "200",
            }
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def key(self, name: str) -> str:
        done = subprocess.run(
            [str(GEOBATCH), "keys", "create", "--name", name, "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
        )
        return done.stdout.strip()

    def start(self) -> float:
        started = time.monotonic()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--index", str(self.index), "--data-dir", str(self.data)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GEOBATCH), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited at start; see {self.log}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.up.set()
        return time.monotonic() - started

    def kill(self) -> None:
        self.up.clear()
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        self.up.clear()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@dataclass
class BingJob:
    key_name: str
    url: str
    ids: list[str]
    done: bool = False
    status: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """What the clients saw, shared by the threads (appends are atomic in CPython)."""

    jobs: list[BingJob] = field(default_factory=list)
    farm_batches: int = 0
    farm_entities: int = 0
    farm_problems: list[str] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    single_ms: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # transport errors: server down
    unexpected: Counter[str] = field(default_factory=Counter)  # answers of the wrong status
    kills: list[float] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)


def job_body(rng: random.Random, name: str, rows: int, addresses: list[AddressRecord]) -> bytes:
    out = [HEADER]
    for i in range(rows):
        a = rng.choice(addresses)
        if rng.random() < 0.1:
            out.append(f"{name}-{i}||{a.lat + rng.uniform(-3e-4, 3e-4):.6f}|{a.lon:.6f}\n")
        else:
            number = a.housenumber if rng.random() < 0.8 else str(rng.randint(1, 300))
            out.append(f"{name}-{i}|{a.street} {number}, {a.postcode or ''} {a.locality or ''}||\n")
    return "".join(out).encode()


def output_ids(data: bytes) -> list[str]:
    return [line.split("|", 1)[0] for line in data.decode().splitlines()[2:] if line]


def bing_submitter(
    svc: Service, tally: Tally, name: str, key: str, until: float, args: Any, addrs: list[Any]
) -> None:
    rng = random.Random(f"{args.seed}-{name}")
    n = 0
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < until:
            rows = (
                args.max_rows if n == 0 else int(math.exp(rng.uniform(0, math.log(args.max_rows))))
            )
            job_name = f"{name}{n}"
            n += 1
            body = job_body(rng, job_name, rows, addrs)
            svc.up.wait()
            try:
                response = client.post(
                    f"{svc.base}/REST/v1/Dataflows/Geocode",
                    params={"input": "pipe", "key": key},
                    content=body,
                    headers={"Content-Type": "text/plain"},
                )
            except httpx.TransportError:
                tally.refused["submit"] += 1  # may or may not exist: the store says (checked)
                continue
            if response.status_code != 201:
                tally.unexpected[f"submit {response.status_code}"] += 1
                continue
            path = httpx.URL(response.headers["Location"]).path
            job = BingJob(name, path, [f"{job_name}-{i}" for i in range(rows)])
            tally.jobs.append(job)
            wait_job(svc, tally, client, key, job, until + DRAIN_TIMEOUT)


def timed_get(
    svc: Service, tally: Tally, client: httpx.Client, what: str, url: str, params: dict[str, str]
) -> httpx.Response | None:
    """A GET once the server is up; its latency is kept (``status`` or ``single``) when it is
    answered with 200. None when it was refused (server down) or answered otherwise."""
    svc.up.wait()
    started = time.perf_counter()
    try:
        response = client.get(url, params=params)
    except httpx.TransportError:
        tally.refused[what] += 1
        return None
    if response.status_code != 200:
        tally.unexpected[f"{what} {response.status_code}"] += 1
        return None
    (tally.status_ms if what == "status" else tally.single_ms).append(
        (time.perf_counter() - started) * 1000
    )
    return response


def wait_job(
    svc: Service, tally: Tally, client: httpx.Client, key: str, job: BingJob, deadline: float
) -> None:
    while time.monotonic() < deadline:
        time.sleep(0.5)
        response = timed_get(svc, tally, client, "status", f"{svc.base}{job.url}", {"key": key})
        if response is None:
            continue
        resource = response.json()["resourceSets"][0]["resources"][0]
        job.status = resource["status"]
        if job.status in ("Pending", "Processing"):
            continue
        check_job(svc, client, key, job, resource)
        return
    job.problems.append(f"not finished after {DRAIN_TIMEOUT:.0f} s")


def check_job(
    svc: Service, client: httpx.Client, key: str, job: BingJob, resource: dict[str, Any]
) -> None:
    job.done = True
    if job.status != "Completed":
        job.problems.append(f"{job.status}: {resource.get('errorMessage')}")
        return
    if resource["processedEntityCount"] != len(job.ids):
        job.problems.append(f"processed {resource['processedEntityCount']} of {len(job.ids)}")
    got: list[str] = []
    for link in resource["links"]:
        if link.get("role") == "output":
            for _ in range(20):
                svc.up.wait()
                try:
                    download = client.get(link["url"], params={"key": key})
                    break
                except httpx.TransportError:
                    time.sleep(0.5)
            else:
                job.problems.append("download kept failing")
                return
            got += output_ids(download.content)
    counts = Counter(got)
    lost = len(set(job.ids) - set(counts))
    doubled = sum(1 for c in counts.values() if c > 1)
    if lost or doubled or len(got) != len(job.ids):
        job.problems.append(f"{lost} Ids lost, {doubled} doubled, {len(got)} rows out")


def farm_submitter(
    svc: Service, tally: Tally, key: str, until: float, args: Any, addrs: list[Any]
) -> None:
    rng = random.Random(f"{args.seed}-farm")
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < until:
            sample = [rng.choice(addrs) for _ in range(rng.randint(1, 1000))]
            batch = [f"{a.street} {a.housenumber}, {a.locality or ''}" for a in sample]
            svc.up.wait()
            try:
                response = client.post(
                    f"{svc.base}/batch-forward/", json={"key": key, "addresses": batch}
                )
            except httpx.TransportError:
                tally.refused["farm submit"] += 1
                continue
            if response.status_code != 200:
                tally.unexpected[f"farm submit {response.status_code}"] += 1
                continue
            tally.farm_batches += 1
            tally.farm_entities += len(batch)
            url = response.json()["REQUEST"]["result_url"]
            path = httpx.URL(url).path + "?" + httpx.URL(url).query.decode()
            deadline = until + DRAIN_TIMEOUT
            while time.monotonic() < deadline:
                time.sleep(0.5)
                svc.up.wait()
                try:
                    body = client.get(f"{svc.base}{path}").json()
                except (httpx.TransportError, ValueError):
                    tally.refused["farm poll"] += 1
                    continue
                state = body.get("REQUEST", {}).get("status")
                if state == "DONE":
                    requests = [entry["request"] for entry in body["RESULTS"]]
                    if requests != batch:
                        tally.farm_problems.append(f"{url}: {len(requests)} of {len(batch)}")
                    break
                if state not in ("PENDING", "PROCESSING"):
                    tally.farm_problems.append(f"{url}: {state}")
                    break
            else:
                tally.farm_problems.append(f"{url}: not DONE after {DRAIN_TIMEOUT:.0f} s")


def single_client(
    svc: Service, tally: Tally, key: str, until: float, seed: str, addrs: list[Any]
) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < until:
            a = rng.choice(addrs)
            query = f"{a.street} {a.housenumber}, {a.locality or ''}"
            if rng.random() < 0.5:
                url, params = f"{svc.base}/forward/", {"key": key, "addr": query}
            else:
                url, params = f"{svc.base}/REST/v1/Locations", {"key": key, "q": query}
            timed_get(svc, tally, client, "single", url, params)


def killer(svc: Service, tally: Tally, until: float, mean: float, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        gap = max(MIN_KILL_GAP, rng.expovariate(1 / mean))
        if time.monotonic() + gap >= until:
            return
        time.sleep(gap)
        svc.kill()
        tally.kills.append(time.monotonic())
        tally.restarts.append(svc.start())


def store_check(data: Path, keys: dict[str, int]) -> list[str]:
    """The job store against itself: every key's usage equals what its jobs geocoded."""
    problems = []
    con = sqlite3.connect(f"file:{data / 'jobs.sqlite'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    for name, key_id in keys.items():
        usage = con.execute(
            "SELECT COALESCE(SUM(count), 0) FROM usage WHERE key_id = ?", (key_id,)
        ).fetchone()[0]
        jobs = con.execute(
            "SELECT kind, status, total, processed FROM jobs WHERE key_id = ?", (key_id,)
        ).fetchall()
        unfinished = [j for j in jobs if j["status"] in ("Pending", "Processing")]
        aborted = [j for j in jobs if j["status"] == "Aborted"]
        if unfinished:
            problems.append(f"{name}: {len(unfinished)} jobs never finished")
        if aborted:
            problems.append(f"{name}: {len(aborted)} jobs aborted")
        # Rows geocoded are charged; an aborted job (itself a failure, reported above) may have
        # been charged for up to all its rows before it was stopped.
        field_ = "total" if name.startswith("farm") else "processed"
        expected = sum(j[field_] for j in jobs if j["status"] != "Aborted")
        at_most = expected + sum(j["total"] for j in aborted)
        print(
            f"  {name}: {len(jobs)} jobs in the store, usage {usage:,}, geocoded {expected:,}"
            + (f" (+ up to {at_most - expected:,} of aborted jobs)" if aborted else "")
        )
        if not expected <= usage <= at_most:
            problems.append(f"{name}: usage {usage} but its jobs geocoded {expected}")
    return problems


def key_ids(data: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{data / 'jobs.sqlite'}?mode=ro", uri=True)
    return {name: key_id for key_id, name in con.execute("SELECT id, name FROM api_keys")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--kill-mean", type=float, default=180.0, help="mean seconds between kills")
    parser.add_argument("--clients", type=int, default=8, help="threads making single calls")
    parser.add_argument("--max-rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    extract = args.shared / EXTRACT
    if not extract.exists():
        raise SystemExit(f"needs {extract} (the shared data beside the checkout)")
    work = Path(tempfile.mkdtemp(prefix="geobatch-soak-"))
    index, data = work / "index", work / "data"
    print(f"engine: {native.describe()}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    ensure_builtin(index)
    source = OsmSource(extract)
    import_source(index, source)
    addrs = [
        r for r in source.read(None) if isinstance(r, AddressRecord) and r.street and r.locality
    ]
    svc = Service(index, data, args.workers, work / "server.log")
    keys = {name: svc.key(name) for name in ("bing-a", "bing-b", "farm", "single")}
    svc.start()

    # Baseline: single calls on the idle server, one client.
    idle = Tally()
    single_client(svc, idle, keys["single"], time.monotonic() + 10, "idle", addrs)
    print(f"baseline, idle server, one client: single call p50 "
          f"{percentile(idle.single_ms, 0.5):.1f} ms, p99 {percentile(idle.single_ms, 0.99):.1f}"
          f" ms over {len(idle.single_ms):,} calls")  # fmt: skip

    tally = Tally()
    started = time.monotonic()
    until = started + args.minutes * 60
    threads = [
        threading.Thread(target=bing_submitter, args=(svc, tally, n, keys[n], until, args, addrs))
        for n in ("bing-a", "bing-b")
    ]
    threads.append(
        threading.Thread(target=farm_submitter, args=(svc, tally, keys["farm"], until, args, addrs))
    )
    threads += [
        threading.Thread(
            target=single_client, args=(svc, tally, keys["single"], until, f"c{c}", addrs)
        )
        for c in range(args.clients)
    ]
    kill_thread = threading.Thread(
        target=killer, args=(svc, tally, until, args.kill_mean, args.seed)
    )
    for t in [*threads, kill_thread]:
        t.daemon = True
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(5)
        done = sum(1 for j in tally.jobs if j.done)
        print(f"  {(time.monotonic() - started) / 60:5.1f} min: {len(tally.jobs)} jobs "
              f"({done} finished), {tally.farm_batches} Farm batches, "
              f"{len(tally.single_ms):,} single calls, {len(tally.kills)} kills, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        if time.monotonic() > until + DRAIN_TIMEOUT:
            break
    kill_thread.join()
    svc.stop()

    print(f"\nsoak of {args.minutes:.0f} min, {len(tally.kills)} SIGKILLs of the server "
          f"(restart to answering: median "
          f"{statistics.median(tally.restarts) if tally.restarts else 0:.1f} s)")  # fmt: skip
    rows = sum(len(j.ids) for j in tally.jobs)
    bad_jobs = [j for j in tally.jobs if j.problems]
    print(f"  Bing jobs: {len(tally.jobs)} created ({rows:,} rows), "
          f"{sum(1 for j in tally.jobs if j.status == 'Completed')} Completed, "
          f"{len(bad_jobs)} with a problem")  # fmt: skip
    for j in bad_jobs[:10]:
        print(f"    {j.url}: {'; '.join(j.problems)}")
    print(f"  Farm batches: {tally.farm_batches} ({tally.farm_entities:,} addresses), "
          f"{len(tally.farm_problems)} with a problem")  # fmt: skip
    for p in tally.farm_problems[:10]:
        print(f"    {p}")
    print(f"  status requests: p50 {percentile(tally.status_ms, 0.5):.1f} ms, "
          f"p99 {percentile(tally.status_ms, 0.99):.1f} ms over {len(tally.status_ms):,} "
          "(target p99 < 50 ms)")  # fmt: skip
    print(f"  single calls, {args.clients} clients: p50 {percentile(tally.single_ms, 0.5):.1f} ms, "
          f"p99 {percentile(tally.single_ms, 0.99):.1f} ms over {len(tally.single_ms):,} "
          "(target p99 < 50 ms)")  # fmt: skip
    print(f"  refused while the server was down: {dict(tally.refused)}")
    print(f"  answers of an unexpected status: {dict(tally.unexpected) or 'none'}")
    print("  the job store:")
    problems = store_check(data, {n: key_ids(data)[n] for n in ("bing-a", "bing-b", "farm")})
    problems += [f"{j.url}: {'; '.join(j.problems)}" for j in bad_jobs]
    problems += tally.farm_problems
    print(f"\n{'PASS' if not problems else 'FAIL'}: {len(problems)} problems; work folder {work}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
