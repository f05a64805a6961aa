"""Geocode.Farm wire format: request validation, and every rendered body against the spec's
samples — same keys in the same order, same nesting, same value types and formats."""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from geobatch.errors import InputError
from geobatch.formats.batch import BatchRow
from geobatch.formats.farm import (
    BLANK_ADDRESS_FAULT,
    NO_RESULTS,
    RESULT_RETENTION,
    BatchState,
    FarmBatchInfo,
    FarmEndpoint,
    FarmError,
    FarmSubmission,
    FarmUser,
    accuracy,
    encode_json,
    format_coordinate,
    format_timestamp,
    parse_batch_forward,
    parse_batch_reverse,
    parse_single_forward,
    parse_single_reverse,
    render_error,
    render_farm_error,
    render_result_response,
    render_single_forward,
    render_single_no_results,
    render_single_reverse,
    render_submit_response,
    result_entry,
    result_url,
    single_http_status,
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

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT.parent / "shared" / "spec" / "geocode-farm-samples"
REQUIRE_SHARED = os.environ.get("GEOBATCH_REQUIRE_SHARED") == "1"


def sample(name: str) -> Any:
    """A spec sample, parsed; skips (or fails with GEOBATCH_REQUIRE_SHARED=1) when absent."""
    path = SAMPLES / name
    if not path.exists():
        reason = f"needs {path} (the shared spec samples beside the checkout); it is absent"
        if REQUIRE_SHARED:
            pytest.fail(reason + " and GEOBATCH_REQUIRE_SHARED=1 makes it mandatory")
        pytest.skip(reason)
    return json.loads(path.read_text(encoding="utf-8"))


# --- helpers -------------------------------------------------------------------------------------

COORDINATE = re.compile(r"^-?\d+\.\d+$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
URL = re.compile(r"^https?://")
INTEGER = re.compile(r"^\d+$")


def kind(value: Any) -> str:
    """A JSON value's type, and for strings the format they follow."""
    if isinstance(value, str):
        for name, pattern in (
            ("coordinate", COORDINATE),
            ("timestamp", TIMESTAMP),
            ("url", URL),
            ("integer-string", INTEGER),
        ):
            if pattern.match(value):
                return f"str:{name}"
        return "str"
    return type(value).__name__


def shape(value: Any) -> Any:
    """The structure of a JSON value with every leaf replaced by its kind; dicts keep key order
    (as a list of pairs) so the comparison also checks the order of keys."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return kind(value)


def ordered(value: Any) -> Any:
    """A JSON value with dict key order made significant for ``==``."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def result(
    *,
    lat: float = 45.2039740622073,
    lon: float = -93.4003153027115,
    address: Address | None = None,
    entity_type: EntityType = EntityType.ADDRESS,
    confidence: Confidence = Confidence.HIGH,
    method: CalculationMethod = CalculationMethod.ROOFTOP,
    name: str = "",
) -> GeocodeResult:
    return GeocodeResult(
        point=Point(lat, lon),
        address=address or Address(),
        entity_type=entity_type,
        confidence=confidence,
        match_codes=(MatchCode.GOOD,),
        bbox=BoundingBox.around(lat, lon, 50),
        calculation_method=method,
        name=name,
    )


def found(res: GeocodeResult) -> Answer:
    return Answer(ResultStatus.OK, (res,))


NOTHING = Answer(ResultStatus.NO_RESULT, reason="no match found")
FAILED = Answer(ResultStatus.FAILED, reason="index unavailable")

FAKE_USER = FarmUser(
    key="FAKE-API-KEY",
    name="Fake Name",
    email="fake.email@example.com",
    usage_limit=250,
    used_today=1,
)
DOC_USER = FarmUser(
    key="YOUR-API-KEY-HERE",
    name="Your Name",
    email="yourname@yourdomain.com",
    usage_limit=None,
    used_today=2,
)
CREATED = datetime(2025, 4, 4, 14, 55, 10)


def batch_info(state: BatchState, entities: int = 2, **changes: Any) -> FarmBatchInfo:
    values: dict[str, Any] = {
        "batch_id": "BATCH_ID_WILL_BE_HERE",
        "endpoint": FarmEndpoint.BATCH_FORWARD,
        "state": state,
        "entities": entities,
        "created": CREATED,
        "expires": CREATED + RESULT_RETENTION,
    }
    values.update(changes)
    return FarmBatchInfo(**values)


def body(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


# --- parsing: batch forward ----------------------------------------------------------------------

LONG = "x" * 256


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (b"", 400, "body is empty"),
        (b"   \n", 400, "body is empty"),
        (b"\xff\xfe{", 400, "not UTF-8"),
        (b'{"key": "k", "addresses": [', 400, "not valid JSON"),
        (b"{'key': 'k'}", 400, "not valid JSON"),
        (b'{"key": "k", "addresses": [NaN]}', 400, "NaN is not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object, not an array"),
        (b'"SHERIDAN, WY"', 400, "must be a JSON object, not a string"),
        (body({"addresses": ["a"]}), 401, "API key is missing"),
        (body({"key": None, "addresses": ["a"]}), 401, "API key is missing"),
        (body({"key": 42, "addresses": ["a"]}), 401, "must be a string, not a number"),
        (body({"key": "  ", "addresses": ["a"]}), 401, "is empty"),
        (body({"key": "k"}), 400, '"addresses" is missing'),
        (body({"key": "k", "addresses": "SHERIDAN, WY"}), 400, "not a string"),
        (body({"key": "k", "addresses": {"0": "a"}}), 400, "not an object"),
        (body({"key": "k", "addresses": []}), 400, '"addresses" is empty'),
        (body({"key": "k", "addresses": ["a"] * 1001}), 400, "1001 entries; at most 1000"),
        (body({"key": "k", "addresses": ["a", 7]}), 400, "addresses[1] must be a string, not a n"),
        (body({"key": "k", "addresses": [None]}), 400, "addresses[0] must be a string, not null"),
        (body({"key": "k", "addresses": [["a"]]}), 400, "not an array"),
        (body({"key": "k", "addresses": [True]}), 400, "not a boolean"),
        (body({"key": "k", "addresses": ["ok", LONG]}), 400, "addresses[1] is 256 characters"),
    ],
)
def test_batch_forward_refusals(raw: bytes, status: int, words: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_forward(raw)
    error = caught.value
    assert error.status_code == status
    assert words in error.message
    assert isinstance(error, InputError)
    assert error.status == "FAILED"
    assert (error.key_status, error.request_status) == (
        ("INVALID", "VALID") if status == 401 else ("VALID", "INVALID")
    )


def test_refusal_after_the_key_carries_the_key_for_the_user_section() -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_forward(body({"key": "k-123", "addresses": []}))
    assert caught.value.key == "k-123"


def test_limits_are_parameters() -> None:
    raw = body({"key": "k", "addresses": ["abcd", "ef"]})
    with pytest.raises(FarmError, match="at most 1 are allowed"):
        parse_batch_forward(raw, max_addresses=1)
    with pytest.raises(FarmError, match="at most 3 are allowed"):
        parse_batch_forward(raw, max_length=3)


def test_the_spec_request_sample_is_accepted_in_order() -> None:
    request = sample("batch-forward-request.json")
    submission = parse_batch_forward(body(request))
    assert submission.key == "YOUR-API-KEY-HERE"
    assert submission.endpoint is FarmEndpoint.BATCH_FORWARD
    assert submission.entities == 2
    rows = list(submission.rows())
    assert [(row.seq, row.id) for row in rows] == [(0, "0"), (1, "1")]
    assert [row.request for row in rows] == [
        GeocodeRequest(query="SHERIDAN, WY, USA"),
        GeocodeRequest(query="123 MAIN ST, SYDNEY, AUSTRALIA"),
    ]
    assert [row.echo["request"] for row in rows] == request["addresses"]


def test_submission_offers_a_header_and_rows_like_a_decoded_batch() -> None:
    submission = parse_batch_forward(body({"key": "k", "addresses": ["a"]}))
    assert submission.header.format == "json"
    assert submission.header.details["api"] == "batch-forward"


def test_utf8_addresses_count_characters_not_bytes() -> None:
    polish = "Łódź, ul. Piotrkowska 104, Polska"
    wide = "東" * 255  # 765 bytes in UTF-8, 255 characters: allowed
    raw = json.dumps({"key": "k", "addresses": [polish, wide]}, ensure_ascii=False).encode()
    rows = list(parse_batch_forward(raw).rows())
    assert rows[0].request == GeocodeRequest(query=polish)
    assert rows[1].echo["request"] == wide
    # A byte-order mark and \u escapes are fine too.
    escaped = b"\xef\xbb\xbf" + json.dumps({"key": "k", "addresses": [polish]}).encode()
    assert next(parse_batch_forward(escaped).rows()).echo["request"] == polish


def test_blank_address_is_a_fault_row_not_a_refusal() -> None:
    rows = list(parse_batch_forward(body({"key": "k", "addresses": ["a", "", "   "]})).rows())
    assert rows[0].fault is None
    for row in rows[1:]:
        assert row.request is None
        assert row.fault == BLANK_ADDRESS_FAULT
    assert [row.echo["request"] for row in rows] == ["a", "", "   "]


def test_duplicates_stay_separate_rows() -> None:
    rows = list(parse_batch_forward(body({"key": "k", "addresses": ["x", "x"]})).rows())
    assert [row.seq for row in rows] == [0, 1]


# --- parsing: batch reverse (our extension) ------------------------------------------------------


def test_batch_reverse_accepts_numbers_and_numeric_strings() -> None:
    raw = body(
        {
            "key": "k",
            "coordinates": [
                {"lat": 45.2040305, "lon": -93.3995728},
                {"lat": " -33.8", "lon": "151"},
            ],
        }
    )
    submission = parse_batch_reverse(raw)
    assert submission.endpoint is FarmEndpoint.BATCH_REVERSE
    rows = list(submission.rows())
    assert rows[0].request == ReverseRequest(lat=45.2040305, lon=-93.3995728)
    assert rows[1].request == ReverseRequest(lat=-33.8, lon=151.0)
    assert dict(rows[0].echo) == {"lat": "45.2040305", "lon": "-93.3995728"}
    assert dict(rows[1].echo) == {"lat": "-33.8", "lon": "151"}


@pytest.mark.parametrize(
    ("coordinates", "status", "words"),
    [
        (None, 400, '"coordinates" is missing'),
        ([], 400, '"coordinates" is empty'),
        ([{"lat": 1, "lon": 1}] * 1001, 400, "at most 1000"),
        (["45.2,-93.4"], 400, "coordinates[0] must be an object"),
        ([{"lat": 1}], 400, 'coordinates[0] has no "lon"'),
        ([{"lon": 1}], 400, 'coordinates[0] has no "lat"'),
        ([{"lat": 1, "lon": 1}, {"lat": 91, "lon": 0}], 400, "coordinates[1] latitude 91 is out"),
        ([{"lat": 0, "lon": -180.5}], 400, "longitude -180.5 is out of range"),
        ([{"lat": "north", "lon": 0}], 400, "latitude 'north' is not a number"),
        ([{"lat": "nan", "lon": 0}], 400, "'nan' is not a finite number"),
        ([{"lat": 0, "lon": "-inf"}], 400, "'-inf' is not a finite number"),
        ([{"lat": True, "lon": 0}], 400, "must be a number or a numeric string, not a boolean"),
        ([{"lat": None, "lon": 0}], 400, "not null"),
        ([{"lat": [1], "lon": 0}], 400, "not an array"),
    ],
)
def test_batch_reverse_refusals(coordinates: Any, status: int, words: str) -> None:
    document: dict[str, Any] = {"key": "k"}
    if coordinates is not None:
        document["coordinates"] = coordinates
    with pytest.raises(FarmError) as caught:
        parse_batch_reverse(body(document))
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_batch_reverse_rejects_nan_literals_overflow_and_a_missing_key() -> None:
    with pytest.raises(FarmError, match="NaN is not valid JSON"):
        parse_batch_reverse(b'{"key": "k", "coordinates": [{"lat": NaN, "lon": 0}]}')
    # Valid JSON, but a float that overflows to infinity.
    with pytest.raises(FarmError, match="latitude inf is not a finite number"):
        parse_batch_reverse(b'{"key": "k", "coordinates": [{"lat": 1e400, "lon": 0}]}')
    with pytest.raises(FarmError) as caught:
        parse_batch_reverse(body({"coordinates": [{"lat": 0, "lon": 0}]}))
    assert caught.value.status_code == 401


# --- parsing: single calls -----------------------------------------------------------------------


def test_single_forward_params() -> None:
    assert parse_single_forward({"key": "k", "addr": "Łask, Poland"}) == (
        "k",
        GeocodeRequest(query="Łask, Poland"),
    )


def test_single_reverse_params() -> None:
    assert parse_single_reverse({"key": "k", "lat": "45.2", "lon": " -93.4 "}) == (
        "k",
        ReverseRequest(lat=45.2, lon=-93.4),
    )


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"addr": "x"}, 401, "API key is missing"),
        ({"key": "", "addr": "x"}, 401, "API key is missing"),
        ({"key": "k"}, 400, "address is missing"),
        ({"key": "k", "addr": "  "}, 400, "address is missing"),
        ({"key": "k", "addr": LONG}, 400, "256 characters"),
    ],
)
def test_single_forward_refusals(params: dict[str, str], status: int, words: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_single_forward(params)
    assert caught.value.status_code == status
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"lat": "1", "lon": "2"}, 401, "API key is missing"),
        ({"key": "k", "lon": "2"}, 400, "lat parameter is missing"),
        ({"key": "k", "lat": "1", "lon": ""}, 400, "lon parameter is missing"),
        ({"key": "k", "lat": "x", "lon": "2"}, 400, "latitude 'x' is not a number"),
        ({"key": "k", "lat": "1", "lon": "200"}, 400, "longitude 200 is out of range"),
        ({"key": "k", "lat": "NaN", "lon": "2"}, 400, "not a finite number"),
    ],
)
def test_single_reverse_refusals(params: dict[str, str], status: int, words: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_single_reverse(params)
    assert caught.value.status_code == status
    assert words in caught.value.message


# --- rendering: batch submit ---------------------------------------------------------------------


def test_submit_response_matches_the_spec_sample_exactly() -> None:
    expected = sample("batch-forward-submit-response-200.json")
    rendered = render_submit_response(
        batch_info(BatchState.PENDING), DOC_USER, base_url="https://api.geocode.farm/"
    )
    assert ordered(rendered) == ordered(expected)


def test_submit_response_shape_with_our_values() -> None:
    expected = sample("batch-forward-submit-response-200.json")
    user = FarmUser(key="k 1/2", name="Ann", email="a@example.org", usage_limit=5000, used_today=9)
    rendered = render_submit_response(
        batch_info(BatchState.PENDING, entities=3, batch_id="0f" * 16),
        user,
        base_url="http://127.0.0.1:8080/farm",
    )
    ours, theirs = shape(rendered), shape(expected)
    # The one allowed difference: a limited account's remaining credit is a number.
    assert dict(dict(theirs)["USER"])["remaining_limit"] == "str"
    assert dict(dict(ours)["USER"])["remaining_limit"] == "int"
    assert dict(dict(ours)["USER"])["usage_limit"] == "str:integer-string"
    assert [key for key, _ in ours] == [key for key, _ in theirs]
    for section in ("LEGAL", "STATUS", "REQUEST"):
        assert dict(ours)[section] == dict(theirs)[section], section
    assert rendered["STATUS"]["credit_used"] == 3
    assert rendered["USER"]["remaining_limit"] == 4991
    assert rendered["REQUEST"]["result_url"] == (
        "http://127.0.0.1:8080/farm/batch-forward/result/?id=" + "0f" * 16 + "&key=k+1%2F2"
    )


def test_reverse_extension_points_at_its_own_result_path() -> None:
    url = result_url("http://h:1/", FarmEndpoint.BATCH_REVERSE, "abc", "key")
    assert url == "http://h:1/batch-reverse/result/?id=abc&key=key"


# --- rendering: batch results --------------------------------------------------------------------

DOC_RESULT = result(
    lat=12.3456789101112,
    lon=-123.3456789101112,
    address=Address(
        house_number="123",
        street="Main St",
        neighborhood="Some Neighborhood",
        locality="City",
        admin_district2="County Name",
        admin_district="State or Province",
        country="Country Name",
        postal_code="90210",
        formatted="123 Main St, City, Country",
    ),
)


def done_rows() -> list[tuple[BatchRow, Answer]]:
    return [
        (
            BatchRow(
                0, "0", GeocodeRequest(query="x"), echo={"request": "123 MAIN ST, CITY, COUNTRY"}
            ),
            found(DOC_RESULT),
        ),
        (BatchRow(1, "1", GeocodeRequest(query="x"), echo={"request": "UNKNOWN ADDRESS"}), NOTHING),
    ]


def test_done_response_matches_the_spec_sample() -> None:
    expected = sample("batch-forward-result-response-done.json")
    # We hold no third-level administrative division, so admin_3 is never sent (fields without a
    # value are omitted, as the spec allows).
    del expected["RESULTS"][0]["result"]["admin_3"]
    rendered = render_result_response(batch_info(BatchState.DONE), done_rows())
    assert ordered(rendered) == ordered(expected)


def test_done_response_shape_with_our_values() -> None:
    expected = sample("batch-forward-result-response-done.json")
    rendered = render_result_response(
        batch_info(BatchState.DONE, entities=2, created=datetime(2030, 1, 2, 3, 4, 5)),
        done_rows(),
    )
    ours, theirs = shape(rendered), shape(expected)
    assert [key for key, _ in ours] == [key for key, _ in theirs]
    for section in ("LEGAL", "STATUS", "REQUEST"):
        assert dict(ours)[section] == dict(theirs)[section], section
    our_fields = dict(dict(dict(ours)["RESULTS"][0])["result"])
    their_fields = dict(dict(dict(theirs)["RESULTS"][0])["result"])
    assert our_fields == {k: v for k, v in their_fields.items() if k != "admin_3"}
    assert dict(ours)["RESULTS"][1] == dict(theirs)["RESULTS"][1]


def test_results_keep_submission_order_and_echo_exact_input() -> None:
    inputs = ["  b  ", "a", "", "Zürich", "a"]
    submission = parse_batch_forward(body({"key": "k", "addresses": inputs}))
    answers = [found(result(address=Address(formatted=f"#{i}"))) for i in range(len(inputs))]
    pairs = list(zip(submission.rows(), answers, strict=True))
    rendered = render_result_response(batch_info(BatchState.DONE, 5), reversed(pairs))
    entries = rendered["RESULTS"]
    assert [entry["request"] for entry in entries] == inputs
    # The blank address is NO_RESULTS even if an answer was stored for it.
    assert [
        e["result"] if e["result"] == NO_RESULTS else e["result"]["full_address"] for e in entries
    ] == [
        "#0",
        "#1",
        NO_RESULTS,
        "#3",
        "#4",
    ]


@pytest.mark.parametrize("answer", [NOTHING, FAILED, Answer(ResultStatus.OK)])
def test_no_result_answers_render_no_results(answer: Answer) -> None:
    row = BatchRow(0, "0", GeocodeRequest(query="q"), echo={"request": "q"})
    rendered = render_result_response(batch_info(BatchState.DONE, 1), [(row, answer)])
    assert rendered["RESULTS"] == [{"request": "q", "result": "NO_RESULTS"}]


@pytest.mark.parametrize("state", [BatchState.PENDING, BatchState.PROCESSING, BatchState.EXPIRED])
def test_states_without_results(state: BatchState) -> None:
    rendered = render_result_response(batch_info(state), done_rows())
    assert list(rendered) == ["LEGAL", "STATUS", "REQUEST"]
    assert rendered["STATUS"] == {"key": "VALID", "request": "VALID", "status": "SUCCESS"}
    assert rendered["REQUEST"] == {
        "status": str(state),
        "entities": 2,
        "created": "2025-04-04 14:55:10",
        "expires": "2025-04-07 14:55:10",
    }


def test_reverse_extension_results_echo_coordinates() -> None:
    submission = parse_batch_reverse(body({"key": "k", "coordinates": [{"lat": "1.5", "lon": 2}]}))
    row = next(submission.rows())
    info = batch_info(BatchState.DONE, 1, endpoint=FarmEndpoint.BATCH_REVERSE)
    rendered = render_result_response(info, [(row, found(DOC_RESULT))])
    entry = rendered["RESULTS"][0]
    assert entry["request"] == {"lat": "1.5", "lon": "2"}
    assert entry["result"]["lat"] == "12.3456789101112"


def test_accuracy_in_batch_results_is_opt_in() -> None:
    plain = render_result_response(batch_info(BatchState.DONE), done_rows())
    assert "accuracy" not in plain["RESULTS"][0]["result"]
    extended = render_result_response(
        batch_info(BatchState.DONE), done_rows(), include_accuracy=True
    )
    assert extended["RESULTS"][0]["result"]["accuracy"] == "EXACT_MATCH"


def test_missing_parts_are_omitted_not_null() -> None:
    sparse = result(address=Address(locality="Łask", country="Poland", street=" "), name="Łask")
    row = BatchRow(0, "0", GeocodeRequest(query="Łask"), echo={"request": "Łask"})
    rendered = render_result_response(batch_info(BatchState.DONE, 1), [(row, found(sparse))])
    assert list(rendered["RESULTS"][0]["result"]) == [
        "lat",
        "lon",
        "full_address",
        "locality",
        "country",
    ]
    assert rendered["RESULTS"][0]["result"]["full_address"] == "Łask"


# --- rendering: single forward and reverse --------------------------------------------------------

ANOKA = result(
    address=Address(
        house_number="530",
        street="W Main St",
        locality="Anoka",
        admin_district2="Anoka County",
        admin_district="MN",
        country="United States",
        postal_code="55303",
        formatted="530 W Main St, Anoka, MN 55303",
    )
)
LASK = result(
    lat=51.5929948452996,
    lon=19.1334783134829,
    address=Address(
        locality="Łask",
        admin_district2="Łask County",
        admin_district="ŁD",
        country="Poland",
        formatted="Łask, Poland",
    ),
    entity_type=EntityType.POPULATED_PLACE,
)
ANOKA_REVERSE = result(
    lat=45.2035740615438,
    lon=-93.3995153025847,
    address=Address(
        house_number="500",
        street="W Main St",
        locality="Anoka",
        admin_district2="Anoka Co.",
        admin_district="MN",
        country="United States",
        postal_code="55303",
        formatted="500 W Main St, Anoka, MN 55303, United States",
    ),
)


@pytest.mark.parametrize(
    ("fixture", "addr", "res"),
    [
        ("forward-v4-success-200.perl-fixture.json", "530 W Main St Anoka MN 55303 US", ANOKA),
        ("forward-v4-utf8-success-200.perl-fixture.json", "Łask, Poland", LASK),
    ],
)
def test_single_forward_matches_the_fixtures(fixture: str, addr: str, res: GeocodeResult) -> None:
    answer = found(res)
    rendered = render_single_forward(answer, addr=addr, user=FAKE_USER)
    assert single_http_status(answer) == 200
    assert ordered(rendered) == ordered(sample(fixture))


def test_single_reverse_matches_the_fixture() -> None:
    answer = found(ANOKA_REVERSE)
    rendered = render_single_reverse(answer, lat="45.2040305", lon="-93.3995728", user=FAKE_USER)
    assert ordered(rendered) == ordered(sample("reverse-v4-success-200.perl-fixture.json"))
    # Float coordinates are echoed in the same string form.
    from_floats = render_single_reverse(answer, lat=45.2040305, lon=-93.3995728, user=FAKE_USER)
    assert from_floats == rendered


def test_single_shapes_with_our_values() -> None:
    user = FarmUser(key="mine", name="Me", email="me@example.org", usage_limit=None, used_today=7)
    rendered = render_single_forward(found(ANOKA), addr="anoka", user=user)
    expected = sample("forward-v4-success-200.perl-fixture.json")
    ours, theirs = dict(shape(rendered)), dict(shape(expected))
    assert ours["STATUS"] == theirs["STATUS"]
    assert ours["RESULTS"] == theirs["RESULTS"]
    assert dict(ours["USER"])["usage_limit"] == "str"  # "UNLIMITED"
    assert dict(ours["USER"])["used_today"] == "str:integer-string"


@pytest.mark.parametrize(
    ("endpoint", "fixture"),
    [
        (FarmEndpoint.FORWARD, "forward-v4-noresults-404.perl-fixture.json"),
        (FarmEndpoint.REVERSE, "reverse-v4-noresults-404.perl-fixture.json"),
    ],
)
def test_single_no_results_match_the_fixtures(endpoint: FarmEndpoint, fixture: str) -> None:
    expected = ordered(sample(fixture))
    assert ordered(render_single_no_results(FAKE_USER, endpoint=endpoint)) == expected
    assert single_http_status(NOTHING) == 404
    if endpoint is FarmEndpoint.FORWARD:
        rendered = render_single_forward(NOTHING, addr="nowhere", user=FAKE_USER)
    else:
        rendered = render_single_reverse(NOTHING, lat="0", lon="0", user=FAKE_USER)
    assert ordered(rendered) == expected


@pytest.mark.parametrize("endpoint", [FarmEndpoint.FORWARD, FarmEndpoint.REVERSE])
def test_a_failed_lookup_answers_as_the_batch_does(endpoint: FarmEndpoint) -> None:
    # The batch's result row for an answer without a result is "NO_RESULTS" whatever its
    # status; the single call's is the 404 no-results body (never a 500).
    row = BatchRow(0, "0", GeocodeRequest(query="中文"), echo={"request": "中文"})
    assert result_entry(row, FAILED)["result"] == "NO_RESULTS"
    assert single_http_status(FAILED) == 404
    if endpoint is FarmEndpoint.FORWARD:
        rendered = render_single_forward(FAILED, addr="中文", user=FAKE_USER)
    else:
        rendered = render_single_reverse(FAILED, lat="0", lon="0", user=FAKE_USER)
    assert rendered == render_single_no_results(FAKE_USER, endpoint=endpoint)


# --- rendering: errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "key_status", "request_status", "has_user"),
    [
        (400, "VALID", "INVALID", True),
        (401, "INVALID", "VALID", False),
        (402, "VALID", "VALID", True),
        (404, "VALID", "INVALID", True),
        (429, "VALID", "VALID", True),
        (500, "VALID", "VALID", True),
    ],
)
def test_error_bodies(code: int, key_status: str, request_status: str, has_user: bool) -> None:
    rendered = render_error(code, "what went wrong", user=DOC_USER)
    expected_keys = ["LEGAL", "STATUS", "USER"] if has_user else ["LEGAL", "STATUS"]
    assert list(rendered) == expected_keys
    assert rendered["STATUS"] == {
        "key": key_status,
        "request": request_status,
        "status": "FAILED",
        "credit_used": 0,
        "error": "what went wrong",
    }
    submit = sample("batch-forward-submit-response-200.json")
    assert shape(rendered["LEGAL"]) == shape(submit["LEGAL"])
    if has_user:
        assert shape(rendered["USER"]) == shape(submit["USER"])
    single = render_error(code, endpoint=FarmEndpoint.REVERSE)
    assert single["STATUS"]["credit_used"] == "0"
    assert single["STATUS"]["error"]  # the spec's own wording when no message is given


