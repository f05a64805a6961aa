"""The OpenAPI document against the live server: schemathesis generates requests for every
documented operation from its parameters and bodies (a bounded number of examples each) and
fails on any 5xx, on a status code, content type or header the document does not declare for
that operation, and on a JSON body that does not match the declared schema. Routes asked with a
method they do not have must answer 405 with an ``Allow`` header."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.acceptance.conftest import Server, start_server

pytestmark = pytest.mark.acceptance

# Bounded so the whole run stays within a minute or two on a shared 2-core machine; raise it
# locally (GEOBATCH_SCHEMATHESIS_EXAMPLES=500) for a deeper search.
EXAMPLES = int(os.environ.get("GEOBATCH_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def conformance_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path
) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("schema",),
        GEOBATCH_PRELOAD="1",
        GEOBATCH_KEY_RATE="0",
        GEOBATCH_MAX_PENDING_JOBS="1000",
        GEOBATCH_MAX_JOBS_PER_DAY="100000",
        GEOBATCH_MAX_UPLOAD_MB="2",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(conformance_server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{conformance_server.base}/openapi.json")


@pytest.fixture(scope="module")
def web_job(conformance_server: Server) -> str:
    """A completed web-page job of the key: generated ids would only ever find nothing (404),
    this one lets the result pages, points, rows and downloads be asked with generated
    parameters."""
    base, key = f"{conformance_server.base}/api/web", conformance_server.keys["schema"]
    headers = {"X-Api-Key": key}
    made = httpx.post(
        f"{base}/jobs",
        params={"codec": "csv", "input": "forward"},
        content="address\nHauptstrasse 5, Oberdorf\nKirchweg 2, Unterdorf\nNowhere Lane 1\n",
        headers=headers,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    job_url = f"{base}/jobs/{made.json()['id']}"
    deadline = time.monotonic() + 120
    while (job := httpx.get(job_url, headers=headers, timeout=60).json())["status"] != "Completed":
        assert job["status"] != "Aborted" and time.monotonic() < deadline, job
        time.sleep(0.1)
    return str(job["id"])


def _with_key(case: Any, key: str, job_id: str) -> None:
    """A valid key where the operation takes one (generated keys would only ever get a 401):
    in the query, in a JSON body, or in the web page's X-Api-Key header; and the web job's id
    where an operation reads one (not where it deletes it)."""
    names = {p.name for p in case.operation.query}
    if "key" in names:
        case.query = {**(case.query or {}), "key": key}
    if isinstance(case.body, dict) and "key" in case.body:
        case.body = {**case.body, "key": key}
    if "X-Api-Key" in {p.name for p in case.operation.headers}:
        case.headers = {**(case.headers or {}), "X-Api-Key": key}
    in_path = {p.name for p in case.operation.path_parameters}
    if "job_id" in in_path and case.method.upper() != "DELETE":
        case.path_parameters = {**(case.path_parameters or {}), "job_id": job_id}


def test_api_matches_its_openapi_document(
    api_schema: Any, conformance_server: Server, web_job: str
) -> None:
    # schemathesis as a library (its pytest plugin does not load under this pytest): one
    # Hypothesis run per operation, every failure collected before the test fails.
    failures: list[str] = []
    key = conformance_server.keys["schema"]
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            _with_key(case, key, web_job)
            case.call_and_validate(checks=CHECKS, timeout=60)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.verbose_name}: {exc}")
    assert not failures, "\n\n".join(failures)


# Routes that take no input at all (no parameter, no body).
NO_INPUT = ("/healthz", "/metrics", "/api/web/config")
# Inputs that cannot be malformed, only unknown: a key (401) and a looked-up id or name (404).
LOOKED_UP = {"key", "X-Api-Key", "id", "job_id", "name"}


def test_every_route_documents_parameters_and_real_status_codes(conformance_server: Server) -> None:
    document = httpx.get(f"{conformance_server.base}/openapi.json", timeout=30).json()
    assert any(path.startswith("/api/web/") for path in document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert "422" not in operation["responses"], where  # never answered: 400 instead
            if path in NO_INPUT:
                continue
            listed = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
            assert len(listed) == len(set(listed)), where  # each parameter once
            params = {name for name, _ in listed}
            assert params or operation.get("requestBody"), where
            if params - LOOKED_UP or operation.get("requestBody"):
                # Anything else can be wrong, and is a 400 (never an unhandled 422 or 500).
                assert "400" in operation["responses"], where


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/REST/v1/Locations", "GET"),
        ("POST", "/nominatim/search", "GET"),
        ("GET", "/batch-forward/", "POST"),
        ("PUT", "/REST/v1/Dataflows/Geocode", "POST"),
    ],
)
def test_405_names_the_allowed_methods(
    conformance_server: Server, method: str, path: str, allowed: str
) -> None:
    answer = httpx.request(method, conformance_server.base + path, timeout=30)
    assert answer.status_code == 405
    assert allowed in answer.headers["allow"]


def test_the_web_api_answers_bad_numbers_in_its_own_error_body(
    conformance_server: Server, web_job: str
) -> None:
    """Values a generator seldom tries: a row number that is not one (FastAPI's own check,
    which must still answer the web API's body), and numbers past 64 bits (SQLite's limit)."""
    base = f"{conformance_server.base}/api/web/jobs/{web_job}"
    headers = {"X-Api-Key": conformance_server.keys["schema"]}
    huge = str(10**30)

    def get(path: str, **params: str) -> httpx.Response:
        return httpx.get(base + path, params=params, headers=headers, timeout=60)

    answer = get("/results/first")
    assert answer.status_code == 400 and answer.json() == {"error": "not a valid value: seq"}
    answer = get(f"/results/{huge}")
    assert answer.status_code == 404 and "has no row" in answer.json()["error"]
    answer = get("/results", offset=huge, limit=huge)
    assert answer.status_code == 200 and answer.json()["features"] == []
    answer = get("/points", after=f"-{huge}", limit=huge)
    assert answer.status_code == 200 and len(answer.json()["seq"]) > 0
    answer = get("/points", after="1e3")
    assert answer.status_code == 400 and "whole number" in answer.json()["error"]
