"""The job store: jobs, their rows and answers, API keys and usage, in one SQLite file.

WAL mode lets the API read while the runner writes; every thread gets its own connection, and
every write is one short transaction. Every access first checks that the data directory can be
used (:mod:`geobatch.jobs.diskcheck`: SQLite would crash the process on a read-only or
immutable one), and a disk fault is raised as :class:`StoreUnavailable` with the reason.

The unit of progress is a chunk of rows: its answers, the job's processed/failed counts and the
key's usage move together in one transaction, so a server killed at any moment restarts with no
row lost or counted twice.

A key's daily allowance is never overspent, however many jobs it submits at once. A job charged
as its rows are geocoded (a Bing or CSV job) sets aside (``reserved``) as many entities as its
upload can hold, counted when it arrives, checked against the key's usage *and* what its other
jobs in progress have set aside, in the transaction that inserts it. Its rows are stored only
while they are covered (past that, more is set aside or the job is aborted), each geocoded block
moves its rows from set aside to used, and the rest goes back when the upload is decoded; what
an active job set aside stops counting once it ends (Completed or Aborted) or is deleted. A job
is charged to the UTC day it was created on, where its allowance was set aside.

Times are Unix seconds (floats); usage days are UTC ``YYYY-MM-DD`` strings.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow, Outcome
from geobatch.formats.serialize import (
    BEST_CONFIDENCE,
    BEST_MATCH_CODES,
    BEST_POINT,
    answer_from_dict,
    answer_to_dict,
    header_from_dict,
    header_to_dict,
    row_from_dict,
    row_to_dict,
)
from geobatch.jobs.diskcheck import (
    DEFAULT_MIN_FREE_MB,
    DiskCheck,
    abandon,
    close_at_exit,
    disk_fault_of,
)
from geobatch.jobs.errors import LimitExceeded, OutOfCredits
from geobatch.model import Answer

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    key_hash TEXT NOT NULL UNIQUE,      -- sha256 hex of the key; the key itself is never stored
    daily_limit INTEGER,                -- NULL: unlimited
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS usage (
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    kind TEXT NOT NULL,                 -- which API made it: "bing", "farm"
    input_format TEXT NOT NULL,
    header TEXT,                        -- BatchHeader as JSON, set when decoding starts
    status TEXT NOT NULL,
    description TEXT,
    total INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    decoded INTEGER NOT NULL DEFAULT 0, -- 1 once every row of the upload is stored
    error_message TEXT,
    created REAL NOT NULL,
    completed REAL,
    expires REAL,                       -- results are deleted after this
    purged INTEGER NOT NULL DEFAULT 0,  -- 1 once the results are deleted
    unfinished INTEGER NOT NULL DEFAULT 0, -- unused (crashes are counted per block: jobs/blocks.py)
    reserved INTEGER NOT NULL DEFAULT 0 -- allowance set aside for rows not geocoded (if active)
);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key_id, created);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
CREATE TABLE IF NOT EXISTS job_rows (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    row TEXT NOT NULL,                  -- BatchRow as JSON
    answer TEXT,                        -- Answer as JSON; NULL until geocoded
    outcome TEXT,                       -- "succeeded" | "failed"; NULL until geocoded
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"""


class JobStatus(StrEnum):
    PENDING = "Pending"  # accepted, not started
    PROCESSING = "Processing"  # decoding or geocoding
    COMPLETED = "Completed"
    ABORTED = "Aborted"


ACTIVE = (JobStatus.PENDING, JobStatus.PROCESSING)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    email: str | None
    daily_limit: int | None  # None: unlimited
    created: float
    revoked: float | None


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    key_id: int
    kind: str
    input_format: str
    header: BatchHeader | None
    status: JobStatus
    description: str | None
    total: int
    processed: int
    failed: int
    decoded: bool
    error_message: str | None
    created: float
    completed: float | None
    expires: float | None
    purged: bool
    reserved: int = 0  # of the key's daily allowance, set aside for rows not yet geocoded

    @property
    def succeeded(self) -> int:
        return self.processed - self.failed


@dataclass(frozen=True, slots=True)
class JobLimitsCheck:
    """The per-key limits enforced atomically with a job's creation."""

    max_pending: int
    max_per_day: int
    now: float


