"""Postcodes: a comparable key, and the shapes that look like one."""

from __future__ import annotations

import re
from functools import lru_cache

_ZIP_PLUS4 = re.compile(r"^(\d{5})-?\d{4}$")
_KEEP = re.compile(r"[^0-9A-Z]")


@lru_cache(maxsize=50_000)  # asked for every number-like word of every query, and per address
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


# Country letters written before a postcode in European addresses: "FL-9490", "CH-8001", "D-10115".
_COUNTRY_PREFIX = re.compile(
    r"\b(?:FL|LI|CH|D|DE|A|AT|DK|F|FR|I|IT|L|LU|B|BE|NL|S|SE|N|NO|FIN|FI|IS|E|ES|P|PT|PL|CZ)"
    r"\s?-\s?(?=\d{3,5}\b)",
    re.IGNORECASE,
)


def strip_country_prefix(text: str) -> str:
    """``"FL-9490 Vaduz"`` → ``"9490 Vaduz"``: the letters only repeat the country."""
    # The pattern needs a letter before the dash (a space between at most): most addresses
    # have no dash, and Queens' "117-11" has digits on both sides.
    i = text.find("-")
    while i >= 0:
        if i > 0 and (
            text[i - 1].isalpha() or (text[i - 1].isspace() and i > 1 and text[i - 2].isalpha())
        ):
            return _COUNTRY_PREFIX.sub("", text)
        i = text.find("-", i + 1)
    return text
