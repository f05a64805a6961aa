"""What a dropped file is, judged from its first bytes: a Bing Dataflow file (XML, or text with
the ``Bing Spatial Data Services`` version line, or the 31 positional columns of schema 1.0) or a
plain CSV in a layout the CLI reads; which columns feed the geocoder, whether it is forward or
reverse, and its first rows. The web page shows this before the job starts; the job itself then
reads the file with the same codecs, so what is shown is what runs.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass, field

from geobatch.errors import InputError
from geobatch.formats import plaincsv
from geobatch.formats.batch import BatchRow
from geobatch.formats.bing import BingCodec
from geobatch.formats.bing import schema as bing_schema
from geobatch.formats.csvbatch import check_utf8
from geobatch.model import GeocodeRequest, ReverseRequest

PREVIEW_ROWS = 10
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_BING_TEXT = {",": "csv", "\t": "tab", "|": "pipe"}
# Fields whose presence alone says "these are addresses"; a lone country or state column beside
# latitude and longitude does not (a list of points often names its country).
_ADDRESS_FIELDS = ("query", "address_line", "locality", "postal_code", "postal_town")
_PREVIEW_FIELDS = (
    ("Id", "id"),
    ("Query", "query"),
    ("Address line", "address_line"),
    ("Locality", "locality"),
    ("Admin district", "admin_district"),
    ("Postal code", "postal_code"),
    ("Country", "country"),
    ("Latitude", "lat"),
    ("Longitude", "lon"),
    ("Problem", "fault"),
)


@dataclass(frozen=True, slots=True)
class Inspection:
    """A dropped file as the page shows it, and the job request that will run it."""

    codec: str  # "csv" (plain CSV, run as the CLI would) or "bing" (a Dataflow file)
    input_format: str  # csv: "forward" | "reverse"; bing: "xml" | "csv" | "tab" | "pipe"
    direction: str  # "forward" | "reverse" | "mixed" (a Bing file may hold both)
    directions: tuple[str, ...]  # the directions a plain CSV can run as
    delimiter: str  # a name: "comma", "tab", ..., "single column", "" for XML
    columns: list[str]  # the file's header, as read
    mapping: dict[str, str]  # geocoder field -> column (plain CSV)
    preview_header: list[str]
    preview: list[list[str]]
    version: str = ""  # Bing schema version
    notes: list[str] = field(default_factory=list)


def _text(sample: bytes, complete: bool) -> bytes:
    """The sample cut after its last whole line when the file goes on beyond it."""
    if complete:
        return sample
    cut = sample.rfind(b"\n")
    return sample[: cut + 1] if cut >= 0 else sample


def inspect_sample(sample: bytes, *, complete: bool) -> Inspection:
    """Inspect the first bytes of a file (``complete``: they are the whole file).

    Raises :class:`InputError` saying what is wrong when the file is none of the layouts.
    """
    body = sample.removeprefix(codecs.BOM_UTF8).lstrip()
    if not body:
        raise InputError("the file is empty: it holds no rows to geocode")
    if b"\x00" in sample[:4096]:
        raise InputError("the file is binary, not text: upload a CSV or a Bing Dataflow file")
    check_utf8(sample)
    head = _text(sample, complete)
    if body.startswith(b"<"):
        return _bing(sample if complete else head, "xml", complete)
    first_line = body.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    if bing_schema.VERSION_LINE_RE.match(first_line):
        lines = body.split(b"\n", 2)
        second = lines[1].decode("utf-8", errors="replace") if len(lines) > 1 else ""
        return _bing(head, _bing_text_format(second or first_line), complete)
    return _plain_or_v1(head, complete)


def _bing_text_format(line: str) -> str:
    counts = [(line.count(delimiter), name) for delimiter, name in _BING_TEXT.items()]
    return max(counts)[1]


def _plain_or_v1(head: bytes, complete: bool) -> Inspection:
    text = head.decode("utf-8-sig", errors="replace")
    delimiter = plaincsv.sniff_delimiter(text)
    header, rows = plaincsv.read_rows(io.StringIO(text, newline=""), delimiter)
    forward: plaincsv.ForwardColumns | None = None
    try:
        forward = plaincsv.detect_forward_columns(header)
    except InputError as exc:
        forward_error = exc
    try:
        reverse: plaincsv.ReverseColumns | None = plaincsv.detect_reverse_columns(header)
    except InputError:
        reverse = None
    if forward is None and reverse is None:
        if delimiter in _BING_TEXT and len(header) >= 10:
            try:
                return _bing(head, _BING_TEXT[delimiter], complete)
            except InputError:
                pass
        raise forward_error
    directions = tuple(
        name for name, columns in (("forward", forward), ("reverse", reverse)) if columns
    )
    addressy = forward is not None and any(
        getattr(forward, name) is not None for name in _ADDRESS_FIELDS
    )
    direction = "reverse" if reverse is not None and not addressy else "forward"
    columns = forward if direction == "forward" else reverse
    assert columns is not None
    mapping = (
        {"lat": columns.lat, "lon": columns.lon}
        if isinstance(columns, plaincsv.ReverseColumns)
        else columns.mapping()
    )
    preview = [row.values for _, row in zip(range(PREVIEW_ROWS), rows, strict=False)]
    notes = []
    if delimiter == plaincsv.SINGLE_COLUMN_DELIMITER:
        notes.append("one column: each line is one query")
    return Inspection(
        codec="csv",
        input_format=direction,
        direction=direction,
        directions=directions,
        delimiter=_DELIMITER_NAMES.get(delimiter, "single column"),
        columns=header,
        mapping=mapping,
        preview_header=header,
        preview=preview,
        notes=notes,
    )


def _bing(head: bytes, fmt: str, complete: bool) -> Inspection:
    batch = BingCodec().decode(io.BytesIO(head), fmt)
    rows: list[BatchRow] = []
    try:
        for row in batch.rows():
            rows.append(row)
            if len(rows) >= PREVIEW_ROWS:
                break
    except InputError:
        if complete or not rows:
            raise  # a truncated sample may end mid-entity; a whole file may not
    kinds = {type(row.request) for row in rows if row.request is not None}
    direction = "mixed" if len(kinds) > 1 else "reverse" if kinds == {ReverseRequest} else "forward"
    values = [_preview_values(row) for row in rows]
    shown = [i for i in range(len(_PREVIEW_FIELDS)) if any(v[i] for v in values)]
    columns_detail = batch.header.details.get("header_line", "")
    return Inspection(
        codec="bing",
        input_format=fmt,
        direction=direction,
        directions=(),
        delimiter="" if fmt == "xml" else fmt,
        columns=[c.strip() for c in columns_detail.split(bing_schema.DELIMITERS.get(fmt, ","))]
        if columns_detail
        else [],
        mapping={},
        preview_header=[_PREVIEW_FIELDS[i][0] for i in shown],
        preview=[[v[i] for i in shown] for v in values],
        version=batch.header.version,
    )


def _preview_values(row: BatchRow) -> list[str]:
    request = row.request
    found: dict[str, str] = {"id": row.id, "fault": row.fault or ""}
    if isinstance(request, GeocodeRequest):
        for name in ("query", "address_line", "locality", "admin_district", "postal_code"):
            found[name] = getattr(request, name) or ""
        found["country"] = request.country or ""
    elif isinstance(request, ReverseRequest):
        found["lat"] = f"{request.lat:g}"
        found["lon"] = f"{request.lon:g}"
    return [found.get(key, "") for _, key in _PREVIEW_FIELDS]
