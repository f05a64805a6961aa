"""A small Bing Dataflow client for the acceptance tests, written the way the spec's walkthrough
and sample code use the API: POST, read the Location header, poll ``<Location>?key=...``,
download ``<link>?key=...``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from defusedxml import ElementTree

NS = "{http://schemas.microsoft.com/search/local/ws/rest/v1}"
POLL_TIMEOUT = 120.0


@dataclass
class Status:
    status: str
    total: int
    processed: int
    failed: int
    links: dict[str, str]
    error_message: str | None
    body: dict[str, Any]


def content_type_for(fmt: str) -> str:
    return "application/xml" if fmt == "xml" else "text/plain"


def create(
    client: httpx.Client, base: str, key: str, data: bytes, fmt: str, **params: str
) -> httpx.Response:
    return client.post(
        f"{base}/REST/v1/Dataflows/Geocode",
        params={"input": fmt, "key": key, **params},
        content=data,
        headers={"Content-Type": content_type_for(fmt)},
    )


def status(client: httpx.Client, job_url: str, key: str) -> Status:
    response = client.get(job_url, params={"key": key})
    assert response.status_code == 200, response.text
    body = response.json()
    job = body["resourceSets"][0]["resources"][0]
    links = {link.get("name", link["role"]): link["url"] for link in job["links"]}
    return Status(
        job["status"],
        job["totalEntityCount"],
        job["processedEntityCount"],
        job["failedEntityCount"],
        links,
        job.get("errorMessage"),
        body,
    )


def wait(client: httpx.Client, job_url: str, key: str, timeout: float = POLL_TIMEOUT) -> Status:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(client, job_url, key)
        if current.status != "Pending":
            return current
        time.sleep(0.1)
    raise AssertionError(f"job {job_url} still Pending after {timeout} s")


def run_job(client: httpx.Client, base: str, key: str, data: bytes, fmt: str) -> tuple[str, Status]:
    response = create(client, base, key, data, fmt)
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    return location, wait(client, location, key)


def xml_status(text: bytes) -> tuple[str, dict[str, str]]:
    """Status and output links the way the C# sample reads them: Link elements before Status."""
    root = ElementTree.fromstring(text)
    job = root.find(f"{NS}ResourceSets/{NS}ResourceSet/{NS}Resources/{NS}DataflowJob")
    assert job is not None
    links: dict[str, str] = {}
    for element in job:
        if element.tag == f"{NS}Status":
            return element.text or "", links
        if element.tag == f"{NS}Link":
            attributes = list(element.attrib)
            assert attributes[0] == "role"
            if element.get("role") == "output":
                assert attributes[1] == "name"
                links[element.get("name", "")] = element.text or ""
    raise AssertionError("no Status element")
