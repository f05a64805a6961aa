"""Benchmark: a country-sized index — import, open, memory per worker, query cost as it grows.

A synthetic country (``../shared/tools/synth_country.py``: the Iceland register and SF Bay
addresses tiled into new towns, half the street names new per region) is imported next to the
built-in gazetteer at two sizes: the target size (``--addresses``, 20 million by default) and a
baseline of 1 million in the same run. Measured, each in its own process:

- import: wall time, addresses/s, peak memory of the importing processes together (the sum of
  their proportional set sizes, sampled every 0.2 s), index size on disk and bytes per address;
- open: ``geobatch.open`` plus the first answer (geobatch's modules already imported), with
  the index in the page cache (warm) and
  after its files were dropped from the page cache (cold, ``posix_fadvise(DONTNEED)``);
- forward: the synthetic clean queries ("street number, postcode town" of random addresses of
  the whole country) in one process: addresses/s, the share within 50 m of the true point, and
  the process's private memory (USS) and PSS after the queries;
- two workers: two processes each asking the same queries at once: USS of each, their PSS
  together, against one process alone (the pages of the index are shared, not copied);
- query cost: addresses/s at the target size against the 1-million baseline (flat = 1.0), in
  rounds that alternate the two sizes so that load from elsewhere falls on both alike.

Both sizes answer the same number of queries (the smaller query file decides), so that their
memory after the queries compares.

Usage: python bench/bench_scale.py [--addresses 20000000] [--queries 100000] [--work DIR]
       [--memory MB] [--skip-import]
Files are made with synth_country.py in --work when absent (about a minute per 5 million).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PYTHON = sys.executable
BASELINE_ADDRESSES = 1_000_000
ROUNDS = 6


def synth(work: Path, addresses: int, queries: int) -> tuple[Path, Path]:
    name = f"synth-{addresses}"
    data, asked = work / f"{name}.csv.gz", work / f"{name}.queries.csv"
    if not data.exists() or not asked.exists():
        tool = SHARED / "tools" / "synth_country.py"
        cmd = [PYTHON, str(tool), "--addresses", str(addresses), "-o", str(data)]
        subprocess.run([*cmd, "--queries", str(queries)], check=True)
    return data, asked


def _children(pid: int) -> list[int]:
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out += _children(int(entry.name))
    return out


def smaps(pid: int) -> dict[str, int]:
    """kB figures of /proc/PID/smaps_rollup (Pss, Private_Clean, Private_Dirty, Rss...)."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


class PeakMemory:
    """The peak of the summed PSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(smaps(p).get("Pss", 0) for p in _children(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def import_index(index: Path, builtin: Path, data: Path, memory_mb: int) -> dict[str, float]:
    index.mkdir(parents=True, exist_ok=True)
    for f in builtin.glob("builtin-world.gbx"):
        (index / f.name).write_bytes(f.read_bytes())
    cmd = [PYTHON, "-m", "geobatch.cli.main", "--index", str(index), "import",
           "--memory", str(memory_mb), str(data)]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = PeakMemory(proc.pid)
    out, _ = proc.communicate()
    seconds = time.monotonic() - started
    mb = peak.stop()
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {out}")
    print(f"  {out.strip()}")
    return {"seconds": seconds, "peak_mb": mb}


# Run in a child: open, first answer, the queries, then memory figures as JSON on stdout.
CHILD = r"""
import csv, json, os, sys, time
from pathlib import Path
import geobatch  # the modules load before the clock starts: open is what the index costs
t0 = time.perf_counter()
g = geobatch.open(sys.argv[1])
g.geocode("Hafnargata 1")
opened = time.perf_counter() - t0
rows = list(csv.DictReader(open(sys.argv[2], encoding="utf-8")))[: int(sys.argv[3])]
requests = [geobatch.GeocodeRequest(query=r["query"]) for r in rows]
if sys.argv[4] == "wait":
    while not Path(sys.argv[5]).exists():
        time.sleep(0.01)
t1 = time.perf_counter()
answers = g.geocode_batch(requests) if requests else []
seconds = time.perf_counter() - t1
from geobatch.index.spatial import haversine_m
near = sum(
    1 for r, a in zip(rows, answers)
    if a.best and haversine_m(a.best.point.lat, a.best.point.lon, float(r["true_lat"]),
                              float(r["true_lon"])) <= 50
)
mem = {}
for line in open("/proc/self/smaps_rollup").read().splitlines()[1:]:
    k, v = line.split(":", 1)
    mem[k] = int(v.split()[0])
print(json.dumps({"open_s": opened, "seconds": seconds, "n": len(rows), "near": near,
                  "uss_mb": (mem["Private_Clean"] + mem["Private_Dirty"]) / 1024,
                  "anon_mb": mem.get("Anonymous", 0) / 1024,
                  "pss_mb": mem["Pss"] / 1024, "rss_mb": mem["Rss"] / 1024}))
if sys.argv[4] == "wait":
    while not Path(sys.argv[5] + ".done").exists():
        time.sleep(0.01)
