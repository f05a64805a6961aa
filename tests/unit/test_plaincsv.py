"""Plain CSV codec: header detection, row conversion, bad coordinates, answers as columns."""

from __future__ import annotations

import io

import pytest

from geobatch.errors import InputError
from geobatch.formats import plaincsv
from geobatch.formats.plaincsv import (
    RESULT_COLUMNS,
    ForwardColumns,
    OutputLayout,
    ReverseColumns,
    answer_to_columns,
    answer_to_rows,
    detect_forward_columns,
    detect_reverse_columns,
    row_to_request,
    row_to_reverse,
)
from geobatch.model import (
    Address,
    Answer,
    BoundingBox,
    CalculationMethod,
    Confidence,
    EntityType,
    GeocodeRequest,
    GeocodeResult,
    MatchCode,
    Point,
    ResultStatus,
    ReverseRequest,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["query"], ForwardColumns(query="query")),
        (["Address"], ForwardColumns(query="Address")),
        (["id", "Q"], ForwardColumns(query="Q")),
        (["Full Address"], ForwardColumns(query="Full Address")),
        (["formatted-address"], ForwardColumns(query="formatted-address")),
        (["SEARCH"], ForwardColumns(query="SEARCH")),
        (["\ufeffquery"], ForwardColumns(query="\ufeffquery")),
        (["query", "address"], ForwardColumns(query="query")),
        (["address", "query"], ForwardColumns(query="query")),
        (
            ["Street Address", "City", "State", "ZIP"],
            ForwardColumns(
                address_line="Street Address",
                locality="City",
                admin_district="State",
                postal_code="ZIP",
            ),
        ),
        (
            ["AddressLine", "Locality", "AdminDistrict", "AdminDistrict2", "PostalCode"],
            ForwardColumns(
                address_line="AddressLine",
                locality="Locality",
                admin_district="AdminDistrict",
                admin_district2="AdminDistrict2",
                postal_code="PostalCode",
            ),
        ),
        (
            ["address1", "town", "province"],
            ForwardColumns(address_line="address1", locality="town", admin_district="province"),
        ),
        (
            ["street", "county", "zipcode"],
            ForwardColumns(address_line="street", admin_district2="county", postal_code="zipcode"),
        ),
        (
            ["post_code", "Country/Region"],
            ForwardColumns(postal_code="post_code", country="Country/Region"),
        ),
        (["Country_Region"], ForwardColumns(country="Country_Region")),
        (
            ["countryregion", "postal town"],
            ForwardColumns(country="countryregion", postal_town="postal town"),
        ),
        (["region"], ForwardColumns(admin_district="region")),
    ],
)
def test_detect_forward_columns(header: list[str], expected: ForwardColumns) -> None:
    assert detect_forward_columns(header) == expected


def test_detect_forward_columns_full_mapping() -> None:
    header = ["Address 1", "town", "province", "county", "postcode", "country", "Postal_Town"]
    assert detect_forward_columns(header).mapping() == {
        "address_line": "Address 1",
        "locality": "town",
        "admin_district": "province",
        "admin_district2": "county",
        "postal_code": "postcode",
        "country": "country",
        "postal_town": "Postal_Town",
    }


def test_detect_forward_columns_explains_what_is_accepted() -> None:
    with pytest.raises(InputError) as caught:
        detect_forward_columns(["id", "name", "lat"])
    message = str(caught.value)
    assert "'id', 'name', 'lat'" in message
    for accepted in ("query", "address", "city", "postcode", "country"):
        assert accepted in message


@pytest.mark.parametrize(
    ("header", "lat", "lon"),
    [
        (["lat", "lon"], "lat", "lon"),
        (["Latitude", "Longitude"], "Latitude", "Longitude"),
        (["id", "LNG", "LAT"], "LAT", "LNG"),
        (["y", "x"], "y", "x"),
        (["long", "lat"], "lat", "long"),
        (["x", "y", "lat", "lon"], "lat", "lon"),  # names beat x/y
    ],
)
def test_detect_reverse_columns(header: list[str], lat: str, lon: str) -> None:
    assert detect_reverse_columns(header) == ReverseColumns(lat=lat, lon=lon)


