"""The Geocode.Farm job service on a real store: batches paid for at submission (exactly, under
concurrency), processed by the runner without being counted twice, expired by the clock and
swept, and seen only by their own key and endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geobatch.batch import worker as executor
from geobatch.formats.farm import BatchState, FarmEndpoint, parse_batch_forward, parse_batch_reverse
from geobatch.jobs.errors import JobNotFound, NotAuthenticated, OutOfCredits
from geobatch.jobs.farm import FarmService
from geobatch.jobs.keys import create_key, usage_day
from geobatch.jobs.runner import JobRunner
from geobatch.jobs.service import JobService
from geobatch.jobs.store import Charge, JobStore
from geobatch.model import GeocodeRequest
from tests.unit.test_jobs_support import LineCodec, echo_executor, echo_opener, settings_for

NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class FarmHarness:
    def __init__(self, tmp: Path) -> None:
        self.clock = Clock()
        self.settings = settings_for(tmp)
        self.store = JobStore(self.settings.data_dir / "jobs.sqlite")
        self.farm = FarmService(self.store, self.settings, clock=self.clock)
        codecs = {"lines": LineCodec()}
        self.jobs = JobService(self.store, self.settings, codecs, clock=self.clock)
        self.runner = JobRunner(self.store, self.settings, codecs, echo_executor, self.clock)

    def key(self, name: str, limit: int | None = None) -> str:
        return create_key(self.store, name, f"{name}@example.org", limit, now=NOW).secret

    def submit(self, secret: str, *addresses: str) -> str:
        body = {"key": secret, "addresses": list(addresses)}
        info, _ = self.farm.submit(parse_batch_forward(_json(body)))
        return info.batch_id

    def used(self, secret: str) -> int:
        return self.farm.user(secret).used_today

    def close(self) -> None:
        self.runner.stop()
        self.store.close()


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[FarmHarness]:
    harness = FarmHarness(tmp_path)
    yield harness
    harness.close()


def test_submit_charges_once_and_the_runner_answers_in_order(h: FarmHarness) -> None:
    secret = h.key("ada", 10)
    batch_id = h.submit(secret, "b", "", "a")
    assert h.used(secret) == 3
    view = h.farm.batch(secret, batch_id, FarmEndpoint.BATCH_FORWARD)
    assert view.info.state is BatchState.PENDING and view.rows == []
    assert h.runner.run_once()
    view = h.farm.batch(secret, batch_id, FarmEndpoint.BATCH_FORWARD)
    assert view.info.state is BatchState.DONE
    assert [row.echo["request"] for row, _ in view.rows] == ["b", "", "a"]
    assert view.rows[1][0].fault is not None  # the blank address
    assert h.used(secret) == 3  # processing a paid batch does not count it again
    job = h.store.get_job(batch_id)
    assert job is not None and job.expires == NOW + 72 * 3600  # kept on completion


def test_batch_needing_more_than_what_is_left_is_refused_whole(h: FarmHarness) -> None:
    secret = h.key("ada", 4)
    h.submit(secret, "a", "b", "c")
    with pytest.raises(OutOfCredits, match="needs 2 credits but the key has 1 of its 4 left"):
        h.submit(secret, "a", "b")
    assert h.used(secret) == 3
    key_id = h.jobs.authenticate(secret).id
    assert len(h.store.jobs_for_key(key_id, 0, "farm")) == 1  # the refused batch left nothing
    h.submit(secret, "a")
    assert h.used(secret) == 4


def test_concurrent_charges_are_exact(h: FarmHarness) -> None:
    secret = h.key("racer", 20)
    results: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            h.submit(secret, "a", "b")
            outcome = "ok"
        except OutOfCredits:
            outcome = "402"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["402"] * 30 + ["ok"] * 10
    assert h.used(secret) == 20


def test_store_charge_refuses_past_the_limit(h: FarmHarness) -> None:
    key = create_key(h.store, "k", daily_limit=2, now=NOW).key
    day = usage_day(NOW)
    assert h.store.charge(Charge(key.id, day, 2, 2)) == 2
    with pytest.raises(OutOfCredits):
        h.store.charge(Charge(key.id, day, 1, 2))
    assert h.store.charge(Charge(key.id, day, 5, None)) == 7  # unlimited


def test_expiry_by_the_clock_then_the_sweep(h: FarmHarness) -> None:
    secret = h.key("ada")
    batch_id = h.submit(secret, "a")
    h.runner.run_once()
    h.clock.now = NOW + 72 * 3600 - 1
    assert h.farm.batch(secret, batch_id, FarmEndpoint.BATCH_FORWARD).info.state is BatchState.DONE
    h.clock.now = NOW + 72 * 3600
    view = h.farm.batch(secret, batch_id, FarmEndpoint.BATCH_FORWARD)
    assert view.info.state is BatchState.EXPIRED and view.rows == []
    assert h.store.row_count(batch_id) == 1
    assert h.runner.sweep(h.clock.now) == 1
    assert h.store.row_count(batch_id) == 0
    assert h.farm.batch(secret, batch_id, FarmEndpoint.BATCH_FORWARD).info.state is (
        BatchState.EXPIRED
    )


def test_expiry_is_configurable(tmp_path: Path) -> None:
    harness = FarmHarness(tmp_path)
    try:
        harness.farm.settings = harness.settings.with_changes(farm_expiry_hours=0.5)
        secret = harness.key("ada")
        batch_id = harness.submit(secret, "a")
        job = harness.store.get_job(batch_id)
        assert job is not None and job.expires == NOW + 1800
    finally:
        harness.close()


def test_batches_are_seen_only_by_their_key_and_endpoint(h: FarmHarness) -> None:
    ada, bob = h.key("ada"), h.key("bob")
    batch_id = h.submit(ada, "a")
    with pytest.raises(JobNotFound):
        h.farm.batch(bob, batch_id, FarmEndpoint.BATCH_FORWARD)
    with pytest.raises(JobNotFound):
        h.farm.batch(ada, batch_id, FarmEndpoint.BATCH_REVERSE)
    with pytest.raises(JobNotFound):
        h.jobs.get_job(h.jobs.authenticate(ada), batch_id, "bing")
    with pytest.raises(NotAuthenticated):
        h.farm.batch("nope", batch_id, FarmEndpoint.BATCH_FORWARD)
    assert h.jobs.list_jobs(h.jobs.authenticate(ada), "bing") == []


def test_batch_reverse_runs(h: FarmHarness) -> None:
    secret = h.key("ada")
    body = _json({"key": secret, "coordinates": [{"lat": 1, "lon": 2}, {"lat": "3", "lon": 4}]})
    info, user = h.farm.submit(parse_batch_reverse(body))
    assert (info.endpoint, info.entities, user.used_today) == (FarmEndpoint.BATCH_REVERSE, 2, 2)
    h.runner.run_once()
    view = h.farm.batch(secret, info.batch_id, FarmEndpoint.BATCH_REVERSE)
    assert view.info.state is BatchState.DONE
    assert [answer.reason for _, answer in view.rows] == ["1.0,2.0", "3.0,4.0"]


def test_single_call_charges_one_and_refunds_no_result(
    h: FarmHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor, "open_geocoder", echo_opener)
    secret = h.key("ada", 1)
    answer, user = h.farm.forward(secret, GeocodeRequest(query="x"))
    assert answer.best is None and user.used_today == 0  # nothing found: no credit used
    assert h.used(secret) == 0
    h.store.add_usage(h.jobs.authenticate(secret).id, usage_day(NOW), 1)
    with pytest.raises(OutOfCredits):
        h.farm.forward(secret, GeocodeRequest(query="x"))
    assert h.used(secret) == 1
