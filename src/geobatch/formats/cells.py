"""Spreadsheet and table cells as the text a CSV row holds, and back to typed values.

The CLI runs every input through one CSV pipeline, so a cell of an ``.xlsx`` workbook or a
Parquet table becomes text first, written as a person reading the sheet would type it: whole
numbers without ``.0``, a ZIP code stored as a number but shown ``00501`` by its number format
keeps its zeros, dates in ISO 8601, booleans as Excel shows them. On the way out, machine
formats (GeoJSON, GeoPackage, Parquet) get typed values again: :class:`ColumnType` says what a
column held, and :func:`typed` turns its text back.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from enum import StrEnum

# A number format of only zeros ("00000", Excel's "Zip Code"): pad whole numbers to its width.
_ZERO_PADDED = re.compile(r"0+")
# Floats beyond this are not written as whole numbers (they have lost their units digits).
_EXACT_INTEGER = 2**53


class ColumnType(StrEnum):
    """What the values of a column are, as JSON and SQLite can hold them."""

    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"


def number_text(value: float) -> str:
    """A number as a person writes it: ``12`` for 12.0, ``47.141`` for 47.141."""
    if math.isfinite(value) and value == int(value) and abs(value) < _EXACT_INTEGER:
        return str(int(value))
    return repr(value)


def xlsx_text(value: object, number_format: str | None = None) -> str:
    """The text of a workbook cell's value (None is an empty cell; ``number_format`` is the
    cell's format, which decides the zeros of a ZIP code stored as a number)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        text = number_text(float(value)) if isinstance(value, float) else str(value)
        if number_format and _ZERO_PADDED.fullmatch(number_format) and text.isdigit():
            return text.zfill(len(number_format))
        return text
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def python_text(value: object) -> str:
    """The text of a value of a table column that has no text form of its own (lists,
    structures, bytes): JSON for containers, UTF-8 or hex for bytes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + value.hex()
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return xlsx_text(value)


def typed(text: str, kind: ColumnType) -> str | int | float | bool | None:
    """``text`` as a value of ``kind``; an empty cell is None, except in a TEXT column. Text
    that does not read as ``kind`` stays text (it is never lost)."""
    if kind is ColumnType.TEXT:
        return text
    if text == "":
        return None
    try:
        if kind is ColumnType.INTEGER:
            return int(text)
        if kind is ColumnType.REAL:
            return float(text)
    except ValueError:
        return text
    folded = text.casefold()
    if folded in ("true", "1"):
        return True
    if folded in ("false", "0"):
        return False
    return text


def unique_names(
    names: Sequence[str], *, reserved: Sequence[str] = (), fold: bool = True
) -> list[str]:
    """``names`` made unique (case-insensitively with ``fold``), none of them ``reserved`` and
    none empty: a later duplicate becomes ``name_2``, an empty name ``column_N``."""
    key = str.casefold if fold else str
    taken = {key(name) for name in reserved}
    out: list[str] = []
    for position, name in enumerate(names, start=1):
        base = name.strip() or f"column_{position}"
        candidate, counter = base, 1
        while key(candidate) in taken:
            counter += 1
            candidate = f"{base}_{counter}"
        taken.add(key(candidate))
        out.append(candidate)
    return out
