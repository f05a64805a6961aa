"""Temporary files of an import: values written out in frames and read back in order.

An import of a country does not fit in memory as Python objects, so what it has read or sorted
goes to disk in frames of a few hundred thousand rows (pickled columns) and comes back one frame
at a time. The files live in a temporary folder inside the index directory (same file system,
no copy across disks) and are removed when the import ends, however it ends.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


class SpillFile:
    """Frames appended to one file, read back in the order they were written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self._out: BinaryIO | None = None

    def write(self, frame: Any) -> None:
        if self._out is None:
            self._out = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        pickle.dump(frame, self._out, protocol=pickle.HIGHEST_PROTOCOL)
        self.frames += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def read(self) -> Iterator[Any]:
        self.close()
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for _ in range(self.frames):
                yield pickle.load(f)

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
