"""Text batch files: every input line gets an entity, with its Id where it can be read, and a
line that cannot be read fails alone, naming its line — in csv, tab and pipe, v1.0 and v2.0."""

from __future__ import annotations

import io

import pytest

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.bing import BingCodec
from geobatch.model import Answer, GeocodeRequest, ResultStatus

CODEC = BingCodec()
FORMATS = [("csv", ","), ("tab", "\t"), ("pipe", "|")]
VERSION = "Bing Spatial Data Services, 2.0\n"


def decode(text: str, fmt: str) -> tuple[BatchHeader, list[BatchRow]]:
    batch = CODEC.decode(io.BytesIO(text.encode()), fmt)
    return batch.header, list(batch.rows())


def failed_file_ids(header: BatchHeader, rows: list[BatchRow], fmt: str, id_at: int) -> list[str]:
    """The Id column of the failed download, read back by splitting its lines."""
    out = io.BytesIO()
    failed = [(row, Answer(ResultStatus.OK)) for row in rows if row.fault is not None]
    CODEC.encode(out, header, failed, "failed")
    lines = out.getvalue().decode().splitlines()
    if header.version == "2.0":
        lines = lines[2:]
    delimiter = dict(FORMATS)[fmt]
    return [line.split(delimiter)[id_at].strip('"') for line in lines]


def layouts(d: str) -> list[tuple[str, str, int]]:
    """(file head, row template, Id position): v1.0, v2.0 with Id first, v2.0 with Id last.
    A template has {id} and {q} (the query) placeholders."""
    return [
        ("", f"{{id}}{d}en-US{d}{{q}}\n", 0),
        (f"{VERSION}Id{d} GeocodeRequest/Query\n", f"{{id}}{d}{{q}}\n", 0),
        (f"{VERSION}GeocodeRequest/Query{d}Id\n", f"{{q}}{d}{{id}}\n", 1),
    ]


@pytest.mark.parametrize(("fmt", "d"), FORMATS)
def test_a_field_over_csvs_limit_fails_alone_with_its_id_and_line(fmt: str, d: str) -> None:
    for head, row, id_at in layouts(d):
        long_value = "x" * 140_000  # the csv module's field_size_limit is 131,072
        text = head + row.format(id="A1", q=long_value) + row.format(id="A2", q="Vaduz")
        header, (big, after) = decode(text, fmt)
        line = text.count("\n") - 1
        assert big.id == "A1" and big.request is None
        assert big.fault == f"Query is longer than 4096 characters (line {line})."
        assert after.id == "A2" and after.request == GeocodeRequest(query="Vaduz")
        assert failed_file_ids(header, [big, after], fmt, id_at) == ["A1"]


@pytest.mark.parametrize(("fmt", "d"), FORMATS)
def test_a_quote_never_closed_fails_its_line_only(fmt: str, d: str) -> None:
    for head, row, id_at in layouts(d):
        body = row.format(id="1", q=f'"Vaduz{d}Vaduz')
        body += "".join(row.format(id=str(i), q=f"Schaan {i}") for i in range(2, 101))
        header, rows = decode(head + body, fmt)
        assert [r.id for r in rows] == [str(i) for i in range(1, 101)]
        first_line = head.count("\n") + 1
        assert rows[0].request is None and rows[0].fault is not None
        assert rows[0].fault.startswith(f"Line {first_line} has a quote (field ")
        assert "GeocodeRequest/Query) that is never closed" in rows[0].fault
        assert all(r.fault is None and r.request is not None for r in rows[1:])
        assert failed_file_ids(header, rows, fmt, id_at) == ["1"]


@pytest.mark.parametrize(("fmt", "d"), FORMATS)
def test_a_stray_quote_does_not_pair_with_a_later_rows_quote(fmt: str, d: str) -> None:
    head, row, _ = layouts(d)[1]
    text = head + row.format(id="1", q='"Vaduz') + row.format(id="2", q='"Schaan"')
    text += row.format(id="3", q='Triesen"') + row.format(id="4", q="Balzers")
    _, rows = decode(text, fmt)
    assert [r.id for r in rows] == ["1", "2", "3", "4"]
    assert rows[0].fault is not None and rows[0].fault.startswith("Line 3 has a quote")
    assert [r.request for r in rows[1:]] == [
        GeocodeRequest(query="Schaan"),
        GeocodeRequest(query='Triesen"'),  # a quote inside an unquoted value is a character
        GeocodeRequest(query="Balzers"),
    ]


@pytest.mark.parametrize(("fmt", "d"), FORMATS)
def test_quoted_values_may_still_hold_line_breaks_and_delimiters(fmt: str, d: str) -> None:
    head, row, _ = layouts(d)[1]
    text = head + row.format(id="1", q=f'"Haupt{d}strasse\n12"') + row.format(id="2", q="Vaduz")
    _, rows = decode(text, fmt)
    assert [(r.id, r.request) for r in rows] == [
        ("1", GeocodeRequest(query=f"Haupt{d}strasse\n12")),
        ("2", GeocodeRequest(query="Vaduz")),
    ]


def test_text_after_a_closing_quote_is_ignored_as_the_toolkit_does() -> None:
    _, (row,) = decode(f'{VERSION}Id,GeocodeRequest/Query\n1,"Main" St\n', "csv")
    assert row.request == GeocodeRequest(query="Main")


def test_an_overlong_line_keeps_its_id_when_the_id_comes_first() -> None:
    text = f"{VERSION}Id,GeocodeRequest/Query\n7,{'y' * 1_500_000}\n8,Vaduz\n"
    header, rows = decode(text, "csv")
    assert [(r.id, r.fault is None) for r in rows] == [("7", False), ("8", True)]
    assert rows[0].fault is not None and rows[0].fault.startswith("Line 3 is 1,500,003 char")
    assert failed_file_ids(header, rows, "csv", 0) == ["7"]


def test_an_unreadable_id_is_left_empty_and_the_line_still_named() -> None:
    text = f"{VERSION}GeocodeRequest/Query,Id\n{'z' * 1_200_000},9\n"
    _, (row,) = decode(text, "csv")
    assert row.id == ""
    assert row.fault is not None and row.fault.startswith("Line 3 is 1,200,003 characters")


@pytest.mark.parametrize(("fmt", "d"), FORMATS)
def test_every_line_of_a_mixed_file_is_an_entity(fmt: str, d: str) -> None:
    bad = [f'"open{d}x', "y" * 200_000, '"a\nb"tail', "=1+1", ""]
    head, row, _ = layouts(d)[1]
    lines = [row.format(id=f"r{i}", q=bad[i % len(bad)] or f"Vaduz {i}") for i in range(60)]
    _, rows = decode(head + "".join(lines), fmt)
    # The "a\nb"tail value spans two physical lines and is refused as a stray quote; its
    # second physical line is then read as a row of its own.
    assert len(rows) == sum(line.count("\n") for line in lines)
    assert [r.id for r in rows if r.id.startswith("r")] == [f"r{i}" for i in range(60)]
