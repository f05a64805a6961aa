"""Child processes that die with their parent.

A job runner or geocoding worker left behind by a server killed with SIGKILL would keep writing
to the store while a restarted server starts its own: every row must be answered exactly once,
so helpers must not outlive the process that started them. On Linux the kernel sends the child
SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere :func:`die_with_parent`
does nothing and callers rely on their own checks (see :func:`parent_is_alive`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Ask the kernel to SIGKILL this process when its parent exits; True when that is set up.

    ``parent_pid``: the parent this process was started by. When given and the parent has
    already gone (it died before this call), this process exits at once.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if parent_pid is not None and not parent_is_alive(parent_pid):
        os._exit(1)  # orphaned before the signal was armed: nobody is left to stop us
    return armed


def parent_is_alive(parent_pid: int) -> bool:
    """False once the parent has exited (this process was re-parented)."""
    return os.getppid() == parent_pid
