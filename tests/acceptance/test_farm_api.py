"""The Geocode.Farm API end to end against a real server: the spec's sample shapes, the batch
lifecycle checked against the geocoder's own answers, expiry, every error code, exact credits
under concurrent submissions, our batch-reverse extension and the single calls."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from geobatch.formats.farm import format_coordinate
from geobatch.geocode.geocoder import Geocoder
from geobatch.jobs.store import JobStore
from geobatch.model import Answer, GeocodeResult
from tests.acceptance import bing_client as bing
from tests.acceptance import farm_client as farm
from tests.acceptance.conftest import Server, run_cli, start_server

pytestmark = pytest.mark.acceptance

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
COORDINATE = re.compile(r"^-?\d+\.\d+$")
RESULT_FIELDS = list(farm.sample("batch-forward-result-response-done.json")["RESULTS"][0]["result"])
ADDRESSES = [
    "Hauptstrasse 1, Oberdorf",
    "Hauptstrasse 3, 9401 Oberdorf",
    "Kirchweg, Unterdorf",
    "Bahnhofstraße 2, Unterdorf",
    "SHERIDAN, WY, USA",
    "123 MAIN ST, SYDNEY, AUSTRALIA",
    "Vaduz",
    "Łask, Poland",
    "qqqq zzzz xyzzy",
    "",
    "Hauptstrasse 1, Oberdorf",
]
EXPIRY_SECONDS = 6.0


@pytest.fixture(scope="module")
def geocoder(acceptance_index: Path) -> Geocoder:
    """The server's geocoder, opened here on the same index: the answers to compare with."""
    return Geocoder.open(acceptance_index)


@pytest.fixture(scope="module")
def expiry_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path
) -> Iterator[Server]:
    """A server whose Geocode.Farm batches expire after a few seconds, swept twice a second."""
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("expiring",),
        GEOBATCH_FARM_EXPIRY_HOURS=str(EXPIRY_SECONDS / 3600),
        GEOBATCH_SWEEP_SECONDS="0.5",
    )
    yield running
    running.stop()


def new_key(server: Server, name: str, limit: str = "unlimited") -> str:
    return server.add_key(name, "--email", f"{name}@example.org", "--daily-limit", limit)


def stamp(text: str) -> datetime:
    assert TIMESTAMP.match(text), text
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def expected_result(answer: Answer) -> Any:
    best: GeocodeResult | None = answer.best
    if best is None:
        return "NO_RESULTS"
    return {
        "lat": format_coordinate(best.point.lat),
        "lon": format_coordinate(best.point.lon),
        "full_address": best.address.formatted or best.name,
    }


def check_result(result: Any, answer: Answer) -> None:
    """A RESULTS entry's result against the geocoder's answer: same point and address."""
    expected = expected_result(answer)
    if expected == "NO_RESULTS":
        assert result == "NO_RESULTS"
        return
    assert isinstance(result, dict)
    assert {name: result.get(name) for name in expected} == expected
    fields = list(result)
    assert fields == [name for name in RESULT_FIELDS if name in result], fields
    assert all(isinstance(value, str) and value for value in result.values())
    assert COORDINATE.match(result["lat"]) and COORDINATE.match(result["lon"])


# --- submission ------------------------------------------------------------------------------


