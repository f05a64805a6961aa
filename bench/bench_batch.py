"""Benchmark: batch throughput end to end through the CLI, against the engine's own speed.

Index: the built-in gazetteer plus Liechtenstein 2024. Inputs (``--rows``, 1,000,000 by
default): forward, Liechtenstein's addresses as free text (house numbers shifted on later laps,
a tenth without postcode); reverse, uniform random points in the country's bounding box.

Measured in one run, for each direction:

- baseline: the engine's own speed, in this process: ``geocode_batch`` / ``reverse_batch`` on
  requests read beforehand, in chunks of 1,000 (no CSV, no index load);
- ``geobatch geocode|reverse`` with ``--workers 1`` and ``--workers 2``: wall time of the
  command (index load included), and the same less the index load (timed apart);
- the machine's parallel capacity right now: two copies of the engine run at once, their
  summed speed over one's (2.0 on two free cores; a busy shared machine gives less), the
  ceiling for the two-worker gains;
- the same through a Dask cluster started here: ``dask scheduler`` and two
  ``dask worker --nthreads 1`` processes on 127.0.0.1, after a warm-up run that makes each
  worker load the index.

Every output is checked to be byte for byte the one of the first run. The machine's load
average is printed before and after: on a shared machine other processes take cores too.

Usage: python bench/bench_batch.py [--shared ../shared/data] [--rows 1000000] [--index DIR]
       [--skip-dask] [--only forward|reverse]
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.model import GeocodeRequest, ReverseRequest
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import AddressRecord

EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"
BIN = Path(sys.executable).parent
CHUNK = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_inputs(tmp: Path, pbf: Path, rows: int) -> tuple[Path, Path]:
    addresses = [r for r in OsmSource(pbf).read() if isinstance(r, AddressRecord) and r.street]
    rng = random.Random(12)
    forward, reverse = tmp / "forward.csv", tmp / "reverse.csv"
    with forward.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "address"])
        for i in range(rows):
            a = addresses[i % len(addresses)]
            lap = i // len(addresses)
            digits = "".join(filter(str.isdigit, a.housenumber)) or "0"
            number = a.housenumber if lap == 0 else str(int(digits) + lap)
            place = a.locality or "" if rng.random() < 0.1 else f"{a.postcode} {a.locality}"
            writer.writerow([i, f"{a.street} {number}, {place}"])
    lats = [a.lat for a in addresses]
    lons = [a.lon for a in addresses]
    with reverse.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "lat", "lon"])
        for i in range(rows):
            lat = rng.uniform(min(lats), max(lats))
            lon = rng.uniform(min(lons), max(lons))
            writer.writerow([i, f"{lat:.6f}", f"{lon:.6f}"])
    return forward, reverse


def engine_speed(geocoder: Geocoder, kind: str, path: Path) -> float:
    """Rows/s of the engine alone on the file's requests, read beforehand."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    if kind == "forward":
        forward = [GeocodeRequest(query=q) for _, q in rows]
        started = time.perf_counter()
        for at in range(0, len(forward), CHUNK):
            geocoder.geocode_batch(forward[at : at + CHUNK])
    else:
        reverse = [ReverseRequest(float(lat), float(lon)) for _, lat, lon in rows]
        started = time.perf_counter()
        for at in range(0, len(reverse), CHUNK):
            geocoder.reverse_batch(reverse[at : at + CHUNK])
    return len(rows) / (time.perf_counter() - started)


def _engine_in_child(
    index: Path, kind: str, path: Path, share: multiprocessing.Queue[float]
) -> None:
    share.put(engine_speed(Geocoder.open(index).prepare(), kind, path))


def parallel_capacity(index: Path, kind: str, path: Path, alone: float) -> float:
    """How many times the engine's speed two copies of it get at once on this machine now
    (2.0 on two free cores; less when other processes hold one)."""
    results: multiprocessing.Queue[float] = multiprocessing.Queue()
    copies = [
        multiprocessing.Process(target=_engine_in_child, args=(index, kind, path, results))
        for _ in range(2)
    ]
    for copy in copies:
        copy.start()
    speeds = [results.get() for _ in copies]
    for copy in copies:
        copy.join()
    return sum(speeds) / alone


