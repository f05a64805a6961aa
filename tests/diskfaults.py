"""Helpers (no tests) that make a disk misbehave for real, for the disk-fault tests: a small
tmpfs (a disk that fills up), and the immutable flag (chattr +i: what made SQLite's WAL index
crash the server). Each skips the test with the reason where the machine cannot do it (not
root, no mount permission in a container, a file system without the flag)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def small_tmpfs(where: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of ``megabytes`` mounted at ``where`` while inside (skips where mount fails)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to make a small file system that can fill up")
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {done.stderr}"
        )
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def fill(folder: Path, leave_bytes: int) -> Path:
    """Write a file in ``folder`` that leaves about ``leave_bytes`` free on its file system."""
    filler = folder / "filler"
    vfs = os.statvfs(folder)
    size = max(vfs.f_bavail * vfs.f_frsize - leave_bytes, 0)
    with filler.open("wb") as out:
        block = b"\0" * (1024 * 1024)
        while size > 0:
            try:
                size -= out.write(block[: min(size, len(block))])
            except OSError:
                break  # full already
    return filler


def chattr(flag: str, *paths: Path) -> None:
    """``chattr -R flag paths`` (``+i`` / ``-i``), failing the test if it does not work."""
    done = _run("chattr", "-R", flag, *map(str, paths))
    assert done.returncode == 0, done.stderr


def require_immutable(probe_dir: Path) -> None:
    """Skip unless this file system takes the immutable flag (root, and ext4/xfs/btrfs/tmpfs)."""
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr(1) (e2fsprogs) to make files immutable")
    probe = probe_dir / "immutable-probe"
    probe.write_bytes(b"x")
    done = _run("chattr", "+i", str(probe))
    if done.returncode != 0:
        probe.unlink()
        pytest.skip(
            "cannot set the immutable flag here (needs root and a file system that has it): "
            + done.stderr.strip()
        )
    _run("chattr", "-i", str(probe))
    probe.unlink()
