"""A tiny streaming XML writer that keeps attribute order exactly as given.

Real clients read Bing's XML with order-sensitive readers (spec §2.5, §13), so element and
attribute order are part of the format; writing text directly keeps that order explicit and lets
a 200,000-entity file go out entity by entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Characters XML 1.0 cannot carry at all; they are dropped rather than producing a broken file.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def attribute(value: str) -> str:
    return _INVALID.sub("", value).translate(_ATTRIBUTE_ESCAPES)


def text(value: str) -> str:
    return _INVALID.sub("", value).translate(_TEXT_ESCAPES)


def attributes(pairs: Iterable[tuple[str, str]], keep: frozenset[str] = frozenset()) -> str:
    """`` name="value"`` for each pair with a non-empty value (or named in ``keep``), in the
    given order."""
    return "".join(
        f' {name}="{attribute(value)}"' for name, value in pairs if value or name in keep
    )


def empty(indent: int, name: str, pairs: Iterable[tuple[str, str]], close: str = " />") -> str:
    return f"{'  ' * indent}<{name}{attributes(pairs)}{close}\n"


def start(
    indent: int,
    name: str,
    pairs: Iterable[tuple[str, str]] = (),
    keep: frozenset[str] = frozenset(),
) -> str:
    return f"{'  ' * indent}<{name}{attributes(pairs, keep)}>\n"


def end(indent: int, name: str) -> str:
    return f"{'  ' * indent}</{name}>\n"


def leaf(indent: int, name: str, value: str) -> str:
    return f"{'  ' * indent}<{name}>{text(value)}</{name}>\n"