@pytest.mark.parametrize(
    ("header", "missing"),
    [(["lat", "name"], "longitude"), (["lon"], "latitude"), ([], "latitude")],
)
def test_detect_reverse_columns_missing(header: list[str], missing: str) -> None:
    with pytest.raises(InputError, match=f"no {missing} column"):
        detect_reverse_columns(header)


def test_row_to_request_strips_and_drops_blanks() -> None:
    cols = detect_forward_columns(["Street", "City", "Zip", "other"])
    row = {"Street": "  1 Main St ", "City": "", "Zip": "98052", "other": "x"}
    request = row_to_request(row, cols, max_results=3)
    assert request == GeocodeRequest(address_line="1 Main St", postal_code="98052", max_results=3)


def test_row_to_request_missing_cell_is_empty() -> None:
    cols = detect_forward_columns(["query"])
    assert row_to_request({}, cols).is_empty()


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("47.6", "-122.3", ReverseRequest(47.6, -122.3)),
        (" 90 ", "180", ReverseRequest(90.0, 180.0)),
        ("-90", "-180", ReverseRequest(-90.0, -180.0)),
        ("47,6", "8,5", ReverseRequest(47.6, 8.5)),
        ("abc", "1", "latitude 'abc' is not a number"),
        ("1", "east", "longitude 'east' is not a number"),
        ("NaN", "1", "latitude 'NaN' is not a finite number"),
        ("1", "inf", "longitude 'inf' is not a finite number"),
        ("90.5", "0", "latitude 90.5 is out of range (-90 to 90)"),
        ("0", "-180.01", "longitude -180.01 is out of range (-180 to 180)"),
        ("", "1", "missing latitude"),
        ("1", "  ", "missing longitude"),
        ("1,000.5", "1", "latitude '1,000.5' is not a number"),
    ],
)
def test_row_to_reverse(lat: str, lon: str, expected: ReverseRequest | str) -> None:
    cols = ReverseColumns(lat="lat", lon="lon")
    assert row_to_reverse({"lat": lat, "lon": lon}, cols) == expected


def _result(**address: str) -> GeocodeResult:
    return GeocodeResult(
        point=Point(47.6401, -122.1296),
        address=Address(**address),
        entity_type=EntityType.ADDRESS,
        confidence=Confidence.HIGH,
        match_codes=(MatchCode.GOOD, MatchCode.AMBIGUOUS),
        bbox=BoundingBox(47.6, -122.2, 47.7, -122.1),
        calculation_method=CalculationMethod.INTERPOLATION,
    )


def test_answer_to_columns_ok() -> None:
    result = _result(house_number="1", street="Microsoft Way", country_code="US", formatted="x")
    columns = answer_to_columns(Answer(ResultStatus.OK, (result, _result())))
    assert list(columns) == RESULT_COLUMNS
    assert columns["lat"] == "47.640100"
    assert columns["lon"] == "-122.129600"
    assert columns["house_number"] == "1"
    assert columns["street"] == "Microsoft Way"
    assert columns["formatted_address"] == "x"
    assert columns["unit"] == ""
    assert columns["entity_type"] == "Address"
    assert columns["confidence"] == "High"
    assert columns["match_codes"] == "Good;Ambiguous"
    assert columns["calculation_method"] == "Interpolation"
    assert (columns["bbox_south"], columns["bbox_east"]) == ("47.600000", "-122.100000")
    assert (columns["status"], columns["reason"]) == ("OK", "")


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        (Answer(ResultStatus.NO_RESULT, reason="nothing near"), "NoResult", "nothing near"),
        (Answer(ResultStatus.NO_RESULT), "NoResult", "no match found"),
        (Answer(ResultStatus.OK), "NoResult", "no match found"),
        (Answer(ResultStatus.FAILED, reason="boom"), "Failed", "boom"),
        (Answer(ResultStatus.FAILED), "Failed", "geocoding failed"),
    ],
)
def test_answer_to_columns_without_result(answer: Answer, status: str, reason: str) -> None:
    columns = answer_to_columns(answer)
    assert (columns["status"], columns["reason"]) == (status, reason)
    assert all(columns[name] == "" for name in RESULT_COLUMNS if name not in {"status", "reason"})


