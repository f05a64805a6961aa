"""Typos read against the streets of the town the query names, on a small made-up index.

The index is written by this module as OSM XML (a few Icelandic-style towns), imported with the
real importer into a real SQLite file; nothing is mocked. See ``fuzzy.area_max_edits`` and the
confidence table in ``rules.py``.
"""

from __future__ import annotations

import pytest

from geobatch.geocode.fuzzy import area_max_edits, max_edits, nearest_keys
from geobatch.geocode.geocoder import Geocoder
from geobatch.index.build import import_source
from geobatch.model import Confidence, EntityType, MatchCode
from geobatch.sources.osm import OsmSource

# Towns: (name, postcode, lat, lon).
TOWNS = [
    ("Selfoss", "800", 63.93, -21.00),
    ("Borgarnes", "310", 64.54, -21.92),
    ("Raufarhöfn", "675", 66.45, -15.95),
]
# Streets: (name, town, postcode, numbers, lat, lon of number 1; numbers step east ~25 m).
STREETS = [
    ("Tröllahraun", "Selfoss", "801", range(1, 9), 63.940, -21.010),
    # A farm named after the town, a few km out: also read as the town in "…, 801 Selfoss".
    ("Selfoss", "Selfoss", "800", range(1, 9), 63.900, -20.900),
    ("Hrísás", "Borgarnes", "310", range(1, 21), 64.540, -21.930),
    # Also two edits from "Hráss", but without the number asked for below.
    ("Grás", "Borgarnes", "310", range(1, 3), 64.545, -21.910),
    ("Nónás", "Raufarhöfn", "675", range(1, 6), 66.450, -15.960),
    # A name that begins with a stopword.
    ("Im Besch", "Borgarnes", "310", range(20, 25), 64.535, -21.940),
    # The same short name in another town, far away: a typo there is not read as this one.
    ("Lyngás", "Selfoss", "800", range(1, 4), 63.935, -21.020),
]
STEP = 0.0005


def _osm_xml() -> str:
    nodes: list[str] = []
    ways: list[str] = []
    nid = 0
    for name, postcode, lat, lon in TOWNS:
        nid += 1
        nodes.append(
            f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}"><tag k="place" v="town"/>'
            f'<tag k="name" v="{name}"/><tag k="addr:postcode" v="{postcode}"/></node>'
        )
    for wid, (street, town, postcode, numbers, lat, lon) in enumerate(STREETS, start=1):
        ends = []
        for lon_end in (lon - STEP, lon + STEP * (len(numbers) + 1)):
            nid += 1
            ends.append(nid)
            nodes.append(f'<node id="{nid}" version="1" lat="{lat - 0.0002}" lon="{lon_end}"/>')
        refs = "".join(f'<nd ref="{n}"/>' for n in ends)
        ways.append(
            f'<way id="{wid}" version="1">{refs}<tag k="highway" v="residential"/>'
            f'<tag k="name" v="{street}"/></way>'
        )
        for i, number in enumerate(numbers):
            nid += 1
            nodes.append(
                f'<node id="{nid}" version="1" lat="{lat}" lon="{lon + i * STEP}">'
                f'<tag k="addr:housenumber" v="{number}"/><tag k="addr:street" v="{street}"/>'
                f'<tag k="addr:city" v="{town}"/><tag k="addr:postcode" v="{postcode}"/></node>'
            )
    body = "\n".join(nodes + ways)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}\n</osm>\n'


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    folder = tmp_path_factory.mktemp("towns")
    source = folder / "towns.osm"
    source.write_text(_osm_xml(), encoding="utf-8")
    index = folder / "index"
    import_source(index, OsmSource(source))
    return Geocoder.open(index)


@pytest.mark.parametrize(
    ("key", "anywhere", "in_town"),
    [
        ("vik", 0, 0),
        ("nnas", 0, 1),
        ("hrass", 1, 2),
        ("neshagi", 1, 2),
        ("horaholt", 1, 2),
        ("trollahraan", 2, 2),
    ],
)
def test_edit_budgets(key: str, anywhere: int, in_town: int) -> None:
    assert (max_edits(key), area_max_edits(key)) == (anywhere, in_town)


def test_nearest_keys_scans_a_small_set() -> None:
    keys = ("hrisas", "hrafnas", "gras", "lyngas", "hrass")
    assert sorted(nearest_keys("hrass", keys, 2)) == [("gras", 2), ("hrisas", 2)]
    assert nearest_keys("hrass", keys, 0) == []


G, U = MatchCode.GOOD, MatchCode.UP_HIERARCHY
A, PLACE, PC = EntityType.ADDRESS, EntityType.POPULATED_PLACE, EntityType.POSTCODE
HIGH, MED, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW


@pytest.mark.parametrize(
    ("query", "etype", "street", "number", "codes", "conf"),
    [
        # As written, and one edit (within the budget anywhere): High once the town confirms.
        ("Hrísás 19, 310 Borgarnes", A, "Hrísás", "19", (G,), HIGH),
        ("Tröllahraan 4, 801 Selfoss", A, "Tröllahraun", "4", (G,), HIGH),
        # A misspelt name whose first word is a stopword ("im"): read with it.
        ("Im Bech 23, 310 Borgarnes", A, "Im Besch", "23", (G,), HIGH),
        # A street named like the town ("Selfoss 4") does not stop the correction above; asked
        # for itself it is still found.
        ("Selfoss 4, 800 Selfoss", A, "Selfoss", "4", (G,), HIGH),
        # Two edits in a six-letter name, one in a five-letter one: only among the streets of
        # the postcode or town the query names, and never High.
        ("Hráss 19, 310 Borgarnes", A, "Hrísás", "19", (G,), MED),
        ("Hráss 19, Borgarnes", A, "Hrísás", "19", (G,), MED),
        ("Hráss 19, 310", A, "Hrísás", "19", (G,), MED),
        ("Nnás 2, 675 Raufarhöfn", A, "Nónás", "2", (G,), MED),
        # The corrected street lacks the number asked for: not turned into a neighbour.
        ("Hráss 40, 310 Borgarnes", PC, None, None, (U,), LOW),
        # The town named has no such street, or none is named: no address from another
        # town's streets (None: no address result at all).
        ("Hráss 19, 800 Selfoss", None, None, None, (), None),
        ("Hráss 19", None, None, None, (), None),
    ],
)
def test_typo_in_named_town(
    geocoder: Geocoder,
    query: str,
    etype: EntityType | None,
    street: str | None,
    number: str | None,
    codes: tuple[MatchCode, ...],
    conf: Confidence | None,
) -> None:
    best = geocoder.geocode(query).best
    if etype is None:
        assert best is None or (best.entity_type is not A and best.address.street != "Hrísás")
        return
    assert best is not None
    assert (best.entity_type, best.address.street, best.address.house_number) == (
        etype,
        street,
        number,
    )
    assert (best.match_codes, best.confidence) == (codes, conf)
