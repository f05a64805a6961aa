"""Benchmark: what the CLI's file formats cost against a UTF-8 CSV run of the same rows.

Index: the built-in gazetteer (``--index``, built when missing). Input: ``--rows`` random
points on land-ish latitudes, reverse geocoded (the fastest path of the engine, so the one
where the coordinator's extra work of a format shows most). Each run is ``geobatch reverse``
in a subprocess with ``--workers`` workers; its wall time includes the index load, which is
timed apart (a one-row run) and subtracted.

Measured in one run: the baseline (CSV UTF-8 in, CSV out), then the same rows as Windows-1252
and UTF-16 CSV, .xlsx and Parquet in (CSV out), and CSV in with GeoJSON, GeoPackage and
Parquet out. Also the encoding scan alone over a UTF-8 file of the same rows, repeated to
about 100 MB. Figures vary with the machine's load (it is shared): compare within a run.

Usage: python bench/bench_files.py [--rows 200000] [--workers 2] [--index DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geobatch.batch.transcode import scan_stream
from geobatch.formats.encoding import detect
from geobatch.index.build import ensure_builtin


def _rows(count: int) -> list[list[str]]:
    rng = random.Random(15)
    names = ["Zürich", "Genève", "Köln", "São Paulo", "Málaga", "plain"]
    return [["id", "name", "lat", "lon"]] + [
        [str(i), rng.choice(names), f"{rng.uniform(-50, 65):.5f}", f"{rng.uniform(-130, 150):.5f}"]
        for i in range(count)
    ]


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _run(args: list[str], index: Path, cwd: Path) -> float:
    env = {**os.environ, "GEOBATCH_INDEX": str(index)}
    command = [str(Path(sys.executable).with_name("geobatch")), "reverse", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--index", type=Path, default=None)
    options = parser.parse_args()
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="bench-files-") as scratch:
        folder = Path(scratch)
        index = options.index or folder / "index"
        ensure_builtin(index)
        rows = _rows(options.rows)
        text = _csv(rows)
        (folder / "in.csv").write_text(text, encoding="utf-8")
        (folder / "in-1252.csv").write_bytes(_csv(rows, ";").encode("cp1252"))
        (folder / "in-16.txt").write_bytes(_csv(rows, "\t").encode("utf-16"))
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        for row in rows:
            sheet.append(row)
        book.save(folder / "in.xlsx")
        header = rows[0]
        pq.write_table(
            pa.table({name: [r[i] for r in rows[1:]] for i, name in enumerate(header)}),
            folder / "in.parquet",
        )
        (folder / "one.csv").write_text(_csv(rows[:2]), encoding="utf-8")
        workers = ["--workers", str(options.workers)]
        load = min(_run(["one.csv", "-o", "one-out.csv"], index, folder) for _ in range(2))
        cases = [
            ("baseline: CSV UTF-8 -> CSV", ["in.csv", "-o", "o.csv"]),
            ("CSV Windows-1252 -> CSV", ["in-1252.csv", "-o", "o1.csv"]),
            ("CSV UTF-16 -> CSV", ["in-16.txt", "-o", "o2.csv"]),
            (".xlsx -> CSV", ["in.xlsx", "-o", "o3.csv"]),
            ("Parquet -> CSV", ["in.parquet", "-o", "o4.csv"]),
            ("CSV -> GeoJSON", ["in.csv", "-o", "o.geojson"]),
            ("CSV -> GeoPackage", ["in.csv", "-o", "o.gpkg"]),
            ("CSV -> Parquet", ["in.csv", "-o", "o.parquet"]),
        ]
        print(f"{options.rows:,} rows, reverse, --workers {options.workers}; index load "
              f"{load:.1f} s (subtracted); load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        base = None
        for label, args in cases:
            seconds = _run([*args, *workers], index, folder) - load
            rate = options.rows / seconds
            base = base or rate
            print(f"  {label:28} {seconds:7.2f} s  {rate:10,.0f} rows/s  {rate / base:5.2f}x")
        big = folder / "big.csv"
        with big.open("w", encoding="utf-8") as out:
            while out.tell() < 100 * 1024 * 1024:
                out.write(text)
        started = time.perf_counter()
        with big.open("rb") as stream:
            found = detect(scan_stream(stream))
        seconds = time.perf_counter() - started
        size = big.stat().st_size
        rate = size / seconds / 1e9
        print(f"  encoding scan of {size / 1e6:,.0f} MB ({found.label}): {seconds:.2f} s, "
              f"{rate:.2f} GB/s; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
