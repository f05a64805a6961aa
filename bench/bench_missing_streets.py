"""Benchmark: false positives of typo tolerance, for streets the index does not have.

One tenth of the Iceland register's street names (seeded) are held out of an index (built-in
gazetteer + the rest of the register); 3,000 addresses on the held-out streets are then asked as
"street number, postcode town". None of them is in the index, so every street or address answer
is a false positive (a real street turned into another); the right answer is the town or postcode,
flagged UpHierarchy. Prints the share of each kind of top result and its confidence.

Usage: python bench/bench_missing_streets.py [--shared ../shared/data] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import geobatch.model as gm
from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.format import BUILTIN_NAME, data_set_file
from geobatch.sources.detect import open_source
from geobatch.text.abbreviations import name_key

REGISTER = "openaddresses/iceland-stadfangaskra-20130326-oa.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--work", type=Path, help="keep (and reuse) the index in this folder")
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(f"engine: {native.describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.work or Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    rng = random.Random(args.seed)
    with gzip.open(args.shared / REGISTER, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({name_key(r["STREET"]) for r in rows if r["STREET"]})
    held = set(rng.sample(names, len(names) // 10))
    index = work / "missing-streets"
    if not index.exists():
        ensure_builtin(work / "builtin")
        index.mkdir(parents=True)
        shutil.copy(
            data_set_file(work / "builtin", BUILTIN_NAME), data_set_file(index, BUILTIN_NAME)
        )
        kept = work / "register-kept.csv"
        with kept.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if name_key(r["STREET"]) not in held)
        import_source(index, open_source(kept))
    asked = [r for r in rows if name_key(r["STREET"]) in held and r["NUMBER"].strip()]
    asked = rng.sample(asked, min(args.limit, len(asked)))
    queries = [f"{r['STREET']} {r['NUMBER']}, {r['POSTCODE']} {r['CITY']}" for r in asked]
    answers = Geocoder.open(index).geocode_batch([gm.GeocodeRequest(query=q) for q in queries])
    kinds = Counter(
        f"{a.best.entity_type} {a.best.confidence}" if a.best else "no result" for a in answers
    )
    streets = (gm.EntityType.ADDRESS, gm.EntityType.ROAD_BLOCK)
    wrong = [a.best for a in answers if a.best and a.best.entity_type in streets]
    high = sum(1 for b in wrong if b.confidence is gm.Confidence.HIGH)
    print(f"{len(queries)} addresses on {len(held)} held-out street names")
    for kind, count in kinds.most_common():
        print(f"  {count / len(queries):7.2%}  {kind}")
    print(f"street or address answers (false positives): {len(wrong) / len(queries):.2%}, "
          f"of them High: {high / len(queries):.2%} of all")  # fmt: skip


if __name__ == "__main__":
    main()
