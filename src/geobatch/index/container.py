"""One index file: named sections of bytes, mapped from disk, with a table of contents at the end.

A data set (and the index-wide lexicon) is a single file: numpy arrays and string blobs laid
end to end, each section aligned to 64 bytes, followed by a JSON table of contents and a trailer.
Opening maps the file and reads the table of contents: no section is read until used, and every
process that opens the file shares its pages in the page cache. Arrays are zero-copy views of the
mapping (``numpy.frombuffer``), read-only.

Layout::

    b"GBXFILE\\n"  sections (each at a multiple of 64)  toc (JSON)  toc_length (8 bytes LE)
    b"GBXEND01"

A file cut short, or anything else, lacks the trailer and is refused with one clear line; the
format version in the table of contents is checked by the caller (:mod:`geobatch.index.format`).
The writer writes a file under a temporary name; the caller renames it into place when complete.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from geobatch.errors import IndexError_

MAGIC = b"GBXFILE\n"
TRAILER = b"GBXEND01"
_ALIGN = 64


class ContainerWriter:
    """Append sections to a new container file, then :meth:`close` writes the table of contents.

    ``meta`` is free JSON stored with the table of contents (format version, source, counts).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(MAGIC)
        self._sections: dict[str, dict[str, Any]] = {}
        self.meta: dict[str, Any] = {}
        self._open: str | None = None

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()

    def _align(self) -> int:
        pos = self._file.tell()
        pad = -pos % _ALIGN
        if pad:
            self._file.write(b"\0" * pad)
        return pos + pad

    def _check_new(self, name: str) -> None:
        if name in self._sections:
            raise ValueError(f"section {name!r} written twice")
        if self._open is not None:
            raise ValueError(f"section {self._open!r} is still being written")

    def array(self, name: str, values: npt.ArrayLike, dtype: npt.DTypeLike | None = None) -> None:
        """Write one array (1-D or 2-D, C order) as a section."""
        self._check_new(name)
        arr = np.ascontiguousarray(values, dtype=dtype)
        offset = self._align()
        self._file.write(arr.data.cast("B") if arr.size else b"")
        self._sections[name] = {
            "offset": offset,
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }

    def raw(self, name: str, data: bytes) -> None:
        """Write opaque bytes as a section (an embedded file, a blob)."""
        self._check_new(name)
        offset = self._align()
        self._file.write(data)
        self._sections[name] = {"offset": offset, "dtype": "|u1", "shape": [len(data)]}

    def raw_file(self, name: str, path: Path) -> None:
        """Write the bytes of a file as a section, copied in pieces."""
        self._check_new(name)
        offset = self._align()
        size = 0
        with open(path, "rb") as f:
            while piece := f.read(16 * 1024 * 1024):
                self._file.write(piece)
                size += len(piece)
        self._sections[name] = {"offset": offset, "dtype": "|u1", "shape": [size]}

    def stream(self, name: str, dtype: npt.DTypeLike) -> SectionStream:
        """A section written piece by piece (arrays of ``dtype``), for columns too large to hold."""
        self._check_new(name)
        offset = self._align()
        self._open = name
        return SectionStream(self, name, offset, np.dtype(dtype))

    def _finish_stream(self, name: str, offset: int, dtype: np.dtype[Any], count: int) -> None:
        self._open = None
        self._sections[name] = {"offset": offset, "dtype": dtype.str, "shape": [count]}

    def close(self) -> None:
        if self._file.closed:
            return
        if self._open is not None:
            raise ValueError(f"section {self._open!r} was never finished")
        toc = json.dumps({"meta": self.meta, "sections": self._sections}).encode("utf-8")
        self._align()
        self._file.write(toc)
        self._file.write(len(toc).to_bytes(8, "little"))
        self._file.write(TRAILER)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