def cli(kind: str, index: Path, path: Path, out: Path, *extra: str) -> float:
    command = "geocode" if kind == "forward" else "reverse"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "geobatch"), command, str(path), "-o", str(out), "--index", str(index), *extra],
        check=True,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


class Cluster:
    """``dask scheduler`` and two single-threaded ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, tmp: Path) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
        log = (tmp / "dask.log").open("ab")
        port = self.address.rsplit(":", 1)[1]
        scheduler = ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        worker = ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        self.processes = [
            subprocess.Popen(
                [str(BIN / "dask"), *scheduler],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        ]
        for _ in range(2):
            self.processes.append(
                subprocess.Popen(
                    [str(BIN / "dask"), *worker, "--memory-limit", "0"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--index", type=Path, default=None, help="reuse an index built before")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--only", choices=("forward", "reverse"), default=None)
    args = parser.parse_args()
    print(f"engine: {native.describe()}; load average at start: {load()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        index = args.index or tmp / "index"
        ensure_builtin(index)
        pbf = args.shared / EXTRACT
        if not any(index.glob("liechtenstein*")):
            import_source(index, OsmSource(pbf))
        forward, reverse = write_inputs(tmp, pbf, args.rows)
        started = time.perf_counter()
        geocoder = Geocoder.open(index).prepare()
        open_s = time.perf_counter() - started
        print(f"index {index}: opened and prepared in {open_s:.1f} s (in every CLI run below)")
        cluster = None if args.skip_dask else Cluster(tmp)
        try:
            for kind, path in (("forward", forward), ("reverse", reverse)):
                if args.only not in (None, kind):
                    continue
                measure(kind, path, tmp, index, geocoder, open_s, cluster, args.rows)
        finally:
            if cluster is not None:
                cluster.stop()
    print(f"load average at the end: {load()} (2 cores, shared with other sessions)")


def measure(
    kind: str,
    path: Path,
    tmp: Path,
    index: Path,
    geocoder: Geocoder,
    open_s: float,
    cluster: Cluster | None,
    rows: int,
) -> None:
    engine = engine_speed(geocoder, kind, path)
    print(f"\n{kind}, {rows:,} rows; baseline, the engine alone: {engine:,.0f} rows/s")
    capacity = parallel_capacity(index, kind, path, engine)
    print(f"  two engines at once on this machine now: {capacity:.2f} × one (2.00: two free cores)")
    runs: list[tuple[str, tuple[str, ...]]] = [
        ("CLI --workers 1", ("--workers", "1")),
        ("CLI --workers 2", ("--workers", "2")),
    ]
    if cluster is not None:
        warm = tmp / "warm.csv"
        cli(kind, index, path, warm, "--cluster", cluster.address)  # workers load the index
        runs.append(("CLI --cluster (2 Dask workers)", ("--cluster", cluster.address)))
    first: Path | None = None
    one = 0.0
    print(f"  {'run':32} {'wall s':>7} {'rows/s':>9} {'÷ engine':>9} {'rows/s*':>9} {'÷ 1 w.':>7}")
    for label, extra in runs:
        out = tmp / f"{kind}-{len(extra)}-{extra[-1].replace('/', '_')}.csv"
        wall = cli(kind, index, path, out, *extra)
        rate = rows / wall
        # The index load happens in each worker at once, beside the reading of the input.
        net = rows / max(wall - open_s, 1e-9)
        one = one or rate
        print(
            f"  {label:32} {wall:7.1f} {rate:9,.0f} {rate / engine:9.2f} {net:9,.0f}"
            f" {rate / one:7.2f}"
        )
        if first is None:
            first = out
        elif not filecmp.cmp(first, out, shallow=False):
            print(f"  !! {label}: output differs from the first run's")
        if out != first:
            out.unlink()
    print("  (* less the index load time; ÷ 1 w.: against CLI --workers 1 in this run)")


if __name__ == "__main__":
    main()
