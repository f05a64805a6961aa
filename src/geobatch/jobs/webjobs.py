"""The web page's operations on a key's jobs, beside those of the job service: list the jobs the
page shows, cancel, delete, read results a page at a time, and the whole-file downloads (the
CLI's CSV of every row, GeoJSON) rendered once into the job's results folder.

Every call checks that the job belongs to the key; another key's job is "not found".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from geobatch.formats import geojson
from geobatch.formats.batch import BatchRow, Outcome
from geobatch.formats.csvbatch import write_csv
from geobatch.jobs.errors import BadJobRequest, JobNotFound
from geobatch.jobs.kinds import BING, CSV
from geobatch.jobs.service import DAY, JobService
from geobatch.jobs.store import ACTIVE, ApiKey, Job, JobStatus, ResultFilter, ResultPoint
from geobatch.model import Answer

PAGE_KINDS = (CSV, BING)  # Geocode.Farm batches have their own result URL and no file
CANCELLED = "cancelled by its owner"
MAX_PAGE = 1000
MAX_POINTS = 50_000


@dataclass(frozen=True, slots=True)
class Download:
    """One file of a completed job: ``name`` in the URL, what the page calls it."""

    name: str
    label: str
    media_type: str
    filename: str


def _whole_output(job: Job) -> Download:
    return Download("output", "CSV, every row (as the CLI writes it)", "text/csv", f"{job.id}.csv")


def downloads(job: Job) -> list[Download]:
    """The files a completed job offers, in the order the page lists them."""
    if job.status is not JobStatus.COMPLETED or job.purged:
        return []
    files: list[Download] = []
    if job.kind == CSV:
        files.append(_whole_output(job))
    fmt = job.header.format if job.header is not None else job.input_format
    suffix = "csv" if job.kind == CSV else {"xml": "xml", "tab": "txt", "pipe": "txt"}.get(fmt, fmt)
    media = "text/csv" if job.kind == CSV else "application/octet-stream"
    described = "CSV" if job.kind == CSV else f"Bing Dataflow {fmt}"
    if job.succeeded:
        files.append(
            Download(
                "succeeded",
                f"{described}, rows with a result",
                media,
                f"{job.id}-succeeded.{suffix}",
            )
        )
    if job.failed:
        files.append(
            Download("failed", f"{described}, rows without one", media, f"{job.id}-failed.{suffix}")
        )
    files.append(
        Download("geojson", "GeoJSON, every row", "application/geo+json", f"{job.id}.geojson")
    )
    return files


class WebJobs:
    """The page's view of the job service (one per server)."""

    def __init__(self, service: JobService, kinds: tuple[str, ...] = PAGE_KINDS) -> None:
        self.service = service
        self.store = service.store
        self.kinds = kinds

    def job(self, key: ApiKey, job_id: str) -> Job:
        job = self.service.get_job(key, job_id)
        if job.kind not in self.kinds:
            raise JobNotFound(f"there is no job {job_id!r} for this key")
        return job

    def jobs(self, key: ApiKey) -> list[Job]:
        return [job for job in self.service.list_jobs(key) if job.kind in self.kinds]

    def cancel(self, key: ApiKey, job_id: str) -> Job:
        """Stop a Pending or Processing job: it ends Aborted, its rows and files deleted."""
        job = self.job(key, job_id)
        if job.status not in ACTIVE:
            raise BadJobRequest(f"job {job.id} has already ended ({job.status})")
        now = self.service.clock()
        expires = now + self.service.settings.retention_days * DAY
        if self.store.cancel_job(job.id, CANCELLED, now, expires):
            self.service.paths.remove_job_files(job.id)
            self.service.on_new_job()  # the runner lets go of it now, not at its next look
        return self.job(key, job.id)

    def delete(self, key: ApiKey, job_id: str) -> None:
        """Forget a job and delete its rows and files. A runner working on it stores nothing
        more (its rows are gone, see :meth:`JobStore.delete_job`) and lets go of it."""
        job = self.job(key, job_id)
        if self.store.delete_job(job.id):
            self.service.paths.remove_job_files(job.id)
            self.service.on_new_job()

    # --- results -----------------------------------------------------------------------------

    def completed(self, key: ApiKey, job_id: str) -> Job:
        """The key's job, when its results can be read (completed and not expired)."""
        job = self.job(key, job_id)
        if job.status is not JobStatus.COMPLETED:
            raise JobNotFound(f"job {job.id} has no results: its status is {job.status}")
        if job.purged or (job.expires is not None and job.expires <= self.service.clock()):
            raise JobNotFound(f"the results of job {job.id} have expired")
        return job

    def page(
        self, key: ApiKey, job_id: str, offset: int, limit: int, filters: ResultFilter
    ) -> tuple[Job, int, list[tuple[BatchRow, Answer]]]:
        """A page of the job's rows passing ``filters``, and how many pass in all."""
        job = self.completed(key, job_id)
        limit = max(1, min(limit, MAX_PAGE))
        rows = self.store.result_page(job.id, max(offset, 0), limit, filters)
        return job, self.store.count_results(job.id, filters), rows

    def points(self, key: ApiKey, job_id: str, after: int, limit: int) -> list[ResultPoint]:
        job = self.completed(key, job_id)
        return self.store.result_points(job.id, after, max(1, min(limit, MAX_POINTS)))

    def row(self, key: ApiKey, job_id: str, seq: int) -> tuple[BatchRow, Answer]:
        job = self.completed(key, job_id)
        found = self.store.result_row(job.id, seq)
        if found is None or found[1] is None:
            raise JobNotFound(f"job {job.id} has no row {seq}")
        return found[0], found[1]

    def open_download(self, key: ApiKey, job_id: str, name: str) -> tuple[Download, BinaryIO]:
        """An open file of a completed job (see :func:`downloads`); the caller closes it."""
        job = self.completed(key, job_id)
        offered = {download.name: download for download in downloads(job)}
        download = offered.get(name)
        if download is None:
            raise JobNotFound(
                f"job {job.id} has no {name!r} file; it offers {', '.join(offered) or 'none'}"
            )
        if name in ("succeeded", "failed"):
            outcome: Outcome = "succeeded" if name == "succeeded" else "failed"
            return download, self.service.open_result(key, job.id, outcome)[1]
        path = self.service.paths.results(job.id) / f"web-{name}"
        if not path.exists():
            write = _whole_csv if name == "output" else _whole_geojson
            try:
                _render(path, lambda out: write(out, job, self.store.all_result_rows(job.id)))
            except FileNotFoundError:
                raise JobNotFound(f"the results of job {job.id} have expired") from None
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise JobNotFound(f"the results of job {job.id} have expired") from None
        current = self.store.get_job(job.id)
        if current is None or current.purged:  # the sweep came between: the file may be partial
            stream.close()
            raise JobNotFound(f"the results of job {job.id} have expired")
        return download, stream


def _whole_csv(out: BinaryIO, job: Job, rows: Iterable[tuple[BatchRow, Answer]]) -> None:
    assert job.header is not None
    write_csv(out, job.header, rows)


def _whole_geojson(out: BinaryIO, job: Job, rows: Iterable[tuple[BatchRow, Answer]]) -> None:
    geojson.write_collection(out, rows)


def _render(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file under a temporary name and rename it into place (two at once both win)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