def test_the_sample_request_gets_the_sample_reply(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "Sample User")
    body = farm.sample("batch-forward-request.json")
    body["key"] = key
    response = client.post(f"{server.base}/batch-forward/", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    reply = response.json()
    expected = farm.sample("batch-forward-submit-response-200.json")
    assert farm.keys_in_order(reply) == farm.keys_in_order(expected)
    assert reply["LEGAL"] == expected["LEGAL"]
    assert reply["STATUS"] == expected["STATUS"]  # credit_used 2, a number
    assert reply["USER"] == {
        "key": key,
        "name": "Sample User",
        "email": "Sample User@example.org",
        "usage_limit": "UNLIMITED",
        "used_today": 2,
        "remaining_limit": "UNLIMITED",
    }
    request = reply["REQUEST"]
    assert (request["status"], request["entities"]) == ("PENDING", 2)
    assert stamp(request["expires"]) - stamp(request["created"]) == timedelta(hours=72)
    url = urlsplit(request["result_url"])
    assert f"{url.scheme}://{url.netloc}" == server.base
    assert url.path == "/batch-forward/result/"
    query = parse_qs(url.query)
    assert query["key"] == [key] and re.fullmatch(r"[0-9a-f]{32}", query["id"][0])
    done = farm.poll(client, request["result_url"])
    assert [entry["request"] for entry in done["RESULTS"]] == body["addresses"]


def test_the_path_without_a_slash_works_too(server: Server, client: httpx.Client) -> None:
    key = server.keys["alice"]
    response = client.post(f"{server.base}/batch-forward", json={"key": key, "addresses": ["x"]})
    assert response.status_code == 200, response.text
    url = response.json()["REQUEST"]["result_url"].replace("/result/?", "/result?")
    assert client.get(url).status_code == 200


def test_user_section_comes_from_the_key_store(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "limited", "100")
    reply = farm.submit(client, server.base, key, ["Vaduz", "Oberdorf", "Unterdorf"]).json()
    assert reply["USER"] == {
        "key": key,
        "name": "limited",
        "email": "limited@example.org",
        "usage_limit": "100",
        "used_today": 3,
        "remaining_limit": 97,
    }
    listed = run_cli("keys", "list", "--data-dir", str(server.data_dir)).stdout
    line = next(row for row in listed.splitlines() if "\tlimited\t" in row)
    assert line.split("\t")[3:5] == ["100", "3"]


# --- lifecycle -------------------------------------------------------------------------------


def test_batch_runs_to_done_with_the_geocoders_answers(
    server: Server, client: httpx.Client, geocoder: Geocoder
) -> None:
    done = farm.run_batch(client, server.base, server.keys["alice"], ADDRESSES)
    expected = farm.sample("batch-forward-result-response-done.json")
    assert list(done) == list(expected)
    assert done["LEGAL"] == {k: v.replace("\\/", "/") for k, v in expected["LEGAL"].items()}
    assert done["STATUS"] == expected["STATUS"]
    assert farm.keys_in_order(done["REQUEST"]) == farm.keys_in_order(expected["REQUEST"])
    assert (done["REQUEST"]["status"], done["REQUEST"]["entities"]) == ("DONE", len(ADDRESSES))
    assert [entry["request"] for entry in done["RESULTS"]] == ADDRESSES
    found = 0
    for address, entry in zip(ADDRESSES, done["RESULTS"], strict=True):
        assert list(entry) == ["request", "result"]
        if not address.strip():
            assert entry["result"] == "NO_RESULTS"
            continue
        check_result(entry["result"], geocoder.geocode(address))
        found += entry["result"] != "NO_RESULTS"
    assert found >= 6  # the villages, Vaduz, Sheridan, Łask: not a run of NO_RESULTS


def test_polling_is_free_and_never_shows_results_early(
    server: Server, client: httpx.Client
) -> None:
    key = new_key(server, "poller", "10")
    reply = farm.submit(client, server.base, key, ["Oberdorf"] * 5).json()
    url = reply["REQUEST"]["result_url"]
    first = client.get(url).json()
    assert first["REQUEST"]["status"] in {"PENDING", "PROCESSING", "DONE"}
    assert "USER" not in first and "credit_used" not in first["STATUS"]
    assert "result_url" not in first["REQUEST"]
    farm.poll(client, url)
    for _ in range(3):
        client.get(url)
    after = farm.submit(client, server.base, key, ["Oberdorf"]).json()
    assert after["USER"]["used_today"] == 6


def test_results_expire_and_are_deleted(expiry_server: Server, client: httpx.Client) -> None:
    key = expiry_server.keys["expiring"]
    farm.run_batch(client, expiry_server.base, key, ["Vaduz"])  # warm up: the index loads
    reply = farm.submit(client, expiry_server.base, key, ["Hauptstrasse 1, Oberdorf", "x"]).json()
    request = reply["REQUEST"]
    assert stamp(request["expires"]) - stamp(request["created"]) <= timedelta(seconds=7)
    url = request["result_url"]
    batch_id = parse_qs(urlsplit(url).query)["id"][0]
    assert farm.poll(client, url)["REQUEST"]["status"] == "DONE"
    store = JobStore(expiry_server.data_dir / "jobs.sqlite")
    try:
        assert store.row_count(batch_id) == 2
        deadline = time.monotonic() + EXPIRY_SECONDS + 30
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = client.get(url).json()
            if body["REQUEST"]["status"] == "EXPIRED" and store.row_count(batch_id) == 0:
                break
            time.sleep(0.2)
        assert body["REQUEST"]["status"] == "EXPIRED"
        assert "RESULTS" not in body and body["REQUEST"]["entities"] == 2
        assert store.row_count(batch_id) == 0  # the sweep deleted the results
        job = store.get_job(batch_id)
        assert job is not None and job.purged
    finally:
        store.close()


# --- errors ----------------------------------------------------------------------------------


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body)[:2] == ["LEGAL", "STATUS"] and "REQUEST" not in body
    # credit_used is a number in batch replies and a string ("0") in single ones.
    assert body["STATUS"]["status"] == "FAILED" and int(body["STATUS"]["credit_used"]) == 0
    assert isinstance(body["STATUS"]["error"], str) and body["STATUS"]["error"]
    return body


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        ('{"key": "K", "addresses": "Vaduz"}', "must be an array"),
        ('{"key": "K"}', '"addresses" is missing'),
        ('{"key": "K", "addresses": []}', "is empty"),
        ('{"key": "K", "addresses": ["Vaduz", 7]}', "addresses[1] must be a string"),
        ('{"key": "K", "addresses": ["' + "a" * 256 + '"]}', "at most 255"),
        ('{"key": "K", "addresses": [' + ",".join(['"x"'] * 1001) + "]}", "at most 1000"),
    ],
)
def test_bad_input_is_400(
    server: Server, client: httpx.Client, payload: str | bytes, message: str
) -> None:
    key = server.keys["alice"]
    data = payload.replace('"K"', f'"{key}"').encode() if isinstance(payload, str) else payload
    body = error(client.post(f"{server.base}/batch-forward/", content=data), 400)
    assert body["STATUS"]["request"] == "INVALID" and body["STATUS"]["key"] == "VALID"
    assert message in body["STATUS"]["error"]
    # The USER section appears when the body carried a valid key.
    assert ("USER" in body) == isinstance(payload, str)


