"""Validation of command-line values, so that every bad option ends as one clear line.

Click checks types; these check what click cannot: ranges that keep numbers within what SQLite
and the process pool can hold, directories that are directories, an output folder that exists,
names and e-mail addresses that fit in the key list, and an address the server can listen on —
before any work starts (an index build, a server start).
"""

from __future__ import annotations

import socket
import unicodedata
from pathlib import Path

import click

from geobatch.config import MAX_WORKERS

__all__ = ["MAX_WORKERS"]  # the CLI's --workers limit is the environment's
MAX_CHUNK_SIZE = 1_000_000
MAX_DAILY_LIMIT = 10**12  # entities a day; beyond, 'unlimited' says it better (and SQLite's
# INTEGER ends at 2**63 - 1: a larger value was an OverflowError traceback)
MAX_KEY_ID = 2**63 - 1
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254  # RFC 5321's longest forward path
DATABASE_NAME = "jobs.sqlite"  # jobs.paths.DataPaths.database; a data directory holds it


def _bad(message: str, hint: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint=hint)


def directory(path: Path, hint: str) -> Path:
    """``path`` is a directory or does not exist yet (it will be made)."""
    if path.exists() and not path.is_dir():
        raise _bad(f"{path} is not a directory", hint)
    return path


def data_directory(path: Path, hint: str) -> Path:
    """A job-service data directory: new, empty, or one that already holds its database — never
    some other directory that would get geobatch's folders and database written into it."""
    directory(path, hint)
    if path.is_dir() and not (path / DATABASE_NAME).exists():
        try:
            used = next(path.iterdir(), None) is not None
        except OSError as exc:
            raise _bad(f"{path} cannot be read: {exc.strerror}", hint) from None
        if used:
            raise _bad(
                f"{path} is not a geobatch data directory (it holds other files and no "
                f"{DATABASE_NAME}); give a new or empty directory",
                hint,
            )
    return path


def directory_option(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback for ``--index``."""
    return None if value is None else directory(value, _hint(param))


def data_directory_option(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> Path | None:
    """Click callback for ``--data-dir``."""
    return None if value is None else data_directory(value, _hint(param))


def output_option(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """Click callback for ``-o``: '-' (stdout), or a file in a folder that exists."""
    if str(value) == "-":
        return value
    folder = value.parent
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise _bad(f"the folder {folder} {what}", _hint(param))
    return value


def _text(value: str, what: str, hint: str, limit: int) -> str:
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        raise _bad(f"the {what} is not valid UTF-8 text", hint)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _bad(f"the {what} holds a control character (a tab, a line break, ...)", hint)
    if len(value) > limit:
        raise _bad(
            f"the {what} is {len(value):,} characters long; at most {limit} are allowed", hint
        )
    return value


def key_name_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Click callback for ``keys create --name``."""
    name = _text(value.strip(), "name", _hint(param), MAX_NAME_CHARS)
    if not name:
        raise _bad("the name is empty; say who the key is for", _hint(param))
    return name


def email_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for ``keys create --email``: an ``@`` between a non-empty name and a
    domain without spaces (a quoted name may hold spaces); deliverability is not checked."""
    if value is None:
        return None
    email = _text(value.strip(), "e-mail address", _hint(param), MAX_EMAIL_CHARS)
    local, at, domain = email.rpartition("@")
    if not (at and local and domain) or any(ch.isspace() for ch in domain):
        raise _bad(f"{value!r} is not an e-mail address (name@example.org)", _hint(param))
    return email


def daily_limit(value: str | None, hint: str = "--daily-limit") -> int | None:
    """``--daily-limit``: a whole number from 0 to MAX_DAILY_LIMIT, or 'unlimited' (None)."""
    if value is None or value.strip().lower() == "unlimited":
        return None
    text = value.strip()
    # ASCII digits only: int() would also take "1_000" and other scripts' digits.
    if not (text.isascii() and text.removeprefix("-").isdigit()):
        raise _bad(f"{value!r} is not a whole number or 'unlimited'", hint)
    limit = int(text)
    if limit < 0:
        raise _bad(f"{value} is negative", hint)
    if limit > MAX_DAILY_LIMIT:
        raise _bad(f"{value} is more than {MAX_DAILY_LIMIT:,}; use 'unlimited'", hint)
    return limit


def listen_address(host: str, port: int) -> None:
    """Refuse a ``--host``/``--port`` the server could not listen on, before it starts (an
    unknown host name, an address of another machine, a port in use or reserved)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise _bad(f"cannot listen on {host!r}: {reason}", "--host") from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.UsageError(
                f"cannot listen on {host} port {port}: {exc.strerror or exc}"
            ) from None


def _hint(param: click.Parameter) -> str:
    return param.get_error_hint(click.get_current_context())
