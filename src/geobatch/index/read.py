"""Every data set of an index directory, mapped, behind one numbering of rows.

Streets, places, postcodes, areas, interpolation lines and addresses are numbered across data
sets in the order :func:`~geobatch.index.format.data_set_files` lists them (the built-in
gazetteer first), as the index-wide lexicon numbers them. Opening maps the files and reads
their tables of contents: milliseconds, whatever their size, and no per-row object. A row
becomes a Python object when it is asked for; the few thousand a batch asks for again and
again are kept (bounded).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

from geobatch.errors import IndexError_
from geobatch.index.dataset import (
    AreaRow,
    DataSet,
    InterpolationRow,
    PlaceRow,
    PostcodeRow,
    StreetRow,
)
from geobatch.index.format import usable_data_sets
from geobatch.index.layout import E7

__all__ = [
    "AreaRow",
    "IndexData",
    "InterpolationRow",
    "PlaceRow",
    "PostcodeRow",
    "StreetRow",
    "load_index",
]

T = TypeVar("T")

# Rows kept as objects per kind before the cache starts again: a batch asks for the same few
# thousand streets and places over and over; this bounds what a long job holds.
ROW_CACHE = 50_000


class Rows(Generic[T]):
    """Rows of one kind across data sets, made when asked for and kept (bounded)."""

    def __init__(self, offsets: list[int], makers: list[Callable[[int], T]]) -> None:
        self._offsets = offsets  # first global row of each data set, then the total
        self._makers = makers
        self._cache: dict[int, T] = {}

    def __len__(self) -> int:
        return self._offsets[-1]

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        found = self._cache.get(i)
        if found is not None:
            return found
        if not 0 <= i < self._offsets[-1]:
            raise IndexError(i)
        d = bisect_right(self._offsets, i) - 1
        row = self._makers[d](i - self._offsets[d])
        if len(self._cache) >= ROW_CACHE:
            self._cache.clear()
        self._cache[i] = row
        return row

    def __iter__(self) -> Iterator[T]:
        for d, make in enumerate(self._makers):
            for k in range(self._offsets[d + 1] - self._offsets[d]):
                yield make(k)


def _offsets(counts: list[int]) -> list[int]:
    out = [0]
    for n in counts:
        out.append(out[-1] + n)
    return out


class IndexData:
    """Everything the geocoders read, with global row numbers across data sets."""

    def __init__(
        self,
        datasets: list[DataSet],
        index_dir: Path | None = None,
        problems: list[str] | None = None,
    ) -> None:
        self.index_dir = index_dir
        # Data set files left out (unreadable, another version): one line each, to show.
        self.problems = problems or []
        self.datasets = datasets
        self.sources = [d.source for d in datasets]
        self.street_offsets = _offsets([d.street_count for d in datasets])
        self.place_offsets = _offsets([d.place_count for d in datasets])
        self.postcode_offsets = _offsets([d.postcode_count for d in datasets])
        self.area_offsets = _offsets([d.area_count for d in datasets])
        self.interp_offsets = _offsets([d.interp_count for d in datasets])
        self.address_offsets = _offsets([d.address_count for d in datasets])
        self.streets: Rows[StreetRow] = Rows(self.street_offsets, [d.street for d in datasets])
        self.places: Rows[PlaceRow] = Rows(self.place_offsets, [d.place for d in datasets])
        self.postcodes: Rows[PostcodeRow] = Rows(
            self.postcode_offsets, [d.postcode for d in datasets]
        )
        self.areas: Rows[AreaRow] = Rows(self.area_offsets, [d.area for d in datasets])
        self.interpolations: Rows[InterpolationRow] = Rows(
            self.interp_offsets, [self._global_interp(d) for d in range(len(datasets))]
        )

    def _global_interp(self, d: int) -> Callable[[int], InterpolationRow]:
        ds, offset = self.datasets[d], self.street_offsets[d]

        def make(i: int) -> InterpolationRow:
            row = ds.interpolation(i)
            return InterpolationRow(row.street + offset, row.scheme, row.numbered,
                                    row.postcode, row.wkb)  # fmt: skip

        return make

    # --- streets and their addresses -------------------------------------------------------------

    def street_at(self, row: int) -> tuple[DataSet, int, int]:
        """(data set, its own street row, its first global address row) of a global street."""
        d = bisect_right(self.street_offsets, row) - 1
        return self.datasets[d], row - self.street_offsets[d], self.address_offsets[d]

    def streets_in_box(
        self, south: float, west: float, north: float, east: float, limit: int
    ) -> list[tuple[str, bytes]]:
        """(name, line WKB) of up to ``limit`` streets meeting the box, data set by data set."""
        out: list[tuple[str, bytes]] = []
        for ds in self.datasets:
            if len(out) >= limit:
                break
            out += ds.streets_in_box(south, west, north, east, limit - len(out))
        return out

    def street_index(self, row: int) -> tuple[int, int]:
        """(data set number, its own street row) of a global street."""
        d = bisect_right(self.street_offsets, row) - 1
        return d, row - self.street_offsets[d]

    def address_at(self, row: int) -> tuple[DataSet, int]:
        d = bisect_right(self.address_offsets, row) - 1
        return self.datasets[d], row - self.address_offsets[d]

    @property
    def address_count(self) -> int:
        return self.address_offsets[-1]

    def address_point(self, row: int) -> tuple[float, float]:
        ds, i = self.address_at(row)
        return ds.address_point(i)

    def address_points(self, rows: Sequence[int]) -> tuple[npt.NDArray[np.float64], ...]:
        """(lat, lon) arrays of global address rows."""
        lat = np.empty(len(rows))
        lon = np.empty(len(rows))
        for k, row in enumerate(rows):
            lat[k], lon[k] = self.address_point(row)
        return lat, lon

    def address_number(self, row: int) -> str:
        ds, i = self.address_at(row)
        return ds.address_number(i)

    def address_postcode(self, row: int) -> str | None:
        ds, i = self.address_at(row)
        return ds.address_postcode(i)

    def address_unit(self, row: int) -> str | None:
        ds, i = self.address_at(row)
        return ds.address_unit(i)

    def address_street(self, row: int) -> int:
        d = bisect_right(self.address_offsets, row) - 1
        return (
            int(self.datasets[d].addr_street[row - self.address_offsets[d]])
            + (self.street_offsets[d])
        )

    def address_columns(self, rows: npt.NDArray[np.int64]) -> AddressColumns:
        """The columns of many global address rows at once (reverse geocoding's answers)."""
        n = len(rows)
        out = AddressColumns(
            street=[0] * n, number=[""] * n, unit=[None] * n, postcode=[None] * n,
            lat=np.empty(n), lon=np.empty(n),
        )  # fmt: skip
        which = np.searchsorted(self.address_offsets, rows, side="right") - 1
        for d in np.unique(which).tolist():
            at = np.flatnonzero(which == d)
            ds = self.datasets[d]
            local = rows[at] - self.address_offsets[d]
            out.lat[at] = ds.addr_lat_e7[local] / E7
            out.lon[at] = ds.addr_lon_e7[local] / E7
            numbers, units, names = ds.number_list(), ds.unit_list(), ds.name_list()
            offset = self.street_offsets[d]
            for k, street, number, unit, postcode in zip(
                at.tolist(), ds.addr_street[local].tolist(), ds.addr_number[local].tolist(),
                ds.addr_unit[local].tolist(), ds.addr_postcode[local].tolist(), strict=True,
            ):  # fmt: skip
                out.street[k] = street + offset
                out.number[k] = numbers[number]
                out.unit[k] = units[unit] or None
                out.postcode[k] = names[postcode] or None
        return out


@dataclass(slots=True)
class AddressColumns:
    street: list[int]
    number: list[str]
    unit: list[str | None]
    postcode: list[str | None]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]


def load_index(index_dir: Path) -> IndexData:
    """Map every data set file of ``index_dir``; raises IndexError_ when there is none."""
    files, problems = usable_data_sets(index_dir)
    if not files:
        if problems:
            raise IndexError_(f"no usable data set in {index_dir}: " + "; ".join(problems))
        raise IndexError_(
            f"no index at {index_dir}: run 'geobatch import FILE' or let geobatch build the "
            "built-in gazetteer first"
        )
    return IndexData([DataSet.open(path) for path in files], index_dir, problems)
