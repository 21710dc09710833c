"""repo-add's lock file: created exclusively, holding our PID, removed at the end.

A lock whose PID names no process on this machine (in this PID namespace) is stale: a run
that was killed left it. Without waiting it is reported so, with the command that clears it;
with ``wait`` it is taken over: under an exclusive ``flock`` of the repository directory (so
that of several repotools waiters one takes it over, and the others then find its new lock),
the stale lock is moved aside and removed only if what was moved is still that lock (a lock
made meanwhile by a program that takes no ``flock``, pacman's repo-add, is put back).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ..errors import LockHeld, RepoWriteError
from ..events import Event, Level, Report
from .signals import Mask, hold_signals, release_signals

__all__ = ["holder_gone", "lock"]


@contextmanager
def lock(path: str, wait: bool, report: Report) -> Iterator[None]:
    """Hold the lock file ``path`` (``wait``: until it is free, or taken over) for the ``with`` block."""
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


def _read_holder(path: str) -> str | None:
    """The lock's content when it is a regular file ("" if it cannot be read), else None.

    repo-add: [[ -f $LOCKFILE ]] && error "Held by process %s" "$(cat "$LOCKFILE")"; only a
    regular file is read, and without blocking (a FIFO put there would hang the run)."""
    if not os.path.isfile(path):
        return None
    holder = ""
    with suppress(OSError), open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), errors="replace") as f:
        holder = f.read().rstrip("\n")
    return holder


def holder_gone(holder: str | None) -> bool:
    """Whether ``holder`` (a lock's content) is the PID of no process: the lock is stale."""
    if holder is None or not holder.isdigit() or int(holder) <= 0:
        return False  # not a PID: nobody can tell, so it is held
    try:
        os.kill(int(holder), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: a process of another user, alive
        return False
    return False


def _take_over(path: str, holder: str, report: Report) -> bool:
    """Remove the stale lock ``path`` that ``holder`` left, if it is still that lock (see above);
    False when it could not be removed (a directory this user may not write): then wait."""
    directory = os.path.dirname(path) or "."
    dir_fd = -1
    with suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if dir_fd >= 0:
            import fcntl

            with suppress(OSError):  # a file system without flock: the check below still holds
                fcntl.flock(dir_fd, fcntl.LOCK_EX)
        if _read_holder(path) != holder or not holder_gone(holder):
            return True  # another waiter took it over, or it was cleared: try again
        aside = f"{path}.stale-{os.getpid()}"
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        if _read_holder(aside) == holder:
            os.unlink(aside)
            report(Event(Level.WARNING, f"Took over the stale lock file {path}: process {holder} no longer runs."))
        else:  # a lock made since the check: back where it was, unless yet another one is there now
            with suppress(OSError):
                os.link(aside, path)
            os.unlink(aside)
        return True
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)  # and the flock with it


def _acquire(path: str, wait: bool, report: Report, mask: Mask) -> None:
    """Create the lock file, the stop signals held (``mask``: as they were, while waiting)."""
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            holder = _read_holder(path)
            stale = holder_gone(holder)
            if not wait:
                raise LockHeld(path, holder, stale) from None
            if stale and holder is not None and _take_over(path, holder, report):
                continue
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
