"""Benchmark: US house numbers answered from TIGER ranges (Autauga County, Alabama).

The index: the built-in gazetteer, the Nominatim test database's OSM roads of Autauga County
(`osm/li-autauga-nominatim-testdb-2021.osm.pbf`) and the county's TIGER ranges in Nominatim's
layout (`tiger/autauga-al-01001-nominatim-tiger.csv`). From a seeded sample of ranges, one house
number inside each (of the range's parity) is asked in the forms US users write:

- full: "1061 Spring St, Prattville, AL 36067" (the town: the post's name of the ZIP);
- state+zip: "1061 Spring St, AL 36067"; zip: "1061 Spring St, 36067";
- structured, state as "AL" and as "Alabama" (AddressLine, Locality, AdminDistrict, PostalCode).

The truth is the interpolated point: the number's share of the range along its line, worked out
here from the CSV (any range of that street and ZIP holding the number counts, as TIGER repeats
some). Per form: share within 50 m (target: 95 %), calculation method Interpolation, High
answers (an interpolated number is never High), misses flagged Ambiguous or UpHierarchy, speed.
Then numbers outside every range of their
street: share answered at street level and flagged (UpHierarchy), never as an address.

Usage: python bench/bench_tiger.py [--shared ../shared/data] [--limit 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import shapely

import geobatch.model as gm
from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.spatial import haversine_m
from geobatch.sources.detect import open_source
from geobatch.sources.tiger import parse_linestring

OSM = "osm/li-autauga-nominatim-testdb-2021.osm.pbf"
TIGER = "tiger/autauga-al-01001-nominatim-tiger.csv"
FORMS = ("full", "state+zip", "zip", "structured AL", "structured Alabama")


@dataclass(frozen=True, slots=True)
class Range:
    start: int
    end: int
    scheme: str
    street: str
    zip_code: str
    line: shapely.LineString

    def holds(self, number: int) -> bool:
        lo, hi = min(self.start, self.end), max(self.start, self.end)
        if not lo <= number <= hi:
            return False
        return self.scheme == "all" or number % 2 == (1 if self.scheme == "odd" else 0)

    def point(self, number: int) -> tuple[float, float]:
        t = 0.5 if self.end == self.start else (number - self.start) / (self.end - self.start)
        p = self.line.interpolate(t, normalized=True)
        return float(p.y), float(p.x)


def read_ranges(path: Path) -> list[Range]:
    out = []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter=";"):
            coords = parse_linestring(row["geometry"])
            if coords is None:
                continue
            out.append(
                Range(int(row["from"]), int(row["to"]), row["interpolation"], row["street"],
                      row["postcode"], shapely.LineString(coords))
            )  # fmt: skip
    return out


# The post's city name of each ZIP of the county (USPS preferred names), as users write it.
ZIP_TOWNS = {
    "36003": "Autaugaville", "36006": "Billingsley", "36008": "Booth", "36022": "Deatsville",
    "36051": "Marbury", "36066": "Prattville", "36067": "Prattville", "36091": "Verbena",
    "36703": "Selma", "36749": "Jones", "36758": "Plantersville",
}  # fmt: skip


def request(form: str, number: int, r: Range, town: str) -> gm.GeocodeRequest:
    line = f"{number} {r.street}"
    if form == "full":
        return gm.GeocodeRequest(query=f"{line}, {town}, AL {r.zip_code}")
    if form == "state+zip":
        return gm.GeocodeRequest(query=f"{line}, AL {r.zip_code}")
    if form == "zip":
        return gm.GeocodeRequest(query=f"{line}, {r.zip_code}")
    state = "AL" if form == "structured AL" else "Alabama"
    return gm.GeocodeRequest(
        address_line=line, locality=town, admin_district=state, postal_code=r.zip_code
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"engine: {native.describe()}; the machine may be shared with other sessions")
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp)
        ensure_builtin(index)
        for rel in (OSM, TIGER):
            import_source(index, open_source(args.shared / rel))
        geocoder = Geocoder.open(index).prepare(reverse=True)
        ranges = read_ranges(args.shared / TIGER)
        by_street: dict[tuple[str, str], list[Range]] = defaultdict(list)
        for r in ranges:
            by_street[(r.street, r.zip_code)].append(r)
        towns = defaultdict(str, ZIP_TOWNS)
        rng = random.Random(args.seed)
        sample = rng.sample(ranges, min(args.limit, len(ranges)))
        asked: list[tuple[int, Range]] = []
        for r in sample:
            lo, hi = min(r.start, r.end), max(r.start, r.end)
            numbers = [n for n in range(lo, hi + 1) if r.holds(n)]
            if numbers:
                asked.append((rng.choice(numbers), r))
        print(f"{len(ranges):,} ranges, {len(asked):,} numbers asked")
        print(f"{'form':<20} {'within 50 m':>12} {'Interpolation':>14} {'High':>6} "
              f"{'misses flagged':>15} {'addr/s':>8}")  # fmt: skip
        for form in FORMS:
            requests = [request(form, n, r, towns[r.zip_code]) for n, r in asked]
            started = time.perf_counter()
            answers = geocoder.geocode_batch(requests)
            rate = len(requests) / (time.perf_counter() - started)
            hits = interp = high = flagged_misses = 0
            for (n, r), answer in zip(asked, answers, strict=True):
                best = answer.best
                if best is None:
                    continue
                truths = [x.point(n) for x in by_street[(r.street, r.zip_code)] if x.holds(n)]
                if any(
                    haversine_m(best.point.lat, best.point.lon, lat, lon) <= 50.0
                    for lat, lon in truths
                ):
                    hits += 1
                else:
                    flagged_misses += best.match_codes != (gm.MatchCode.GOOD,)
                interp += best.calculation_method is gm.CalculationMethod.INTERPOLATION
                high += best.confidence is gm.Confidence.HIGH
            k = len(asked)
            misses = k - hits
            flagged = f"{flagged_misses}/{misses}"
            print(f"{form:<20} {100 * hits / k:>11.2f} % {100 * interp / k:>12.1f} % "
                  f"{100 * high / k:>5.1f} % {flagged:>15} {rate:>8,.0f}")  # fmt: skip
        # Numbers outside every range of their street and ZIP.
        outside = []
        for _, r in asked:
            top = max(max(x.start, x.end) for x in by_street[(r.street, r.zip_code)])
            outside.append((top + 1000 + (top % 2), r))
        answers = geocoder.geocode_batch(
            [request("state+zip", n, r, towns[r.zip_code]) for n, r in outside]
        )
        street_level = flagged = 0
        for answer in answers:
            best = answer.best
            if best is not None and best.entity_type is gm.EntityType.ROAD_BLOCK:
                street_level += 1
                flagged += gm.MatchCode.UP_HIERARCHY in best.match_codes
        k = len(outside)
        share = 100 * flagged / max(street_level, 1)
        print(f"outside every range: street level {100 * street_level / k:.1f} %, "
              f"of which flagged UpHierarchy {share:.1f} %")  # fmt: skip


if __name__ == "__main__":
    main()
