"""The ``files`` database of an update, read, changed and written in a forked process."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Sequence
from contextlib import suppress

from ..db.chunks import Layout
from ..db.model import Entries, FilesChange, replay
from ..errors import RepoToolsError, RepoWriteError
from ..formats.dbname import DbPaths
from ..fs.files import read_all, write_all
from ..fs.signals import Mask, child_signals, die_with_parent
from ..limits import DEFAULT_LIMITS, Limits
from .layouts import LayoutCache
from .store import fill_temp, new_temp, read_existing, remember

__all__ = ["FilesJob"]


class FilesJob:
    """The ``files`` database, read, updated and written in a forked process.

    The two archives are independent once the core has decided what changes, and
    each costs as much to decompress and recompress as the other, so the child
    does the files database while this process does the ``db`` one. The child
    writes to a temporary file this process created, so this process can always
    remove it.
    """

    def __init__(
        self, paths: DbPaths, compression: str | None, mtime: int, cache: LayoutCache | None, mask: Mask,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """Make the temporary file and fork, with the stop signals held (``mask``: the mask
        to restore, which the child restores at once); on an error, nothing is left."""
        self.paths, self.compression, self.mtime, self.cache, self.limits = paths, compression, mtime, cache, limits
        self.tmp = new_temp(paths, "files")
        self.pid = 0
        self._exited = 0  # a child that answered and is still storing its layout: reaped by reap()
        self._delta_w = self._result_r = -1
        if not hasattr(os, "fork"):
            return
        to_child = from_child = -1
        try:
            to_child, self._delta_w = os.pipe()
            self._result_r, from_child = os.pipe()
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
                status = 1
                try:
                    die_with_parent(parent)
                    child_signals(mask)
                    os.close(self._delta_w)
                    os.close(self._result_r)
                    result, layout = self._child(to_child)
                    write_all(from_child, pickle.dumps(result))
                    os.close(from_child)  # the parent goes on: the layout is only a cache
                    status = 0
                    remember(self.cache, layout)
                finally:
                    os._exit(status)
            self.pid = pid
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise RepoWriteError(f"Cannot start writing the files database: {e.strerror}.") from None
            raise
        finally:
            for fd in (to_child, from_child):
                if fd >= 0:
                    os.close(fd)

    def _child(self, delta_fd: int) -> tuple[RepoToolsError | None, Layout | None]:
        try:
            entries = read_existing(self.paths, "files", False, self.cache, self.limits)
            ops = pickle.loads(read_all(delta_fd))
            if ops is None:
                return None, None
            return None, self._write(entries, ops)
        except RepoToolsError as e:
            return e, None
        except OSError as e:
            return RepoWriteError(f"Cannot write '{self.tmp}': {e.strerror}."), None
        except BaseException as e:  # noqa: BLE001 - anything else is reported, not lost
            return RepoWriteError(f"Writing the files database failed: {e!r}."), None

    def _write(self, entries: Entries, ops: Sequence[FilesChange]) -> Layout | None:
        replay(entries, ops)
        return fill_temp(self.tmp, entries, self.compression, self.mtime)

    def send(self, ops: Sequence[FilesChange] | None) -> None:
        """Hand the child the changes (None: abandon): it writes while this process goes on."""
        if self._delta_w < 0:
            return
        try:
            with suppress(BrokenPipeError):
                write_all(self._delta_w, pickle.dumps(ops))
        finally:
            os.close(self._delta_w)
            self._delta_w = -1

    def finish(self, ops: Sequence[FilesChange] | None) -> None:
        """Hand the child the changes if ``send`` did not, and wait; raise its error."""
        if not self.pid:
            if ops is not None:
                remember(self.cache, self._write(read_existing(self.paths, "files", False, self.cache, self.limits), ops))
            return
        pid, self.pid = self.pid, 0
        answer = b""
        try:
            self.send(ops)
            answer = read_all(self._result_r)  # the child closes its end once it has answered
        finally:
            os.close(self._result_r)
            self._result_r = -1
            self._exited = pid
            if not answer:  # it died, or was told to stop: nothing left to wait for
                self.reap()
        if ops is None:
            return
        if not answer:
            raise RepoWriteError("The process writing the files database died.")
        error = pickle.loads(answer)
        if error is not None:
            raise error

    def reap(self) -> None:
        """Wait for a child that has answered (it may still be storing the layout it wrote)."""
        if self._exited:
            pid, self._exited = self._exited, 0
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def abort(self) -> None:
        self.reap()
        if self.pid:
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        for fd in (self._delta_w, self._result_r):
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)
        self._delta_w = self._result_r = -1
        if self.pid:
            with suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        with suppress(OSError):
            os.unlink(self.tmp)
