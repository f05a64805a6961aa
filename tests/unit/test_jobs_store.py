"""The SQLite job store on real files: keys, limits, rows, answers counted once, retention."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.jobs.errors import LimitExceeded, NotAuthenticated
from geobatch.jobs.keys import authenticate, check_quota, create_key, hash_secret
from geobatch.jobs.store import JobLimitsCheck, JobStatus, JobStore, RowAnswer
from geobatch.model import Answer, GeocodeRequest, ResultStatus

NOW = 1_700_000_000.0
OPEN = JobLimitsCheck(max_pending=100, max_per_day=100, now=NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(tmp_path / "jobs.sqlite")
    yield s
    s.close()


def rows(n: int, start: int = 0) -> list[BatchRow]:
    return [BatchRow(i, str(i), GeocodeRequest(query=f"q{i}")) for i in range(start, start + n)]


def test_keys_store_only_a_hash(store: JobStore) -> None:
    new = create_key(store, "Ada", "ada@example.org", daily_limit=None, now=NOW)
    raw = store.path.read_bytes()
    assert new.secret.encode() not in raw
    assert authenticate(store, new.secret) == new.key
    assert store.key_by_hash(hash_secret(new.secret)) == new.key


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(None, "NoCredentials"), ("", "NoCredentials"), ("x", "InvalidCredentials")],
)
def test_bad_keys(store: JobStore, secret: str | None, reason: str) -> None:
    with pytest.raises(NotAuthenticated) as info:
        authenticate(store, secret)
    assert info.value.reason == reason


def test_revoked_key(store: JobStore) -> None:
    new = create_key(store, "Bob")
    assert store.revoke_key(new.key.id, NOW)
    assert not store.revoke_key(new.key.id, NOW)
    with pytest.raises(NotAuthenticated, match="revoked"):
        authenticate(store, new.secret)
    assert [k.revoked for k in store.list_keys()] == [NOW]


def test_daily_quota(store: JobStore) -> None:
    key = create_key(store, "Quota", daily_limit=5).key
    check_quota(store, key, NOW)
    store.add_usage(key.id, "2023-11-14", 5)
    with pytest.raises(LimitExceeded, match="5 of its 5"):
        check_quota(store, key, NOW)
    check_quota(store, key, NOW + 86_400)  # a new day


def test_pending_and_daily_job_limits(store: JobStore) -> None:
    key = create_key(store, "K").key
    limits = JobLimitsCheck(max_pending=2, max_per_day=3, now=NOW)
    store.create_job("a", key.id, "bing", "csv", None, limits)
    store.create_job("b", key.id, "bing", "csv", None, limits)
    with pytest.raises(LimitExceeded, match="pending"):
        store.create_job("c", key.id, "bing", "csv", None, limits)
    store.complete("a", NOW, NOW + 10)
    store.create_job("c", key.id, "bing", "csv", None, limits)
    store.complete("b", NOW, NOW + 10)
    with pytest.raises(LimitExceeded, match="24 hours"):
        store.create_job("d", key.id, "bing", "csv", None, limits)
    later = JobLimitsCheck(max_pending=2, max_per_day=3, now=NOW + 86_401)
    store.create_job("d", key.id, "bing", "csv", None, later)


def test_rows_are_stored_once_and_answers_counted_once(store: JobStore) -> None:
    key = create_key(store, "K").key
    job = store.create_job("j", key.id, "bing", "pipe", "desc", OPEN)
    assert (job.status, job.total, job.description) == (JobStatus.PENDING, 0, "desc")
    store.start_decode("j", BatchHeader("pipe", "2.0"))
    store.add_rows("j", rows(4))
    store.add_rows("j", rows(6))  # a resumed decode re-adds the first rows
    assert store.finish_decode("j") == 6
    first = store.unanswered_rows("j", -1, 4)
    assert [r.seq for r in first] == [0, 1, 2, 3]
    job = store.get_job("j")
    assert job is not None and job.status is JobStatus.PROCESSING and job.decoded
    answers = [
        RowAnswer(0, Answer(ResultStatus.OK), "succeeded"),
        RowAnswer(1, Answer(ResultStatus.FAILED, reason="no"), "failed"),
    ]
    assert store.store_answers(job, answers, "2023-11-14") == (2, 1)
    assert store.store_answers(job, answers, "2023-11-14") == (0, 0)  # replayed chunk
    job = store.get_job("j")
    assert job is not None and (job.processed, job.failed, job.succeeded) == (2, 1, 1)
    assert store.usage(key.id, "2023-11-14") == 2
    assert [r.seq for r in store.unanswered_rows("j", -1, 10)] == [2, 3, 4, 5]
    assert store.count_unanswered("j") == 4
    failed = list(store.result_rows("j", "failed"))
    assert [(r.seq, a.reason) for r, a in failed] == [(1, "no")]


def test_abort_drops_rows(store: JobStore) -> None:
    key = create_key(store, "K").key
    store.create_job("j", key.id, "bing", "csv", None, OPEN)
    store.add_rows("j", rows(3))
    store.abort("j", "unreadable", NOW, NOW + 5)
    job = store.get_job("j")
    assert job is not None and job.status is JobStatus.ABORTED
    assert job.error_message == "unreadable" and store.row_count("j") == 0


def test_job_list_is_per_key_active_first(store: JobStore) -> None:
    a, b = create_key(store, "A").key, create_key(store, "B").key
    for i, job_id in enumerate(["old", "done", "pending"]):
        store.create_job(job_id, a.id, "bing", "csv", None, JobLimitsCheck(9, 9, NOW + i))
    store.create_job("other", b.id, "bing", "csv", None, OPEN)
    store.complete("done", NOW, NOW + 5)
    store.complete("old", NOW, NOW + 5)
    assert [j.id for j in store.jobs_for_key(a.id, since=0)] == ["pending", "done", "old"]
    assert [j.id for j in store.jobs_for_key(a.id, since=NOW + 1)] == ["pending", "done"]


def test_expiry_purges_then_forgets(store: JobStore) -> None:
    key = create_key(store, "K").key
    store.create_job("j", key.id, "bing", "csv", None, OPEN)
    store.add_rows("j", rows(2))
    store.complete("j", NOW, NOW + 100)
    assert store.expired_jobs(NOW + 99) == []
    assert store.expired_jobs(NOW + 100) == ["j"]
    store.purge("j")
    job = store.get_job("j")
    assert job is not None and job.purged and store.row_count("j") == 0
    assert store.forget_jobs(NOW) == 0
    assert store.forget_jobs(NOW + 1) == 1 and store.get_job("j") is None


def test_threads_share_the_store(store: JobStore) -> None:
    key = create_key(store, "K").key
    store.create_job("j", key.id, "bing", "csv", None, OPEN)
    errors: list[BaseException] = []

    def add(start: int) -> None:
        try:
            for i in range(start, start + 50):
                store.add_rows("j", rows(1, i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n * 50,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and store.row_count("j") == 200


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    first = JobStore(tmp_path / "s.sqlite")
    new = create_key(first, "K")
    first.create_job("j", new.key.id, "bing", "csv", None, OPEN)
    first.close()
    second = JobStore(tmp_path / "s.sqlite")
    try:
        assert authenticate(second, new.secret).name == "K"
        assert second.get_job("j") is not None
    finally:
        second.close()
