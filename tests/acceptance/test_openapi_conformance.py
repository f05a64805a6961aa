"""The OpenAPI document against the live server: schemathesis generates requests for every
documented operation from its parameters and bodies (a bounded number of examples each) and
fails on any 5xx, on a status code, content type or header the document does not declare for
that operation, and on a JSON body that does not match the declared schema. Routes asked with a
method they do not have must answer 405 with an ``Allow`` header."""

from __future__ import annotations

import os
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


def _with_key(case: Any, key: str) -> None:
    """A valid key where the operation takes one (generated keys would only ever get a 401)."""
    names = {p.name for p in case.operation.query}
    if "key" in names:
        case.query = {**(case.query or {}), "key": key}
    if isinstance(case.body, dict) and "key" in case.body:
        case.body = {**case.body, "key": key}


def test_api_matches_its_openapi_document(api_schema: Any, conformance_server: Server) -> None:
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
            _with_key(case, key)
            case.call_and_validate(checks=CHECKS, timeout=60)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.verbose_name}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_every_route_documents_parameters_and_real_status_codes(conformance_server: Server) -> None:
    document = httpx.get(f"{conformance_server.base}/openapi.json", timeout=30).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert "422" not in operation["responses"], where  # never answered: 400 instead
            if path not in ("/healthz", "/metrics"):
                assert operation.get("parameters") or operation.get("requestBody"), where
                assert "400" in operation["responses"] or path.endswith("/result/"), where


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
