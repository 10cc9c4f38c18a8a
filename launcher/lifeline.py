"""A child process that ends with its parent: `enas serve`'s worker must not live on as an
orphan consuming the queue after the service was killed (SIGKILL, an out-of-memory kill).

On Linux the kernel sends the child SIGKILL when the parent's thread that started it dies
(prctl PR_SET_PDEATHSIG); elsewhere, and as a fallback, a thread watches the parent's pid.
A kill mid-job is safe: the job's lease goes stale and it resumes from its last checkpoint.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _die(parent: int) -> None:
    log.warning("the parent process %d is gone; exiting", parent)
    os.kill(os.getpid(), signal.SIGKILL)


def exit_with_parent(parent: int, *, poll_s: float = 1.0) -> None:
    """End this process (SIGKILL) as soon as the process `parent` is gone."""
    _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was set
        _die(parent)

    def watch() -> None:
        while True:
            threading.Event().wait(poll_s)
            if os.getppid() != parent:  # re-parented: ours died
                _die(parent)

    threading.Thread(target=watch, name="enas-parent-watch", daemon=True).start()
