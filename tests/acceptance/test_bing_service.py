"""The Bing Dataflow API end to end against a real server: every published input sample, the
status and download flow, keys, job visibility, the job list and malformed requests."""

from __future__ import annotations

import gzip
import io
import time
import zipfile

import httpx
import pytest
from defusedxml import ElementTree

from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, spec_file

pytestmark = pytest.mark.acceptance

SAMPLES = [
    "v1-input.xml",
    "v1-input.csv",
    "v1-input.pipe",
    "v1-input.tab",
    "v2-input.xml",
    "v2-input.csv",
    "v2-input.pipe",
    "v2-input.tab",
    "walkthrough-input.xml",
    "v1-schemapage-example-input.csv",
    "v1-schemapage-example-input.xml",
    "v2-schemapage-example-input.csv",
    "v2-schemapage-example-input.xml",
    "corrected/v1-input-unstructured-query.xml",
]
PIPE_V2 = "Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n"


def _format(name: str) -> str:
    return name.rsplit(".", 1)[1]


def _entity_ids(data: bytes, fmt: str) -> list[str]:
    """The Ids of the entities in a Bing file (input or output)."""
    if fmt == "xml":
        root = ElementTree.fromstring(data)
        return [e.get("Id", "") for e in root.iter() if e.tag.endswith("GeocodeEntity")]
    delimiter = {"csv": ",", "tab": "\t", "pipe": "|"}[fmt]
    lines = [line for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    if lines and lines[0].startswith("Bing Spatial Data Services"):
        lines = lines[2:]  # version line and header
    return [line.split(delimiter, 1)[0].strip().strip('"') for line in lines]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_runs_end_to_end(server: Server, client: httpx.Client, name: str) -> None:
    data = spec_file(f"bing-samples/{name}").read_bytes()
    fmt, key = _format(name), server.keys["alice"]
    response = bing.create(client, server.base, key, data, fmt, description=name)
    assert response.status_code == 201, response.text
    created = response.json()["resourceSets"][0]["resources"][0]
    assert created["status"] == "Pending" and created["totalEntityCount"] == 0
    assert response.headers["Location"] == created["links"][0]["url"]
    done = bing.wait(client, response.headers["Location"], key)
    assert done.status == "Completed", done.error_message
    assert done.total == len(_entity_ids(data, fmt)) and done.processed == done.total
    seen: list[str] = []
    for outcome, count in (("succeeded", done.total - done.failed), ("failed", done.failed)):
        if count == 0:
            assert outcome not in done.links
            continue
        download = client.get(done.links[outcome], params={"key": key})
        assert download.status_code == 200
        expected = "application/xml" if fmt == "xml" else "text/plain"
        assert download.headers["content-type"].startswith(expected)
        if name.startswith("v2") and fmt != "xml":
            assert download.content.startswith(b"Bing Spatial Data Services, 2.0")
        ids = _entity_ids(download.content, fmt)
        assert len(ids) == count
        seen += ids
    assert sorted(seen) == sorted(_entity_ids(data, fmt))


def test_walkthrough_client_works_unchanged(server: Server, client: httpx.Client) -> None:
    """The walkthrough's requests and the C# sample's parsing, with only the base URL changed."""
    key = server.keys["alice"]
    data = spec_file("bing-samples/walkthrough-input.xml").read_bytes()
    query = f"description=Geocode%20Demo&input=xml&output=xml&key={key}"
    url = f"{server.base}/REST/v1/Dataflows/Geocode?{query}"
    response = client.post(url, content=data, headers={"Content-Type": "application/xml"})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/xml")
    location = response.headers["Location"]
    assert location and "?" not in location
    for _ in range(600):
        status = client.get(f"{location}?key={key}&output=xml")
        assert status.status_code == 200
        state, links = bing.xml_status(status.content)
        if state != "Pending":
            break
        time.sleep(0.1)
    assert state == "Completed"
    assert b"<Description>Geocode Demo</Description>" in status.content
    for link in links.values():
        # The toolkit adds its own parameter first.
        got = client.get(f"{link}?clientApi=SDSToolkit&key={key}")
        assert got.status_code == 200 and got.content.lstrip().startswith(b"<")


def test_toolkit_style_gzip_and_zip_bodies(server: Server, client: httpx.Client) -> None:
    key = server.keys["alice"]
    data = spec_file("bing-samples/v2-input.xml").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("input.xml", data)
    for body in (gzip.compress(data), buffer.getvalue()):
        response = client.post(
            f"{server.base}/REST/v1/Dataflows/Geocode",
            params={"input": "xml", "key": key, "clientApi": "SDSToolkit"},
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 201, response.text
        done = bing.wait(client, response.headers["Location"], key)
        assert (done.status, done.total) == ("Completed", len(_entity_ids(data, "xml")))


def test_names_and_values_are_case_insensitive(server: Server, client: httpx.Client) -> None:
    key = server.keys["alice"]
    response = client.post(
        f"{server.base}/rest/V1/DATAFLOWS/geocode/",
        params={"INPUT": "PIPE", "Key": key, "O": "XML", "unknown": "ignored"},
        content=(PIPE_V2 + "1|Hauptstrasse 1, Oberdorf\n").encode(),
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/xml")
    location = response.headers["Location"]
    done = bing.wait(
        client, location.replace("/REST/v1/dataflows/Geocode/", "/rest/v1/DataFlows/GEOCODE/"), key
    )
    assert done.status == "Completed"


@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_requests_without_a_valid_key_get_401(
    server: Server, client: httpx.Client, key: str | None
) -> None:
    params = {} if key is None else {"key": key}
    expected = "InvalidCredentials" if key else "NoCredentials"
    job_url = _any_job(server, client)
    for response in (
        client.post(
            f"{server.base}/REST/v1/Dataflows/Geocode",
            params={"input": "pipe", **params},
            content=PIPE_V2.encode(),
        ),
        client.get(job_url, params=params),
        client.get(f"{job_url}/output/succeeded", params=params),
        client.get(f"{server.base}/REST/v1/dataflows/listjobs", params=params),
    ):
        assert response.status_code == 401
        body = response.json()
        assert body["authenticationResultCode"] == expected and body["statusCode"] == 401
        assert body["errorDetails"] and "resourceSets" not in body


def _any_job(server: Server, client: httpx.Client) -> str:
    data = (PIPE_V2 + "1|Kirchweg 2, Oberdorf\n").encode()
    location, done = bing.run_job(client, server.base, server.keys["alice"], data, "pipe")
    assert done.status == "Completed"
    return location


def test_another_keys_job_is_not_found(server: Server, client: httpx.Client) -> None:
    location = _any_job(server, client)
    bob = server.keys["bob"]
    for url in (location, f"{location}/output/succeeded"):
        response = client.get(url, params={"key": bob})
        assert response.status_code == 404
        assert response.json()["errorDetails"]
    listed = client.get(f"{server.base}/REST/v1/dataflows/listjobs", params={"key": bob}).json()
    ids = [job["id"] for s in listed["resourceSets"] for job in s["resources"]]
    assert location.rsplit("/", 1)[1] not in ids


def test_job_list(server: Server, client: httpx.Client) -> None:
    location = _any_job(server, client)
    key = server.keys["alice"]
    response = client.get(f"{server.base}/REST/v1/Dataflows/ListJobs", params={"key": key})
    assert response.status_code == 200
    jobs = response.json()["resourceSets"][0]["resources"]
    assert location.rsplit("/", 1)[1] in [job["id"] for job in jobs]
    xml = client.get(
        f"{server.base}/REST/v1/dataflows/listjobs", params={"key": key, "output": "xml"}
    )
    assert xml.status_code == 200 and b"<DataflowJob>" in xml.content


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "message"),
    [
        ("POST", "/REST/v1/Dataflows/Geocode", {}, PIPE_V2, 400, "input parameter is required"),
        (
            "POST",
            "/REST/v1/Dataflows/Geocode",
            {"input": "json"},
            PIPE_V2,
            400,
            "input must be one of",
        ),
        (
            "POST",
            "/REST/v1/Dataflows/Geocode",
            {"input": "pipe", "output": "yaml"},
            PIPE_V2,
            400,
            "output must be json or xml",
        ),
        ("POST", "/REST/v1/Dataflows/Geocode", {"input": "pipe"}, "", 400, "no data"),
        (
            "POST",
            "/REST/v1/Dataflows/Geocode",
            {"input": "pipe", "description": "x" * 300},
            PIPE_V2,
            400,
            "description",
        ),
        (
            "POST",
            "/REST/v1/Dataflows/Geocode",
            {"input": "xml", "dataLocation": "https://example.org/a.xml"},
            "",
            400,
            "dataLocation is not enabled",
        ),
        (
            "GET",
            "/REST/v1/Dataflows/Geocode/0123456789abcdef0123456789abcdef",
            {},
            None,
            404,
            "no job",
        ),
        ("GET", "/REST/v1/Dataflows/Nowhere", {}, None, 404, "no resource"),
        ("DELETE", "/REST/v1/Dataflows/ListJobs", {}, None, 405, "not allowed"),
    ],
)
def test_malformed_requests(
    server: Server,
    client: httpx.Client,
    method: str,
    path: str,
    params: dict[str, str],
    body: str | None,
    status: int,
    message: str,
) -> None:
    response = client.request(
        method,
        f"{server.base}{path}",
        params={"key": server.keys["alice"], **params},
        content=None if body is None else body.encode(),
    )
    assert response.status_code == status, response.text
    details = response.json()["errorDetails"]
    assert message in details[0]


def test_error_bodies_follow_the_output_parameter(server: Server, client: httpx.Client) -> None:
    response = client.get(f"{server.base}/REST/v1/Dataflows/ListJobs", params={"o": "xml"})
    assert response.status_code == 401
    assert b"<AuthenticationResultCode>NoCredentials</AuthenticationResultCode>" in response.content


def test_missing_outputs_are_404(server: Server, client: httpx.Client) -> None:
    location = _any_job(server, client)  # one entity that succeeds: no failed file
    key = server.keys["alice"]
    assert client.get(f"{location}/output/failed", params={"key": key}).status_code == 404
    assert client.get(f"{location}/output/other", params={"key": key}).status_code == 404


def test_unreadable_file_aborts_the_job(server: Server, client: httpx.Client) -> None:
    key = server.keys["alice"]
    _, done = bing.run_job(client, server.base, key, b"<GeocodeFeed><GeocodeEntity", "xml")
    assert done.status == "Aborted" and done.error_message
    assert set(done.links) == {"self"}
