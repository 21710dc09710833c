"""The layout cache: what repotools wrote, remembered per archive, so the next update copies chunks.

A speed-up only (``db.chunks``, rule 2): every failure to read or write it is ignored.
It lives in the user's cache directory, and is trusted only from a directory and
files this user owns and no one else may write.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress

from ..db.chunks import Layout
from ..limits import DEFAULT_LIMITS, Limits

__all__ = ["LayoutCache", "default_cache"]


class LayoutCache:
    """Layouts of the archives repotools wrote, one file each (``Layout.encode``), named by the archive's SHA-256.

    Only a speed-up: every failure to read or write it is ignored, and a layout
    is used only for a file whose SHA-256 it was stored under (rule 2). A layout
    decides which bytes are copied into the next database, so it is trusted only
    from a directory and a file that this user owns and no one else may write.
    """

    def __init__(self, directory: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self.directory = directory
        self.keep = limits.layouts_kept  # the least recently used go first

    def _path(self, sha256: str) -> str:
        return os.path.join(self.directory, f"{sha256}.layout")

    def load(self, sha256: str, compression: str | None, size: int, writer: str) -> Layout | None:
        """The layout stored for the archive whose SHA-256 is ``sha256``, if it was written by
        this ``writer`` (``archive._lib.WRITER``) with this compression and size."""
        path = self._path(sha256)
        try:
            if not _private(os.stat(self.directory)):
                return None
            with open(path, "rb") as f:
                if not _private(os.fstat(f.fileno())):
                    return None
                layout = Layout.decode(f.read())
        except OSError:
            return None
        if layout is None or (layout.sha256, layout.compression, layout.size, layout.writer) != (
            sha256,
            compression,
            size,
            writer,
        ):
            return None
        with suppress(OSError):  # recently used (a layout we may read but not touch is still used)
            os.utime(path)
        return layout

    def store(self, sha256: str, layout: Layout) -> None:
        with suppress(OSError):
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not _private(os.stat(self.directory)):
                return
            fd, tmp = tempfile.mkstemp(prefix=".tmp.", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(layout.encode())
                os.replace(tmp, self._path(sha256))
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            self._prune()

    def clear(self) -> None:
        """Drop every layout: one found wrong makes them all suspect."""
        with suppress(OSError), os.scandir(self.directory) as it:
            for e in it:
                if e.name.endswith((".layout", ".layout.json")):  # .layout.json: format 2
                    with suppress(OSError):
                        os.unlink(e.path)

    def _prune(self) -> None:
        with os.scandir(self.directory) as it:
            entries = list(it)
        found = [(e.stat().st_mtime, e.path) for e in entries if e.name.endswith(".layout")]
        stale = [e.path for e in entries if e.name.endswith(".layout.json")]  # format 2, repotools 0.1.0
        for path in [p for _, p in sorted(found)[: max(len(found) - self.keep, 0)]] + stale:
            with suppress(OSError):
                os.unlink(path)


def _private(st: os.stat_result) -> bool:
    """Owned by this user, and writable by no one else."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def default_cache(environ: Mapping[str, str] = os.environ, limits: Limits = DEFAULT_LIMITS) -> LayoutCache | None:
    """``$REPOTOOLS_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/repotools``, else ``~/.cache/repotools``."""
    if "REPOTOOLS_CACHE_DIR" in environ:
        directory = environ["REPOTOOLS_CACHE_DIR"]
        return LayoutCache(directory, limits) if directory else None
    base = environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = environ.get("HOME") or os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return LayoutCache(os.path.join(base, "repotools"), limits)