def test_limits_are_inclusive(server: Server, client: httpx.Client) -> None:
    key = server.keys["alice"]
    response = farm.submit(client, server.base, key, ["a" * 255] * 1000)
    assert response.status_code == 200, response.text
    assert response.json()["REQUEST"]["entities"] == 1000


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"addresses": ["Vaduz"]}, "missing"),
        ({"key": "", "addresses": ["Vaduz"]}, "empty"),
        ({"key": 12, "addresses": ["Vaduz"]}, "must be a string"),
        ({"key": "not-a-key", "addresses": ["Vaduz"]}, "not valid"),
    ],
)
def test_missing_or_invalid_key_is_401(
    server: Server, client: httpx.Client, payload: dict[str, Any], message: str
) -> None:
    body = error(client.post(f"{server.base}/batch-forward/", json=payload), 401)
    assert body["STATUS"]["key"] == "INVALID" and "USER" not in body
    assert message in body["STATUS"]["error"]


def test_revoked_key_is_401(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "revoked-farm")
    listed = run_cli("keys", "list", "--data-dir", str(server.data_dir)).stdout
    key_id = next(r for r in listed.splitlines() if "\trevoked-farm\t" in r).split("\t")[0]
    assert run_cli("keys", "revoke", key_id, "--data-dir", str(server.data_dir)).returncode == 0
    body = error(farm.submit(client, server.base, key, ["Vaduz"]), 401)
    assert "revoked" in body["STATUS"]["error"]


