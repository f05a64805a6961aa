"""The one exception tree of geobatch. Foreign errors are translated at the boundary."""

from __future__ import annotations


class GeobatchError(Exception):
    """Base of every error geobatch raises on purpose; its message is meant for a person."""


class SourceError(GeobatchError):
    """A data source cannot be read: missing, truncated, wrong layout."""


class IndexError_(GeobatchError):
    """The on-disk index is missing, corrupt or of an unknown version."""


class InputError(GeobatchError):
    """A batch file or a request row cannot be understood."""
