"""Output rows of a CSV run, quickly: the same cells as
:meth:`geobatch.formats.plaincsv.OutputLayout.row` over
:func:`~geobatch.formats.plaincsv.answer_to_rows` (:class:`RowBuilder`, lists of cells without
a dict per result), and the same bytes as ``csv.writer`` writes for them (:class:`LineBuilder`,
text lines whose repeated parts are written once per process).

For reverse geocoding the engine answers a row in about 10 µs; the generic path spent as long
again on dicts, calls and writing. ``tests/unit/test_batch_csv.py`` checks that both give the
same cells and bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TypeVar

from geobatch.formats import plaincsv
from geobatch.formats.excelsafe import neutralise_all
from geobatch.model import Address, Answer, GeocodeResult, ResultStatus

OK = str(ResultStatus.OK)


def result_cells(result: GeocodeResult) -> list[str]:
    """One result as the cells of :data:`plaincsv.RESULT_COLUMNS` (status OK)."""
    a, p, b = result.address, result.point, result.bbox
    return [
        f"{p.lat:.6f}",
        f"{p.lon:.6f}",
        *_address_cells(a),
        str(result.entity_type),
        str(result.confidence),
        ";".join(result.match_codes),
        str(result.calculation_method),
        f"{b.south:.6f}",
        f"{b.west:.6f}",
        f"{b.north:.6f}",
        f"{b.east:.6f}",
        OK,
        "",
    ]


class RowBuilder:
    """Output rows (lists of cells) for one header width and ``max_results``."""

    def __init__(self, width: int, max_results: int = 1) -> None:
        self.width = width
        self.max_results = max_results

    def rows(self, values: Sequence[str], answer: Answer) -> tuple[list[list[str]], str]:
        """The output rows of one input row, and its status."""
        width = self.width
        head = (
            list(values[:width])
            if len(values) >= width
            else [*values, *[""] * (width - len(values))]
        )
        results = answer.results
        if results and (self.max_results <= 1 or len(results) == 1):
            return [head + result_cells(results[0])], OK
        if results:
            return [head + result_cells(r) for r in results[: self.max_results]], OK
        columns = plaincsv.answer_to_columns(answer)
        return [head + [columns[name] for name in plaincsv.RESULT_COLUMNS]], columns["status"]


_CACHE_LIMIT = 100_000  # entries per cache; cleared when full (memory stays flat)


class LineBuilder:
    """The output text of each input row: what ``csv.writer`` writes for the rows of
    :class:`RowBuilder` (each cell through ``neutralise_all`` when ``excel_safe``), built as
    strings.

    Most answers have one result, and many results share their address (every point that
    answers the same town, street or house): the ten address cells of an :class:`Address`
    value are neutralised and written by ``csv.writer`` once per process and kept as text, and
    a line is then a few float formats and one concatenation. Every piece of text comes from
    ``csv.writer`` itself, but for cells it would not quote (no delimiter, quote or line
    break), which are joined as they are: the bytes are always the ones it would write
    (``tests/unit/test_batch_csv.py`` compares the two on random cells).
    """

    def __init__(
        self, width: int, delimiter: str, max_results: int = 1, *, excel_safe: bool = True
    ) -> None:
        self.rows = RowBuilder(width, max_results)
        self.delimiter = delimiter
        self.excel_safe = excel_safe
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=delimiter, lineterminator="\n")
        caches = _CACHES.get((delimiter, excel_safe))
        if caches is None:
            caches = _CACHES[(delimiter, excel_safe)] = ({}, {})
        self._addresses, self._codes = caches

    def line(self, values: Sequence[str], answer: Answer) -> tuple[str, str]:
        """The output text (one line per result written) of one input row, and its status."""
        results = answer.results
        if results and (len(results) == 1 or self.rows.max_results <= 1):
            text = self._quick(values, results[0])
            if text is not None:
                return text, OK
        rows, status = self.rows.rows(values, answer)
        if self.excel_safe:
            rows = [neutralise_all(row) for row in rows]
        return self._written(rows), status

    def _quick(self, values: Sequence[str], result: GeocodeResult) -> str | None:
        p, b = result.point, result.bbox
        d = self.delimiter
        point = f"{p.lat:.6f}{d}{p.lon:.6f}"
        box = f"{b.south:.6f}{d}{b.west:.6f}{d}{b.north:.6f}{d}{b.east:.6f}"
        if "n" in point or "n" in box:
            return None  # nan or inf: not a number, so text that neutralising may change
        width = self.rows.width
        head = values[:width] if len(values) >= width else [*values, *[""] * (width - len(values))]
        if self.excel_safe:
            head = neutralise_all(head)
        echo = d.join(head)
        # A delimiter, quote or line break (\r too: Python versions differ on it) in a cell
        # makes csv.writer quote it.
        if echo.count(d) != width - 1 or '"' in echo or "\n" in echo or "\r" in echo:
            echo = self._fields(head)
        address = result.address
        cells = self._addresses.get(address)
        if cells is None:
            cells = self._cached(self._addresses, address, _address_cells(address))
        key = (result.entity_type, result.confidence, result.match_codes, result.calculation_method)
        codes = self._codes.get(key)
        if codes is None:
            codes = self._cached(
                self._codes, key, [str(key[0]), str(key[1]), ";".join(key[2]), str(key[3])]
            )
        # The last two cells: the status (OK) and an empty reason.
        return f"{echo}{d}{point}{d}{cells}{d}{codes}{d}{box}{d}{OK}{d}\n"

    def _cached(self, cache: dict[_K, str], key: _K, cells: list[str]) -> str:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = found = self._fields(neutralise_all(cells) if self.excel_safe else cells)
        return found

    def _fields(self, cells: Sequence[str]) -> str:
        """Cells as csv.writer writes them within a longer row (never one empty cell alone,
        which it writes as ``""``: an empty cell needs no quoting and is joined as it is)."""
        return self._written([list(cells)])[:-1]

    def _written(self, rows: list[list[str]]) -> str:
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._writer.writerows(rows)
        return buffer.getvalue()


_K = TypeVar("_K")
_CACHES: dict[tuple[str, bool], tuple[dict[Address, str], dict[tuple[object, ...], str]]] = {}


def _address_cells(a: Address) -> list[str]:
    """The cells of RESULT_COLUMNS from ``formatted_address`` to ``country_code``."""
    return [
        a.formatted or "",
        a.house_number or "",
        a.street or "",
        a.unit or "",
        a.locality or "",
        a.postal_code or "",
        a.admin_district2 or "",
        a.admin_district or "",
        a.country or "",
        a.country_code or "",
    ]
