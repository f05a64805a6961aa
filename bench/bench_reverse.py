"""Benchmark: reverse geocoding at address positions and random points, throughput and memory.

One combined index (built-in gazetteer + Liechtenstein 2024, Queens Village, Copenhagen, the
Iceland register, SF/Alameda OpenAddresses). Measured in one run:

- address positions: reverse at the true point of every address (or a ``--limit`` sample) of
  Liechtenstein, Copenhagen and Queens Village; share returning the same house number and street;
- random points, uniform in each extract's address bounding box grown by 25 % on every side:
  share with a locality and a country; the country checked against an independent polygon set
  (country-coder borders in ``boundaries/``, which include coastal waters; points outside all of
  them are "sea": no country expected). Locality and country are also checked, for the points
  within 200 m of an address, against what the FORWARD geocoder of the same index returns for
  that nearest address (its clean query, result taken only when it lands within 50 m of the
  address). Names are compared case- and accent-insensitively;
- throughput: points/s in batches of 10,000 (address points and random points mixed);
- memory: RSS before and after Geocoder.open + the first reverse call (/proc/self/status).

Baseline in the same run: the ``reverse_geocoder`` package (nearest GeoNames town, mode=1):
speed on the same batches and its share of correct countries on the random points.

Usage: python bench/bench_reverse.py [--shared ../shared/data] [--limit N] [--random 5000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import reverse_geocoder
import shapely
from scipy.spatial import cKDTree

from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.spatial import haversine_m, unit_vectors
from geobatch.model import GeocodeRequest, ReverseRequest
from geobatch.sources.detect import open_source
from geobatch.sources.records import AddressRecord

REGIONS = {  # label: (file under --shared, country whose address order the queries follow)
    "liechtenstein": ("osm/liechtenstein-2024-03-03.osm.pbf", "LI"),
    "copenhagen": ("osm/copenhagen-kbh-2012.osm.pbf", "DK"),
    "queens": ("osm/queens-village-ny-2016.osm.pbf", "US"),
}
OTHERS = (
    "openaddresses/iceland-stadfangaskra-20130326-oa.csv.gz",
    "openaddresses/us-ca-openaddresses-machine-excerpts-oa.csv",
)
BORDERS = "boundaries/country-coder-5.6.1-borders.geojson"
BUILTIN_FILE = "builtin-world.gbx"
NEAR_M = 200.0
BATCH = 10_000
EARTH_M = 6_371_008.8


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def squash(text: str | None) -> str:
    norm = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(c for c in norm if c.isalnum())


def addresses(path: Path) -> list[AddressRecord]:
    return [
        r
        for r in open_source(path).read()
        if isinstance(r, AddressRecord) and r.street and r.housenumber.strip()
    ]


def build_index(work: Path, shared: Path) -> Path:
    target = work / "combined"
    if target.exists():  # reused from an earlier run with --work
        return target
    t0 = time.perf_counter()
    ensure_builtin(work / "builtin")
    target.mkdir(parents=True)
    shutil.copy(work / "builtin" / BUILTIN_FILE, target / BUILTIN_FILE)
    for f in [f for f, _ in REGIONS.values()] + list(OTHERS):
        import_source(target, open_source(shared / f))
    print(f"combined index built in {time.perf_counter() - t0:.1f} s (built-in + 5 data sets)")
    return target


class Borders:
    """Country polygons from country-coder: the independent reference for country codes."""

    def __init__(self, path: Path) -> None:
        features = json.loads(path.read_text())["features"]
        kept = [f for f in features if f["geometry"]]
        self.codes = [f["properties"].get("country") or f["properties"].get("iso1A2") for f in kept]
        self.tree = shapely.STRtree([shapely.geometry.shape(f["geometry"]) for f in kept])

    def country(self, lat: np.ndarray, lon: np.ndarray) -> list[str | None]:
        out: list[str | None] = [None] * len(lat)
        points, polygons = self.tree.query(shapely.points(lon, lat), predicate="within")
        for p, g in zip(points.tolist(), polygons.tolist(), strict=True):
            out[p] = out[p] or self.codes[g]
        return out


def random_points(records: list[AddressRecord], n: int, rng: random.Random) -> np.ndarray:
    lat = np.array([r.lat for r in records])
    lon = np.array([r.lon for r in records])
    s, w, north, e = lat.min(), lon.min(), lat.max(), lon.max()
    dlat, dlon = (north - s) * 0.25, (e - w) * 0.25
    pts = [(rng.uniform(s - dlat, north + dlat), rng.uniform(w - dlon, e + dlon)) for _ in range(n)]
    return np.array(pts)


def clean_request(r: AddressRecord, cc: str) -> GeocodeRequest:
    line = f"{r.housenumber} {r.street}" if cc == "US" else f"{r.street} {r.housenumber}"
    return GeocodeRequest(
        address_line=line, locality=r.locality, postal_code=r.postcode, admin_district=r.region
    )


def at_addresses(geocoder: Geocoder, label: str, records: list[AddressRecord]) -> None:
    answers = geocoder.reverse_batch([ReverseRequest(r.lat, r.lon) for r in records])
    kinds: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for r, a in zip(records, answers, strict=True):
        b = a.best
        number_ok = b is not None and squash(b.address.house_number) == squash(r.housenumber)
        street_ok = b is not None and squash(b.address.street) == squash(r.street)
        kind = (
            "same"
            if number_ok and street_ok
            else "no result"
            if b is None
            else f"{b.entity_type}: "
            + ("number ok, " if number_ok else "other number, ")
            + ("street ok" if street_ok else "other street")
        )
        kinds[kind] += 1
        if kind != "same" and len(examples[kind]) < 2 and b is not None:
            d = haversine_m(b.point.lat, b.point.lon, r.lat, r.lon)
            examples[kind].append(
                f"{r.street} {r.housenumber} -> {b.address.formatted} ({d:.0f} m)"
            )
    n = len(records)
    missed = ", ".join(f"{k} {c}" for k, c in kinds.most_common() if k != "same")
    print(f"  {label:<14}{n:>7}{kinds['same'] / n:>10.2%}   misses: {missed or '-'}")
    for kind, lines in examples.items():
        for line in lines:
            print(f"{'':<18}[{kind}] {line}")


def at_random(
    geocoder: Geocoder, label: str, cc: str, records: list[AddressRecord], pts: np.ndarray,
    borders: Borders,
) -> tuple[list[str | None], list[str | None]]:  # fmt: skip
    """Print our figures for random points; return the truth countries (borders, near-address)."""
    answers = geocoder.reverse_batch([ReverseRequest(float(a), float(b)) for a, b in pts])
    tree = cKDTree(
        unit_vectors(np.array([r.lat for r in records]), np.array([r.lon for r in records]))
    )
    chord, nearest = tree.query(unit_vectors(pts[:, 0], pts[:, 1]))
    metres = 2 * EARTH_M * np.arcsin(np.minimum(chord / 2, 1.0))
    near_idx = sorted({int(nearest[i]) for i in np.flatnonzero(metres <= NEAR_M)})
    truth_answers = geocoder.geocode_batch([clean_request(records[i], cc) for i in near_idx])
    near_truth: dict[int, tuple[str, str | None]] = {}
    for i, a in zip(near_idx, truth_answers, strict=True):
        b, r = a.best, records[i]
        if (
            b
            and b.address.country_code
            and haversine_m(b.point.lat, b.point.lon, r.lat, r.lon) <= 50
        ):
            near_truth[i] = (b.address.country_code.upper(), b.address.locality)
    by_border = borders.country(pts[:, 0], pts[:, 1])
    fwd: list[str | None] = [None] * len(pts)
    has_loc = has_cc = border_ok = near_n = near_cc = near_loc = loc_judged = 0
    disagree: Counter[str] = Counter()
    example: dict[str, str] = {}
    for i, a in enumerate(answers):
        b = a.best
        got_cc = (b.address.country_code or "").upper() if b else ""
        has_loc += bool(b and b.address.locality)
        has_cc += bool(got_cc)
        border_ok += got_cc == (by_border[i] or "")
        if got_cc != (by_border[i] or ""):
            pair = f"{got_cc or 'none'} (borders: {by_border[i] or 'sea'})"
            disagree[pair] += 1
            example.setdefault(pair, f"{pts[i, 0]:.4f},{pts[i, 1]:.4f}")
        truth = near_truth.get(int(nearest[i])) if metres[i] <= NEAR_M else None
        if truth is None:
            continue
        fwd[i] = truth[0]
        near_n += 1
        near_cc += got_cc == truth[0]
        if truth[1]:
            loc_judged += 1
            near_loc += bool(b) and squash(b.address.locality if b else "") == squash(truth[1])
    n = len(pts)
    sea = sum(c is None for c in by_border)
    print(
        f"  {label:<14}{n:>7}{has_loc / n:>9.1%}{has_cc / n:>9.1%}{border_ok / n:>11.1%}"
        f" ({sea:>4} sea)"
        f"{near_n:>8}{near_cc / max(near_n, 1):>10.1%}{near_loc / max(loc_judged, 1):>10.1%}"
        f" of {loc_judged}"
    )
    if disagree:
        print(f"{'':<18}country disagreements: " + ", ".join(
            f"ours {k} x{c} e.g. {example[k]}" for k, c in disagree.most_common(4)))  # fmt: skip
    return by_border, fwd


def memory(index: Path) -> tuple[float, float, float, float, float]:
    before = rss_mb()
    t0 = time.perf_counter()
    geocoder = Geocoder.open(index)
    opened, open_s = rss_mb(), time.perf_counter() - t0
    t0 = time.perf_counter()
    geocoder.reverse(47.14, 9.52)  # builds the reverse trees
    return before, opened, rss_mb(), open_s, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--limit", type=int, default=0, help="sample N addresses per region")
    parser.add_argument("--random", type=int, default=5000, help="random points per region")
    parser.add_argument("--points", type=int, default=100_000, help="points for throughput")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, help="keep (and reuse) the index in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, build_index(args.work or Path(tmp), args.shared))


def run(args: argparse.Namespace, index: Path) -> None:
    print(f"engine: {native.describe()}")
    # A fresh process, so that neither the index build nor the truth records count.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        before, opened, first, open_s, first_s = pool.submit(memory, index).result()
    print(f"memory (VmRSS, fresh process): {before:.0f} MB before open, {opened:.0f} MB after "
          f"Geocoder.open ({open_s:.1f} s), {first:.0f} MB after the first reverse call "
          f"({first_s:.1f} s): the loaded index costs {first - before:.0f} MB")  # fmt: skip
    records = {label: addresses(args.shared / f) for label, (f, _) in REGIONS.items()}
    geocoder = Geocoder.open(index)
    geocoder.reverse(47.14, 9.52)  # builds the reverse trees outside every timing
    print("\nreverse at the true address point (same house number and street):")
    print(f"  {'region':<14}{'n':>7}{'same':>10}")
    for label, recs in records.items():
        rng = random.Random(f"{args.seed}-{label}")
        sample = rng.sample(recs, args.limit) if 0 < args.limit < len(recs) else recs
        at_addresses(geocoder, label, sample)
    print("\nrandom points in the address bounding box grown by 25 % per side:")
    print(f"  {'region':<14}{'n':>7}{'locality':>9}{'country':>9}{'cc=borders':>11}{'':>11}"
          f"{'<=200m':>8}{'cc=fwd':>10}{'loc=fwd':>10}")  # fmt: skip
    rg = reverse_geocoder.RGeocoder(mode=1, verbose=False)
    borders = Borders(args.shared / BORDERS)
    all_pts = []
    base_lines = []
    for label, (_, cc) in REGIONS.items():
        pts = random_points(records[label], args.random, random.Random(f"{args.seed}-{label}-r"))
        by_border, fwd = at_random(geocoder, label, cc, records[label], pts, borders)
        got = [row["cc"] for row in rg.query([(float(a), float(b)) for a, b in pts])]
        ok_border = sum(g == (t or "") for g, t in zip(got, by_border, strict=True)) / len(pts)
        judged = [(g, t) for g, t in zip(got, fwd, strict=True) if t]
        ok_fwd = sum(g == t for g, t in judged) / max(len(judged), 1)
        base_lines.append(f"  {label:<14} cc=borders {ok_border:.1%}   cc=fwd {ok_fwd:.1%}")
        all_pts.append(pts)
    print("  baseline reverse_geocoder (nearest GeoNames town; always answers, never 'sea'):")
    print("\n".join(base_lines))
    throughput(geocoder, rg, records, np.concatenate(all_pts), args)


def throughput(
    geocoder: Geocoder, rg: reverse_geocoder.RGeocoder, records: dict[str, list[AddressRecord]],
    random_pts: np.ndarray, args: argparse.Namespace,
) -> None:  # fmt: skip
    mixed = [(r.lat, r.lon) for recs in records.values() for r in recs]
    mixed += [(float(a), float(b)) for a, b in random_pts]
    random.Random(args.seed).shuffle(mixed)
    points = (mixed * (args.points // len(mixed) + 1))[: args.points]
    batches = [points[i : i + BATCH] for i in range(0, len(points), BATCH)]
    requests = [[ReverseRequest(a, b) for a, b in batch] for batch in batches]
    t0 = time.perf_counter()
    for batch in requests:
        geocoder.reverse_batch(batch)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for batch in batches:
        rg.query(batch)
    base = time.perf_counter() - t0
    n = len(points)
    print(
        f"\nthroughput, {n:,} points in batches of {BATCH:,} on the combined index (one process):"
    )
    print(f"  geobatch reverse_batch:  {n / ours:>10,.0f} points/s")
    print(f"  baseline reverse_geocoder: {n / base:>8,.0f} points/s (city level only)")


if __name__ == "__main__":
    main()
