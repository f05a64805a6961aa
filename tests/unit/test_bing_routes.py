"""The Bing routes in-process: job limits refused before the upload is read, a client hanging up
mid-upload ended quietly, and results downloaded from a file opened before the answer starts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from geobatch.api import bing
from geobatch.api.app import create_app
from geobatch.config import JobLimits
from geobatch.formats.bing import BingCodec
from geobatch.jobs.farm import FarmService
from geobatch.jobs.keys import create_key
from geobatch.jobs.runner import JobRunner
from geobatch.jobs.service import JobService
from geobatch.jobs.store import JobStatus, JobStore
from tests.unit.test_jobs_support import echo_executor, settings_for

PIPE = b"Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n1|Vaduz\n2|Schaan\n"
CODECS = {bing.KIND: BingCodec()}


@dataclass
class Setup:
    app: FastAPI
    service: JobService
    secret: str
    runner: JobRunner


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """The application with its job service set up by hand (no lifespan, no runner thread)."""
    settings = settings_for(tmp_path, limits=JobLimits(max_pending_jobs=1))
    store = JobStore(settings.data_dir / "jobs.sqlite")
    secret = create_key(store, "ada").secret
    app = create_app(settings, codecs=CODECS, executor_factory=echo_executor)
    app.state.settings = settings
    app.state.service = service = JobService(store, settings, CODECS)
    app.state.farm = FarmService(store, settings)
    runner = JobRunner(store, settings, CODECS, echo_executor)
    yield Setup(app, service, secret, runner)
    runner.stop()
    store.close()


@dataclass
class Exchange:
    """One request played against the ASGI app with scripted body messages."""

    messages: list[Message]
    received: int = 0
    sent: list[Message] = field(default_factory=list)

    def run(self, app: FastAPI, path: str, query: str = "") -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
            "state": {},
        }

        async def receive() -> Message:
            self.received += 1
            if self.messages:
                return self.messages.pop(0)
            await asyncio.sleep(3600)  # a real server waits for the client here
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            self.sent.append(message)

        asyncio.run(app(scope, receive, send))
        status: int = self.sent[0]["status"]
        return status


def _create_path() -> str:
    return "/REST/v1/Dataflows/Geocode"


def test_a_key_at_its_pending_limit_gets_503_without_the_body_being_read(setup: Setup) -> None:
    query = f"input=pipe&key={setup.secret}"
    first = Exchange([{"type": "http.request", "body": PIPE, "more_body": False}])
    assert first.run(setup.app, _create_path(), query) == 201
    second = Exchange([{"type": "http.request", "body": PIPE, "more_body": False}])
    assert second.run(setup.app, _create_path(), query) == 503
    assert second.received == 0
    assert list(setup.service.paths.incoming.iterdir()) == []
    assert len(setup.service.list_jobs(setup.service.authenticate(setup.secret))) == 1


def test_a_client_hanging_up_mid_upload_ends_quietly(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = Exchange(
        [
            {"type": "http.request", "body": PIPE[:20], "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    with caplog.at_level(logging.INFO):
        assert exchange.run(setup.app, _create_path(), f"input=pipe&key={setup.secret}") == 400
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("disconnected" in r.getMessage() for r in caplog.records)
    assert list(setup.service.paths.incoming.iterdir()) == []
    assert setup.service.list_jobs(setup.service.authenticate(setup.secret)) == []


def test_a_client_hanging_up_mid_farm_batch_ends_quietly(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = Exchange(
        [
            {"type": "http.request", "body": b'{"key": "', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    with caplog.at_level(logging.INFO):
        assert exchange.run(setup.app, "/batch-forward/") == 400
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _get(app: FastAPI, url: str) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(url)

    return asyncio.run(send())


def test_results_are_downloaded_from_the_opened_file(setup: Setup) -> None:
    query = f"input=pipe&key={setup.secret}"
    Exchange([{"type": "http.request", "body": PIPE, "more_body": False}]).run(
        setup.app, _create_path(), query
    )
    key = setup.service.authenticate(setup.secret)
    job = setup.service.list_jobs(key)[0]
    setup.runner.run_once()
    done = setup.service.get_job(key, job.id)
    assert done.status is JobStatus.COMPLETED and done.succeeded == 2
    url = f"/REST/v1/dataflows/Geocode/{job.id}/output/succeeded?key={setup.secret}"
    response = _get(setup.app, url)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    assert b"Vaduz" in response.content and b"Schaan" in response.content
    assert done.expires is not None
    expires = done.expires
    setup.service.clock = lambda: expires  # past expiry, though the sweep has not run
    gone = _get(setup.app, url)
    assert gone.status_code == 404
    assert "have expired" in gone.json()["errorDetails"][0]
