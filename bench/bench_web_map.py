"""Benchmark: the web page's map with 100,000 results, in Debian's chromium against a real server.

Index: the built-in gazetteer plus Liechtenstein 2024. Two reverse jobs of random points over
Liechtenstein are run through the page's API: the baseline of 10,000 rows and 100,000 rows. For
each, in the browser: the time from "Open" to the first drawn map (points fetched, clustered,
drawn), the clustering time alone, and the time to redraw after each of 12 zoom steps in and out
(what "smooth" means here: a redraw well under a frame budget of 100 ms). Server side: the time
to fetch every point from /points.

Usage: python bench/bench_web_map.py [--shared ../shared/data] [--rows 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource

GEOBATCH = Path(sys.executable).parent / "geobatch"
EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def points_csv(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["lat,lon"] + [
        f"{rng.uniform(47.05, 47.27):.6f},{rng.uniform(9.47, 9.63):.6f}" for _ in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


def run_job(base: str, key: str, body: bytes, name: str) -> str:
    headers = {"X-Api-Key": key}
    made = httpx.post(f"{base}/api/web/jobs?codec=csv&input=reverse&description={name}",
                      content=body, headers=headers, timeout=120)  # fmt: skip
    made.raise_for_status()
    job_id: str = made.json()["id"]
    while httpx.get(f"{base}/api/web/jobs/{job_id}", headers=headers).json()["status"] not in (
        "Completed",
        "Aborted",
    ):
        time.sleep(0.5)
    return job_id


def fetch_points(base: str, key: str, job_id: str) -> tuple[int, float]:
    started, after, count = time.perf_counter(), -1, 0
    while True:
        page = httpx.get(f"{base}/api/web/jobs/{job_id}/points?after={after}&limit=50000",
                         headers={"X-Api-Key": key}, timeout=120).json()  # fmt: skip
        count += len(page["seq"])
        if page["next"] is None or len(page["seq"]) < 50000:
            return count, time.perf_counter() - started
        after = page["next"]


def browse(base: str, key: str, name: str) -> dict[str, float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        page.wait_for_selector("body[data-ready]")
        page.fill("#key-input", key)
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#app:not([hidden])")
        started = time.perf_counter()
        page.locator(".job", has_text=name).get_by_role("button", name="Open").click()
        page.wait_for_selector("#map-count[data-draw-ms]", timeout=300_000)
        first = time.perf_counter() - started
        count = page.locator("#map-count")
        index_ms = float(count.get_attribute("data-index-ms") or "nan")
        draws = []
        box = page.locator("#map").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for step in range(12):
            before = count.get_attribute("data-draw-ms")
            page.mouse.wheel(0, -300 if step < 6 else 300)
            page.wait_for_timeout(700)
            after = count.get_attribute("data-draw-ms")
            if after != before or step:
                draws.append(float(after or "nan"))
        browser.close()
    return {"first": first, "index_ms": index_ms, "p50": statistics.median(draws),
            "max": max(draws)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared/data")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        index = tmp / "index"
        ensure_builtin(index)
        import_source(index, OsmSource(args.shared / EXTRACT))
        data = tmp / "data"
        made = subprocess.run(
            [str(GEOBATCH), "keys", "create", "--name", "bench", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
        key = made.stdout.strip()
        port = 18000 + random.randrange(1000)
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(GEOBATCH), "serve", "--port", str(port), "--index", str(index), "--data-dir",
             str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            for _ in range(600):
                try:
                    httpx.get(base + "/api/web/config", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            print(f"{'rows':>8} {'points/s API':>13} {'open→map s':>11} {'cluster ms':>11}"
                  f" {'redraw p50 ms':>14} {'redraw max ms':>14}")  # fmt: skip
            for rows in (10_000, args.rows):  # the first is the baseline of the same run
                name = f"bench-{rows}"
                job_id = run_job(base, key, points_csv(rows, rows), name)
                count, seconds = fetch_points(base, key, job_id)
                seen = browse(base, key, name)
                rate = count / seconds
                print(
                    f"{rows:>8,} {rate:>13,.0f} {seen['first']:>11.2f} {seen['index_ms']:>11.0f}"
                    f" {seen['p50']:>14.1f} {seen['max']:>14.1f}"
                )
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
