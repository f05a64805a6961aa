"""A key's daily allowance on a real store and runner: jobs set aside their entities when they are
created (all or nothing, also from many threads at once), use them as their rows are geocoded,
give back what they do not use, and a store made before reservations opens and runs as before."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.jobs.errors import LimitExceeded, OutOfCredits
from geobatch.jobs.keys import check_quota, create_key, usage_day
from geobatch.jobs.store import (
    AllowanceExceeded,
    Charge,
    JobLimitsCheck,
    JobStatus,
    JobStore,
    RowAnswer,
)
from geobatch.jobs.webjobs import WebJobs
from geobatch.model import Answer, GeocodeRequest, ResultStatus
from tests.unit.test_jobs_runner import CODECS, Harness

NOW = 1_700_000_000.0  # 2023-11-14 22:13 UTC
DAY = usage_day(NOW)
OPEN = JobLimitsCheck(max_pending=1000, max_per_day=1000, now=NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(tmp_path / "jobs.sqlite")
    yield s
    s.close()


def rows(n: int, start: int = 0) -> list[BatchRow]:
    return [BatchRow(i, str(i), GeocodeRequest(query=f"q{i}")) for i in range(start, start + n)]


def answers(seqs: range) -> list[RowAnswer]:
    return [RowAnswer(seq, Answer(ResultStatus.OK), "succeeded") for seq in seqs]


def reserve(store: JobStore, job_id: str, key_id: int, count: int, limit: int | None) -> None:
    charge = Charge(key_id, DAY, count, limit)
    store.create_job(job_id, key_id, "bing", "pipe", None, OPEN, charge)


def test_a_job_the_allowance_cannot_cover_is_refused(store: JobStore) -> None:
    key = create_key(store, "K", daily_limit=100).key
    store.add_usage(key.id, DAY, 30)
    reserve(store, "a", key.id, 50, 100)
    with pytest.raises(OutOfCredits) as info:
        reserve(store, "b", key.id, 21, 100)
    message = str(info.value)
    assert "holds up to 21 entities but the key has 20 of its 100 entities left" in message
    assert "50 being set aside for its jobs in progress" in message
    assert "send at most 20 entities" in message
    assert store.get_job("b") is None  # nothing was inserted
    reserve(store, "b", key.id, 20, 100)  # exactly what is left
    assert store.usage(key.id, DAY) + store.held(key.id, DAY) == 100
    with pytest.raises(
        LimitExceeded, match=r"used 30 of its 100 entities for today \(UTC\), 70 being set aside"
    ):
        check_quota(store, key, NOW)  # the early check, before an upload is received
    reserve(store, "c", key.id, 0, 100)  # nothing to set aside (an empty upload) still fits


def test_concurrent_submissions_never_set_aside_more_than_the_limit(store: JobStore) -> None:
    """20 threads, each with its own connection, race to set aside 30 of 100 entities."""
    key = create_key(store, "K", daily_limit=100).key
    start = threading.Barrier(20)
    accepted: list[str] = []
    refused: list[str] = []

    def submit(n: int) -> None:
        start.wait()
        try:
            reserve(store, f"job{n}", key.id, 30, 100)
            accepted.append(f"job{n}")
        except OutOfCredits as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 3 and len(refused) == 17
    assert store.held(key.id, DAY) == 90
    assert all("10 of its 100 entities left" in message for message in refused)


def test_rows_move_from_set_aside_to_used_and_the_rest_is_given_back(store: JobStore) -> None:
    key = create_key(store, "K", daily_limit=100).key
    reserve(store, "j", key.id, 10, 100)
    store.start_decode("j", BatchHeader("pipe", "2.0"))
    store.add_rows("j", rows(7))  # the byte count was 10: blank lines, say
    assert store.finish_decode("j") == 7
    assert store.held(key.id, DAY) == 7  # 3 given back when the upload was read
    job = store.get_job("j")
    assert job is not None
    assert store.store_answers(job, answers(range(4)), DAY) == (4, 0)
    assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (4, 3)
    assert store.store_answers(job, answers(range(4)), DAY) == (0, 0)  # a replayed block
    assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (4, 3)
    store.store_answers(job, answers(range(4, 7)), DAY)
    assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (7, 0)
    store.complete("j", NOW, NOW + 10)
    assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (7, 0)


@pytest.mark.parametrize("end", ["abort", "cancel", "delete", "complete"])
def test_a_job_that_ends_holds_nothing_and_keeps_what_it_used(store: JobStore, end: str) -> None:
    """Failed, aborted, cancelled or deleted: what it did not use goes back; the rows it had
    geocoded stay charged (the work was done), as before reservations."""
    key = create_key(store, "K", daily_limit=100).key
    reserve(store, "j", key.id, 60, 100)
    store.add_rows("j", rows(60))
    store.finish_decode("j")
    job = store.get_job("j")
    assert job is not None
    store.store_answers(job, answers(range(25)), DAY)
    with pytest.raises(OutOfCredits):
        reserve(store, "next", key.id, 41, 100)
    if end == "abort":
        store.abort("j", "the runner stopped", NOW, NOW + 10)
    elif end == "cancel":
        store.cancel_job("j", "cancelled by its owner", NOW, NOW + 10)
    elif end == "delete":
        store.delete_job("j")
    else:
        store.complete("j", NOW, NOW + 10)
    assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (25, 0)
    reserve(store, "next", key.id, 75, 100)  # the 35 released are there to use again
    ended = store.get_job("j")
    assert ended is None or ended.reserved == 0


def test_rows_past_what_was_set_aside_take_more_or_stop_the_job(store: JobStore) -> None:
    """The count made at arrival was short: more is set aside while the key has it, else the
    job stops before a row past its allowance is stored."""
    key = create_key(store, "K", daily_limit=10).key
    reserve(store, "j", key.id, 3, 10)
    reserve(store, "other", key.id, 2, 10)
    store.add_rows("j", rows(3))
    store.add_rows("j", rows(5, 3))  # 8 rows: 5 more set aside, 10 of 10 now held
    assert store.held(key.id, DAY) == 10
    with pytest.raises(AllowanceExceeded, match="more than the 8 entities set aside") as info:
        store.add_rows("j", rows(1, 8))
    assert "nothing of it was geocoded or charged" in str(info.value)
    assert store.row_count("j") == 8  # the refused row was not stored
    assert store.held(key.id, DAY) == 10


def test_a_key_without_a_limit_sets_nothing_aside(store: JobStore) -> None:
    key = create_key(store, "K").key
    store.create_job("j", key.id, "bing", "pipe", None, OPEN, Charge(key.id, DAY, 5, None))
    store.add_rows("j", rows(50))
    store.finish_decode("j")
    job = store.get_job("j")
    assert job is not None
    store.store_answers(job, answers(range(50)), DAY)
    assert store.usage(key.id, DAY) == 50


def test_single_calls_and_farm_charges_count_what_jobs_set_aside(store: JobStore) -> None:
    key = create_key(store, "K", daily_limit=10).key
    reserve(store, "j", key.id, 9, 10)
    assert store.charge(Charge(key.id, DAY, 1, 10)) == 1
    with pytest.raises(
        OutOfCredits, match=r"has 0 of its 10 left for today \(UTC\), 9 being set aside"
    ):
        store.charge(Charge(key.id, DAY, 1, 10))


def test_what_a_job_holds_counts_on_the_day_it_was_created(store: JobStore) -> None:
    key = create_key(store, "K", daily_limit=10).key
    reserve(store, "j", key.id, 10, 10)
    tomorrow = usage_day(NOW + 86_400)
    assert store.held(key.id, tomorrow) == 0
    store.charge(Charge(key.id, tomorrow, 10, 10))  # a new day, a new allowance


# --- through the job service and the runner ----------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    h.key = create_key(h.store, "limited", daily_limit=10).key
    yield h
    h.close()


def test_the_service_sets_aside_what_the_upload_holds(limited: Harness) -> None:
    day = usage_day(limited.service.clock())
    first = limited.submit("a\nb\nc\nd\ne\nf\n")
    assert limited.store.held(limited.key.id, day) == 6
    with pytest.raises(OutOfCredits, match="holds up to 5 entities but the key has 4 of its 10"):
        limited.submit("a\nb\nc\nd\ne\n")
    assert len(list(limited.service.paths.uploads.iterdir())) == 1  # the refused one is gone
    second = limited.submit("a\nb\nc\nd\n")
    while limited.runner.run_once():
        pass
    for job_id in (first, second):
        job = limited.store.get_job(job_id)
        assert job is not None and job.status is JobStatus.COMPLETED
    assert (limited.store.usage(limited.key.id, day), limited.store.held(limited.key.id, day)) == (
        10,
        0,
    )


def test_a_failed_or_deleted_job_gives_its_allowance_back(limited: Harness) -> None:
    day = usage_day(limited.service.clock())
    failed = limited.submit("!unreadable\na\nb\nc\nd\ne\n")  # set aside 6, aborted when read
    deleted = limited.submit("a\nb\nc\nd\n")
    with pytest.raises(LimitExceeded, match="10 being set aside"):
        limited.submit("a")
    WebJobs(limited.service, kinds=tuple(CODECS)).delete(limited.key, deleted)
    limited.runner.run_once()
    job = limited.store.get_job(failed)
    assert job is not None and job.status is JobStatus.ABORTED
    assert limited.store.held(limited.key.id, day) == 0
    again = limited.submit("\n".join("abcdefghij"))  # all 10 again
    while limited.runner.run_once():
        pass
    job = limited.store.get_job(again)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert limited.store.usage(limited.key.id, day) == 10


def test_a_job_sent_before_midnight_is_charged_to_that_day(limited: Harness) -> None:
    before = datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp()
    limited.service.clock = lambda: before
    limited.submit("a\nb\nc\n")
    while limited.runner.run_once():  # geocoded (the real clock) long after that day
        pass
    assert limited.store.usage(limited.key.id, "2024-03-01") == 3
    assert limited.store.held(limited.key.id, "2024-03-01") == 0


# --- stores made before reservations -----------------------------------------------------------

# The jobs table of the first release (before ``unfinished`` and ``reserved``).
_OLD_JOBS = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    kind TEXT NOT NULL,
    input_format TEXT NOT NULL,
    header TEXT,
    status TEXT NOT NULL,
    description TEXT,
    total INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    decoded INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    created REAL NOT NULL,
    completed REAL,
    expires REAL,
    purged INTEGER NOT NULL DEFAULT 0{extra}
);
"""


