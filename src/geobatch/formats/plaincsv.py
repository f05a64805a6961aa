"""Plain CSV codec: find the address or coordinate columns of any CSV; put results beside them.

Headers are matched case- and punctuation-insensitively (``Postal Code``, ``postal_code`` and
``POSTALCODE`` are one name). Nothing here opens a file: callers hand in text streams, header lists
and row dicts, and get back requests, answers as columns, and output rows; :class:`CsvWriter`
writes them, neutralising spreadsheet formulas by default (:mod:`geobatch.formats.excelsafe`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TextIO

from geobatch.errors import InputError
from geobatch.formats.excelsafe import neutralise_all
from geobatch.model import Answer, GeocodeRequest, GeocodeResult, ResultStatus, ReverseRequest

# Field of GeocodeRequest -> accepted header names (already folded by _fold), best first.
FORWARD_ALIASES: dict[str, tuple[str, ...]] = {
    "query": ("query", "address", "q", "fulladdress", "formattedaddress", "search"),
    "address_line": ("addressline", "street", "streetaddress", "address1"),
    "locality": ("locality", "city", "town"),
    "admin_district": ("admindistrict", "state", "region", "province"),
    "admin_district2": ("admindistrict2", "county"),
    "postal_code": ("postalcode", "postcode", "zip", "zipcode"),
    "country": ("country", "countryregion"),
    "postal_town": ("postaltown",),
}
LAT_ALIASES = ("lat", "latitude", "y")
LON_ALIASES = ("lon", "lng", "long", "longitude", "x")

RESULT_COLUMNS = [
    "lat",
    "lon",
    "formatted_address",
    "house_number",
    "street",
    "unit",
    "locality",
    "postal_code",
    "admin_district2",
    "admin_district",
    "country",
    "country_code",
    "entity_type",
    "confidence",
    "match_codes",
    "calculation_method",
    "bbox_south",
    "bbox_west",
    "bbox_north",
    "bbox_east",
    "status",
    "reason",
]
CLASH_PREFIX = "gb_"
DELIMITERS = (",", ";", "\t", "|")
# Read a header with none of DELIMITERS as one column: a separator that never occurs in text
# keeps "1 Main St, Springfield" whole while csv still honours quotes.
SINGLE_COLUMN_DELIMITER = "\x1f"
EMPTY_REQUEST_REASON = "empty request: no address fields in this row"


def _fold(name: str) -> str:
    """A header name reduced to lower-case letters and digits."""
    return "".join(ch for ch in name.lstrip("\ufeff").casefold() if ch.isalnum())


def _find(header: Sequence[str], aliases: Sequence[str]) -> str | None:
    """The first header (by alias priority) whose folded name is one of ``aliases``."""
    folded: dict[str, str] = {}
    for name in header:
        folded.setdefault(_fold(name), name)
    return next((folded[alias] for alias in aliases if alias in folded), None)


def _accepted(aliases: Sequence[str]) -> str:
    return "/".join(aliases)


@dataclass(frozen=True, slots=True)
class ForwardColumns:
    """Which input header feeds each field of a :class:`GeocodeRequest` (None: absent)."""

    query: str | None = None
    address_line: str | None = None
    locality: str | None = None
    admin_district: str | None = None
    admin_district2: str | None = None
    postal_code: str | None = None
    postal_town: str | None = None
    country: str | None = None

    def mapping(self) -> dict[str, str]:
        """Request field -> header, for the fields that were found."""
        found = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: header for name, header in found if header is not None}


@dataclass(frozen=True, slots=True)
class ReverseColumns:
    """The input headers holding latitude and longitude."""

    lat: str
    lon: str


def detect_forward_columns(header: Sequence[str]) -> ForwardColumns:
    """Map a CSV header to request fields; raise :class:`InputError` when nothing matches."""
    found = {name: _find(header, aliases) for name, aliases in FORWARD_ALIASES.items()}
    if not any(found.values()):
        accepted = "; ".join(_accepted(aliases) for aliases in FORWARD_ALIASES.values())
        raise InputError(
            f"no address column in header {_show(header)}: name a free-text column "
            f"query/address/q/full_address/formatted_address/search, or structured columns "
            f"({accepted}); case, spaces and punctuation are ignored"
        )
    return ForwardColumns(**found)


def detect_reverse_columns(header: Sequence[str]) -> ReverseColumns:
    """Find the latitude and longitude headers; raise :class:`InputError` when either is absent."""
    lat = _find(header, LAT_ALIASES)
    lon = _find(header, LON_ALIASES)
    if lat is None or lon is None:
        missing = "latitude" if lat is None else "longitude"
        raise InputError(
            f"no {missing} column in header {_show(header)}: reverse geocoding needs a latitude "
            f"column ({_accepted(LAT_ALIASES)}) and a longitude column ({_accepted(LON_ALIASES)})"
        )
    return ReverseColumns(lat=lat, lon=lon)


def _show(header: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in header[:20])
    return f"[{shown}{', ...' if len(header) > 20 else ''}]"


def _cell(row: dict[str, str], header: str | None) -> str | None:
    if header is None:
        return None
    value = (row.get(header) or "").strip()
    return value or None


def row_to_request(
    row: dict[str, str], cols: ForwardColumns, *, max_results: int = 1
) -> GeocodeRequest:
    """The request a row asks for; blank cells become None (check ``is_empty()`` afterwards)."""
    values = {name: _cell(row, header) for name, header in cols.mapping().items()}
    return GeocodeRequest(max_results=max_results, **values)


def _parse_degrees(text: str | None, what: str, limit: float) -> float | str:
    """A coordinate in [-limit, limit], or the reason it is not one."""
    if text is None:
        return f"missing {what}"
    # Semicolon-separated European files often write 47,61 for 47.61.
    candidate = text.replace(",", ".") if "." not in text and text.count(",") == 1 else text
    try:
        value = float(candidate)
    except ValueError:
        return f"{what} {text!r} is not a number"
    if not math.isfinite(value):
        return f"{what} {text!r} is not a finite number"
    if not -limit <= value <= limit:
        return f"{what} {text} is out of range (-{limit:g} to {limit:g})"
    return value


def row_to_reverse(
    row: dict[str, str], cols: ReverseColumns, *, max_results: int = 1
) -> ReverseRequest | str:
    """The reverse request of a row, or (a str) the reason the row's coordinates are unusable."""
    lat = _parse_degrees(_cell(row, cols.lat), "latitude", 90.0)
    lon = _parse_degrees(_cell(row, cols.lon), "longitude", 180.0)
    if isinstance(lat, str):
        return lat
    if isinstance(lon, str):
        return lon
    return ReverseRequest(lat=lat, lon=lon, max_results=max_results)