@dataclass(frozen=True, slots=True)
class Charge:
    """Credits to take from a key's usage for ``day``, refused when they would pass its limit."""

    key_id: int
    day: str
    credits: int
    daily_limit: int | None  # None: unlimited


@dataclass(frozen=True, slots=True)
class StoredJob:
    """A job whose rows arrive already decoded (a JSON API's body), paid for at creation."""

    id: str
    key_id: int
    kind: str
    header: BatchHeader
    rows: Sequence[BatchRow]
    created: float
    expires: float


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """Which answered rows a page of results holds: one outcome, some confidences of the best
    result (empty: any)."""

    outcome: Outcome | None = None
    confidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultPoint:
    seq: int
    lat: float
    lon: float
    confidence: str
    match_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RowAnswer:
    seq: int
    answer: Answer
    outcome: Outcome


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        row["id"], row["name"], row["email"], row["daily_limit"], row["created"], row["revoked"]
    )


def _job(row: sqlite3.Row) -> Job:
    header = row["header"]
    return Job(
        id=row["id"],
        key_id=row["key_id"],
        kind=row["kind"],
        input_format=row["input_format"],
        header=None if header is None else header_from_dict(json.loads(header)),
        status=JobStatus(row["status"]),
        description=row["description"],
        total=row["total"],
        processed=row["processed"],
        failed=row["failed"],
        decoded=bool(row["decoded"]),
        error_message=row["error_message"],
        created=row["created"],
        completed=row["completed"],
        expires=row["expires"],
        purged=bool(row["purged"]),
        # Set aside only while the job is active: an ended job holds nothing (module docstring).
        reserved=row["reserved"] if row["status"] in ACTIVE else 0,
    )


