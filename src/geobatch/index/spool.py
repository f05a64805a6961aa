"""Columns written piece by piece to temporary files, then copied into an index file.

A country's streets are millions of rows: their columns are built a frame at a time (so no
list of a million objects is held) and appended to one temporary file per column; when all
are written, each is copied into the container as its section, in the order it was begun.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from geobatch.index.container import ContainerWriter


class Spool:
    def __init__(self, work: Path, prefix: str) -> None:
        self._work = work
        self._prefix = prefix
        self._files: dict[str, tuple[BinaryIO, Path, str]] = {}  # section -> (file, path, dtype)
        self._ends: dict[str, int] = {}  # string and blob columns: bytes written so far

    def _file(self, section: str, dtype: str) -> BinaryIO:
        found = self._files.get(section)
        if found is None:
            path = self._work / f"{self._prefix}-{len(self._files)}"
            found = self._files[section] = (open(path, "wb"), path, dtype)  # noqa: SIM115
        return found[0]

    def array(self, name: str, values: npt.ArrayLike, dtype: npt.DTypeLike) -> None:
        """Append to a numeric column (rows of 1-D or of fixed width)."""
        arr = np.ascontiguousarray(values, dtype=dtype)
        arr.tofile(self._file(name, np.dtype(dtype).str))

    def blobs(self, name: str, values: Iterable[bytes]) -> None:
        """Append to a column of bytes (``NAME.offsets`` and ``NAME.blob``)."""
        data = list(values)
        end = self._ends.get(name, 0)
        offsets = self._file(f"{name}.offsets", "<i8")
        blob = self._file(f"{name}.blob", "|u1")
        if name not in self._ends:
            np.zeros(1, dtype=np.int64).tofile(offsets)
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
        (end + np.cumsum(lengths)).astype(np.int64).tofile(offsets)
        blob.write(b"".join(data))
        self._ends[name] = end + int(lengths.sum())

    def strings(self, name: str, values: Iterable[str | None]) -> None:
        """Append to a string column (read back by :class:`geobatch.index.strings.StringColumn`)."""
        self.blobs(name, ((v.encode("utf-8") if v else b"") for v in values))

    def into(self, out: ContainerWriter, widths: dict[str, int] | None = None) -> None:
        """Copy every column into ``out`` (``widths``: columns of rows of that many values)."""
        widths = widths or {}
        for section, (f, path, dtype) in self._files.items():
            f.close()
            if dtype == "|u1":
                out.raw_file(section, path)
            else:
                width = widths.get(section, 1)
                data = np.fromfile(path, dtype=dtype)
                out.array(section, data.reshape(-1, width) if width > 1 else data)
            path.unlink()
        self._files.clear()

    def discard(self) -> None:
        for f, path, _ in self._files.values():
            f.close()
            path.unlink(missing_ok=True)
        self._files.clear()