def test_exhausted_credits_are_402_and_nothing_is_charged(
    server: Server, client: httpx.Client
) -> None:
    key = new_key(server, "three-a-day", "3")
    assert farm.submit(client, server.base, key, ["Vaduz", "Oberdorf"]).status_code == 200
    body = error(farm.submit(client, server.base, key, ["Vaduz", "Oberdorf"]), 402)
    assert body["STATUS"]["key"] == "VALID" and body["STATUS"]["request"] == "VALID"
    assert body["USER"]["used_today"] == 2 and body["USER"]["remaining_limit"] == 1
    assert "needs 2 credits" in body["STATUS"]["error"]
    ok = farm.submit(client, server.base, key, ["Vaduz"])
    assert ok.status_code == 200 and ok.json()["USER"]["remaining_limit"] == 0
    body = error(farm.submit(client, server.base, key, ["Vaduz"]), 402)
    assert body["USER"]["used_today"] == 3
    # The same key and the same daily counter on the Bing API: its quota is used up too.
    response = bing.create(client, server.base, key, b"1|Vaduz\n", "pipe")
    assert response.status_code == 503 and "3 of its 3" in response.text


def test_unknown_or_foreign_batch_is_404(server: Server, client: httpx.Client) -> None:
    alice, bob = server.keys["alice"], server.keys["bob"]
    reply = farm.submit(client, server.base, alice, ["Vaduz"]).json()
    url = reply["REQUEST"]["result_url"]
    batch_id = parse_qs(urlsplit(url).query)["id"][0]
    result = f"{server.base}/batch-forward/result/"
    for params in (
        {"id": batch_id, "key": bob},  # another key's batch
        {"id": "0" * 32, "key": alice},  # no such batch
        {"key": alice},  # no id at all
    ):
        body = error(client.get(result, params=params), 404)
        assert body["STATUS"]["request"] == "INVALID" and "USER" in body
    # A forward batch is not a reverse batch.
    reverse_url = url.replace("/batch-forward/", "/batch-reverse/")
    error(client.get(reverse_url), 404)
    # Nor is it a Bing job.
    assert bing.create(client, server.base, alice, b"", "pipe").status_code == 400
    job = client.get(f"{server.base}/REST/v1/Dataflows/Geocode/{batch_id}", params={"key": alice})
    assert job.status_code == 404
    # A missing or wrong key on the result URL is 401.
    error(client.get(result, params={"id": batch_id}), 401)
    error(client.get(result, params={"id": batch_id, "key": "nope"}), 401)


# --- concurrency -----------------------------------------------------------------------------


