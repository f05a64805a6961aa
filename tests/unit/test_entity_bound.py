"""The byte scans that bound an upload's entities when it arrives (the allowance a key sets aside
for it): never fewer than the decoder yields, exact for ordinary files, and the same whatever
the block boundaries fall on."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from geobatch.formats.bing import BingCodec
from geobatch.formats.counting import count_lines, count_occurrences
from geobatch.formats.csvbatch import PlainCsvCodec
from tests.conftest import SHARED_SPEC_SAMPLES, shared_spec_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bing"
BING = BingCodec()
CSV = PlainCsvCodec()

SAMPLES = [
    ("v1-input.csv", "csv"),
    ("v1-input.pipe", "pipe"),
    ("v1-input.tab", "tab"),
    ("v1-input.xml", "xml"),
    ("v1-schemapage-example-input.csv", "csv"),
    ("v1-schemapage-example-input.xml", "xml"),
    ("v2-input.csv", "csv"),
    ("v2-input.pipe", "pipe"),
    ("v2-input.tab", "tab"),
    ("v2-input.xml", "xml"),
    ("v2-schemapage-example-input.csv", "csv"),
    ("v2-schemapage-example-input.xml", "xml"),
    ("walkthrough-input.xml", "xml"),
]


def decoded(codec: BingCodec | PlainCsvCodec, data: bytes, fmt: str) -> int:
    return sum(1 for _ in codec.decode(io.BytesIO(data), fmt).rows())


def bound(codec: BingCodec | PlainCsvCodec, data: bytes, fmt: str) -> int:
    return codec.entity_bound(io.BytesIO(data), fmt)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1024 * 1024])
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"a\n",
        b"a\r\nb\r\n",
        b"a\rb\rc",
        b"\r\n\r\n\n\r",
        b"one\r\ntwo\n\nthree\rfour\r\n",
        "ünï\r\ncödé\u2028still one line\n".encode(),
    ],
)
def test_count_lines_splits_as_a_universal_newline_reader(data: bytes, block: int) -> None:
    expected = len(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="").readlines())
    assert count_lines(io.BytesIO(data), block) == expected


@pytest.mark.parametrize("block", [1, 2, 5, 13, 1024 * 1024])
def test_count_occurrences_across_block_boundaries(block: int) -> None:
    data = b"<GeocodeEntity/></GeocodeEntity>xxGeocodeEntity" * 7 + b"</GeocodeEntity"
    needles = (b"GeocodeEntity", b"</GeocodeEntity")
    expected = tuple(data.count(needle) for needle in needles)
    assert count_occurrences(io.BytesIO(data), needles, block) == expected


@pytest.mark.parametrize(("name", "fmt"), SAMPLES)
def test_published_samples_are_bounded_exactly(name: str, fmt: str) -> None:
    """Ordinary files set aside what they hold, not more (a key is not refused for nothing)."""
    data = shared_spec_file(name).read_bytes()
    assert bound(BING, data, fmt) == decoded(BING, data, fmt) > 0


def test_every_published_input_sample_is_listed() -> None:
    shared_spec_file(".")
    names = {path.name for path in SHARED_SPEC_SAMPLES.glob("*input*")}
    names -= {"v1-input.tab-arrows.txt", "v2-input.tab-arrows.txt"}  # docs' drawings of tabs
    names -= {"v1-input-unstructured-query.xml"}  # not well-formed XML: the job is aborted
    assert names == {name for name, _ in SAMPLES}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("quoting.csv", "csv"), ("v2-reduced-header.csv", "csv"), ("v2-reordered.pipe", "pipe")],
)
def test_fixtures_are_bounded_from_above(name: str, fmt: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert bound(BING, data, fmt) >= decoded(BING, data, fmt)


def _xml(entities: int, extra: str = "") -> str:
    body = "".join(
        f'<GeocodeEntity Id="{n}"><GeocodeRequest Query="Vaduz {n}"/></GeocodeEntity>'
        for n in range(entities)
    )
    return f'<GeocodeFeed Version="2.0">{extra}{body}</GeocodeFeed>'


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        (_xml(5), True),
        # Planted names (a comment, an attribute value, an end tag alone) only add to the bound.
        (_xml(3, "<!-- </GeocodeEntity></GeocodeEntity> -->"), True),
        (_xml(3, "<!-- <GeocodeEntity Id='x'/> -->"), False),
        (_xml(3).replace('Query="Vaduz 0"', 'Query="GeocodeEntity"'), False),
        # Self-closing entities, and an entity with no Id (the SDS Toolkit sample sends those).
        (
            '<GeocodeFeed><GeocodeEntity Id="1"/><GeocodeEntity><GeocodeRequest Query="a"/>'
            "</GeocodeEntity></GeocodeFeed>",
            True,
        ),
    ],
)
def test_xml_bound_counts_start_tags(text: str, exact: bool) -> None:
    data = text.encode()
    rows = decoded(BING, data, "xml")
    assert bound(BING, data, "xml") == rows if exact else bound(BING, data, "xml") > rows


@pytest.mark.parametrize("encoding", ["utf-8-sig", "iso-8859-1"])
def test_xml_bound_reads_ascii_compatible_encodings(encoding: str) -> None:
    """The encodings the decoder reads (UTF-16 is refused as binary before it is parsed)."""
    text = f'<?xml version="1.0" encoding="{encoding.removesuffix("-sig")}"?>' + _xml(4)
    data = text.replace("Vaduz", "Tükö").encode(encoding)
    assert bound(BING, data, "xml") == decoded(BING, data, "xml") == 4


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n1|a\n2|b", "pipe"),
        ("Bing Spatial Data Services, 2.0\r\nId,GeocodeRequest/Query\r\n1,a\r\n2,b\r\n", "csv"),
        ("Bing Spatial Data Services, 1.0\n1\t\ta\n2\t\tb\n", "tab"),
        ("\ufeffBing Spatial Data Services, 2.0\rId|GeocodeRequest/Query\r1|a\r2|b\r", "pipe"),
        ('"Id",Culture,Query\n1,,a\n2,,b\n', "csv"),  # an optional v1 header row
        ("1,,a\n2,,b\n", "csv"),  # version 1.0 with neither version line nor header
    ],
)
def test_text_bound_is_the_entity_lines(text: str, fmt: str) -> None:
    data = text.encode()
    assert bound(BING, data, fmt) == decoded(BING, data, fmt) == 2


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        # Blank lines, a quoted value over two lines, a version line after a blank line.
        ("Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n\n1|a\n\n2|b\n", "pipe"),
        ('Bing Spatial Data Services, 2.0\nId,GeocodeRequest/Query\n1,"a\nb"\n2,c\n', "csv"),
        ("\nBing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n1|a\n2|b\n", "pipe"),
    ],
)
def test_text_bound_is_above_what_is_decoded(text: str, fmt: str) -> None:
    data = text.encode()
    assert bound(BING, data, fmt) > decoded(BING, data, fmt) == 2


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("address,city\nAeulestrasse 1,Vaduz\nSpital 2,Oberdorf\n", 2),
        ('address,city\n"Aeulestrasse\n1",Vaduz\n\nSpital 2,Oberdorf', 2),
        ("lat;lon\r\n47.1;9.5\r\n", 1),
    ],
)
def test_csv_bound_is_the_lines_after_the_header(text: str, rows: int) -> None:
    data = text.encode()
    fmt = "reverse" if text.startswith("lat") else "forward"
    assert bound(CSV, data, fmt) >= decoded(CSV, data, fmt) == rows
