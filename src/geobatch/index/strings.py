"""String columns in an index file: one blob of UTF-8 and the offset where each value starts.

A column of *n* values is two sections: ``NAME.offsets`` (*n* + 1 integers) and ``NAME.blob``.
Reading value *i* decodes ``blob[offsets[i]:offsets[i+1]]``; nothing is decoded at open. An
absent value is stored as the empty string and read back as ``None`` where the column is
optional. Columns with few distinct values over many rows (house numbers, postcodes, localities
of twenty million addresses) are dictionary-encoded: a :class:`StringCodes` collects the distinct
values and each row stores an integer code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import overload

import numpy as np
import numpy.typing as npt

from geobatch.index.container import Container, ContainerWriter

NAME_SEPARATOR = "\x1f"  # between alternate names in one value: never typed by anyone


def write_strings(out: ContainerWriter, name: str, values: Iterable[str | None]) -> int:
    """Write a string column; returns its length."""
    offsets = [0]
    parts: list[bytes] = []
    total = 0
    for value in values:
        data = value.encode("utf-8") if value else b""
        parts.append(data)
        total += len(data)
        offsets.append(total)
    out.array(f"{name}.offsets", np.array(offsets, dtype=np.int64))
    out.raw(f"{name}.blob", b"".join(parts))
    return len(offsets) - 1


class StringColumn:
    """A string column of a container, decoded one value at a time."""

    def __init__(self, box: Container, name: str) -> None:
        self._offsets = box.view(f"{name}.offsets")
        self._blob = box.raw(f"{name}.blob")
        self._n = len(self._offsets) - 1

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return str(self._blob[self._offsets[i] : self._offsets[i + 1]], "utf-8")

    def text(self, i: int) -> str:
        """Value ``i`` (no bounds check beyond the offsets')."""
        offsets = self._offsets
        return str(self._blob[offsets[i] : offsets[i + 1]], "utf-8")

    def get(self, i: int) -> str | None:
        """Value ``i``, ``None`` where it is empty (an optional field that is absent)."""
        start, end = self._offsets[i], self._offsets[i + 1]
        return str(self._blob[start:end], "utf-8") if end > start else None

    def __iter__(self) -> Iterator[str]:
        # One decode of the whole blob, split at the offsets: far quicker than value by value.
        text = bytes(self._blob)
        offsets = np.asarray(self._offsets)
        for k in range(self._n):
            yield text[offsets[k] : offsets[k + 1]].decode("utf-8")

    def all(self) -> list[str]:
        return list(self)

    def nbytes(self) -> int:
        return len(self._blob) + 8 * (self._n + 1)


class StringCodes:
    """Distinct strings in order of first sight, each with a code (0 is reserved for absent)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {"": 0}
        self.values: list[str] = [""]

    def code(self, value: str | None) -> int:
        if not value:
            return 0
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self.values)
            self.values.append(value)
        return code

    def codes(self, values: Iterable[str | None]) -> npt.NDArray[np.int32]:
        code = self.code
        return np.fromiter((code(v) for v in values), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.values)


def split_names(value: str | None) -> tuple[str, ...]:
    """The names of a value joined with :data:`NAME_SEPARATOR`."""
    return tuple(v for v in (value or "").split(NAME_SEPARATOR) if v)