def _num(value: float) -> str:
    return f"{value:.6f}"


def result_to_columns(result: GeocodeResult) -> dict[str, str]:
    """One result as RESULT_COLUMNS (status OK, no reason)."""
    address = result.address
    return {
        "lat": _num(result.point.lat),
        "lon": _num(result.point.lon),
        "formatted_address": address.formatted or "",
        "house_number": address.house_number or "",
        "street": address.street or "",
        "unit": address.unit or "",
        "locality": address.locality or "",
        "postal_code": address.postal_code or "",
        "admin_district2": address.admin_district2 or "",
        "admin_district": address.admin_district or "",
        "country": address.country or "",
        "country_code": address.country_code or "",
        "entity_type": str(result.entity_type),
        "confidence": str(result.confidence),
        "match_codes": ";".join(str(code) for code in result.match_codes),
        "calculation_method": str(result.calculation_method),
        "bbox_south": _num(result.bbox.south),
        "bbox_west": _num(result.bbox.west),
        "bbox_north": _num(result.bbox.north),
        "bbox_east": _num(result.bbox.east),
        "status": str(ResultStatus.OK),
        "reason": "",
    }


def failure_columns(status: ResultStatus, reason: str) -> dict[str, str]:
    """RESULT_COLUMNS for a row without a result: empty but for status and reason."""
    columns = dict.fromkeys(RESULT_COLUMNS, "")
    columns["status"] = str(status)
    columns["reason"] = reason
    return columns


