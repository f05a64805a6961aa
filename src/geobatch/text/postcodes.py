"""Postcodes: a comparable key, and the shapes that look like one."""

from __future__ import annotations

import re

_ZIP_PLUS4 = re.compile(r"^(\d{5})-?\d{4}$")
_KEEP = re.compile(r"[^0-9A-Z]")


def postcode_key(text: str) -> str:
    """Upper case, no spaces or dashes; ZIP+4 cut to the ZIP (``"11427-1234"`` → ``"11427"``)."""
    raw = text.strip().upper()
    m = _ZIP_PLUS4.match(raw)
    if m:
        return m.group(1)
    key = _KEEP.sub("", raw)
    # Countries that prefix the code ("FL-9495", "CH-9490", "DK-1620") in the post.
    if len(key) > 4 and key[:2].isalpha() and key[2:].isdigit() and raw[2:3] in "- ":
        return key[2:]
    return key


def display_postcode(text: str) -> str:
    """The postcode as it should be printed: trimmed, upper case, single spaces."""
    return " ".join(text.strip().upper().split())