class JobStore:
    """Open (creating if needed) the store at ``path``; safe to share between threads.

    Writes are refused while less than ``min_free_mb`` is free on its disk."""

    def __init__(self, path: Path, min_free_mb: int = DEFAULT_MIN_FREE_MB) -> None:
        self.path = path
        self.disk = DiskCheck(path, min_free_mb)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        con = self._connection()
        # executescript commits by itself; every statement is IF NOT EXISTS, so a re-run is safe.
        con.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        # A store made before a column existed gets it (ALTER TABLE ADD COLUMN keeps the rows).
        columns = {row["name"] for row in con.execute("PRAGMA table_info(jobs)")}
        if "unfinished" not in columns:
            con.execute("ALTER TABLE jobs ADD COLUMN unfinished INTEGER NOT NULL DEFAULT 0")
        if "reserved" not in columns:
            con.execute("ALTER TABLE jobs ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0")
        self.disk.remember()
        close_at_exit(self)

    # --- connections -------------------------------------------------------------------------

    def _connection(self, write: bool = False) -> sqlite3.Connection:
        """This thread's connection, once the data directory is found fit for a read (or, with
        ``write``, a write); raises :class:`StoreUnavailable` when it is not."""
        self.disk.check(write)
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            # isolation_level=None: transactions are opened explicitly, and reads don't hold one.
            con = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL survives a process kill
            con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two writers queue instead of failing midway.

        The disk is looked at again just before COMMIT, which is when SQLite writes to its WAL
        index; an I/O error (disk full, read-only) is raised as :class:`StoreUnavailable`."""
        con = self._connection(write=True)
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        try:
            yield con
            self.disk.check(write=True)
            con.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._translated(exc) from exc
            raise

    def _translated(self, exc: sqlite3.Error) -> Exception:
        """A disk fault as :class:`StoreUnavailable`; any other error as it is."""
        return disk_fault_of(exc, self.disk) or exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def close(self) -> None:
        """Close every connection this store opened (in any thread) -- unless the data directory
        is read-only, immutable or gone: closing writes SQLite's WAL index, which would crash the
        process there, so they are left open for good (:func:`~geobatch.jobs.diskcheck.abandon`).
        Called at interpreter exit too."""
        with self._lock:
            connections, self._all = self._all, []
        if connections and self.disk.fault(write=False) is not None:
            abandon(connections)
        else:
            for con in connections:
                con.close()
        self._local = threading.local()

    # --- keys --------------------------------------------------------------------------------

    def add_key(
        self, name: str, email: str | None, key_hash: str, daily_limit: int | None, now: float
    ) -> ApiKey:
        with self.transaction() as con:
            cursor = con.execute(
                "INSERT INTO api_keys (name, email, key_hash, daily_limit, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, email, key_hash, daily_limit, now),
            )
            key_id = cursor.lastrowid
        assert key_id is not None
        return ApiKey(key_id, name, email, daily_limit, now, None)

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = self._read("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return _key(rows[0]) if rows else None

    def key_by_id(self, key_id: int) -> ApiKey | None:
        rows = self._read("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKey]:
        return [_key(row) for row in self._read("SELECT * FROM api_keys ORDER BY id")]

    def revoke_key(self, key_id: int, now: float) -> bool:
        """Revoke a key; False when there is no such key or it was already revoked."""
        with self.transaction() as con:
            cursor = con.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (now, key_id)
            )
        return cursor.rowcount == 1

    def usage(self, key_id: int, day: str) -> int:
        rows = self._read("SELECT count FROM usage WHERE key_id = ? AND day = ?", (key_id, day))
        return int(rows[0]["count"]) if rows else 0

    def held(self, key_id: int, day: str) -> int:
        """What the key's active jobs created on ``day`` have set aside and not used yet."""
        return _held(self._connection(), key_id, day)

    def add_usage(self, key_id: int, day: str, count: int) -> None:
        with self.transaction() as con:
            _add_usage(con, key_id, day, count)

    def charge(self, charge: Charge) -> int:
        """Check and take credits in one IMMEDIATE transaction, so concurrent charges never
        overspend (what active jobs have set aside counts as spent); returns the day's usage
        after this charge, or raises :class:`OutOfCredits`."""
        with self.transaction() as con:
            return _charge(con, charge)

    # --- jobs --------------------------------------------------------------------------------

    def create_job(
        self,
        job_id: str,
        key_id: int,
        kind: str,
        input_format: str,
        description: str | None,
        limits: JobLimitsCheck,
        reservation: Charge | None = None,
    ) -> Job:
        """Insert a Pending job, unless the key is at its pending-job or 24-hour job limit.

        ``reservation``: the entities (``credits``) to set aside from the key's allowance of
        ``day`` for the job's rows, refused with :class:`OutOfCredits` when its usage and what
        its other active jobs hold leave too few; checked and taken in the transaction that
        inserts the job, so concurrent submissions never set aside more than the key has.
        """
        now = limits.now
        reserved = 0 if reservation is None else reservation.credits
        with self.transaction() as con:
            # Checked again here, inside the write transaction: the read-only pre-check of
            # check_job_limits can race with another request of the same key.
            _check_job_limits(con, key_id, kind, limits)
            if reservation is not None:
                _reserve(con, reservation)
            con.execute(
                "INSERT INTO jobs (id, key_id, kind, input_format, status, description, created,"
                " reserved) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, key_id, kind, input_format, JobStatus.PENDING, description, now, reserved),
            )
        job = self.get_job(job_id)
        assert job is not None
        return job

    def check_job_limits(self, key_id: int, kind: str, limits: JobLimitsCheck) -> None:
        """Raise :class:`LimitExceeded` when the key is at its pending-job or 24-hour job limit.

        Read-only and outside any transaction: a cheap early refusal, before an upload is
        received. :meth:`create_job` repeats the check atomically with the insert.
        """
        _check_job_limits(self._connection(write=True), key_id, kind, limits)

    def create_stored_job(self, job: StoredJob, charge: Charge) -> tuple[Job, int]:
        """Charge the key and insert a Pending job with all its rows, in one transaction: either
        the credits are taken and the job exists, or neither. Returns the job and the day's
        usage after the charge; raises :class:`OutOfCredits` when the key cannot pay."""
        with self.transaction() as con:
            used = _charge(con, charge)
            con.execute(
                "INSERT INTO jobs (id, key_id, kind, input_format, header, status, total,"
                " decoded, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    job.id,
                    job.key_id,
                    job.kind,
                    job.header.format,
                    _dumps(header_to_dict(job.header)),
                    JobStatus.PENDING,
                    len(job.rows),
                    job.created,
                    job.expires,
                ),
            )
            con.executemany(
                "INSERT INTO job_rows (job_id, seq, row) VALUES (?, ?, ?)",
                ((job.id, row.seq, _dumps(row_to_dict(row))) for row in job.rows),
            )
        stored = self.get_job(job.id)
        assert stored is not None
        return stored, used

    def get_job(self, job_id: str) -> Job | None:
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def jobs_for_key(self, key_id: int, since: float, kind: str | None = None) -> list[Job]:
        """The key's jobs (of one ``kind``, if given) created after ``since``: active first,
        then newest first."""
        rows = self._read(
            "SELECT * FROM jobs WHERE key_id = ? AND created >= ? AND (? IS NULL OR kind = ?)"
            " ORDER BY status IN (?, ?) DESC, created DESC",
            (key_id, since, kind, kind, *ACTIVE),
        )
        return [_job(row) for row in rows]

    def active_jobs(self) -> list[Job]:
        """Jobs to work on, oldest first (a restarted server resumes Processing ones too)."""
        rows = self._read("SELECT * FROM jobs WHERE status IN (?, ?) ORDER BY created, id", ACTIVE)
        return [_job(row) for row in rows]

    # --- decoding ----------------------------------------------------------------------------

    def start_processing(self, job_id: str) -> None:
        """A Pending job is being worked on (a decoded job skips :meth:`start_decode`)."""
        with self.transaction() as con:
            con.execute(
                "UPDATE jobs SET status = ? WHERE id = ? AND status = ?",
                (JobStatus.PROCESSING, job_id, JobStatus.PENDING),
            )

    def start_decode(self, job_id: str, header: BatchHeader) -> None:
        with self.transaction() as con:
            # Not an Aborted job: one cancelled while its runner was starting stays cancelled.
            con.execute(
                "UPDATE jobs SET status = ?, header = ? WHERE id = ? AND status IN (?, ?)",
                (JobStatus.PROCESSING, _dumps(header_to_dict(header)), job_id, *ACTIVE),
            )

    def add_rows(self, job_id: str, rows: Sequence[BatchRow]) -> None:
        """Store decoded rows; rows already stored (a decode resumed after a restart) are kept.

        The job's rows not yet geocoded must be covered by what it set aside: past that, more
        is set aside if the key has it left, else :class:`AllowanceExceeded` is raised and
        nothing of this call is stored.
        """
        if not rows:
            return
        with self.transaction() as con:
            _check_still_active(con, job_id)
            _cover(con, job_id, rows[-1].seq + 1)
            con.executemany(
                "INSERT OR IGNORE INTO job_rows (job_id, seq, row) VALUES (?, ?, ?)",
                ((job_id, row.seq, _dumps(row_to_dict(row))) for row in rows),
            )
            con.execute(
                "UPDATE jobs SET total = max(total, ?) WHERE id = ?", (rows[-1].seq + 1, job_id)
            )

    def finish_decode(self, job_id: str) -> int:
        """Mark every row stored; the total becomes the number of stored rows, and what the job
        set aside beyond its rows not yet geocoded goes back to the key."""
        with self.transaction() as con:
            total = con.execute(
                "SELECT count(*) FROM job_rows WHERE job_id = ?", (job_id,)
            ).fetchone()[0]
            con.execute(
                "UPDATE jobs SET decoded = 1, total = ?,"
                " reserved = min(reserved, max(? - processed, 0)) WHERE id = ? AND status != ?",
                (total, total, job_id, JobStatus.ABORTED),
            )
        return int(total)

    # --- geocoding ---------------------------------------------------------------------------

    def unanswered_rows(self, job_id: str, after_seq: int, limit: int) -> list[BatchRow]:
        rows = self._read(
            "SELECT row FROM job_rows WHERE job_id = ? AND seq > ? AND answer IS NULL"
            " ORDER BY seq LIMIT ?",
            (job_id, after_seq, limit),
        )
        return [row_from_dict(json.loads(row["row"])) for row in rows]

    def count_unanswered(self, job_id: str) -> int:
        rows = self._read(
            "SELECT count(*) AS n FROM job_rows WHERE job_id = ? AND answer IS NULL", (job_id,)
        )
        return int(rows[0]["n"])

    def unanswered_raw(self, job_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` unanswered rows after ``after_seq`` as (seq, the row's JSON), in order:
        what a geocoding task takes, without decoding it here."""
        rows = self._read(
            "SELECT seq, row FROM job_rows WHERE job_id = ? AND seq > ? AND answer IS NULL"
            " ORDER BY seq LIMIT ?",
            (job_id, after_seq, limit),
        )
        return [(int(row["seq"]), str(row["row"])) for row in rows]

    def store_answers(
        self, job: Job, answers: Iterable[RowAnswer], usage_day: str | None
    ) -> tuple[int, int]:
        """:meth:`store_records` for answers as values."""
        records = (
            (item.seq, _dumps(answer_to_dict(item.answer)), item.outcome) for item in answers
        )
        return self.store_records(job, records, usage_day)

    def store_records(
        self, job: Job, records: Iterable[tuple[int, str, Outcome]], usage_day: str | None
    ) -> tuple[int, int]:
        """Store a chunk's answers (seq, answer JSON, outcome) and advance the counts and the
        key's usage, all at once.

        Rows that already have an answer are left alone, so a chunk stored twice (a task run
        again after its worker was lost) counts once. ``usage_day`` None: the job was paid for
        when it was created, so usage is not counted. Returns (processed, failed) added.
        """
        processed = failed = 0
        with self.transaction() as con:
            for seq, answer, outcome in records:
                cursor = con.execute(
                    "UPDATE job_rows SET answer = ?, outcome = ?"
                    " WHERE job_id = ? AND seq = ? AND answer IS NULL",
                    (answer, outcome, job.id, seq),
                )
                if cursor.rowcount:
                    processed += 1
                    failed += outcome == "failed"
            if processed:
                con.execute(
                    "UPDATE jobs SET processed = processed + ?, failed = failed + ? WHERE id = ?",
                    (processed, failed, job.id),
                )
            if usage_day is not None and processed:
                _add_usage(con, job.key_id, usage_day, processed)
                # The rows move from set aside to used: the key's total stays the same.
                con.execute(
                    "UPDATE jobs SET reserved = max(reserved - ?, 0) WHERE id = ?",
                    (processed, job.id),
                )
        return processed, failed

    def complete(self, job_id: str, now: float, expires: float) -> bool:
        """Mark a job Completed; ``expires`` applies unless the job was created with its own.
        False when there is no such job or it was Aborted (cancelled while its last chunk was
        in hand, or its results were being written): it stays Aborted."""
        with self.transaction() as con:
            cursor = con.execute(
                "UPDATE jobs SET status = ?, completed = ?, expires = coalesce(expires, ?)"
                " WHERE id = ? AND status != ?",
                (JobStatus.COMPLETED, now, expires, job_id, JobStatus.ABORTED),
            )
        return cursor.rowcount == 1

    def abort(self, job_id: str, message: str, now: float, expires: float) -> None:
        """Stop a job with a reason; its rows go, so no partial result is ever served."""
        with self.transaction() as con:
            con.execute("DELETE FROM job_rows WHERE job_id = ?", (job_id,))
            # The first reason stays: a runner that finds a cancelled job empty does not
            # replace "cancelled" with "the upload holds no entities".
            con.execute(
                "UPDATE jobs SET status = ?, error_message = ?, completed = ?,"
                " expires = coalesce(expires, ?), processed = 0, failed = 0"
                " WHERE id = ? AND status != ?",
                (JobStatus.ABORTED, message, now, expires, job_id, JobStatus.ABORTED),
            )

    # --- results -----------------------------------------------------------------------------

    def result_rows(self, job_id: str, outcome: Outcome) -> Iterator[tuple[BatchRow, Answer]]:
        """The answered rows of one outcome, in input order, read lazily."""
        cursor = self._connection().execute(
            "SELECT row, answer FROM job_rows WHERE job_id = ? AND outcome = ? ORDER BY seq",
            (job_id, outcome),
        )
        try:
            for row in cursor:
                yield (
                    row_from_dict(json.loads(row["row"])),
                    answer_from_dict(json.loads(row["answer"])),
                )
        finally:
            cursor.close()

    def answered_rows(self, job_id: str) -> list[tuple[BatchRow, Answer]]:
        """Every answered row of a job with its answer, in input order (small jobs only)."""
        rows = self._read(
            "SELECT row, answer FROM job_rows WHERE job_id = ? AND answer IS NOT NULL ORDER BY seq",
            (job_id,),
        )
        return [
            (row_from_dict(json.loads(r["row"])), answer_from_dict(json.loads(r["answer"])))
            for r in rows
        ]

    def result_page(
        self, job_id: str, offset: int, limit: int, filters: ResultFilter | None = None
    ) -> list[tuple[BatchRow, Answer]]:
        """Answered rows of a job in input order, ``limit`` from ``offset`` among those that
        pass ``filters`` (the web page's table)."""
        where, params = _filter_sql(filters)
        rows = self._read(
            "SELECT row, answer FROM job_rows WHERE job_id = ? AND answer IS NOT NULL"
            f"{where} ORDER BY seq LIMIT ? OFFSET ?",
            (job_id, *params, limit, offset),
        )
        return [
            (row_from_dict(json.loads(r["row"])), answer_from_dict(json.loads(r["answer"])))
            for r in rows
        ]

    def count_results(self, job_id: str, filters: ResultFilter | None = None) -> int:
        where, params = _filter_sql(filters)
        rows = self._read(
            f"SELECT count(*) AS n FROM job_rows WHERE job_id = ? AND answer IS NOT NULL{where}",
            (job_id, *params),
        )
        return int(rows[0]["n"])

    def result_points(self, job_id: str, after_seq: int, limit: int) -> list[ResultPoint]:
        """The best point of each answered row with a result, in input order after
        ``after_seq``: what a map draws, read without building the rows (100,000 at a time)."""
        rows = self._read(
            f"SELECT seq, json_extract(answer, '{BEST_POINT}') AS pt,"
            f" json_extract(answer, '{BEST_CONFIDENCE}') AS conf,"
            f" json_extract(answer, '{BEST_MATCH_CODES}') AS codes"
            " FROM job_rows WHERE job_id = ? AND seq > ? AND answer IS NOT NULL"
            f" AND json_extract(answer, '{BEST_POINT}') IS NOT NULL ORDER BY seq LIMIT ?",
            (job_id, after_seq, limit),
        )
        points = []
        for r in rows:
            lat, lon = json.loads(r["pt"])
            points.append(ResultPoint(r["seq"], lat, lon, r["conf"], tuple(json.loads(r["codes"]))))
        return points

    def result_row(self, job_id: str, seq: int) -> tuple[BatchRow, Answer | None] | None:
        """One row of a job with its answer (None until geocoded); None when there is no row."""
        rows = self._read(
            "SELECT row, answer FROM job_rows WHERE job_id = ? AND seq = ?", (job_id, seq)
        )
        if not rows:
            return None
        answer = rows[0]["answer"]
        return (
            row_from_dict(json.loads(rows[0]["row"])),
            None if answer is None else answer_from_dict(json.loads(answer)),
        )

    def all_result_rows(self, job_id: str) -> Iterator[tuple[BatchRow, Answer]]:
        """Every answered row of a job in input order, read lazily (a whole-file download)."""
        cursor = self._connection().execute(
            "SELECT row, answer FROM job_rows WHERE job_id = ? AND answer IS NOT NULL ORDER BY seq",
            (job_id,),
        )
        try:
            for row in cursor:
                yield (
                    row_from_dict(json.loads(row["row"])),
                    answer_from_dict(json.loads(row["answer"])),
                )
        finally:
            cursor.close()

    def row_count(self, job_id: str) -> int:
        rows = self._read("SELECT count(*) AS n FROM job_rows WHERE job_id = ?", (job_id,))
        return int(rows[0]["n"])

    # --- retention ---------------------------------------------------------------------------

    def expired_jobs(self, now: float) -> list[str]:
        rows = self._read(
            "SELECT id FROM jobs WHERE expires IS NOT NULL AND expires <= ? AND purged = 0",
            (now,),
        )
        return [row["id"] for row in rows]

    def purge(self, job_id: str) -> None:
        """Delete a job's rows and mark its results gone (the job stays listed a while)."""
        with self.transaction() as con:
            con.execute("DELETE FROM job_rows WHERE job_id = ?", (job_id,))
            con.execute("UPDATE jobs SET purged = 1 WHERE id = ?", (job_id,))

    def cancel_job(self, job_id: str, message: str, now: float, expires: float) -> bool:
        """Abort a Pending or Processing job at its owner's request; False when it had already
        ended. Its rows go (no partial result is served), and every later write of a runner
        still working on it is refused (new rows: :func:`_check_still_active`) or changes
        nothing (answers find no row to fill, so neither the counts nor the key's usage move;
        :meth:`complete` leaves an Aborted job Aborted)."""
        with self.transaction() as con:
            cursor = con.execute(
                "UPDATE jobs SET status = ?, error_message = ?, completed = ?,"
                " expires = coalesce(expires, ?), processed = 0, failed = 0"
                " WHERE id = ? AND status IN (?, ?)",
                (JobStatus.ABORTED, message, now, expires, job_id, *ACTIVE),
            )
            if cursor.rowcount == 1:
                con.execute("DELETE FROM job_rows WHERE job_id = ?", (job_id,))
        return cursor.rowcount == 1

    def delete_job(self, job_id: str) -> bool:
        """Forget a job and its rows at its owner's request; False when there was no such job.
        A runner still working on it stores nothing more, as for :meth:`cancel_job`."""
        with self.transaction() as con:
            con.execute("DELETE FROM job_rows WHERE job_id = ?", (job_id,))
            cursor = con.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return cursor.rowcount == 1

    def job_counts(self) -> dict[str, tuple[int, int]]:
        """For /metrics: each status's number of jobs and rows processed."""
        rows = self._read(
            "SELECT status, count(*), coalesce(sum(processed), 0) FROM jobs GROUP BY status"
        )
        return {str(row[0]): (int(row[1]), int(row[2])) for row in rows}

    def forget_jobs(self, created_before: float) -> int:
        """Delete purged jobs created before a time (they have left the job list too)."""
        with self.transaction() as con:
            cursor = con.execute(
                "DELETE FROM jobs WHERE purged = 1 AND created < ?", (created_before,)
            )
        return cursor.rowcount


class JobCancelled(InputError):
    """The job was cancelled or deleted while a runner was storing its rows: stop reading it."""


class AllowanceExceeded(InputError):
    """The upload holds more entities than the key's daily allowance can cover (found while
    its rows were stored): the job is aborted with this reason."""


def _check_still_active(con: sqlite3.Connection, job_id: str) -> None:
    row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row[0] not in ACTIVE:
        raise JobCancelled(f"job {job_id} was cancelled")


def _filter_sql(filters: ResultFilter | None) -> tuple[str, tuple[Any, ...]]:
    if filters is None:
        return "", ()
    where, params = "", list[Any]()
    if filters.outcome is not None:
        where += " AND outcome = ?"
        params.append(filters.outcome)
    if filters.confidence:
        marks = ", ".join("?" * len(filters.confidence))
        where += f" AND json_extract(answer, '{BEST_CONFIDENCE}') IN ({marks})"
        params.extend(filters.confidence)
    return where, tuple(params)


def _check_job_limits(
    con: sqlite3.Connection, key_id: int, kind: str, limits: JobLimitsCheck
) -> None:
    # The limits are per API: jobs of another kind (a Geocode.Farm batch) don't count.
    pending = con.execute(
        "SELECT count(*) FROM jobs WHERE key_id = ? AND kind = ? AND status IN (?, ?)",
        (key_id, kind, *ACTIVE),
    ).fetchone()[0]
    if pending >= limits.max_pending:
        raise LimitExceeded(
            f"this key already has {pending} pending jobs, the most allowed at once; "
            "wait for one to complete and try again"
        )
    today = con.execute(
        "SELECT count(*) FROM jobs WHERE key_id = ? AND kind = ? AND created > ?",
        (key_id, kind, limits.now - 86_400),
    ).fetchone()[0]
    if today >= limits.max_per_day:
        raise LimitExceeded(
            f"this key has created {today} jobs in the last 24 hours, the most allowed; "
            "try again later"
        )


def _charge(con: sqlite3.Connection, charge: Charge) -> int:
    used = _used(con, charge.key_id, charge.day)
    limit = charge.daily_limit
    if limit is not None:
        held = _held(con, charge.key_id, charge.day)
        if used + held + charge.credits > limit:
            left = max(limit - used - held, 0)
            raise OutOfCredits(
                f"this request needs {charge.credits:,} credit{'s' * (charge.credits != 1)} but "
                f"the key has {left:,} of its {limit:,} left for today (UTC)"
                f"{_held_note(held)}; try again tomorrow"
            )
    _add_usage(con, charge.key_id, charge.day, charge.credits)
    return used + charge.credits


def day_of(now: float) -> str:
    """The UTC day (``YYYY-MM-DD``) of a time: usage is counted per key and UTC day."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _used(con: sqlite3.Connection, key_id: int, day: str) -> int:
    row = con.execute(
        "SELECT count FROM usage WHERE key_id = ? AND day = ?", (key_id, day)
    ).fetchone()
    return int(row[0]) if row else 0


def _held(con: sqlite3.Connection, key_id: int, day: str) -> int:
    """What the key's active jobs created on ``day`` (charged to it) have set aside."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    row = con.execute(
        "SELECT coalesce(sum(reserved), 0) FROM jobs WHERE key_id = ? AND created >= ?"
        " AND created < ? AND status IN (?, ?)",
        (key_id, start, start + 86_400.0, *ACTIVE),
    ).fetchone()
    return int(row[0])


def _held_note(held: int) -> str:
    if not held:
        return ""
    return (
        f", {held:,} being set aside for its jobs in progress (what they do not use is given "
        "back when they end)"
    )


def _reserve(con: sqlite3.Connection, reservation: Charge) -> None:
    """Refuse a new job whose entities the key's allowance cannot cover with what its usage and
    its active jobs leave (nothing is written: the caller inserts the job with them set aside)."""
    limit = reservation.daily_limit
    if limit is None:
        return
    used = _used(con, reservation.key_id, reservation.day)
    held = _held(con, reservation.key_id, reservation.day)
    if used + held + reservation.credits <= limit:
        return
    left = max(limit - used - held, 0)
    count = reservation.credits
    advice = "try again tomorrow"
    if left:
        advice = f"send at most {left:,} entities, or {advice}"
    raise OutOfCredits(
        f"the upload holds up to {count:,} entit{'ies' if count != 1 else 'y'} but the key has "
        f"{left:,} of its {limit:,} entities left for today (UTC){_held_note(held)}; {advice}"
    )


def _cover(con: sqlite3.Connection, job_id: str, stored: int) -> None:
    """The job is about to hold ``stored`` rows (at least): set aside more of the key's
    allowance when its rows not yet geocoded need it, or raise :class:`AllowanceExceeded`.

    Only where the upload's count at its arrival was short (the codec's bound is an upper one
    for the files it reads) or the job predates reservations."""
    job = con.execute(
        "SELECT j.key_id, j.created, j.total, j.processed, j.reserved, k.daily_limit"
        " FROM jobs AS j JOIN api_keys AS k ON k.id = j.key_id WHERE j.id = ?",
        (job_id,),
    ).fetchone()
    limit = job["daily_limit"]
    processed = int(job["processed"])
    need = max(int(job["total"]), stored) - processed - int(job["reserved"])
    if limit is None or need <= 0:
        return
    day = day_of(job["created"])
    used, held = _used(con, job["key_id"], day), _held(con, job["key_id"], day)
    if used + held + need > limit:
        covered = processed + int(job["reserved"])
        cost = (
            "nothing of it was geocoded or charged"
            if processed == 0
            else f"the {processed:,} entities geocoded before stay charged"
        )
        raise AllowanceExceeded(
            f"the upload holds more than the {covered:,} entities set aside for it when it was "
            f"sent, and the key has too few left of its {limit:,} for that day ({day}, UTC) for "
            f"the rest; the job is stopped and {cost}: send fewer entities, or try again tomorrow"
        )
    con.execute("UPDATE jobs SET reserved = reserved + ? WHERE id = ?", (need, job_id))


def _add_usage(con: sqlite3.Connection, key_id: int, day: str, count: int) -> None:
    if count:
        con.execute(
            "INSERT INTO usage (key_id, day, count) VALUES (?, ?, ?)"
            " ON CONFLICT (key_id, day) DO UPDATE SET count = count + excluded.count",
            (key_id, day, count),
        )