"""


def child(
    index: Path, queries: Path, n: int, wait: str = "-", flag: str = ""
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-c", CHILD, str(index), str(queries), str(n), wait, flag],
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit("a query process failed")
    return dict(json.loads(out.strip().splitlines()[-1]))


def drop_cache(index: Path) -> None:
    for path in index.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def measure(label: str, index: Path, queries: Path, n: int) -> dict[str, float]:
    size = sum(p.stat().st_size for p in index.iterdir() if p.is_file())
    addresses = 0
    for p in index.glob("*.gbx"):
        from geobatch.index.container import read_meta

        meta = read_meta(p) or {}
        addresses += int(meta.get("counts", {}).get("addresses", 0))
    result(child(index, queries, 0))  # warm the page cache
    warm = result(child(index, queries, 0))["open_s"]
    drop_cache(index)
    cold = result(child(index, queries, 0))["open_s"]
    one = result(child(index, queries, n))
    flag = index / ".bench-go"
    flag.unlink(missing_ok=True)
    Path(f"{flag}.done").unlink(missing_ok=True)
    pair = [child(index, queries, n, "wait", str(flag)) for _ in range(2)]
    time.sleep(3.0)  # both opened
    flag.touch()
    time.sleep(0.5)
    while any(p.poll() is None for p in pair):
        Path(f"{flag}.done").touch()
        time.sleep(0.2)
    two = [result(p) for p in pair]
    flag.unlink(missing_ok=True)
    Path(f"{flag}.done").unlink(missing_ok=True)
    rate = one["n"] / one["seconds"]
    print(f"\n== {label}: {addresses:,} addresses")
    print(f"  index on disk: {size / 1e9:.2f} GB, {size / max(addresses, 1):.0f} bytes per address")
    print(f"  open + first answer: warm {warm:.2f} s, cold page cache {cold:.2f} s")
    print(f"  forward, one process: {rate:,.0f} addresses/s over {one['n']:,} queries, "
          f"{one['near'] / max(one['n'], 1):.2%} within 50 m")  # fmt: skip
    print(f"  memory after the queries: USS {one['uss_mb']:.0f} MB (anonymous {one['anon_mb']:.0f}"
          f" MB), PSS {one['pss_mb']:.0f} MB, RSS {one['rss_mb']:.0f} MB")  # fmt: skip
    print(f"  two processes at once: USS {two[0]['uss_mb']:.0f} + {two[1]['uss_mb']:.0f} MB, "
          f"PSS together {two[0]['pss_mb'] + two[1]['pss_mb']:.0f} MB (one alone: PSS "
          f"{one['pss_mb']:.0f} MB)")  # fmt: skip
    return {"rate": rate, "uss": one["uss_mb"], "size": size, "addresses": addresses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=20_000_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/geobatch-scale"))
    parser.add_argument("--memory", type=int, default=2_000, help="import --memory (MB)")
    parser.add_argument("--skip-import", action="store_true", help="reuse the indexes in --work")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "src"))
    from geobatch import native
    from geobatch.index.build import ensure_builtin

    print(f"engine: {native.describe()}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    ensure_builtin(work / "builtin")
    made: dict[str, tuple[Path, Path]] = {}
    for label, n in (("baseline", BASELINE_ADDRESSES), ("target", args.addresses)):
        data, queries = synth(work, n, args.queries)
        index = work / f"index-{n}"
        made[label] = index, queries
        if not args.skip_import or not index.exists():
            if index.exists():
                for p in index.iterdir():
                    p.unlink()
            print(f"\nimport of {n:,} addresses (+ built-in gazetteer), --memory {args.memory}")
            got = import_index(index, work / "builtin", data, args.memory)
            print(f"  {got['seconds']:.0f} s ({n / got['seconds']:,.0f} addresses/s), "
                  f"peak memory {got['peak_mb']:,.0f} MB; load average now "
                  f"{os.getloadavg()[1]:.1f} (5 min)")  # fmt: skip
    # The same number of queries at both sizes, so that memory after them compares too.
    asked = min(args.queries, *(_count_queries(q) for _, q in made.values()))
    for label, (index, queries) in made.items():
        measure(f"{label} ({index.name[6:]})", index, queries, asked)
    paired_cost(made["baseline"], made["target"], asked)


def _count_queries(queries: Path) -> int:
    with open(queries, encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def paired_cost(base: tuple[Path, Path], target: tuple[Path, Path], asked: int) -> None:
    """Query cost as the index grows, in rounds that alternate the two sizes (each round: one
    process per size, one after the other, on the same number of queries), so that load from
    elsewhere on the machine falls on both alike; the median of the rounds' ratios."""
    per_round = max(asked // ROUNDS, 1)
    ratios = []
    print(
        f"\nquery cost as the index grows ({ROUNDS} alternating rounds of {per_round:,} queries):"
    )
    for r in range(ROUNDS):
        order = [base, target] if r % 2 == 0 else [target, base]
        got = {}
        for index, queries in order:
            out = result(child(index, queries, per_round))
            got[index] = out["n"] / out["seconds"]
        ratios.append(got[target[0]] / got[base[0]])
        print(f"  round {r + 1}: {got[base[0]]:,.0f} vs {got[target[0]]:,.0f} addresses/s "
              f"({ratios[-1]:.2f} x), load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  median: {statistics.median(ratios):.2f} x the speed on the baseline "
          f"(flat = 1.00)")  # fmt: skip


if __name__ == "__main__":
    main()
