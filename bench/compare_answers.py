"""Compare the answers of two versions of geobatch on the benchmark query sets.

A change to the index or the engine that should not change answers (a new on-disk format, a
faster structure) is checked by dumping every top answer of both versions and listing the
differences. ``dump`` builds the indexes with the version it runs under (built-in gazetteer +
one region each, and a combined one), asks the five forward sets of ``bench_forward.py`` per
region (same seeds, so both versions ask the same queries) and reverse at every address point
and at random points of each region, and writes one JSON line per answer. ``diff`` lists what
differs between two dumps: status, entity type, formatted address, point (more than 5 cm),
confidence, match codes, calculation method.

    python bench/compare_answers.py dump --work /tmp/new-idx --out new.jsonl
    other-version/.venv/bin/python bench/compare_answers.py dump --work /tmp/old-idx --out old.jsonl
    python bench/compare_answers.py diff old.jsonl new.jsonl

Only public entry points are used (``ensure_builtin``, ``import_source``, ``open_source``,
``Geocoder``), so the script runs under versions before and after a change of the index format.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_forward
import geobatch.model as gm
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.spatial import haversine_m
from geobatch.sources.detect import open_source

REVERSE_RANDOM = 3_000


def _build(work: Path, shared: Path, label: str, files: list[str]) -> Path:
    target = work / label
    if target.exists():
        return target
    target.mkdir(parents=True)
    for built in (work / "builtin").glob("builtin-world.gbx*"):
        shutil.copy(built, target / built.name)
    for f in files:
        import_source(target, open_source(shared / f))
    return target


def _top(answer: gm.Answer) -> dict[str, Any]:
    best = answer.best
    if best is None:
        return {"status": str(answer.status)}
    return {
        "status": str(answer.status),
        "type": str(best.entity_type),
        "formatted": best.address.formatted,
        "lat": best.point.lat,
        "lon": best.point.lon,
        "confidence": str(best.confidence),
        "codes": [str(c) for c in best.match_codes],
        "method": str(best.calculation_method),
    }


def dump(args: argparse.Namespace) -> None:
    work: Path = args.work
    ensure_builtin(work / "builtin")
    regions = [r for r in args.regions.split(",") if r]
    out = open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    for label in [*regions, *(["combined"] if args.combined else [])]:
        if label == "combined":
            files = [f for f, _ in bench_forward.REGIONS.values()] + [bench_forward.EXTRA]
            index = _build(work, args.shared, label, files)
            asked = regions
        else:
            index = _build(work, args.shared, label, [bench_forward.REGIONS[label][0]])
            asked = [label]
        geocoder = Geocoder.open(index)
        for region in asked:
            file, cc = bench_forward.REGIONS[region]
            records = bench_forward.region_records(args.shared / file)
            sample = random.Random(f"{args.seed}-{region}").sample(
                records, min(args.limit, len(records))
            )
            for name in bench_forward.SETS:
                rng = random.Random(f"{args.seed}-{region}-{name}")
                queries = [bench_forward.make_query(r, cc, name, rng) for r in sample]
                answers = geocoder.geocode_batch([q.request for q in queries])
                for i, (q, a) in enumerate(zip(queries, answers, strict=True)):
                    row = {"index": label, "region": region, "set": name, "i": i, "q": q.text}
                    out.write(json.dumps({**row, **_top(a)}, ensure_ascii=False) + "\n")
            rng = random.Random(f"{args.seed}-{region}-reverse")
            points = [(r.lat, r.lon) for r in sample]
            lats = [p[0] for p in points]
            lons = [p[1] for p in points]
            south, north, west, east = min(lats), max(lats), min(lons), max(lons)
            points += [
                (rng.uniform(south, north), rng.uniform(west, east)) for _ in range(REVERSE_RANDOM)
            ]
            requests = [gm.ReverseRequest(lat, lon) for lat, lon in points]
            for i, ((lat, lon), a) in enumerate(
                zip(points, geocoder.reverse_batch(requests), strict=True)
            ):
                row = {"index": label, "region": region, "set": "reverse", "i": i,
                       "q": f"{lat:.7f},{lon:.7f}"}  # fmt: skip
                out.write(json.dumps({**row, **_top(a)}, ensure_ascii=False) + "\n")
        del geocoder
    out.close()


def _load(path: Path) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows[(row["index"], row["region"], row["set"], row["i"])] = row
    return rows


def diff(args: argparse.Namespace) -> None:
    old, new = _load(args.old), _load(args.new)
    kinds: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            kinds["missing in one dump"] += 1
            continue
        what = [
            field
            for field in ("status", "type", "formatted", "confidence", "codes", "method")
            if a.get(field) != b.get(field)
        ]
        if "lat" in a and "lat" in b:
            moved = haversine_m(a["lat"], a["lon"], b["lat"], b["lon"])
            if moved > 0.05:
                what.append(f"point {moved:.2f} m")
        if not what:
            continue
        label = f"{key[0]}/{key[2]}: " + ", ".join(w.split(" ")[0] for w in what)
        kinds[label] += 1
        if shown[label] < args.examples:
            shown[label] += 1
            print(f"{key}: {a['q']!r} — {', '.join(what)}")
            print(f"    old: {a.get('type')} {a.get('formatted')!r} {a.get('confidence')} "
                  f"{a.get('codes')} ({a.get('lat')}, {a.get('lon')})")  # fmt: skip
            print(f"    new: {b.get('type')} {b.get('formatted')!r} {b.get('confidence')} "
                  f"{b.get('codes')} ({b.get('lat')}, {b.get('lon')})")  # fmt: skip
    total = len(old.keys() & new.keys())
    print(f"\n{total:,} answers compared; {sum(kinds.values()):,} differ")
    for label, count in kinds.most_common():
        print(f"  {count:>6,}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--work", type=Path, required=True, help="indexes are built (and kept) here")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    d.add_argument("--regions", default=",".join(bench_forward.REGIONS))
    d.add_argument("--limit", type=int, default=3000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--combined", action="store_true", help="also every region on one index")
    c = sub.add_parser("diff")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    dump(args) if args.command == "dump" else diff(args)


if __name__ == "__main__":
    main()
