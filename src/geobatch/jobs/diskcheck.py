"""Is the data directory fit to use? Checked before every access to the job store.

The store is SQLite in WAL mode, and SQLite maps the ``-shm`` file (the WAL index) into every
process that opens the database, then writes to it by plain memory stores. When that file can no
longer be written -- made immutable (``chattr +i``), or its file system remounted read-only
after an error -- the kernel answers such a store with SIGBUS, which kills the process ("Fatal
Python error: Bus error"): SQLite never sees an error it could return. Readers write to the
index too (their read marks), so reads are no safer than writes. Setting the immutable flag even
flushes and write-protects the file's pages, so the very next access faults.

So the store looks before it touches SQLite (a ``stat``, a ``statvfs`` and two ``statx``: a
few microseconds) and refuses with :class:`StoreUnavailable` and the reason while the directory is:

- gone (deleted or unmounted) or replaced by another;
- on a file system mounted read-only, or its job store files are immutable or append-only:
  reads and writes are refused (both would fault);
- on a disk with less free space than the reserve: writes are refused, reads go on (a full disk
  does not fault: SQLite allocates the index's pages when it creates them).

Closing a connection is an access too: the last one to close checkpoints, writing the index. On a
read-only or immutable directory the store's connections are therefore left open for good (kept
from Python's garbage collector, even at interpreter exit) rather than closed.

A fault that arrives in the microseconds between the look and SQLite's next store into the index
can still crash the process; see docs/security.md ("Disk faults") for why no other choice closes
that window without giving up WAL.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import errno
import os
import sqlite3
import struct
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from geobatch.jobs.errors import StoreUnavailable

MB = 1024 * 1024
DEFAULT_MIN_FREE_MB = 64
# linux/stat.h: the statx attributes that forbid writing a file in place.
STATX_ATTR_IMMUTABLE = 0x00000010
STATX_ATTR_APPEND = 0x00000020
# errno values that always mean "the disk", not "the request": they become a 503; and those
# that do when the data directory is found at fault (a file refused, or gone with its folder).
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
MAYBE_DISK_ERRNOS = frozenset({errno.EPERM, errno.EACCES, errno.ENOENT})
# SQLite's primary result codes that mean the same (sqlite3.Error.sqlite_errorname).
DISK_SQLITE_ERRORS = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")


class DiskCheck:
    """The checks for the job store at ``database`` (a file in the data directory)."""

    def __init__(self, database: Path, min_free_mb: int = DEFAULT_MIN_FREE_MB) -> None:
        self.database = database
        self.folder = database.parent
        self.min_free = min_free_mb * MB
        self._shm = database.with_name(database.name + "-shm")
        self._identity: tuple[int, int] | None = None

    def remember(self) -> None:
        """Note which file the store opened (a directory deleted and made again is another)."""
        st = os.stat(self.database)
        self._identity = (st.st_dev, st.st_ino)

    def check(self, write: bool) -> None:
        """Raise :class:`StoreUnavailable` when the store must not be touched (``write``: also
        when the disk is too full to take more)."""
        reason = self.fault(write)
        if reason is not None:
            raise StoreUnavailable(reason)

    def fault(self, write: bool) -> str | None:
        """What is wrong with the data directory, or None."""
        where = str(self.folder)
        try:
            # Until the store is made (the first connection creates the file) its folder counts.
            st = os.stat(self.database if self._identity is not None else self.folder)
            vfs = os.statvfs(self.folder)
        except OSError:
            return (
                f"the server's data directory {where} is gone (deleted or unmounted); "
                "restore it and restart the server"
            )
        if self._identity is not None and (st.st_dev, st.st_ino) != self._identity:
            return (
                f"the server's job store in {where} was replaced while the server ran; "
                "restart the server"
            )
        if vfs.f_flag & os.ST_RDONLY:
            return (
                f"the server's data directory {where} is on a file system mounted read-only; "
                "the service resumes once it is writable again"
            )
        for path in (self._shm, self.database):
            if _flags(path) & (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND):
                return (
                    f"the server's job store files in {where} are immutable or append-only "
                    f"(chattr); the service resumes once they are writable again"
                )
        if write:
            free = vfs.f_bavail * vfs.f_frsize
            if free < self.min_free:
                return (
                    f"the disk holding the server's data directory {where} is full "
                    f"({free / MB:.0f} MB free, {self.min_free // MB} MB needed to accept "
                    "work); job status and results can still be read"
                )
        return None


def _flags(path: Path) -> int:
    """The file's attributes (``stx_attributes`` of statx(2)); 0 when it does not exist, or the
    system or file system does not say.

    Never open the file to ask (the ``FS_IOC_GETFLAGS`` ioctl needs a descriptor): closing any
    descriptor of a file drops every POSIX lock the process holds on it, and SQLite's locks on
    the database and its ``-shm`` are such locks -- a closed descriptor lost commits."""
    if _statx is None:
        return 0
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    if _statx(_AT_FDCWD, os.fsencode(path), _AT_SYMLINK_NOFOLLOW, 0, buf) != 0:
        return 0
    attributes, mask = struct.unpack_from("<Q", buf, 8)[0], struct.unpack_from("<Q", buf, 56)[0]
    return int(attributes & mask)


def _load_statx() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.statx
    except (OSError, AttributeError):
        return None  # not Linux, or a C library older than statx (glibc 2.28)
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_void_p,
    ]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_SIZE = 256
_statx = _load_statx()


def disk_fault_of(exc: BaseException, check: DiskCheck | None = None) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` an I/O error stands for, or None when it is not the disk's
    fault (``check`` adds what is wrong with the data directory to the message)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    reason = check.fault(write=True) if check is not None else None
    if isinstance(exc, sqlite3.Error):
        # Any SQLite error while the data directory is at fault is that fault (a write refused
        # midway can surface as "database is locked"); else only its I/O error codes are.
        name = getattr(exc, "sqlite_errorname", None) or ""
        if reason is None and not name.startswith(DISK_SQLITE_ERRORS):
            return None
    elif not isinstance(exc, OSError):
        return None
    elif exc.errno not in DISK_ERRNOS and (exc.errno not in MAYBE_DISK_ERRNOS or reason is None):
        return None  # EPERM, ENOENT...: the disk's only when the data directory is at fault
    return StoreUnavailable(reason or f"the server cannot write to its data directory: {exc}")


_ABANDONED: list[sqlite3.Connection] = []
_CLOSE_AT_EXIT: weakref.WeakSet[Any] = weakref.WeakSet()


def abandon(connections: Iterable[sqlite3.Connection]) -> None:
    """Never close these connections, not even when Python frees them at exit: an extra
    reference that nothing releases (closing would make SQLite write its WAL index)."""
    for con in connections:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(con))
        _ABANDONED.append(con)


def close_at_exit(owner: Any) -> None:
    """Call ``owner.close()`` when the interpreter exits, before it frees objects: a store
    decides there whether its connections may be closed (see :func:`abandon`)."""
    _CLOSE_AT_EXIT.add(owner)


@atexit.register
def _close_owners() -> None:
    for owner in list(_CLOSE_AT_EXIT):
        close: Callable[[], None] = owner.close
        with contextlib.suppress(Exception):  # exiting: nothing left to report to
            close()