class SectionStream:
    """A section being written in pieces; see :meth:`ContainerWriter.stream`."""

    def __init__(self, owner: ContainerWriter, name: str, offset: int, dtype: np.dtype[Any]):
        self._owner = owner
        self._name = name
        self._offset = offset
        self._dtype = dtype
        self.count = 0

    def write(self, values: npt.ArrayLike) -> None:
        arr = np.ascontiguousarray(values, dtype=self._dtype)
        if arr.ndim != 1:
            raise ValueError("streamed sections are one-dimensional")
        if arr.size:
            self._owner._file.write(arr.data.cast("B"))
        self.count += int(arr.size)

    def write_many(self, pieces: Iterable[npt.ArrayLike]) -> None:
        for piece in pieces:
            self.write(piece)

    def finish(self) -> None:
        self._owner._finish_stream(self._name, self._offset, self._dtype, self.count)


class Container:
    """A container file opened for reading: the file is mapped once; sections are views of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < len(MAGIC) + 16:
                    raise IndexError_(_damaged(path, "it is too short to be an index file"))
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise IndexError_(f"cannot open index file {path}: {exc.strerror or exc}") from exc
        if self._map[: len(MAGIC)] != MAGIC:
            raise IndexError_(_damaged(path, "it is not a geobatch index file"))
        if self._map[size - len(TRAILER) :] != TRAILER:
            raise IndexError_(_damaged(path, "it is incomplete (cut short while written?)"))
        toc_len = int.from_bytes(self._map[size - 16 : size - 8], "little")
        start = size - 16 - toc_len
        if toc_len <= 0 or start < len(MAGIC):
            raise IndexError_(_damaged(path, "its table of contents is damaged"))
        try:
            toc = json.loads(bytes(self._map[start : size - 16]))
            self.meta: dict[str, Any] = dict(toc["meta"])
            self._sections: dict[str, dict[str, Any]] = dict(toc["sections"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexError_(_damaged(path, "its table of contents is damaged")) from exc
        self._data_end = start

    @property
    def size(self) -> int:
        return len(self._map)

    def has(self, name: str) -> bool:
        return name in self._sections

    def names(self) -> list[str]:
        return list(self._sections)

    def section_bytes(self, name: str) -> int:
        info = self._section(name)
        return int(np.dtype(info["dtype"]).itemsize * int(np.prod(info["shape"])))

    def _section(self, name: str) -> dict[str, Any]:
        info = self._sections.get(name)
        if info is None:
            raise IndexError_(_damaged(self.path, f"it has no section {name!r}"))
        return info

    def array(self, name: str) -> npt.NDArray[Any]:
        """A read-only view of a section as the array it was written as."""
        info = self._section(name)
        dtype = np.dtype(info["dtype"])
        shape = tuple(int(n) for n in info["shape"])
        count = int(np.prod(shape)) if shape else 1
        offset = int(info["offset"])
        if offset + count * dtype.itemsize > self._data_end:
            raise IndexError_(_damaged(self.path, f"section {name!r} runs past its end"))
        arr = np.frombuffer(self._map, dtype=dtype, count=count, offset=offset)
        return arr.reshape(shape)

    def view(self, name: str) -> memoryview:
        """A section as a flat memoryview of its numbers: indexing it gives Python ints and
        floats, far cheaper than numpy scalars for one value at a time."""
        return self.array(name).reshape(-1).data

    def raw_section(self, name: str) -> memoryview:
        """The bytes of any section as stored."""
        info = self._section(name)
        offset = int(info["offset"])
        return memoryview(self._map)[offset : offset + self.section_bytes(name)]

    def raw(self, name: str) -> memoryview:
        """The bytes of a section, without copying."""
        info = self._section(name)
        offset = int(info["offset"])
        length = int(np.prod(info["shape"]))
        return memoryview(self._map)[offset : offset + length]


def _damaged(path: Path, why: str) -> str:
    return f"index file {path} cannot be read: {why}; import its source again"


def read_meta(path: Path) -> dict[str, Any] | None:
    """The meta of a container file, or None when it is not a complete container."""
    try:
        return Container(path).meta
    except IndexError_:
        return None
