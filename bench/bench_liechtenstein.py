"""Benchmark: import Liechtenstein 2024, geocode all its addresses forward and reverse.

Prints import seconds, forward addresses/s, reverse points/s and the share of forward results
within 50 m of the true point, each beside a baseline measured in the same run:

- forward baseline: an exact dictionary look-up of the same query strings (what a geocoder with
  no parsing, no tolerance and no ranking would cost: the speed ceiling for one process);
- reverse baseline: the ``reverse_geocoder`` package (a city-level KD-tree, nearest town only).

Usage: python bench/bench_liechtenstein.py [--shared ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.spatial import haversine_m
from geobatch.model import Confidence, GeocodeRequest, ReverseRequest
from geobatch.sources.osm import OsmSource
from geobatch.sources.records import AddressRecord

EXTRACT = "osm/liechtenstein-2024-03-03.osm.pbf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--limit", type=int, default=0, help="geocode only the first N addresses")
    args = parser.parse_args()
    print(f"engine: {native.describe()}")
    pbf = args.shared / EXTRACT
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp)
        t0 = time.perf_counter()
        ensure_builtin(index)
        builtin_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = import_source(index, OsmSource(pbf))
        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        geocoder = Geocoder.open(index).prepare()
        load_s = time.perf_counter() - t0
        truth = [r for r in OsmSource(pbf).read() if isinstance(r, AddressRecord) and r.street]
        if args.limit:
            truth = truth[: args.limit]
        print(f"built-in gazetteer build: {builtin_s:8.1f} s (once per install)")
        print(f"import {pbf.name}: {import_s:8.1f} s  {summary.counts}")
        print(f"index load: {load_s:8.1f} s")
        forward(geocoder, truth)
        reverse(geocoder, truth)


def forward(geocoder: Geocoder, truth: list[AddressRecord]) -> None:
    queries = [f"{r.street} {r.housenumber}, {r.postcode or ''} {r.locality or ''}" for r in truth]
    requests = [GeocodeRequest(query=q) for q in queries]
    t0 = time.perf_counter()
    answers = geocoder.geocode_batch(requests)
    ours_s = time.perf_counter() - t0
    baseline = {q: (r.lat, r.lon) for q, r in zip(queries, truth, strict=True)}
    t0 = time.perf_counter()
    for q in queries:
        baseline.get(q.lower().strip())
    base_s = time.perf_counter() - t0
    errors = []
    wrong_high = 0
    for r, a in zip(truth, answers, strict=True):
        best = a.best
        d = haversine_m(best.point.lat, best.point.lon, r.lat, r.lon) if best else float("inf")
        errors.append(d)
        if best and best.confidence is Confidence.HIGH and d > 100:
            wrong_high += 1
    n = len(truth)
    within = sum(e <= 50 for e in errors) / n
    print(f"forward: {n} addresses, {n / ours_s:,.0f} addresses/s (one process)")
    print(f"  within 50 m: {within:.2%}   within 100 m: {sum(e <= 100 for e in errors) / n:.2%}")
    print(f"  wrong High (>100 m off): {wrong_high / n:.3%}")
    print(f"  median error: {statistics.median(errors):.1f} m")
    print(f"  baseline exact dict look-up of the same strings: {n / base_s:,.0f} queries/s")


def reverse(geocoder: Geocoder, truth: list[AddressRecord]) -> None:
    import reverse_geocoder

    requests = [ReverseRequest(r.lat, r.lon) for r in truth]
    geocoder.reverse(truth[0].lat, truth[0].lon)  # build the trees outside the timing
    t0 = time.perf_counter()
    answers = geocoder.reverse_batch(requests)
    ours_s = time.perf_counter() - t0
    same = sum(
        1
        for r, a in zip(truth, answers, strict=True)
        if a.best and a.best.address.house_number == r.housenumber.strip()
    )
    coords = [(r.lat, r.lon) for r in truth]
    rg = reverse_geocoder.RGeocoder(mode=1, verbose=False)
    t0 = time.perf_counter()
    rg.query(coords)
    base_s = time.perf_counter() - t0
    n = len(truth)
    print(f"reverse: {n} points, {n / ours_s:,.0f} points/s (one process, batch)")
    print(f"  same house number as the true address: {same / n:.2%}")
    print(f"  baseline reverse_geocoder (nearest town only): {n / base_s:,.0f} points/s")


if __name__ == "__main__":
    main()
