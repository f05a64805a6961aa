"""The job store on a disk that misbehaves for real: immutable files and a vanished directory
are refused before SQLite touches them (it would die of SIGBUS), a full disk refuses writes
and serves reads, and SQLite's own I/O errors come out as StoreUnavailable with the reason."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from geobatch.jobs.diskcheck import disk_fault_of
from geobatch.jobs.errors import StoreUnavailable
from geobatch.jobs.store import JobStore
from tests.diskfaults import chattr, fill, require_immutable, small_tmpfs


def test_an_immutable_store_is_refused_for_reads_and_writes(tmp_path: Path) -> None:
    require_immutable(tmp_path)
    store = JobStore(tmp_path / "data" / "jobs.sqlite")
    store.add_key("a", None, "hash-a", None, 1.0)
    chattr("+i", tmp_path / "data")
    try:
        with pytest.raises(StoreUnavailable, match="immutable"):
            store.add_key("b", None, "hash-b", None, 2.0)
        with pytest.raises(StoreUnavailable, match="immutable"):
            store.list_keys()
    finally:
        chattr("-i", tmp_path / "data")
    store.add_key("b", None, "hash-b", None, 2.0)  # and back to work
    assert [key.name for key in store.list_keys()] == ["a", "b"]
    store.close()


def test_a_vanished_directory_is_refused_and_found_again(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "data" / "jobs.sqlite")
    (tmp_path / "data").rename(tmp_path / "away")
    with pytest.raises(StoreUnavailable, match="is gone"):
        store.list_keys()
    (tmp_path / "away").rename(tmp_path / "data")
    assert store.list_keys() == []
    store.close()


def test_a_full_disk_refuses_writes_and_serves_reads(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", 16) as disk:
        store = JobStore(disk / "jobs.sqlite", min_free_mb=4)
        store.add_key("a", None, "hash-a", None, 1.0)
        filler = fill(disk, leave_bytes=1024 * 1024)
        with pytest.raises(StoreUnavailable, match="is full"):
            store.add_key("b", None, "hash-b", None, 2.0)
        assert [key.name for key in store.list_keys()] == ["a"]
        filler.unlink()
        store.add_key("b", None, "hash-b", None, 2.0)
        store.close()


def test_sqlite_running_out_of_disk_is_store_unavailable(tmp_path: Path) -> None:
    """No reserve (0 MB): SQLite itself meets the full disk, and says so with an error."""
    with small_tmpfs(tmp_path / "disk", 16) as disk:
        store = JobStore(disk / "jobs.sqlite", min_free_mb=0)
        store.add_key("a", None, "hash-a", None, 1.0)
        fill(disk, leave_bytes=0)
        with pytest.raises(StoreUnavailable, match="data directory"):
            for n in range(1000):  # until the WAL needs a page the disk has not got
                store.add_key(f"k{n}", "x" * 2000, f"hash-{n}", None, 2.0)
        assert store.list_keys()[0].name == "a"
        store.close()


def test_only_disk_errors_are_disk_faults(tmp_path: Path) -> None:
    assert disk_fault_of(OSError(errno.ENOSPC, "No space left on device")) is not None
    assert disk_fault_of(OSError(errno.EROFS, "Read-only file system")) is not None
    # Not found, not permitted: the disk's fault only when the data directory is at fault.
    assert disk_fault_of(OSError(errno.ENOENT, "No such file")) is None
    assert disk_fault_of(ValueError("bad input")) is None
