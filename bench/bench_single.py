"""Benchmark: single forward requests over HTTP (Bing Locations and Nominatim) against a real
server, beside the engine's own time for the same queries in the same run.

Index: the built-in gazetteer plus, where ../shared/data has it, Liechtenstein's OSM extract
(else the two-villages test fixture). Queries: addresses and places of that index, each asked
once before timing (warm). Prints:

* latency: one client, one keep-alive connection, requests one after another: p50/p99/max
  (targets: p99 < 10 ms);
* throughput: several client processes for a fixed time; requests/s overall and per core of
  the server (requests divided by the server process's CPU seconds meanwhile, read from /proc:
  the clients' own CPU use on this shared machine does not count against it) (target: >= 2,000
  requests/s per core);
* baseline: the engine's time per query, in this process, for the same queries (p50/p99 and
  queries/s): what HTTP, authentication and quota accounting add is the difference.

Usage: python bench/bench_single.py [--seconds 10] [--clients 3] [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import AddressRecord

REPO = Path(__file__).resolve().parents[1]
EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"
GEOBATCH = Path(sys.executable).parent / "geobatch"
FIXTURE = REPO / "tests" / "fixtures" / "geocode" / "twovillages.osm"
PLACES = ["Vaduz", "Oberdorf", "Unterdorf", "Schaan, Liechtenstein", "Triesen", "Balzers"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_index(where: Path, shared: Path) -> tuple[Path, Path]:
    index = where / "index"
    ensure_builtin(index)
    extract = shared / EXTRACT
    source = extract if extract.exists() else FIXTURE
    import_source(index, OsmSource(source))
    return index, source


def queries(source: Path, count: int) -> list[str]:
    """Addresses of the extract ("street number, postcode town") and places, shuffled."""
    found = [r for r in OsmSource(source).read() if isinstance(r, AddressRecord) and r.street]
    rng = random.Random(7)
    rng.shuffle(found)
    out = list(PLACES)
    for r in found[: max(0, count - len(out))]:
        town = " ".join(p for p in (r.postcode, r.locality) if p)
        out.append(f"{r.street} {r.housenumber}, {town}".rstrip(", "))
    rng.shuffle(out)
    return out


def engine_baseline(geocoder: Geocoder, texts: list[str]) -> list[float]:
    for text in texts:
        geocoder.geocode(text, 1)
    times = []
    for text in texts * 3:
        started = time.perf_counter()
        geocoder.geocode(text, 1)
        times.append(time.perf_counter() - started)
    return times


def path_for(kind: str, text: str, key: str) -> str:
    if kind == "bing":
        return "/REST/v1/Locations?" + urllib.parse.urlencode(
            {"query": text, "key": key, "maxResults": 1}
        )
    return "/nominatim/search?" + urllib.parse.urlencode(
        {"q": text, "format": "json", "limit": 1, "key": key}
    )


def get(con: http.client.HTTPConnection, path: str) -> int:
    con.request("GET", path)
    answer = con.getresponse()
    answer.read()
    return answer.status


def latencies(port: int, paths: list[str]) -> list[float]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths:  # warm: every query once
        assert get(con, path) == 200
    times = []
    for path in paths * 3:
        started = time.perf_counter()
        get(con, path)
        times.append(time.perf_counter() - started)
    con.close()
    return times


def _client(port: int, paths: list[str], seconds: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done = errors = 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        if get(con, paths[i % len(paths)]) != 200:
            errors += 1
        done += 1
        i += 1
    out.put((done, errors))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(port: int, pid: int, paths: list[str], clients: int, seconds: float) -> tuple:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_client, args=(port, paths[i::clients], seconds, queue))
        for i in range(clients)
    ]
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    for w in workers:
        w.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
    done = sum(r[0] for r in results)
    return done, sum(r[1] for r in results), wall, cpu


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    print(f"engine: {native.describe()}; machine: {os.cpu_count()} cores, shared with others")
    with tempfile.TemporaryDirectory(prefix="bench-single-") as tmp:
        where = Path(tmp)
        index, source = build_index(where, args.shared)
        geocoder = Geocoder.open(index).prepare()
        texts = queries(source, args.queries)
        print(f"index: built-in gazetteer + {source.name}; {len(texts)} distinct queries")
        base = engine_baseline(geocoder, texts)
        del geocoder
        data = where / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
        # No rate limit (it would answer 429), no access log (a line per request; operators at
        # these rates watch /metrics instead).
        env.update(GEOBATCH_WORKERS="1", GEOBATCH_KEY_RATE="0", GEOBATCH_ACCESS_LOG="0")
        made = subprocess.run(
            [str(GEOBATCH), "keys", "create", "--name", "bench", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        key = made.stdout.strip()
        port = free_port()
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
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    if get(con, "/healthz") == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            print()
            print(f"{'':28}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>10}{'req/s/core':>12}")
            n = len(base)
            rate = n / sum(base)
            print(
                f"{'engine alone (baseline)':28}{ms(base, 0.5):9.2f}{ms(base, 0.99):9.2f}"
                f"{max(base) * 1000:9.2f}{rate:10,.0f}{rate:12,.0f}"
            )
            for kind in ("bing", "nominatim"):
                paths = [path_for(kind, t, key) for t in texts]
                times = latencies(port, paths)
                done, errors, wall, cpu = throughput(
                    port, server.pid, paths, args.clients, args.seconds
                )
                per_core = done / cpu if cpu > 0 else float("nan")
                label = f"HTTP {kind}"
                print(
                    f"{label:28}{ms(times, 0.5):9.2f}{ms(times, 0.99):9.2f}"
                    f"{max(times) * 1000:9.2f}{done / wall:10,.0f}{per_core:12,.0f}"
                    + (f"  ({errors} errors)" if errors else "")
                )
            print()
            print("targets: HTTP p99 < 10 ms (warm, one client); >= 2,000 requests/s per core")
            print("server: 1 process, uvicorn, access log off (GEOBATCH_ACCESS_LOG=0)")
            metrics = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            metrics.request("GET", "/metrics")
            lines = metrics.getresponse().read().decode().splitlines()
            count = sum(
                int(line.rsplit(" ", 1)[1])
                for line in lines
                if line.startswith("geobatch_http_requests_total")
            )
            print(f"server /metrics counted {count:,} requests")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
