"""Shared helpers (no tests) for the job-service tests: a one-column text codec and a fake geocoder.

The codec reads one entity per line: ``@lat,lon`` is a reverse request, ``-`` an entity with a
fault, anything else a free-text query; a first line ``!unreadable`` makes the whole file fail.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from geobatch.batch.executors import Executor, LocalExecutor
from geobatch.config import JobLimits, Settings
from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow, Outcome
from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest


@dataclass
class LineBatch:
    header: BatchHeader
    lines: list[str]

    def rows(self) -> Iterator[BatchRow]:
        for seq, line in enumerate(self.lines):
            if line == "-":
                yield BatchRow(seq, str(seq), None, fault="empty entity")
            elif line.startswith("@"):
                lat, lon = (float(v) for v in line[1:].split(","))
                yield BatchRow(seq, str(seq), ReverseRequest(lat, lon))
            elif line == "!parser-bug":
                raise ValueError("unexpected token")
            elif line == "!late-failure":
                raise InputError(f"line {seq + 1} cannot be read")
            elif line.startswith("!slow "):
                time.sleep(float(line.split()[1]))  # a parser chewing on a hostile token
                yield BatchRow(seq, str(seq), GeocodeRequest(query="slow"))
            else:
                yield BatchRow(seq, str(seq), GeocodeRequest(query=line))


class LineCodec:
    def decode(self, stream: BinaryIO, fmt: str) -> LineBatch:
        text = stream.read().decode("utf-8")
        lines = text.splitlines()
        if lines and lines[0] == "!unreadable":
            raise InputError("the file is unreadable")
        return LineBatch(BatchHeader(fmt, "1.0"), lines)

    def entity_bound(self, stream: BinaryIO, fmt: str) -> int:
        return len(stream.read().decode("utf-8").splitlines())

    def outcome(self, row: BatchRow, answer: Answer) -> Outcome:
        return "failed" if answer.status is ResultStatus.FAILED else "succeeded"

    def encode(
        self,
        out: BinaryIO,
        header: BatchHeader,
        rows: Iterable[tuple[BatchRow, Answer]],
        outcome: Outcome,
    ) -> int:
        count = 0
        for row, answer in rows:
            out.write(f"{row.seq}|{row.id}|{answer.status}|{answer.reason}\n".encode())
            count += 1
        return count


ANSWERED: list[str] = []  # queries in the order an in-process EchoGeocoder answered them


class EchoGeocoder:
    """Answers OK with the query (or the point) as the reason; ``fail`` queries fail, ``~slow``
    ones take 2 ms, and ``!die`` kills the job runner's process (only there)."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]:
        for r in requests:
            if r.query == "~slow":
                time.sleep(0.002)  # a job long enough to be killed in the middle of
            elif r.query == "!die" and multiprocessing.current_process().name == "geobatch-jobs":
                os.kill(os.getpid(), signal.SIGKILL)  # a row that kills the runner process
        ANSWERED.extend(r.query or "" for r in requests)
        return [
            Answer(
                ResultStatus.FAILED if r.query == "fail" else ResultStatus.OK,
                reason=r.query or "",
            )
            for r in requests
        ]

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]:
        return [Answer(ResultStatus.OK, reason=f"{r.lat},{r.lon}") for r in requests]


def echo_opener(index_dir: Path) -> EchoGeocoder:
    return EchoGeocoder()


def echo_executor() -> Executor:
    return LocalExecutor(1, opener=echo_opener)


def settings_for(tmp: Path, **changes: object) -> Settings:
    base = Settings(index_dir=tmp / "index", workers=1, data_dir=tmp / "data", chunk_size=3)
    limits = changes.pop("limits", None)
    if isinstance(limits, JobLimits):
        base = base.with_changes(limits=limits)
    return base.with_changes(**changes)
