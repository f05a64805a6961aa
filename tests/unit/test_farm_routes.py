"""The Geocode.Farm routes in-process: error mapping to the spec's codes, and a fault inside the
service answered as a 500 in Geocode.Farm's envelope without leaking internals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from geobatch.api.app import create_app
from geobatch.api.farm_errors import endpoint_of, status_of
from geobatch.errors import InputError
from geobatch.formats.farm import FarmEndpoint, FarmError
from geobatch.jobs.errors import JobNotFound, LimitExceeded, NotAuthenticated, OutOfCredits
from geobatch.jobs.farm import BatchFailed, FarmService
from geobatch.jobs.keys import create_key
from geobatch.jobs.store import JobStore
from tests.unit.test_jobs_support import echo_executor, settings_for


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (FarmError(400, "bad"), 400),
        (NotAuthenticated("no", "NoCredentials"), 401),
        (OutOfCredits("out"), 402),
        (LimitExceeded("limit"), 402),
        (JobNotFound("gone"), 404),
        (InputError("bad"), 400),
        (BatchFailed("broke"), 500),
        (RuntimeError("boom"), 500),
    ],
)
def test_status_of(exc: Exception, status: int) -> None:
    assert status_of(exc) == status


def test_endpoint_of_route_paths() -> None:
    assert endpoint_of("/batch-forward/result/") is FarmEndpoint.BATCH_FORWARD
    assert endpoint_of("/batch-reverse") is FarmEndpoint.BATCH_REVERSE
    assert endpoint_of("/forward/") is FarmEndpoint.FORWARD


def _app(tmp_path: Path, **changes: object) -> tuple[FastAPI, str]:
    """The application with its Geocode.Farm service set up by hand (no lifespan, no runner)."""
    settings = settings_for(tmp_path, **changes)
    store = JobStore(settings.data_dir / "jobs.sqlite")
    secret = create_key(store, "ada", "ada@example.org").secret
    app = create_app(settings, executor_factory=echo_executor)
    app.state.settings = settings
    app.state.farm = FarmService(store, settings)
    return app, secret


def _post(app: FastAPI, path: str, body: object) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, json=body)

    return asyncio.run(send())


def test_an_unexpected_fault_is_a_500_in_the_farm_envelope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, secret = _app(tmp_path)

    def broken(*args: object) -> None:
        raise RuntimeError("database on fire at /secret/path")

    monkeypatch.setattr(app.state.farm, "submit", broken)
    response = _post(app, "/batch-forward/", {"key": secret, "addresses": ["x"]})
    assert response.status_code == 500
    body = response.json()
    assert body["STATUS"]["status"] == "FAILED" and "secret" not in response.text
    assert body["USER"]["name"] == "ada"  # the key is valid, so USER is shown
    app.state.farm.store.close()


def test_result_url_uses_the_public_url(tmp_path: Path) -> None:
    app, secret = _app(tmp_path, public_url="https://geo.example.org/farm/")
    reply = _post(app, "/batch-forward/", {"key": secret, "addresses": ["x"]}).json()
    url = reply["REQUEST"]["result_url"]
    assert url.startswith("https://geo.example.org/farm/batch-forward/result/?id=")
    app.state.farm.store.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /forward/?addr=x&key=SECRET HTTP/1.1", "GET /forward/?addr=x&key=*** HTTP/1.1"),
        ("GET /x?k%65y=SECRET&o=xml", "GET /x?k%65y=***&o=xml"),
        ("GET /x?KEY=SECRET", "GET /x?KEY=***"),
        ("GET /x?addr=key&monkey=1", "GET /x?addr=key&monkey=1"),
    ],
)
def test_keys_never_reach_the_access_log(line: str, expected: str) -> None:
    from geobatch.api.app import _redact

    assert _redact(line) == expected