def test_error_without_user_and_from_an_exception() -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_forward(body({"key": "k", "addresses": []}))
    rendered = render_farm_error(caught.value)
    assert list(rendered) == ["LEGAL", "STATUS"]
    assert rendered["STATUS"]["request"] == "INVALID"
    assert '"addresses" is empty' in rendered["STATUS"]["error"]


def test_unknown_error_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="HTTP 418"):
        render_error(418)
    with pytest.raises(ValueError, match="HTTP 403"):
        FarmError(403, "forbidden")


# --- value formats and the accuracy table --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12.3456789101112, "12.3456789101112"),
        (-93.4003153027115, "-93.4003153027115"),
        (0.00001, "0.00001"),
        (-0.0, "0.0"),
        (151.0, "151.0"),
        (1e-7, "0.0000001"),
    ],
)
def test_coordinates_are_plain_decimal_strings(value: float, text: str) -> None:
    assert format_coordinate(value) == text
    assert COORDINATE.match(text)
    assert math.isclose(float(text), value)


def test_timestamps_are_utc_without_zone() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert (
        format_timestamp(datetime(2025, 4, 4, 9, 55, 10, tzinfo=eastern)) == "2025-04-04 14:55:10"
    )
    assert (
        format_timestamp(datetime(2025, 4, 4, 14, 55, 10, 999, tzinfo=UTC)) == "2025-04-04 14:55:10"
    )
    assert format_timestamp(CREATED) == "2025-04-04 14:55:10"
    unix = datetime(2025, 4, 4, 14, 55, 10, tzinfo=UTC).timestamp()
    assert format_timestamp(unix) == "2025-04-04 14:55:10"
    assert format_timestamp(int(unix)) == "2025-04-04 14:55:10"


