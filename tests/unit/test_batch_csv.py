"""CSV slices and the CSV task: records are never cut in two, a stray quote or an over-long
line costs one Failed row naming its line (never the rows after it), and the quick output path
writes exactly what the plain CSV codec's rows would."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from geobatch.batch import csvtask, worker
from geobatch.batch.csvout import LineBuilder, RowBuilder
from geobatch.batch.csvsplit import RecordSplitter
from geobatch.batch.csvtask import CsvSpec, geocode_slice, oversize_line
from geobatch.batch.worker import IndexLocation
from geobatch.formats import plaincsv
from geobatch.formats.excelsafe import neutralise_all
from geobatch.formats.plaincsv import ForwardColumns, ReverseColumns
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
)
from tests.unit.test_batch_executors import fake_opener


def split(data: bytes, lines: int, **options: int) -> list[bytes]:
    splitter = RecordSplitter(io.BytesIO(data), lines_per_slice=lines, **options)
    pieces = list(splitter)
    assert b"".join(p.data for p in pieces) == data  # nothing lost, nothing repeated
    return [p.data for p in pieces]


def random_csv(rng: random.Random) -> bytes:
    lines = []
    for n in range(rng.randint(0, 40)):
        kind = rng.random()
        if kind < 0.1:
            lines.append(f'{n},"two\nlines {n}",x')
        elif kind < 0.15:
            lines.append(f'{n},"stray')
        elif kind < 0.2:
            lines.append(f'{n},a"b,c')
        elif kind < 0.25:
            lines.append("")
        else:
            lines.append(f'{n},"q, {n}",{"y" * rng.randint(0, 30)}')
    end = "\n" if rng.random() < 0.7 else ""
    return ("\r\n" if rng.random() < 0.2 else "\n").join(lines).encode() + end.encode()


def test_slices_hold_whole_records_and_every_byte_once() -> None:
    rng = random.Random(7)
    for _ in range(400):
        data = random_csv(rng)
        for lines in (1, 2, 7, 100):
            pieces = split(data, lines, block=rng.randint(1, 64))
            for piece in pieces:
                # A slice of an odd number of quotes is a lone line with a stray quote.
                if piece.count(b'"') % 2:
                    assert piece.count(b"\n") <= 1, piece


def test_a_quoted_line_break_stays_in_its_record() -> None:
    data = b'1,"Landstrasse 12\nTriesen"\n2,b\n3,c\n'
    assert split(data, 1) == [b'1,"Landstrasse 12\nTriesen"\n', b"2,b\n", b"3,c\n"]


def test_a_quote_never_closed_costs_its_own_line_only() -> None:
    data = b'1,"Vaduz\n' + b"".join(f"{n},x\n".encode() for n in range(2, 101))
    pieces = split(data, 1000)
    assert pieces[0] == b'1,"Vaduz\n'
    assert sum(p.count(b"\n") for p in pieces[1:]) == 99


def test_a_record_open_past_the_limit_is_cut_after_its_first_line() -> None:
    data = b'1,"Vaduz\n' + b"2,x\n" * 100 + b'3,"end"\n'
    assert split(data, 1000, max_record=64)[0] == b'1,"Vaduz\n'


def test_an_oversize_line_is_skipped_with_its_size() -> None:
    data = b"1,short\n2," + b"x" * 5000 + b"\n3,after\n"
    splitter = RecordSplitter(io.BytesIO(data), lines_per_slice=1, max_record=1000, block=100)
    pieces = list(splitter)
    assert [p.oversize for p in pieces] == [0, 5003, 0]
    assert pieces[1].first_line == 2 and pieces[1].data.startswith(b"2,xxx")
    assert pieces[2].data == b"3,after\n" and pieces[2].end == len(data)


def spec(tmp_path: Path, header: tuple[str, ...] = ("id", "q")) -> CsvSpec:
    return CsvSpec(
        kind="forward",
        index=IndexLocation(tmp_path),
        header=header,
        columns=ForwardColumns(query="q"),
        delimiter=",",
        out_delimiter=",",
    )


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "open_geocoder", fake_opener)


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def test_plain_slices_are_read_as_csv_reads_them() -> None:
    rng = random.Random(3)
    pieces = ["", "a", " b ", "47.1", ",", ";", "\t", "\n", "\r\n", "\r", "\x00", "\u2028"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for delimiter in (",", ";", "\t"):
            plain = csvtask._plain_records(text, delimiter)
            if plain is None:
                assert "\r" in text.replace("\r\n", "")
                continue
            lines = io.StringIO(text, newline="")
            assert plain == [v for v in csv.reader(lines, delimiter=delimiter, strict=True) if v]
    assert csvtask._plain_records('1,"a"\n', ",") is None
    assert csvtask._plain_records("1," + "x" * (csv.field_size_limit() + 1), ",") is None


def test_a_stray_quote_is_a_failed_row_naming_its_line(tmp_path: Path) -> None:
    data = b'1,"Vaduz\n2,Triesen\n3,"Sch"aan\n4,a"b\n'
    piece = geocode_slice(spec(tmp_path), data, 5)
    rows = rows_of(piece.data)
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0][-2:] == [
        "Failed",
        "line 5: a quote opened in this line does not close at the end of a field (a stray "
        "quote?); the row was not geocoded",
    ]
    assert rows[1][-2:] == ["NoResult", "Triesen"]
    assert rows[2][-2] == "Failed" and rows[2][-1].startswith("line 7: a quote opened")
    assert rows[3][1] == 'a"b' and rows[3][-2] == "NoResult"  # a quote inside a field is text
    assert (piece.no_result, piece.failed) == (2, 2)


def test_an_oversize_line_is_a_failed_row(tmp_path: Path) -> None:
    piece = oversize_line(spec(tmp_path), b"17,xxxxxxxx", 9, 52_428_800)
    [row] = rows_of(piece.data)
    assert row[0] == "17" and row[-2] == "Failed"
    assert row[-1] == "line 9 is 52,428,800 bytes long, more than a row may be; it was not read"


def _result(formatted: str) -> GeocodeResult:
    return GeocodeResult(
        point=Point(47.1412345678, 9.5212),
        address=Address(house_number="1", street="Städtle", locality="Vaduz", formatted=formatted),
        entity_type=EntityType.ADDRESS,
        confidence=Confidence.HIGH,
        match_codes=(MatchCode.GOOD, MatchCode.AMBIGUOUS),
        bbox=BoundingBox(47.14, 9.52, 47.15, 9.53),
        calculation_method=CalculationMethod.INTERPOLATION,
    )


@pytest.mark.parametrize(
    "answer",
    [
        Answer(ResultStatus.OK, (_result('Städtle 1, "9490" Vaduz'),)),
        Answer(ResultStatus.OK, (_result("a"), _result("b\nc"), _result("d"))),
        Answer(ResultStatus.OK, ()),
        Answer(ResultStatus.NO_RESULT, reason="nothing matched"),
        Answer(ResultStatus.FAILED, reason="bad, row"),
    ],
)
@pytest.mark.parametrize("max_results", [1, 2])
@pytest.mark.parametrize("values", [["1", "x"], ["1"], ["1", "x", "extra"]])
def test_the_quick_rows_are_the_plain_codecs_rows(
    answer: Answer, max_results: int, values: list[str]
) -> None:
    layout = plaincsv.OutputLayout.for_header(["id", "q"])
    expected = [layout.row(values, r) for r in plaincsv.answer_to_rows(answer, max_results)]
    rows, status = RowBuilder(2, max_results).rows(values, answer)
    assert rows == expected
    assert status == expected[0][-2]


_PIECES = ["", " ", "Vaduz", "9490", "-9.5", "=1+2", "@x", "+41", "a,b", "a;b", "a\tb", "a|b",
           'say "hi"', "two\nlines", "cr\rhere", "Städtle 1, 9490 Vaduz", "-", "'"]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 2)))


def _random_answer(rng: random.Random) -> Answer:
    kind = rng.random()
    if kind < 0.1:
        return Answer(ResultStatus.FAILED, reason=_random_text(rng))
    if kind < 0.15:
        return Answer(ResultStatus.NO_RESULT, reason=_random_text(rng))
    results = []
    for _ in range(1 if kind < 0.8 else rng.randint(1, 3)):
        lat = rng.choice([rng.uniform(-90, 90), -0.0000001, float("nan"), float("-inf")])
        results.append(
            GeocodeResult(
                point=Point(lat, rng.uniform(-180, 180)),
                address=Address(
                    house_number=_random_text(rng) or None,
                    street=_random_text(rng) or None,
                    locality=rng.choice(["Vaduz", "Schaan", None]),
                    country_code=rng.choice(["LI", None]),
                    formatted=_random_text(rng) or None,
                ),
                entity_type=rng.choice(list(EntityType)),
                confidence=rng.choice(list(Confidence)),
                match_codes=tuple(rng.sample(list(MatchCode), rng.randint(0, 2))),
                bbox=BoundingBox(*(rng.uniform(-90, 90) for _ in range(4))),
                calculation_method=rng.choice(list(CalculationMethod)),
            )
        )
    return Answer(ResultStatus.OK, tuple(results))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("excel_safe", [True, False])
def test_the_quick_lines_are_what_csv_writer_writes(delimiter: str, excel_safe: bool) -> None:
    rng = random.Random(f"{delimiter}{excel_safe}")
    for width in (1, 2, 3):
        for max_results in (1, 2):
            builder = LineBuilder(width, delimiter, max_results, excel_safe=excel_safe)
            for _ in range(300):
                values = [_random_text(rng) for _ in range(rng.randint(0, width + 1))]
                answer = _random_answer(rng)
                rows, status = RowBuilder(width, max_results).rows(values, answer)
                out = io.StringIO()
                writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
                writer.writerows([neutralise_all(r) for r in rows] if excel_safe else rows)
                assert builder.line(values, answer) == (out.getvalue(), status)


def test_reverse_rows_read_as_the_plain_codec_reads_them(tmp_path: Path) -> None:
    reverse = CsvSpec(
        kind="reverse",
        index=IndexLocation(tmp_path),
        header=("lat", "lon", "lat"),
        columns=ReverseColumns(lat="lat", lon="lon"),
        delimiter=";",
        out_delimiter=";",
    )
    data = b"1;2;47.1\n1;2;47,5\n;2;\n1;200;3\n1;nan;4\n"
    text = geocode_slice(reverse, data, 2).data.decode()
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [row[-1] for row in rows] == [
        "47.1,2.0",
        "47.5,2.0",
        "missing latitude",
        "longitude 200 is out of range (-180 to 180)",
        "longitude 'nan' is not a finite number",
    ]
