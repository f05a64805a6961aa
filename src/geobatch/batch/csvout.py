"""Output rows of a CSV run, quickly: the same cells as
:meth:`geobatch.formats.plaincsv.OutputLayout.row` over
:func:`~geobatch.formats.plaincsv.answer_to_rows`, built as one list per row for a single
``csv.writer.writerows`` call per slice, without a dict per result.

For reverse geocoding the engine answers a row in about 10 µs; the generic path spent as long
again on dicts and calls. ``tests/unit/test_batch_csv.py`` checks that both give the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from geobatch.formats import plaincsv
from geobatch.model import Answer, GeocodeResult, ResultStatus

OK = str(ResultStatus.OK)


def result_cells(result: GeocodeResult) -> list[str]:
    """One result as the cells of :data:`plaincsv.RESULT_COLUMNS` (status OK)."""
    a, p, b = result.address, result.point, result.bbox
    return [
        f"{p.lat:.6f}",
        f"{p.lon:.6f}",
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
