"""Holding the signals that stop a run, where one landing would be lost or leave something behind.

The CLI makes each stop signal raise an exception where the run is, which unwinds
it (the lock and temporary files are removed on the way). They are held back
(blocked: they stay pending) wherever that must not happen: while a process forks
(a handler raising in an at-fork hook is ignored), between making the lock or a
temporary file and the ``try`` that removes it, and while the new archives are
renamed into place (all of them or none). Restoring the mask delivers a pending
one, and its handler raises from there.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = [
    "STOP_SIGNALS",
    "Mask",
    "child_signals",
    "die_with_parent",
    "hold_signals",
    "release_signals",
    "signals_held",
]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

STOP_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM})
Mask = set[int | signal.Signals]


def hold_signals() -> Mask:
    """Block the stop signals; the mask to give ``release_signals``."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def release_signals(mask: Mask) -> None:
    """Restore the mask: a stop signal that arrived meanwhile is handled now (and may raise here)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextmanager
def signals_held() -> Iterator[Mask]:
    mask = hold_signals()
    try:
        yield mask
    finally:
        release_signals(mask)


def child_signals(mask: Mask) -> None:
    """In a child forked with the stop signals held: ignore them, then the mask as it was.

    The parent alone answers them (the terminal's reach the whole process group, and so
    may SIGTERM: systemd, timeout(1)) and it stops its children itself: the files
    database's writer is killed, the scan workers finish the packages they hold and
    exit (a worker that dies while the pool is being shut down makes it fail noisily).
    """
    with suppress(ValueError):  # not the main thread: leave the dispositions alone
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    release_signals(mask)


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed when the parent dies, however it dies (SIGKILL included), so that
    no worker outlives a killed run, blocked on a pipe. Linux only (``prctl(PR_SET_PDEATHSIG)``);
    a parent already gone by then (the race the kernel leaves) ends the child at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