def answer_to_columns(answer: Answer) -> dict[str, str]:
    """The best result of an answer as RESULT_COLUMNS, or its status and reason when it has none."""
    best = answer.best
    if best is not None:
        return result_to_columns(best)
    status = ResultStatus.NO_RESULT if answer.status is ResultStatus.OK else answer.status
    default = "no match found" if status is ResultStatus.NO_RESULT else "geocoding failed"
    return failure_columns(status, answer.reason or default)


def answer_to_rows(answer: Answer, max_results: int = 1) -> list[dict[str, str]]:
    """Up to ``max_results`` results as column dicts, best first; one row when there are none."""
    if max_results <= 1 or len(answer.results) <= 1:
        return [answer_to_columns(answer)]
    return [result_to_columns(result) for result in answer.results[:max_results]]


def output_names(input_header: Sequence[str]) -> dict[str, str]:
    """RESULT_COLUMNS -> their names in the output, prefixed with ``gb_`` where they clash."""
    taken = {name.casefold() for name in input_header}
    names: dict[str, str] = {}
    for column in RESULT_COLUMNS:
        name = column
        while name.casefold() in taken:
            name = CLASH_PREFIX + name
        taken.add(name.casefold())
        names[column] = name
    return names


@dataclass(frozen=True, slots=True)
class OutputLayout:
    """Every input column, then the result columns (renamed where they clash)."""

    input_header: tuple[str, ...]
    result_names: tuple[str, ...]

    @classmethod
    def for_header(cls, input_header: Sequence[str]) -> OutputLayout:
        names = output_names(input_header)
        return cls(tuple(input_header), tuple(names[column] for column in RESULT_COLUMNS))

    @property
    def header(self) -> list[str]:
        return [*self.input_header, *self.result_names]

    def row(self, values: Sequence[str], result: dict[str, str]) -> list[str]:
        """An output row: the input values (padded or cut to the header) then the result."""
        width = len(self.input_header)
        padded = [*values[:width], *([""] * (width - len(values)))]
        return [*padded, *(result[column] for column in RESULT_COLUMNS)]


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV, judged by its header line: the commonest of , ; tab |.

    A header with none of them is a single column, read with :data:`SINGLE_COLUMN_DELIMITER`.
    """
    lines = sample.lstrip("\ufeff").splitlines()
    first = lines[0] if lines else ""
    counts = [(first.count(delimiter), -rank) for rank, delimiter in enumerate(DELIMITERS)]
    count, negative_rank = max(counts)
    return DELIMITERS[-negative_rank] if count else SINGLE_COLUMN_DELIMITER


def output_delimiter(input_delimiter: str) -> str:
    """Write with the input's delimiter, or a comma when the input was a single column."""
    return "," if input_delimiter == SINGLE_COLUMN_DELIMITER else input_delimiter


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its raw values, and the same values keyed by header."""

    values: list[str]
    cells: dict[str, str]


def read_rows(stream: TextIO, delimiter: str) -> tuple[list[str], Iterator[CsvRow]]:
    """The header and a lazy iterator of data rows (blank lines skipped).

    Raises :class:`InputError` when the stream has no header row.
    """
    reader = csv.reader(stream, delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(name.strip() for name in header):
        raise InputError("the input has no header row (it is empty or starts with a blank line)")
    header = [name.lstrip("\ufeff").strip() for name in header]
    return header, _data_rows(reader, header)


def _data_rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[CsvRow]:
    for values in reader:
        if values:
            yield CsvRow(values=values, cells=dict(zip(header, values, strict=False)))


class CsvWriter:
    """The output CSV: ``csv.writer`` rows, LF line endings, and — with ``excel_safe``, the
    default — a leading ``'`` on every cell a spreadsheet would run as a formula (``=…``,
    ``+…``, ``-…``, ``@…``, tab, CR; numbers such as ``-122.1`` are left as they are), header
    included. ``excel_safe=False`` writes every value exactly, for programs that read the file.
    """

    def __init__(self, out: TextIO, delimiter: str, *, excel_safe: bool = True) -> None:
        self._writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        self.excel_safe = excel_safe

    def writerow(self, row: Iterable[str], /) -> None:
        self._writer.writerow(neutralise_all(row) if self.excel_safe else row)
