"""The one exception tree of geobatch. Foreign errors are translated at the boundary."""

from __future__ import annotations

from typing import Any


class GeobatchError(Exception):
    """Base of every error geobatch raises on purpose; its message is meant for a person."""


class SourceError(GeobatchError):
    """A data source cannot be read: missing, truncated, wrong layout."""


class IndexError_(GeobatchError):
    """The on-disk index is missing, corrupt or of an unknown version."""


class InputError(GeobatchError):
    """A batch file or a request row cannot be understood."""


class MissingExtra(GeobatchError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, extra: str, purpose: str) -> Any:
    """Import the optional dependency ``module``, or raise :class:`MissingExtra` saying which
    ``pip install 'geobatch[EXTRA]'`` brings it."""
    import sys

    try:
        __import__(module)  # through builtins.__import__, as a plain import statement goes
    except ImportError:
        raise MissingExtra(
            f"{purpose} needs {module.split('.')[0]}, which is not installed: "
            f"pip install 'geobatch[{extra}]'"
        ) from None
    return sys.modules[module]