def test_user_without_email_sends_an_empty_string() -> None:
    user = FarmUser(key="k", name="n", email=None, usage_limit=10, used_today=12)
    rendered = render_submit_response(batch_info(BatchState.PENDING), user, base_url="http://h")
    assert rendered["USER"]["email"] == ""
    assert rendered["USER"]["remaining_limit"] == 0  # never negative


@pytest.mark.parametrize(
    ("entity_type", "conf", "method", "word"),
    [
        (EntityType.ADDRESS, Confidence.HIGH, CalculationMethod.ROOFTOP, "EXACT_MATCH"),
        (EntityType.ADDRESS, Confidence.HIGH, CalculationMethod.INTERPOLATION, "HIGH_ACCURACY"),
        (EntityType.ADDRESS, Confidence.MEDIUM, CalculationMethod.INTERPOLATION, "HIGH_ACCURACY"),
        (EntityType.ADDRESS, Confidence.LOW, CalculationMethod.ROOFTOP, "LOW_ACCURACY"),
        (EntityType.POPULATED_PLACE, Confidence.HIGH, CalculationMethod.ROOFTOP, "EXACT_MATCH"),
        (EntityType.ROAD_BLOCK, Confidence.MEDIUM, CalculationMethod.ROOFTOP, "MEDIUM_ACCURACY"),
        (EntityType.POSTCODE, Confidence.MEDIUM, CalculationMethod.ROOFTOP, "MEDIUM_ACCURACY"),
        (EntityType.COUNTRY, Confidence.LOW, CalculationMethod.ROOFTOP, "LOW_ACCURACY"),
    ],
)
def test_accuracy_table(
    entity_type: EntityType, conf: Confidence, method: CalculationMethod, word: str
) -> None:
    assert accuracy(result(entity_type=entity_type, confidence=conf, method=method)) == word


