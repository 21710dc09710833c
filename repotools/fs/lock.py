"""repo-add's lock file: created exclusively, holding our PID, removed at the end.

While a run holds the lock it also holds an ``flock`` on the lock file itself, released by
the kernel however the run ends. A lock is stale when its PID names no process here *and*
nobody holds that ``flock``: so a repotools run in another PID namespace (a container
sharing the repository) is never taken for a dead one. (pacman's repo-add takes no
``flock``: a pacman run in another PID namespace is judged by its PID alone.)

Without waiting, a stale lock is reported so, with the command that clears it. With
``wait`` it is taken over: under a non-blocking exclusive ``flock`` of the repository
directory (of several repotools waiters one takes it over; a directory somebody else keeps
locked means waiting), the stale lock is moved aside and removed only if what was moved is
still that lock; a lock made meanwhile goes back (and is never deleted: if the name was
taken again in between, the moved lock stays beside it, reported).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ..errors import LockHeld, RepoWriteError
from ..events import Event, Level, Report
from .signals import Mask, hold_signals, release_signals

__all__ = ["holder_gone", "lock"]

_MAX_PID_DIGITS = 10  # pid_max is at most 2^22 on Linux; longer text is no PID


@contextmanager
def lock(path: str, wait: bool, report: Report) -> Iterator[None]:
    """Hold the lock file ``path`` (``wait``: until it is free, or taken over) for the ``with`` block."""
    mask = hold_signals()  # from the lock's creation to the try that removes it
    try:
        fd = _acquire(path, wait, report, mask)
        try:
            release_signals(mask)  # a signal held back meanwhile raises here, within the try
            yield
        finally:
            with suppress(OSError):  # ours still: a lock taken over wrongly by someone is theirs
                st, mine = os.stat(path), os.fstat(fd)
                if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                    os.unlink(path)
            os.close(fd)  # and the flock with it
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


def _flocked(path: str) -> bool:
    """Whether some process holds an ``flock`` on ``path`` (a repotools run holding the lock)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)  # our own probe's flock goes with it
    return False


def holder_gone(holder: str | None, path: str | None = None) -> bool:
    """Whether ``holder`` (a lock's content) is the PID of no process here, and (with ``path``) no
    process holds the lock file's ``flock``: the lock is stale."""
    if holder is None or not (holder.isascii() and holder.isdigit()) or len(holder) > _MAX_PID_DIGITS:
        return False  # not a PID: nobody can tell, so it is held
    pid = int(holder)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return path is None or not _flocked(path)
    except (OSError, OverflowError):  # EPERM: a process of another user, alive
        return False
    return False


def _take_over(path: str, holder: str, report: Report) -> bool:
    """Remove the stale lock ``path`` that ``holder`` left, if it is still that lock (see above);
    False when it cannot be done now (the directory is locked by somebody else, or this user may
    not write it): then wait."""
    try:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False  # another waiter is taking it over, or a caller holds the directory
            # a file system without flock: the checks below still hold
        if _read_holder(path) != holder or not holder_gone(holder, path):
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
            return True
        try:  # a lock made since the check: back where it was
            os.link(aside, path)
        except OSError:
            report(
                Event(
                    Level.WARNING,
                    f"A lock file made while the stale one was taken over is now {aside}; {path} is another's.",
                )
            )
            return True
        os.unlink(aside)
        return True
    finally:
        os.close(dir_fd)  # and its flock with it


def _acquire(path: str, wait: bool, report: Report, mask: Mask) -> int:
    """Create the lock file and flock it, the stop signals held (``mask``: as they were, while
    waiting); its descriptor, kept open (and so flocked) until the lock is removed."""
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            holder = _read_holder(path)
            stale = holder_gone(holder, path)
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
        with suppress(OSError):  # a file system without flock: the PID alone then
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as e:
        with suppress(OSError):
            os.unlink(path)
        os.close(fd)
        raise RepoWriteError(f"Failed to acquire lockfile: {path}: {e.strerror}.") from None
    return fd
