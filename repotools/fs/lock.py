"""repo-add's lock file: created exclusively, holding our PID, removed at the end."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ..errors import LockHeld, RepoWriteError
from ..events import Event, Level, Report
from .signals import Mask, hold_signals, release_signals

__all__ = ["lock"]


@contextmanager
def lock(path: str, wait: bool, report: Report) -> Iterator[None]:
    """Hold the lock file ``path`` (``wait``: until it is free) for the ``with`` block."""
    mask = hold_signals()  # from the lock's creation to the try that removes it
    try:
        _acquire(path, wait, report, mask)
        try:
            release_signals(mask)  # a signal held back meanwhile raises here, within the try
            yield
        finally:
            with suppress(OSError):
                os.unlink(path)
    finally:
        release_signals(mask)


def _acquire(path: str, wait: bool, report: Report, mask: Mask) -> None:
    """Create the lock file, the stop signals held (``mask``: as they were, while waiting)."""
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            # repo-add: [[ -f $LOCKFILE ]] && error "Held by process %s" "$(cat "$LOCKFILE")"; only
            # a regular file is read, and without blocking (a FIFO put there would hang the run)
            holder: str | None = None
            if os.path.isfile(path):
                holder = ""
                with suppress(OSError), open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), errors="replace") as f:
                    holder = f.read().rstrip("\n")
            if not wait:
                raise LockHeld(path, holder) from None
            if not announced:
                report(
                    Event(
                        Level.MSG,
                        f"Waiting for lock file {path}" + (f" (held by process {holder})" if holder else "") + "...",
                    )
                )
                announced = True
            release_signals(mask)  # a signal stops the wait
            time.sleep(0.2)
            hold_signals()
        except OSError as e:
            raise RepoWriteError(f"Failed to acquire lockfile: {path}: {e.strerror}.") from None
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as e:
        with suppress(OSError):
            os.unlink(path)
        raise RepoWriteError(f"Failed to acquire lockfile: {path}: {e.strerror}.") from None
    finally:
        os.close(fd)