def test_encode_json_can_escape_slashes_like_php() -> None:
    rendered = render_result_response(batch_info(BatchState.DONE), done_rows())
    escaped = encode_json(rendered, escape_slashes=True)
    assert b'"https:\\/\\/geocode.farm\\/policies\\/terms-of-service\\/"' in escaped
    assert json.loads(escaped) == rendered
    plain = encode_json(render_single_forward(found(LASK), addr="Łask, Poland", user=FAKE_USER))
    assert "Łask".encode() in plain
    assert json.loads(plain)["RESULTS"]["request"]["addr"] == "Łask, Poland"


def test_submission_dataclass_is_frozen() -> None:
    submission = parse_batch_forward(body({"key": "k", "addresses": ["a"]}))
    assert isinstance(submission, FarmSubmission)
    with pytest.raises(AttributeError):
        submission.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "body",
    [
        b'{"key": "k", "addresses": ["Vaduz \\ud800"]}',
        b'{"key": "\\udc00", "addresses": ["Vaduz"]}',
    ],
)
def test_lone_surrogates_are_a_400(body: bytes) -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_forward(body)
    assert caught.value.status_code == 400
    assert "surrogate" in caught.value.message


def test_a_real_surrogate_pair_is_text() -> None:
    body = b'{"key": "k", "addresses": ["\\ud83d\\ude00 Vaduz"]}'
    assert parse_batch_forward(body).key == "k"


@pytest.mark.parametrize("addr", ["---", "\x00\x00", " ,;. ", "中文", "〇", "𠆳"])
def test_single_forward_without_letters_is_asked_like_a_batch_row(addr: str) -> None:
    assert parse_single_forward({"key": "k", "addr": addr}) == ("k", GeocodeRequest(query=addr))


@pytest.mark.parametrize("addr", ["", " ", "\t\n"])
def test_single_forward_without_an_address_is_a_400(addr: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_single_forward({"key": "k", "addr": addr})
    assert caught.value.status_code == 400
