"""Where the job service keeps its files under the data directory."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from geobatch.formats.batch import Outcome


@dataclass(frozen=True, slots=True)
class DataPaths:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "jobs.sqlite"

    @property
    def runner_lock(self) -> Path:
        """Locked by the one job runner working on this data directory."""
        return self.root / "runner.lock"

    @property
    def incoming(self) -> Path:
        """Bodies being received (not yet jobs); anything left here after a crash is junk."""
        return self.root / "incoming"

    def upload(self, job_id: str) -> Path:
        """A job's uncompressed upload, kept until every row is stored."""
        return self.uploads / job_id

    def results(self, job_id: str) -> Path:
        return self.root / "results" / job_id

    def result_file(self, job_id: str, outcome: Outcome) -> Path:
        return self.results(job_id) / outcome

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def create(self) -> DataPaths:
        for folder in (self.incoming, self.uploads, self.root / "results"):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def clear_incoming(self) -> None:
        shutil.rmtree(self.incoming, ignore_errors=True)
        self.incoming.mkdir(parents=True, exist_ok=True)

    def remove_job_files(self, job_id: str) -> None:
        """Delete what a job left on disk; never fails (it runs when things went wrong)."""
        upload = self.upload(job_id)
        if upload.is_dir():
            shutil.rmtree(upload, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                upload.unlink(missing_ok=True)
        shutil.rmtree(self.results(job_id), ignore_errors=True)
