"""Benchmark: forward-geocoding accuracy and speed on query sets made from each region's addresses.

Per region (Liechtenstein 2024, Queens Village, Copenhagen, the Iceland register) one index is
built (built-in gazetteer + that region), plus a combined one (built-in + all four + SF/Alameda
OpenAddresses). From a seeded sample of the region's own address records four query sets are made:

- clean: "street number, postcode town" (US: "number street, town, state zip", parts it has);
- structured: GeocodeRequest(address_line, locality, postal_code, admin_district);
- noisy: lower/upper case, abbreviations, postcode or town dropped (never both), diacritics folded;
- hard: one of 1-2 typos in the street name, a unit, town first, no postcode and no town, c/o junk;
- typos: every street name with 1-2 typos (where it has a word of 5 letters), half of them
  with neither postcode nor town (not a target of issue #3: how typos fare without the town).

Per set: share of top results within 50/100 m of the record's point, share of misses (>50 m)
flagged Ambiguous/UpHierarchy, wrong-High rate (High and >100 m off), addresses/s (geocode_batch
over the set, index loaded once, loading not timed), and the baseline measured in the same run: an
exact-match dictionary (key = the clean query lowercased) — its hit rate (within 50 m) and speed.
Per region, the ceiling: where the data holds one address at several points far apart, no
geocoder can know which record a query was made from; the most that can be within 50 m. Under
a set, where it differs: the share within 50 m of any record of the address asked for.

Usage: python bench/bench_forward.py [--shared ../shared/data] [--limit 3000] [--seed 7]
       [--regions iceland,liechtenstein] [--no-combined] [--work DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geobatch.model as gm
from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin, import_source
from geobatch.index.spatial import haversine_m
from geobatch.sources.detect import open_source
from geobatch.sources.records import AddressRecord

REGIONS = {  # label: (file under --shared, country whose address style the queries follow)
    "liechtenstein": ("osm/liechtenstein-2024-03-03.osm.pbf", "LI"),
    "queens": ("osm/queens-village-ny-2016.osm.pbf", "US"),
    "copenhagen": ("osm/copenhagen-kbh-2012.osm.pbf", "DK"),
    "iceland": ("openaddresses/iceland-stadfangaskra-20130326-oa.csv.gz", "IS"),
}
EXTRA = "openaddresses/us-ca-openaddresses-machine-excerpts-oa.csv"
BUILTIN_FILE = "builtin-world.gbx"
SETS = ("clean", "structured", "noisy", "hard", "typos")
Points = dict[str, list[tuple[float, float]]]
# (pattern, replacement); Danish vej/gade and Icelandic gata/vegur stay as they are.
ABBREVIATIONS = {"Street": "St", "Avenue": "Ave", "Road": "Rd", "Boulevard": "Blvd", "Drive": "Dr",
                 "Place": "Pl", "Lane": "Ln"}  # fmt: skip
STRASSE = re.compile(r"(?i)stra(ss|ß)e\b")
FOLD_ASCII = {"ß": "ss", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "æ": "ae", "Æ": "Ae", "ø": "o",
              "Ø": "O"}  # fmt: skip
FOLD_GERMAN = {**FOLD_ASCII, "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
               "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa"}  # fmt: skip
JUNK = ("c/o Anna Muster", "c/o J. Smith", "C/O Hans Jensen", "c/o Jón Jónsson")
UNITS = ("Apt 4B", "Top 3", "#12", "Apt 2", "Top 11", "#3A")
NOMINATIM = (
    "Nominatim 5.3.3 (published in issue #3, NOT measured in this run; 2021 Liechtenstein "
    "extract): clean 97.45 % / noisy 97.40 % within 50 m, ~145 queries/s, no confidence score"
)


@dataclass(frozen=True, slots=True)
class Query:
    request: gm.GeocodeRequest
    text: str  # printable form of the request
    key: str  # what the exact-match dictionary baseline looks up
    truth_key: str  # the clean query of the record, lowercased
    truth: AddressRecord
    kind: str  # which variation was applied (noisy, hard), for the miss breakdown


Misses = dict[str, list[tuple[str, Query, gm.GeocodeResult | None, float]]]  # kind, query, got, m


def street_line(street: str, number: str, cc: str) -> str:
    return f"{number} {street}" if cc == "US" else f"{street} {number}"


def compose(line: str, postcode: str | None, town: str | None, region: str | None, cc: str) -> str:
    if cc == "US":
        tail = " ".join(p for p in (region, postcode) if p)
        return ", ".join(p for p in (line, town, tail) if p)
    return ", ".join(p for p in (line, " ".join(p for p in (postcode, town) if p)) if p)


def clean_text(r: AddressRecord, cc: str) -> str:
    line = street_line(r.street or "", r.housenumber, cc)
    return compose(line, r.postcode, r.locality, r.region, cc)


def fold(text: str, table: dict[str, str]) -> str:
    text = "".join(table.get(ch, ch) for ch in text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def typo(word: str, rng: random.Random) -> str:
    """One edit (substitute, delete, insert, swap) at a letter that is not the first."""
    chars = list(word)
    i = rng.randrange(1, len(chars) - 1)
    op = rng.choice(("sub", "del", "ins", "swap"))
    letter = rng.choice("aeiounrstlmk")
    if op == "sub":
        chars[i] = letter if letter != chars[i].lower() else "x"
    elif op == "del":
        del chars[i]
    elif op == "ins":
        chars.insert(i, letter)
    else:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def typo_street(street: str, rng: random.Random, edits: int) -> str | None:
    words = street.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return None
    i = max(long_words, key=lambda j: len(words[j]))
    for _ in range(edits):
        words[i] = typo(words[i], rng)
    return " ".join(words)


def make_query(r: AddressRecord, cc: str, kind: str, rng: random.Random) -> Query:
    street, pc, town, region = r.street or "", r.postcode, r.locality, r.region
    key = clean_text(r, cc).lower()
    if kind == "structured":
        line = street_line(street, r.housenumber, cc)
        req = gm.GeocodeRequest(
            address_line=line, locality=town, postal_code=pc, admin_district=region
        )
        return Query(req, f"{line} | {town or ''} | {pc or ''}", key, key, r, "")
    variant = ""
    if kind == "clean":
        text = clean_text(r, cc)
    elif kind == "noisy":
        street = " ".join(ABBREVIATIONS.get(w, w) for w in STRASSE.sub("str.", street).split(" "))
        if pc and town and rng.random() < 0.67:
            variant = rng.choice(("no postcode", "no town"))
            pc, town = (None, town) if variant == "no postcode" else (pc, None)
        text = compose(street_line(street, r.housenumber, cc), pc, town, region, cc)
        if rng.random() < 0.5:
            text = fold(text, rng.choice((FOLD_ASCII, FOLD_GERMAN)))
        text = text.lower() if rng.random() < 0.7 else text.upper()
        variant = variant or "both kept"
    elif kind == "typos":
        misspelt = typo_street(street, rng, rng.choice((1, 2)))
        line = street_line(misspelt or street, r.housenumber, cc)
        variant = "no postcode+town" if rng.random() < 0.5 else "both kept"
        text = line if variant == "no postcode+town" else compose(line, pc, town, region, cc)
        variant = variant if misspelt else f"{variant}, name too short to misspell"
    else:
        variant = rng.choice(("typo", "unit", "town first", "no postcode+town", "c/o junk"))
        misspelt = typo_street(street, rng, rng.choice((1, 2))) if variant == "typo" else None
        if variant == "typo" and misspelt is None:
            variant = "unit"
        line = street_line(misspelt or street, r.housenumber, cc)
        if variant == "unit":
            text = compose(f"{line} {rng.choice(UNITS)}", pc, town, region, cc)
        elif variant == "town first":
            head = " ".join(p for p in ((region, pc) if cc == "US" else (pc, town)) if p)
            text = ", ".join(p for p in ((town,) if cc == "US" else ()) + (head, line) if p)
        elif variant == "no postcode+town":
            text = line
        elif variant == "c/o junk":
            text = f"{rng.choice(JUNK)}, {compose(line, pc, town, region, cc)}"
        else:
            text = compose(line, pc, town, region, cc)
    return Query(gm.GeocodeRequest(query=text), text, text.lower().strip(), key, r, variant)


def distance(best: gm.GeocodeResult | None, r: AddressRecord) -> float:
    return haversine_m(best.point.lat, best.point.lon, r.lat, r.lon) if best else float("inf")


def squash(text: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", fold(text or "", FOLD_ASCII).casefold())


def miss_kind(q: Query, best: gm.GeocodeResult | None, points: Points) -> str:
    if best is None:
        return "no result"
    if _near_any(best, points.get(q.truth_key, [])):
        return "another record of the very same address (data duplicate)"
    if best.entity_type is not gm.EntityType.ADDRESS:
        return f"fell back to {best.entity_type}"
    street_ok = squash(best.address.street) == squash(q.truth.street)
    number_ok = squash(best.address.house_number) == squash(q.truth.housenumber)
    if street_ok and number_ok:
        same_town = squash(best.address.locality) == squash(q.truth.locality)
        return "same street+number, " + ("same town" if same_town else "other town")
    if street_ok:
        interpolated = best.calculation_method is not gm.CalculationMethod.ROOFTOP
        return "right street, wrong number" + (" (interpolated)" if interpolated else "")
    return "other street, same number" if number_ok else "other street and number"


def describe(best: gm.GeocodeResult | None) -> str:
    if best is None:
        return "(no result)"
    codes = "/".join(best.match_codes)
    where = best.address.formatted or best.name
    return f"{best.entity_type} '{where}' ({best.confidence}, {codes}, {best.calculation_method})"


def run_set(geocoder: Geocoder, queries: list[Query]) -> tuple[list[gm.Answer], float]:
    t0 = time.perf_counter()
    answers = geocoder.geocode_batch([q.request for q in queries])
    return answers, time.perf_counter() - t0


def report(label: str, name: str, queries: list[Query], answers: list[gm.Answer], seconds: float,
           points: Points, misses: Misses) -> None:  # fmt: skip
    n = len(queries)
    dists = [distance(a.best, q.truth) for q, a in zip(queries, answers, strict=True)]
    missed = [(q, a.best, d) for q, a, d in zip(queries, answers, dists, strict=True) if d > 50]
    flags = {gm.MatchCode.AMBIGUOUS, gm.MatchCode.UP_HIERARCHY}
    flagged = sum(1 for _, b, _ in missed if b and flags & set(b.match_codes))
    wrong_high = sum(
        1 for a, d in zip(answers, dists, strict=True)
        if a.best and a.best.confidence is gm.Confidence.HIGH and d > 100
    )  # fmt: skip
    t0 = time.perf_counter()
    found = [points.get(q.key, ((None, None),))[0] for q in queries]
    exact_s = time.perf_counter() - t0
    hits = sum(
        1 for q, p in zip(queries, found, strict=True)
        if p[0] is not None and haversine_m(p[0], p[1], q.truth.lat, q.truth.lon) <= 50
    )  # fmt: skip
    flag = f"{flagged / len(missed):.1%}" if missed else "-"
    print(
        f"{label:<14}{name:<11}{n:>6}{sum(d <= 50 for d in dists) / n:>9.2%}"
        f"{sum(d <= 100 for d in dists) / n:>9.2%}{flag:>11}"
        f"{wrong_high / n:>10.3%}{n / seconds:>11,.0f}{hits / n:>10.2%}{n / exact_s:>13,.0f}"
    )
    near_any = sum(
        1 for q, a, d in zip(queries, answers, dists, strict=True)
        if d <= 50 or (a.best and _near_any(a.best, points.get(q.truth_key, [])))
    )  # fmt: skip
    if near_any > sum(d <= 50 for d in dists):
        print(f"{'':<25}within 50 m of any record of the address asked for: {near_any / n:.2%}")
    by_variant: dict[str, list[bool]] = defaultdict(list)
    for q, d in zip(queries, dists, strict=True):
        by_variant[q.kind].append(d <= 50)
    if len(by_variant) > 1:
        parts = [f"{v} {sum(ok) / len(ok):.1%} of {len(ok)}" for v, ok in by_variant.items()]
        print(f"{'':<25}<=50 m by variant: " + " | ".join(sorted(parts)))
    for q, b, d in missed:
        misses[f"{label}/{name}"].append((miss_kind(q, b, points), q, b, d))


def _near_any(best: gm.GeocodeResult, points: list[tuple[float, float]]) -> bool:
    return any(haversine_m(best.point.lat, best.point.lon, la, lo) <= 50 for la, lo in points)


def region_records(path: Path) -> list[AddressRecord]:
    records = (r for r in open_source(path).read() if isinstance(r, AddressRecord))
    return [r for r in records if r.street and r.housenumber.strip()]


def build_index(target: Path, builtin: Path, sources: list[Path]) -> float:
    """Copy the built-in gazetteer into ``target`` and import ``sources``; seconds of importing."""
    if target.exists():  # reused from an earlier run with --work
        return 0.0
    target.mkdir(parents=True)
    shutil.copy(builtin / BUILTIN_FILE, target / BUILTIN_FILE)
    t0 = time.perf_counter()
    for path in sources:
        import_source(target, open_source(path))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--limit", type=int, default=3000, help="queries per set and region")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, help="keep (and reuse) the indexes in this folder")
    parser.add_argument("--examples", type=int, default=2, help="examples per kind of miss")
    parser.add_argument(
        "--regions", default=",".join(REGIONS), help="comma-separated regions (default: all)"
    )
    parser.add_argument("--no-combined", action="store_true", help="skip the combined index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.work or Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    print(f"engine: {native.describe()}")
    t0 = time.perf_counter()
    ensure_builtin(work / "builtin")
    print(f"built-in gazetteer: {time.perf_counter() - t0:.1f} s")
    wanted = [r.strip() for r in args.regions.split(",") if r.strip()]
    unknown = [r for r in wanted if r not in REGIONS]
    if unknown:
        raise SystemExit(f"unknown regions {unknown}; known: {', '.join(REGIONS)}")
    all_paths = {label: args.shared / f for label, (f, _) in REGIONS.items()}
    paths = {label: all_paths[label] for label in wanted}
    for label, path in paths.items():
        print(f"index {label}: import {build_index(work / label, work / 'builtin', [path]):.1f} s")
    combined = not args.no_combined and "liechtenstein" in paths
    if combined:
        seconds = build_index(
            work / "combined", work / "builtin", [*all_paths.values(), args.shared / EXTRA]
        )
        print(f"index combined (built-in + 4 regions + SF/Alameda OA): import {seconds:.1f} s\n")
    head = f"{'region':<14}{'set':<11}{'n':>6}{'<=50m':>9}{'<=100m':>9}{'miss flag':>11}"
    print(head + f"{'wrongHigh':>10}{'addr/s':>11}{'dict hit':>10}{'dict q/s':>13}")
    misses: Misses = defaultdict(list)
    li_clean: list[Query] = []
    for label in paths:
        cc = REGIONS[label][1]
        records = region_records(paths[label])
        points: Points = defaultdict(list)  # the baseline dictionary: the first point wins
        for r in records:
            points[clean_text(r, cc).lower()].append((r.lat, r.lon))
        sample = random.Random(f"{args.seed}-{label}").sample(
            records, min(args.limit, len(records))
        )
        t0 = time.perf_counter()
        geocoder = Geocoder.open(work / label).prepare(reverse=False)
        load_s = time.perf_counter() - t0
        for name in SETS:
            rng = random.Random(f"{args.seed}-{label}-{name}")
            queries = [make_query(r, cc, name, rng) for r in sample]
            answers, seconds = run_set(geocoder, queries)
            report(label, name, queries, answers, seconds, points, misses)
            li_clean = queries if (label, name) == ("liechtenstein", "clean") else li_clean
        print(f"{'':<14}(index load {load_s:.1f} s, not timed; {len(records)} records)")
        scattered, reachable = ceiling(sample, points, cc)
        print(
            f"{'':<14}{scattered:.2%} of the sample are addresses the data holds at points more "
            f"than 50 m apart; the most any geocoder can place within 50 m: {reachable:.2%}"
        )
        del geocoder
    print(f"\nreference: {NOMINATIM}")
    if combined:
        flat_cost(work, li_clean)
    print_misses(misses, args.examples)


def ceiling(sample: list[AddressRecord], points: Points, cc: str) -> tuple[float, float]:
    """Where the data holds one address (the same clean text) at several points, a query made
    from one of them cannot say which: of the sample, the share of such addresses scattered
    more than 50 m, and the share within 50 m of the best single answer for its text (the
    point with the most of the others within 50 m, then the nearest to all: what the engine
    gives, and the most often right when any of them may be the one meant)."""
    scattered = reachable = 0
    for r in sample:
        group = points[clean_text(r, cc).lower()]
        dist = [[haversine_m(a, b, c, d) for c, d in group] for a, b in group]
        scattered += max(max(row) for row in dist) > 50
        best = min(range(len(group)), key=lambda i: (-sum(x <= 50 for x in dist[i]), sum(dist[i])))
        reachable += haversine_m(*group[best], r.lat, r.lon) <= 50
    return scattered / len(sample), reachable / len(sample)


def flat_cost(work: Path, queries: list[Query]) -> None:
    print("\nquery cost as the index grows (Liechtenstein clean set, best of 2 runs):")
    for label in ("liechtenstein", "combined"):
        geocoder = Geocoder.open(work / label).prepare(reverse=False)
        (_, first), (answers, second) = run_set(geocoder, queries), run_set(geocoder, queries)
        near = sum(distance(a.best, q.truth) <= 50 for q, a in zip(queries, answers, strict=True))
        rate, share = len(queries) / min(first, second), near / len(queries)
        print(f"  {label:<14} index: {rate:>9,.0f} addresses/s   within 50 m {share:.2%}")


def print_misses(misses: Misses, k: int) -> None:
    print("\nmost common kinds of misses (>50 m) per set: [query variant] kind, count, examples")
    fmt: Callable[[float], str] = lambda d: "no point" if d == float("inf") else f"{d:,.0f} m"  # noqa: E731
    for key, items in misses.items():
        counts = Counter((q.kind, kind) for kind, q, _, _ in items)
        print(f"\n== {key}: {len(items)} misses")
        for (variant, kind), count in counts.most_common(5):
            print(f"  [{variant or '-'}] {kind}: {count}")
            examples = [x for x in items if (x[1].kind, x[0]) == (variant, kind)][:k]
            for _, q, best, d in examples:
                true = street_line(q.truth.street or "", q.truth.housenumber, "")
                print(f"      {q.text!r} -> {describe(best)} -> {fmt(d)}  [true: {true}]")


if __name__ == "__main__":
    main()