def test_answer_to_rows_one_row_per_candidate() -> None:
    answer = Answer(ResultStatus.OK, (_result(street="a"), _result(street="b"), _result()))
    assert [row["street"] for row in answer_to_rows(answer, 2)] == ["a", "b"]
    assert [row["street"] for row in answer_to_rows(answer, 1)] == ["a"]
    assert len(answer_to_rows(Answer(ResultStatus.NO_RESULT), 3)) == 1


def test_output_layout_prefixes_clashing_names() -> None:
    layout = OutputLayout.for_header(["id", "LAT", "lon", "gb_lon", "Status"])
    assert layout.header[:5] == ["id", "LAT", "lon", "gb_lon", "Status"]
    assert layout.header[5:8] == ["gb_lat", "gb_gb_lon", "formatted_address"]
    assert "gb_status" in layout.header
    assert len(layout.header) == 5 + len(RESULT_COLUMNS)
    assert len(set(name.casefold() for name in layout.header)) == len(layout.header)


def test_output_layout_row_pads_and_cuts_input() -> None:
    layout = OutputLayout.for_header(["a", "b"])
    result = answer_to_columns(Answer(ResultStatus.FAILED, reason="r"))
    assert layout.row(["1"], result)[:2] == ["1", ""]
    assert layout.row(["1", "2", "3"], result)[:3] == ["1", "2", ""]
    assert layout.row(["1"], result)[-2:] == ["Failed", "r"]


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ("a,b\n1,2\n", ","),
        ("a;b;c\n1,5;2;3\n", ";"),
        ("a\tb\n", "\t"),
        ("a|b\n", "|"),
        ("\ufeffa;b\n", ";"),
        ("query\n1 Main St, Springfield\n", plaincsv.SINGLE_COLUMN_DELIMITER),
        ("", plaincsv.SINGLE_COLUMN_DELIMITER),
    ],
)
def test_sniff_delimiter(sample: str, delimiter: str) -> None:
    assert plaincsv.sniff_delimiter(sample) == delimiter


def test_output_delimiter() -> None:
    assert plaincsv.output_delimiter(";") == ";"
    assert plaincsv.output_delimiter(plaincsv.SINGLE_COLUMN_DELIMITER) == ","


def test_read_rows_single_column_keeps_commas_and_quotes() -> None:
    stream = io.StringIO('query\n1 Main St, Springfield\n"a ""b"""\n\n')
    header, rows = plaincsv.read_rows(stream, plaincsv.SINGLE_COLUMN_DELIMITER)
    assert header == ["query"]
    assert [row.cells["query"] for row in rows] == ["1 Main St, Springfield", 'a "b"']


def test_read_rows_short_long_and_blank_lines() -> None:
    stream = io.StringIO(" id ,q\r\n1\r\n\r\n2,x,extra\r\n")
    header, rows = plaincsv.read_rows(stream, ",")
    assert header == ["id", "q"]
    got = list(rows)
    assert [row.cells for row in got] == [{"id": "1"}, {"id": "2", "q": "x"}]
    assert [row.values for row in got] == [["1"], ["2", "x", "extra"]]


def test_read_rows_is_lazy() -> None:
    stream = io.StringIO("q\n" + "x\n" * 10_000)
    _, rows = plaincsv.read_rows(stream, ",")
    next(rows)
    assert stream.tell() < 10_000 * 2


@pytest.mark.parametrize("text", ["", "\n", ",,\n1,2\n"])
def test_read_rows_without_header(text: str) -> None:
    with pytest.raises(InputError, match="no header row"):
        plaincsv.read_rows(io.StringIO(text), ",")
