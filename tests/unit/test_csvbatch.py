"""The plain CSV job codec and the file inspection behind the web page's preview."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from geobatch.errors import InputError
from geobatch.formats import plaincsv
from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.csvbatch import PlainCsvCodec, write_csv
from geobatch.formats.inspect import inspect_sample
from geobatch.formats.serialize import row_from_dict, row_to_dict
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
    ReverseRequest,
)
from geobatch.web.sample import unpacked_head
from tests.conftest import shared_spec_file


def _result(lat: float, lon: float, text: str) -> GeocodeResult:
    return GeocodeResult(
        point=Point(lat, lon),
        address=Address(street=text, formatted=text, country="Liechtenstein"),
        entity_type=EntityType.ADDRESS,
        confidence=Confidence.HIGH,
        match_codes=(MatchCode.GOOD,),
        bbox=BoundingBox(lat - 0.001, lon - 0.001, lat + 0.001, lon + 0.001),
    )


def _decode(data: bytes, fmt: str = "forward") -> tuple[BatchHeader, list[BatchRow]]:
    batch = PlainCsvCodec().decode(io.BytesIO(data), fmt)
    # Rows go through the store as JSON: decode what the runner would read back.
    rows = [row_from_dict(json.loads(json.dumps(row_to_dict(r)))) for r in batch.rows()]
    return batch.header, rows


def test_forward_rows_keep_their_values_and_empty_rows_fail() -> None:
    _, rows = _decode(b"id;Street;City\n1;Landstrasse 12;Triesen\n2;;\n")
    assert [r.id for r in rows] == ["1", "2"]
    first = rows[0].request
    assert isinstance(first, GeocodeRequest)
    assert (first.address_line, first.locality) == ("Landstrasse 12", "Triesen")
    assert rows[1].request is None and rows[1].fault == plaincsv.EMPTY_REQUEST_REASON
    assert rows[0].echo == {"0": "1", "1": "Landstrasse 12", "2": "Triesen"}


def test_reverse_rows_and_bad_coordinates() -> None:
    _, rows = _decode(b"name,lat,lon\na,47.1,9.5\nb,north,9.5\n", "reverse")
    assert rows[0].request == ReverseRequest(lat=47.1, lon=9.5)
    assert rows[1].request is None and "latitude 'north' is not a number" in (rows[1].fault or "")


def test_output_is_the_cli_layout_with_the_input_delimiter_and_bom() -> None:
    data = "\ufeffid;address\n1;Städtle 1\n2;nowhere\n".encode()
    header, rows = _decode(data)
    answers = [
        Answer(ResultStatus.OK, (_result(47.141, 9.521, "Städtle 1"),)),
        Answer(ResultStatus.OK, (), "no match found"),
    ]
    out = io.BytesIO()
    assert write_csv(out, header, zip(rows, answers, strict=True)) == 2
    text = out.getvalue().decode("utf-8")
    assert text.startswith("\ufeffid;address;lat;lon;formatted_address;")
    lines = text.lstrip("\ufeff").splitlines()
    layout = plaincsv.OutputLayout.for_header(["id", "address"])
    assert lines[1] == ";".join(
        layout.row(["1", "Städtle 1"], plaincsv.answer_to_columns(answers[0]))
    )
    assert lines[2].endswith(";NoResult;no match found")


def test_outcome_puts_no_result_rows_with_the_failed() -> None:
    codec = PlainCsvCodec()
    _, rows = _decode(b"q\nsomewhere\n")
    assert codec.outcome(rows[0], Answer(ResultStatus.OK, (_result(1, 2, "x"),))) == "succeeded"
    assert codec.outcome(rows[0], Answer(ResultStatus.OK, ())) == "failed"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfeid,address\n", "not UTF-8"),
        (b"colour,size\nred,2\n", "no address column"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _decode(data)


# --- inspection ------------------------------------------------------------------------------


def test_inspect_a_forward_csv() -> None:
    found = inspect_sample(b"id,address,city\n1,Landstrasse 12,Triesen\n", complete=True)
    assert (found.codec, found.input_format, found.direction) == ("csv", "forward", "forward")
    assert found.mapping == {"query": "address", "locality": "city"}
    assert found.preview == [["1", "Landstrasse 12", "Triesen"]]
    assert found.delimiter == "comma"


def test_inspect_points_with_a_country_column_is_reverse_but_may_run_forward() -> None:
    found = inspect_sample(b"lat\tlon\tcountry\n47.1\t9.5\tLI\n", complete=True)
    assert (found.direction, found.directions) == ("reverse", ("forward", "reverse"))
    assert found.mapping == {"lat": "lat", "lon": "lon"}
    assert found.delimiter == "tab"


def test_inspect_cuts_a_sample_at_its_last_whole_line() -> None:
    found = inspect_sample(b"q\nVaduz\nSchaan\nTries", complete=False)
    assert found.preview == [["Vaduz"], ["Schaan"]]


def test_inspect_shows_text_as_it_is() -> None:
    hostile = b'q\n"<script>alert(1)</script>"\n"""onmouseover=alert(2)"\n'
    found = inspect_sample(hostile, complete=True)
    assert found.preview == [["<script>alert(1)</script>"], ['"onmouseover=alert(2)']]


@pytest.mark.parametrize(
    ("sample", "fmt", "version"),
    [
        ("v1-input.csv", "csv", "1.0"),
        ("v2-input.csv", "csv", "2.0"),
        ("v2-input.pipe", "pipe", "2.0"),
        ("v1-input.xml", "xml", "1.0"),
    ],
)
def test_inspect_bing_dataflow_files(sample: str, fmt: str, version: str) -> None:
    data = shared_spec_file(sample).read_bytes()
    found = inspect_sample(data, complete=True)
    assert (found.codec, found.input_format, found.version) == ("bing", fmt, version)
    assert found.preview and found.preview_header[0] == "Id"


@pytest.mark.parametrize(
    "data", [b"", b"\x00\x01binary", b"colour,size\nred,2\n"], ids=["empty", "binary", "nothing"]
)
def test_inspect_refuses_what_no_job_can_read(data: bytes) -> None:
    with pytest.raises(InputError):
        inspect_sample(data, complete=True)


def test_compressed_samples_are_inflated_for_the_preview() -> None:
    text = b"q\n" + b"Landstrasse 12, Triesen\n" * 5000
    head, whole, packing = unpacked_head(gzip.compress(text)[:2000], complete=False)
    assert packing == "gzip" and not whole and text.startswith(head) and len(head) > 100
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("addresses.csv", text)
    head, _, packing = unpacked_head(archive.getvalue()[:3000], complete=False)
    assert packing == "zip" and text.startswith(head) and len(head) > 100
    assert inspect_sample(head, complete=False).preview[0] == ["Landstrasse 12, Triesen"]
