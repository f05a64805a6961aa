"""A small Geocode.Farm client for the acceptance tests, used the way the spec describes: POST
the batch as JSON, then poll the ``result_url`` of the reply until the batch is DONE."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT.parent / "shared" / "spec" / "geocode-farm-samples"
REQUIRE_SHARED = os.environ.get("GEOBATCH_REQUIRE_SHARED") == "1"
POLL_TIMEOUT = 120.0


def sample(name: str) -> Any:
    """A spec sample, parsed; skips (or fails with GEOBATCH_REQUIRE_SHARED=1) when absent."""
    path: Path = SAMPLES / name
    if not path.exists():
        reason = f"needs {path} (the shared spec samples beside the checkout); it is absent"
        if REQUIRE_SHARED:
            pytest.fail(reason + " and GEOBATCH_REQUIRE_SHARED=1 makes it mandatory")
        pytest.skip(reason)
    return json.loads(path.read_text(encoding="utf-8"))


def submit(
    client: httpx.Client, base: str, key: str, addresses: list[Any], *, reverse: bool = False
) -> httpx.Response:
    path, field = ("batch-reverse", "coordinates") if reverse else ("batch-forward", "addresses")
    return client.post(f"{base}/{path}/", json={"key": key, field: addresses})


def poll(client: httpx.Client, result_url: str, timeout: float = POLL_TIMEOUT) -> dict[str, Any]:
    """Fetch ``result_url`` until REQUEST.status is DONE (or EXPIRED); return that body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(result_url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        state = body["REQUEST"]["status"]
        assert state in {"PENDING", "PROCESSING", "DONE", "EXPIRED"}
        assert ("RESULTS" in body) == (state == "DONE")
        if state in {"DONE", "EXPIRED"}:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{result_url} not DONE after {timeout} s")


def run_batch(
    client: httpx.Client, base: str, key: str, items: list[Any], *, reverse: bool = False
) -> dict[str, Any]:
    response = submit(client, base, key, items, reverse=reverse)
    assert response.status_code == 200, response.text
    return poll(client, response.json()["REQUEST"]["result_url"])


def keys_in_order(value: Any) -> Any:
    """The nested key structure of a JSON value (key order kept), for shape comparisons."""
    if isinstance(value, dict):
        return [(k, keys_in_order(v)) for k, v in value.items()]
    return type(value).__name__
