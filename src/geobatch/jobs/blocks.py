"""Which blocks of rows the job runner has in hand, kept in the store, to tell a runner killed
from outside (the OOM killer, ``kill -9``, a server restart) from a job whose rows kill it.

Every block handed to the executor is recorded with the id of the runner that sent it, and
forgotten when its answers are stored or it is given back. A record still held by another runner
when a runner starts was in hand when that one died: the block's ``crashes`` goes up. A suspect
block (``crashes`` 1) is run again alone, nothing else in flight; one the runner died on while
it was alone (``crashes`` 2 or more) is run row by row, alone. A row the runner died on twice
while it was the only one in hand is the culprit: its job is aborted naming it, and every other
job, and every other row of that job up to then, is kept.

Three kills from outside at random moments therefore cost a few blocks a second run, not the job:
blaming an innocent row would take kills that land while that block, then that row, is alone in
hand, twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from geobatch.jobs.store import ACTIVE, JobStore

ROW_CRASHES = 2  # deaths with one row alone in hand that convict it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_blocks (
    job_id TEXT NOT NULL,
    first INTEGER NOT NULL,             -- the block's first and last seq
    last INTEGER NOT NULL,
    runner TEXT,                        -- the runner that has it in hand; NULL: none
    crashes INTEGER NOT NULL DEFAULT 0, -- runners that died with the block in hand
    row INTEGER,                        -- row by row: the one row in hand (or last in hand)
    row_crashes INTEGER NOT NULL DEFAULT 0, -- runners that died with that row alone in hand
    PRIMARY KEY (job_id, first)
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class Suspect:
    """A block some runner died with in hand."""

    job_id: str
    first: int
    last: int
    crashes: int
    row: int | None  # the row to run next, row by row (the one in hand at the last death)

    @property
    def row_by_row(self) -> bool:
        return self.crashes >= 2 or self.first == self.last


@dataclass(frozen=True, slots=True)
class Culprit:
    """A row the runner died on, alone in hand, :data:`ROW_CRASHES` times."""

    job_id: str
    seq: int
    crashes: int  # deaths with its block in hand, these included


class BlockLedger:
    """The records of blocks in hand, in ``store``'s database."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        with store.transaction() as con:
            con.execute(_SCHEMA)

    def sent(self, job_id: str, first: int, last: int, runner: str) -> None:
        """A block goes to the executor (a suspect's record keeps its count)."""
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO job_blocks (job_id, first, last, runner) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job_id, first) DO UPDATE SET runner = excluded.runner,"
                " row = NULL, row_crashes = 0",
                (job_id, first, last, runner),
            )

    def sent_row(self, suspect: Suspect, seq: int, runner: str) -> None:
        """One row of a suspect block goes to the executor, alone."""
        with self.store.transaction() as con:
            con.execute(
                "UPDATE job_blocks SET runner = ?,"
                " row_crashes = CASE WHEN row = ? THEN row_crashes ELSE 0 END, row = ?"
                " WHERE job_id = ? AND first = ?",
                (runner, seq, seq, suspect.job_id, suspect.first),
            )

    def done(self, job_id: str, first: int) -> None:
        """The block's answers are stored (or none of its rows is left to answer)."""
        with self.store.transaction() as con:
            con.execute("DELETE FROM job_blocks WHERE job_id = ? AND first = ?", (job_id, first))

    def given_back(self, job_id: str, first: int) -> None:
        """The block came back without answers (its task failed, or was cancelled): no longer
        in hand; a block no runner died on is forgotten."""
        with self.store.transaction() as con:
            _give_back(con, "job_id = ? AND first = ?", (job_id, first))

    def release_all(self, runner: str) -> None:
        """Everything ``runner`` has in hand is given back (it stops, or its tasks were
        forgotten while the disk could not be written)."""
        with self.store.transaction() as con:
            _give_back(con, "runner = ?", (runner,))

    def count_crashes(self, runner: str) -> list[Culprit]:
        """A runner starts: every block another runner had in hand counts a death; returns the
        rows now convicted (their records are removed: their jobs are to be aborted)."""
        culprits: list[Culprit] = []
        with self.store.transaction() as con:
            con.execute(
                "DELETE FROM job_blocks WHERE job_id NOT IN"
                " (SELECT id FROM jobs WHERE status IN (?, ?))",
                ACTIVE,
            )
            held = con.execute(
                "SELECT job_id, first, crashes, row, row_crashes FROM job_blocks"
                " WHERE runner IS NOT NULL AND runner != ?",
                (runner,),
            ).fetchall()
            for job_id, first, crashes, row, row_crashes in held:
                if row is not None and row_crashes + 1 >= ROW_CRASHES:
                    culprits.append(Culprit(job_id, row, crashes + 1))
                    con.execute("DELETE FROM job_blocks WHERE job_id = ?", (job_id,))
                    continue
                con.execute(
                    "UPDATE job_blocks SET runner = NULL, crashes = crashes + 1,"
                    " row_crashes = row_crashes + (row IS NOT NULL)"
                    " WHERE job_id = ? AND first = ?",
                    (job_id, first),
                )
        return culprits

    def suspects(self, job_id: str) -> list[Suspect]:
        """The job's blocks some runner died with in hand, in input order."""
        with self.store.transaction() as con:
            rows = con.execute(
                "SELECT first, last, crashes, row FROM job_blocks"
                " WHERE job_id = ? AND crashes > 0 ORDER BY first",
                (job_id,),
            ).fetchall()
        return [Suspect(job_id, int(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows]


def _give_back(con: sqlite3.Connection, where: str, params: tuple[object, ...]) -> None:
    con.execute(f"DELETE FROM job_blocks WHERE {where} AND crashes = 0", params)
    con.execute(f"UPDATE job_blocks SET runner = NULL WHERE {where}", params)
