"""Benchmark: one 200,000-row Bing v2 pipe job end to end over HTTP against a real server.

Index: the built-in gazetteer plus Liechtenstein 2024. Rows: Liechtenstein's addresses repeated
with variations (free-text queries with and without postcode, structured address fields, house
numbers shifted, about 5 % reverse points), so the per-chunk cache does not answer most of them.

Prints wall time from POST to Completed, rows/s, time to upload, time to download both outputs,
peak server memory (RSS of the server and its worker processes, sampled from /proc), and the
latency (p50/p99) of status requests made while the job runs. Baseline in the same run: the
latency of a request on the idle server before the job is posted.

Usage: python bench/bench_bing_job.py [--shared ../shared/data] [--rows 200000] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from geobatch import native
from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import AddressRecord

EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"
GEOBATCH = Path(sys.executable).parent / "geobatch"
HEADER = (
    "Bing Spatial Data Services, 2.0\n"
    "Id|GeocodeRequest/Culture|GeocodeRequest/Query|GeocodeRequest/Address/AddressLine"
    "|GeocodeRequest/Address/Locality|GeocodeRequest/Address/PostalCode"
    "|GeocodeRequest/Address/CountryRegion"
    "|ReverseGeocodeRequest/Location/Latitude|ReverseGeocodeRequest/Location/Longitude\n"
)


def build_rows(addresses: list[AddressRecord], count: int) -> bytes:
    rng = random.Random(42)
    out = [HEADER]
    for i in range(count):
        a = addresses[i % len(addresses)]
        lap = i // len(addresses)
        digits = "".join(filter(str.isdigit, a.housenumber)) or "0"
        number = a.housenumber if lap == 0 else str(int(digits) + lap)
        kind = rng.random()
        if kind < 0.05:
            lat, lon = a.lat + rng.uniform(-2e-4, 2e-4), a.lon + rng.uniform(-2e-4, 2e-4)
            out.append(f"{i}|en-US||||||{lat:.6f}|{lon:.6f}\n")
        elif kind < 0.55:
            place = f"{a.postcode} {a.locality}" if kind < 0.3 else (a.locality or "")
            out.append(f"{i}|en-US|{a.street} {number}, {place}||||||\n")
        else:
            line = f"{a.street} {number}"
            out.append(f"{i}|en-US||{line}|{a.locality or ''}|{a.postcode or ''}|Liechtenstein||\n")
    return "".join(out).encode()


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--index", type=Path, default=None, help="reuse an index built before")
    args = parser.parse_args()
    print(f"engine: {native.describe()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        index = args.index or tmp / "index"
        t0 = time.perf_counter()
        ensure_builtin(index)
        pbf = args.shared / EXTRACT
        if not any(index.glob("liechtenstein*")):
            import_source(index, OsmSource(pbf))
        print(f"index ready in {time.perf_counter() - t0:.1f} s: {index}")
        addresses = [r for r in OsmSource(pbf).read() if isinstance(r, AddressRecord) and r.street]
        body = build_rows(addresses, args.rows)
        print(
            f"job: {args.rows:,} rows, {len(body) / 1e6:.1f} MB, from {len(addresses):,} addresses"
        )
        run(tmp, index, body, args)


def run(tmp: Path, index: Path, body: bytes, args: argparse.Namespace) -> None:
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
    key = subprocess.run(
        [str(GEOBATCH), "keys", "create", "--name", "bench", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(GEOBATCH),
            "serve",
            "--port",
            str(port),
            "--index",
            str(index),
            "--data-dir",
            str(data),
            "--workers",
            str(args.workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(server.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with httpx.Client(timeout=600) as client:
            for _ in range(600):
                try:
                    client.get(f"{base}/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            idle = []
            for _ in range(50):
                t = time.perf_counter()
                client.get(f"{base}/REST/v1/dataflows/listjobs", params={"key": key})
                idle.append(time.perf_counter() - t)
            started = time.perf_counter()
            response = client.post(
                f"{base}/REST/v1/Dataflows/Geocode",
                params={"input": "pipe", "key": key},
                content=body,
            )
            upload_s = time.perf_counter() - started
            assert response.status_code == 201, response.text
            location = response.headers["Location"]
            latencies: list[float] = []
            while True:
                t = time.perf_counter()
                status = client.get(location, params={"key": key}).json()
                latencies.append(time.perf_counter() - t)
                job = status["resourceSets"][0]["resources"][0]
                if job["status"] != "Pending":
                    break
                time.sleep(0.2)
            wall = time.perf_counter() - started
            t = time.perf_counter()
            downloaded = 0
            for link in job["links"][1:]:
                got = client.get(link["url"], params={"key": key})
                downloaded += len(got.content.splitlines()) - 2
            download_s = time.perf_counter() - t
    finally:
        stop.set()
        sampler.join()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
    total, failed = job["totalEntityCount"], job["failedEntityCount"]
    print(f"status: {job['status']}  total {total:,}  failed {failed:,}  downloaded {downloaded:,}")
    rate = args.rows / wall
    print(f"wall time POST -> Completed: {wall:.1f} s ({rate:,.0f} rows/s, {args.workers} workers)")
    print(f"upload {upload_s:.2f} s, download of both outputs {download_s:.2f} s")
    # The fair total when comparing versions: results may be rendered before Completed or on
    # the first download.
    print(f"POST -> both outputs downloaded: {wall + download_s:.1f} s")
    print(f"peak server RSS (server + workers): {peak[0] / 1024:,.0f} MB")
    print(
        f"status latency while running: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms over {len(latencies)} requests "
        f"(baseline idle list request: p50 {statistics.median(idle) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