@pytest.mark.parametrize("extra", ["", ",\n    unfinished INTEGER NOT NULL DEFAULT 0"])
def test_a_store_made_before_reservations_opens_and_its_jobs_run(
    tmp_path: Path, extra: str
) -> None:
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(_OLD_JOBS.format(extra=extra))
    old = JobStore(path)  # adds the tables it misses and, to jobs, the columns it misses
    key = create_key(old, "K", daily_limit=10).key
    old.close()
    with sqlite3.connect(path) as con:  # a job in progress, as the old release left it
        con.execute(
            "INSERT INTO jobs (id, key_id, kind, input_format, status, total, decoded, created)"
            " VALUES ('old', ?, 'bing', 'pipe', 'Processing', 4, 1, ?)",
            (key.id, NOW),
        )
        con.execute("ALTER TABLE jobs DROP COLUMN reserved")
        if not extra:
            con.execute("ALTER TABLE jobs DROP COLUMN unfinished")
    store = JobStore(path)
    try:
        columns = {row[1] for row in store._read("PRAGMA table_info(jobs)")}
        assert {"unfinished", "reserved"} <= columns
        job = store.get_job("old")
        assert job is not None and (job.status, job.reserved) == (JobStatus.PROCESSING, 0)
        store.add_rows("old", rows(4))
        assert store.finish_decode("old") == 4
        store.store_answers(job, answers(range(4)), DAY)
        assert (store.usage(key.id, DAY), store.held(key.id, DAY)) == (4, 0)
        reserve(store, "new", key.id, 6, 10)
        with pytest.raises(OutOfCredits):
            reserve(store, "newer", key.id, 1, 10)
    finally:
        store.close()
