"""A synthetic country of 300,000 addresses: imported in bounded memory, read back exactly.

The addresses are made here (no shared data): 150 towns of 100 streets, street names drawn from a
pool of 400 so that common names repeat in dozens of towns (as "Hauptstraße" does), 20 numbers
a street. The import runs with the smallest memory budget, so it takes every path a country
takes: chunks, partitions of street keys on worker processes, addresses sorted in buckets. The
same file imported with a large budget (one partition, one bucket) gives the same index.
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from geobatch.geocode.forward import NeedFullRead, ranking
from geobatch.geocode.geocoder import Geocoder
from geobatch.index import build, layout
from geobatch.index.build import MIN_MEMORY_MB, import_source
from geobatch.index.container import Container
from geobatch.index.dataset import DataSet
from geobatch.model import Confidence, EntityType, GeocodeRequest, ResultStatus, ReverseRequest
from geobatch.sources.detect import open_source

TOWNS, STREETS, NUMBERS = 150, 100, 20
SYLLABLES = [
    "ar",
    "bo",
    "ki",
    "ly",
    "ne",
    "su",
    "ta",
    "vi",
    "do",
    "ge",
    "ha",
    "mu",
    "po",
    "ri",
    "se",
    "te",
    "wa",
    "lo",
    "ze",
    "fa",
]


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _country(path: Path, towns: int) -> list[dict[str, str]]:
    """Write the country as an OpenAddresses file; returns its rows."""
    rng = random.Random(11)
    pool = sorted({_word(rng, 3) + rng.choice(("gata", "vegur", "strasse", " Road")) for _ in range(
        600)})[:400]  # fmt: skip
    rows: list[dict[str, str]] = []
    for t in range(towns):
        town = _word(rng, 2) + f"by{t}"
        postcode = str(1000 + t)
        lat0, lon0 = 60.0 + (t // 15) * 0.2, 10.0 + (t % 15) * 0.4
        for s, name in enumerate(rng.sample(pool, STREETS)):
            slat = lat0 + (s // 10) * 0.002
            slon = lon0 + (s % 10) * 0.004
            for n in range(1, NUMBERS + 1):
                number = f"{n}a" if n == 7 else str(n)
                rows.append(
                    {"LON": f"{slon + n * 0.0001:.7f}", "LAT": f"{slat + (n % 2) * 0.0002:.7f}",
                     "NUMBER": number, "STREET": name, "CITY": town, "POSTCODE": postcode}
                )  # fmt: skip
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["LON", "LAT", "NUMBER", "STREET", "CITY",
                                               "POSTCODE"])  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    path = tmp_path_factory.mktemp("synth") / "synth-country.csv.gz"
    return path, _country(path, TOWNS)


def test_a_country_imports_in_bounded_memory_and_answers_every_address(
    country: tuple[Path, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, rows = country
    # The smallest budget, and sorting as if each address took 10 kB: several buckets.
    monkeypatch.setattr(layout, "_SORT_BYTES", 10_000)
    summary = import_source(tmp_path, open_source(path), memory_mb=MIN_MEMORY_MB)
    assert summary.counts["addresses"] == len(rows) == TOWNS * STREETS * NUMBERS
    assert summary.counts["streets"] == TOWNS * STREETS
    assert summary.counts["postcodes"] == TOWNS
    data = DataSet.open(summary.path)
    # Sorted by street, then house-number key: every street's addresses are one run.
    streets = data.addr_street
    assert np.all(np.diff(streets) >= 0)
    geocoder = Geocoder.open(tmp_path)
    rng = random.Random(3)
    sample = rng.sample(rows, 2_000)
    answers = geocoder.geocode_batch(
        [GeocodeRequest(query=f"{r['STREET']} {r['NUMBER']}, {r['POSTCODE']} {r['CITY']}")
         for r in sample]
    )  # fmt: skip
    for r, answer in zip(sample, answers, strict=True):
        best = answer.best
        assert best is not None, r
        assert best.entity_type is EntityType.ADDRESS
        assert best.confidence is Confidence.HIGH
        assert best.address.locality == r["CITY"]
        assert abs(best.point.lat - float(r["LAT"])) < 1e-7
        assert abs(best.point.lon - float(r["LON"])) < 1e-7
    back = geocoder.reverse_batch(
        [ReverseRequest(float(r["LAT"]), float(r["LON"])) for r in sample]
    )
    for r, answer in zip(sample, back, strict=True):
        assert answer.status is ResultStatus.OK
        best = answer.best
        assert best is not None
        assert (best.address.street, best.address.house_number) == (r["STREET"], r["NUMBER"])


def test_the_budget_changes_the_work_not_the_index(
    country: tuple[Path, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = country
    small, large = tmp_path / "small", tmp_path / "large"
    large_file = import_source(large, open_source(path), memory_mb=50_000).path
    # Many more partitions of street keys, and several sorting buckets.
    monkeypatch.setattr(build, "_ENTITY_BYTES", 5_000)
    monkeypatch.setattr(layout, "_SORT_BYTES", 10_000)
    small_file = import_source(small, open_source(path), memory_mb=MIN_MEMORY_MB).path
    a, b = Container(large_file), Container(small_file)
    assert a.names() == b.names()
    for name in a.names():
        assert bytes(a.raw_section(name)) == bytes(b.raw_section(name)), name
    assert a.meta["counts"] == b.meta["counts"]


def test_a_name_of_many_towns_is_read_in_the_town_asked_with_the_same_answers(
    country: tuple[Path, list[dict[str, str]]], tmp_path: Path
) -> None:
    """Each street name is a street in about 37 towns. A query naming a town or postcode reads
    that town's streets only, unless it cannot show the others would change nothing (then
    it reads them all): either way the answer is the one a whole reading gives."""
    path, rows = country
    import_source(tmp_path, open_source(path))
    vocab = Geocoder.open(tmp_path).vocab
    rng = random.Random(5)
    forms = [
        "{s} {n}, {p} {c}", "{s} {n}, {c}", "{s} {n}, {p}", "{s}, {c}", "{s} {n}",
        "{s} 999, {c}", "{s} {n}, {c2}", "{t} {n}, {p} {c}", "{s} {n} {c}",
    ]  # fmt: skip
    towns = sorted({r["CITY"] for r in rows})
    narrowed = 0
    for r in rng.sample(rows, 400):
        text = rng.choice(forms).format(
            s=r["STREET"], n=r["NUMBER"], p=r["POSTCODE"], c=r["CITY"], c2=rng.choice(towns),
            t=r["STREET"][:3] + r["STREET"][4:],  # a typo
        )  # fmt: skip
        request = GeocodeRequest(query=text)
        whole = ranking.answer(request, vocab, narrow=False)
        try:
            first = ranking.answer(request, vocab, narrow=True)
            narrowed += 1
        except NeedFullRead:
            continue
        assert first == whole, text
    assert narrowed >= 150  # most are answered without reading every town's streets