def test_credits_are_exact_under_concurrent_submissions(
    server: Server, client: httpx.Client
) -> None:
    """40 parallel batches of 3 against a limit of 30: exactly 10 are accepted, 30 get 402."""
    key = new_key(server, "racer", "30")
    batch = ["Hauptstrasse 1, Oberdorf", "Vaduz", "Kirchweg, Unterdorf"]

    def post(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as own:
            return farm.submit(own, server.base, key, batch)

    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(post, range(40)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 10 + [402] * 30, codes
    used = sorted(r.json()["USER"]["used_today"] for r in responses if r.status_code == 200)
    assert used == list(range(3, 31, 3))  # each accepted batch saw its own exact total
    for r in responses:
        if r.status_code == 402:
            assert r.json()["USER"]["used_today"] == 30
    final = error(farm.submit(client, server.base, key, ["Vaduz"]), 402)
    assert (final["USER"]["used_today"], final["USER"]["remaining_limit"]) == (30, 0)
    listed = run_cli("keys", "list", "--data-dir", str(server.data_dir)).stdout
    line = next(row for row in listed.splitlines() if "\tracer\t" in row)
    assert line.split("\t")[3:5] == ["30", "30"]
    for r in responses:
        if r.status_code == 200:
            done = farm.poll(client, r.json()["REQUEST"]["result_url"])
            assert [e["request"] for e in done["RESULTS"]] == batch


# --- batch reverse (our extension) -----------------------------------------------------------


def test_batch_reverse_lifecycle(server: Server, client: httpx.Client, geocoder: Geocoder) -> None:
    points = [
        {"lat": 47.0201, "lon": 9.006},
        {"lat": "47.0202", "lon": "9.0205"},
        {"lat": 47.14, "lon": 9.52},
        {"lat": 0, "lon": -150},
    ]
    response = farm.submit(client, server.base, server.keys["alice"], points, reverse=True)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["STATUS"]["credit_used"] == 4
    url = reply["REQUEST"]["result_url"]
    assert urlsplit(url).path == "/batch-reverse/result/"
    done = farm.poll(client, url)
    assert done["REQUEST"]["status"] == "DONE"
    echoes = [entry["request"] for entry in done["RESULTS"]]
    assert echoes == [
        {"lat": "47.0201", "lon": "9.006"},
        {"lat": "47.0202", "lon": "9.0205"},
        {"lat": "47.14", "lon": "9.52"},
        {"lat": "0", "lon": "-150"},
    ]
    for point, entry in zip(points, done["RESULTS"], strict=True):
        check_result(entry["result"], geocoder.reverse(float(point["lat"]), float(point["lon"])))
    assert done["RESULTS"][0]["result"]["street_name"] == "Hauptstrasse"


@pytest.mark.parametrize(
    ("coordinates", "message"),
    [
        ([{"lat": 91, "lon": 0}], "out of range"),
        ([{"lat": 1}], 'has no "lon"'),
        ([[1, 2]], "must be an object"),
        ([{"lat": "north", "lon": 0}], "is not a number"),
    ],
)
def test_batch_reverse_refuses_bad_points(
    server: Server, client: httpx.Client, coordinates: list[Any], message: str
) -> None:
    key = server.keys["alice"]
    body = error(farm.submit(client, server.base, key, coordinates, reverse=True), 400)
    assert message in body["STATUS"]["error"]


# --- single calls ----------------------------------------------------------------------------


def test_single_forward(server: Server, client: httpx.Client, geocoder: Geocoder) -> None:
    key = new_key(server, "single", "250")
    address = "Hauptstrasse 1, Oberdorf"
    response = client.get(f"{server.base}/forward/", params={"key": key, "addr": address})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = farm.sample("forward-v4-success-200.perl-fixture.json")
    assert list(body) == list(expected)
    assert body["STATUS"] == expected["STATUS"]  # credit_used "1", a string
    assert body["USER"] == {
        "key": key,
        "name": "single",
        "email": "single@example.org",
        "usage_limit": "250",
        "used_today": "1",
        "remaining_limit": 249,
    }
    assert body["RESULTS"]["request"] == {"addr": address}
    result = body["RESULTS"]["result"]
    assert list(result) == ["coordinates", "address", "accuracy"]
    best = geocoder.geocode(address).best
    assert best is not None
    assert result["coordinates"] == {
        "lat": format_coordinate(best.point.lat),
        "lon": format_coordinate(best.point.lon),
    }
    assert result["address"]["full_address"] == best.address.formatted
    assert result["accuracy"] in {"EXACT_MATCH", "HIGH_ACCURACY", "MEDIUM_ACCURACY"}

    utf8 = client.get(f"{server.base}/forward", params={"key": key, "addr": "Łask, Poland"})
    assert utf8.status_code == 200, utf8.text
    assert utf8.json()["RESULTS"]["result"]["address"]["country"] == "Poland"
    assert utf8.json()["USER"]["used_today"] == "2"


def test_single_forward_no_results_is_404_and_free(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "single-miss", "250")
    response = client.get(f"{server.base}/forward/", params={"key": key, "addr": "qqqq zzzz"})
    assert response.status_code == 404, response.text
    body = response.json()
    expected = farm.sample("forward-v4-noresults-404.perl-fixture.json")
    assert farm.keys_in_order(body) == farm.keys_in_order(expected)
    assert body["STATUS"] == expected["STATUS"]
    assert body["USER"]["used_today"] == "0"


NOTHING_TO_LOOK_UP = ["中文", "〇", "𠆳", "---", "\x00", "🙂"]


def test_a_single_forward_answers_as_its_batch_does(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "single-like-batch", "250")
    done = farm.run_batch(client, server.base, key, NOTHING_TO_LOOK_UP)
    assert [entry["result"] for entry in done["RESULTS"]] == ["NO_RESULTS"] * 6
    for addr in NOTHING_TO_LOOK_UP:
        response = client.get(f"{server.base}/forward/", params={"key": key, "addr": addr})
        assert response.status_code == 404, (addr, response.text)
        body = response.json()
        assert body["STATUS"]["status"] == "NO_RESULTS" and "RESULTS" not in body
        assert body["STATUS"]["credit_used"] == "0"
    # The batch's six credits were charged at submission; the single misses were free.
    last = client.get(f"{server.base}/forward/", params={"key": key, "addr": "中文"}).json()
    assert last["USER"]["used_today"] == "6"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [("90", "180"), ("-90", "-180"), ("-0", "0"), (" 47.14 ", "9.52"), ("4.714e1", "9.52e0")],
)
def test_single_reverse_edge_points_are_answered(
    server: Server, client: httpx.Client, lat: str, lon: str
) -> None:
    params = {"key": server.keys["alice"], "lat": lat, "lon": lon}
    response = client.get(f"{server.base}/reverse/", params=params)
    assert response.status_code in (200, 404), response.text
    status = response.json()["STATUS"]["status"]
    assert status == ("SUCCESS" if response.status_code == 200 else "NO_RESULTS")


def test_single_reverse(server: Server, client: httpx.Client, geocoder: Geocoder) -> None:
    key = new_key(server, "single-reverse", "250")
    params = {"key": key, "lat": "47.0201", "lon": "9.006"}
    response = client.get(f"{server.base}/reverse/", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = farm.sample("reverse-v4-success-200.perl-fixture.json")
    assert list(body) == list(expected)
    assert body["STATUS"] == expected["STATUS"]
    assert body["RESULTS"]["request"] == {
        "point": "9.006 47.0201",
        "latitude": "47.0201",
        "longitude": "9.006",
    }
    match = body["RESULTS"]["result"]["0"]
    best = geocoder.reverse(47.0201, 9.006).best
    assert best is not None
    assert match["latitude"] == format_coordinate(best.point.lat)
    assert match["longitude"] == format_coordinate(best.point.lon)
    assert match["formatted_address"] == best.address.formatted
    assert list(body["RESULTS"]["result"]) == ["0", "accuracy"]
    assert body["USER"]["used_today"] == "1"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/forward/", {"addr": "Vaduz"}, 401),
        ("/forward/", {"addr": "Vaduz", "key": "nope"}, 401),
        ("/forward/", {"addr": " ", "key": "KEY"}, 400),
        ("/forward/", {"addr": "a" * 256, "key": "KEY"}, 400),
        ("/reverse/", {"lat": "47", "key": "KEY"}, 400),
        ("/reverse/", {"lat": "95", "lon": "9", "key": "KEY"}, 400),
        ("/reverse/", {"lat": "47", "lon": "9"}, 401),
    ],
)
def test_single_call_errors(
    server: Server, client: httpx.Client, path: str, params: dict[str, str], status: int
) -> None:
    params = {k: server.keys["alice"] if v == "KEY" else v for k, v in params.items()}
    error(client.get(server.base + path, params=params), status)


def test_single_calls_count_and_run_out(server: Server, client: httpx.Client) -> None:
    key = new_key(server, "two-singles", "2")
    for used in ("1", "2"):
        response = client.get(f"{server.base}/forward/", params={"key": key, "addr": "Vaduz"})
        assert response.status_code == 200 and response.json()["USER"]["used_today"] == used
    params = {"key": key, "lat": "47.14", "lon": "9.52"}
    body = error(client.get(f"{server.base}/reverse/", params=params), 402)
    assert body["USER"]["remaining_limit"] == 0
