"""Write the succeeded / failed download of a csv, tab or pipe upload.

v2.0: the version line, the upload's header line verbatim, then one line per entity with exactly
the header's columns in the header's order — request columns echoed, response columns filled.
v1.0: 31 positional columns (spec §10.1), no header. Text formats carry one result per entity.

With ``excel_safe`` (the server's default) every value a spreadsheet would run as a formula gets
a leading ``'`` (:mod:`geobatch.formats.excelsafe`; numbers such as ``-122.1`` are untouched).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.bing import schema as s
from geobatch.formats.bing.results import (
    BingResponse,
    Status,
    entity_status,
    is_interpolated,
    number,
    points_json,
    query_parse_json,
    select_results,
    to_response,
)
from geobatch.formats.excelsafe import neutralise_all, neutralise_raw_cell
from geobatch.model import Answer, ReverseRequest

NEWLINE = "\n"  # the toolkit writes LF; the spec recommends it


def quote(value: str, delimiter: str) -> str:
    """A field as the samples write it: quoted only when a reader would otherwise misread it.
    CSV also quotes values holding ``"`` (the samples' JSON); tab and pipe write them raw."""
    needs = (
        delimiter in value
        or "\n" in value
        or "\r" in value
        or value[:1].isspace()
        or value.lstrip().startswith('"')
        or (delimiter == "," and '"' in value)
    )
    return '"' + value.replace('"', '""') + '"' if needs else value


def _line(values: Sequence[str], delimiter: str, excel_safe: bool = False) -> str:
    if excel_safe:
        values = neutralise_all(values)
    return delimiter.join(quote(v, delimiter) for v in values) + NEWLINE


def _safe_header(line: str, delimiter: str) -> str:
    """The echoed header line, with a ``'`` before any name a spreadsheet would run."""
    cells = line.split(delimiter)
    safe = [neutralise_raw_cell(cell) for cell in cells]
    return line if safe == cells else delimiter.join(safe)


def _response(row: BatchRow, answer: Answer, *, neighborhood: bool) -> BingResponse | None:
    results = select_results(row, answer, limit=1)
    if not results:
        return None
    return to_response(
        results[0],
        row.request,
        neighborhood=neighborhood,
        query_parse=row.options.include_query_parse,
    )


def response_columns(response: BingResponse | None, status: Status) -> dict[str, str]:
    """Every v2 output column's value for one entity."""
    values = {
        s.STATUS_CODE: status.code,
        s.FAULT_REASON: status.fault or "",
        s.TRACE_ID: uuid.uuid4().hex,
    }
    if response is None:
        return values
    address, result = response.address, response.result
    values.update(
        {
            s.R_ADDRESS_LINE: address.get("AddressLine", ""),
            s.R_ADMIN_DISTRICT: address.get("AdminDistrict", ""),
            s.R_COUNTRY_REGION: address.get("CountryRegion", ""),
            s.R_ADMIN_DISTRICT2: address.get("AdminDistrict2", ""),
            s.R_FORMATTED_ADDRESS: address.get("FormattedAddress", ""),
            s.R_LOCALITY: address.get("Locality", ""),
            s.R_POSTAL_CODE: address.get("PostalCode", ""),
            s.R_NEIGHBORHOOD: address.get("Neighborhood", ""),
            s.R_CONFIDENCE: response.confidence,
            s.R_NAME: response.name,
            s.R_ENTITY_TYPE: response.entity_type,
            s.R_MATCH_CODES: response.match_codes,
            s.R_LATITUDE: number(result.point.lat),
            s.R_LONGITUDE: number(result.point.lon),
            s.R_SOUTH: number(result.bbox.south),
            s.R_WEST: number(result.bbox.west),
            s.R_NORTH: number(result.bbox.north),
            s.R_EAST: number(result.bbox.east),
            s.R_QUERY_PARSE: query_parse_json(response.query_parse),
            s.R_GEOCODE_POINTS: points_json(response.points),
        }
    )
    return values


def _v2_layout(header: BatchHeader, delimiter: str) -> tuple[str, list[str | None]]:
    """The header line to echo and the canonical column of each position."""
    columns_json = header.details.get("columns")
    line = header.details.get("header_line")
    if columns_json is None or line is None:
        # No upload header to echo (a job built by other means): the samples' 40 columns.
        sample = [c for c in s.V2_COLUMNS if c != s.STRICT_MATCH]
        east_first = [s.R_EAST, s.R_NORTH, s.R_WEST, s.R_SOUTH]
        at = sample.index(s.R_SOUTH)
        sample[at : at + 4] = east_first
        return (delimiter + " ").join(sample), list(sample)
    columns: list[str | None] = json.loads(columns_json)
    return line, columns


def encode_v2(
    out: BinaryIO,
    header: BatchHeader,
    rows: Iterable[tuple[BatchRow, Answer]],
    *,
    excel_safe: bool = False,
) -> int:
    delimiter = s.DELIMITERS[header.format]
    line, columns = _v2_layout(header, delimiter)
    if excel_safe:
        line = _safe_header(line, delimiter)
    out.write((s.VERSION_LINE + NEWLINE + line + NEWLINE).encode("utf-8"))
    neighborhood = s.R_NEIGHBORHOOD in columns
    count = 0
    for row, answer in rows:
        computed = response_columns(
            _response(row, answer, neighborhood=neighborhood), entity_status(row, answer)
        )
        values = [
            computed.get(column, "")
            if column in s.OUTPUT_COLUMN_SET
            else row.echo.get(str(index), "")
            for index, column in enumerate(columns)
        ]
        out.write(_line(values, delimiter, excel_safe).encode("utf-8"))
        count += 1
    return count


def v1_values(row: BatchRow, answer: Answer) -> list[str]:
    """The 31 columns of a v1.0 output line."""
    values = [""] * s.V1_WIDTH
    # The v1 samples echo only Id and the point for reverse rows (culture is dropped).
    echoed = (0, 29, 30) if isinstance(row.request, ReverseRequest) else (*range(12), 29, 30)
    for index in echoed:
        values[index] = row.echo.get(str(index), "")
    status = entity_status(row, answer)
    values[27], values[28] = status.code, status.fault or ""
    response = _response(row, answer, neighborhood=False)
    if response is None:
        return values
    address, result = response.address, response.result
    for index, key in enumerate(
        (
            "AddressLine",
            "AdminDistrict",
            "CountryRegion",
            "AdminDistrict2",
            "FormattedAddress",
            "Locality",
            "PostalCode",
        ),
        start=12,
    ):
        values[index] = address.get(key, "")
    location = 22 if is_interpolated(str(result.calculation_method)) else 20
    values[location], values[location + 1] = number(result.point.lat), number(result.point.lon)
    values[24], values[25], values[26] = response.confidence, response.name, response.entity_type
    return values


def encode_v1(
    out: BinaryIO,
    header: BatchHeader,
    rows: Iterable[tuple[BatchRow, Answer]],
    *,
    excel_safe: bool = False,
) -> int:
    delimiter = s.DELIMITERS[header.format]
    count = 0
    for row, answer in rows:
        out.write(_line(v1_values(row, answer), delimiter, excel_safe).encode("utf-8"))
        count += 1
    return count
