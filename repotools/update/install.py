"""The new archives put in place: the old ones kept as ``.old``, the renames, the symbolic links,
the signatures beside them; nothing touched when a name in the way cannot be replaced."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress

from ..errors import RepoWriteError
from ..events import Event, Level, Report
from ..formats.dbname import KINDS, DbPaths
from ..fs import atomic
from ..fs.atomic import TMP_LINK

__all__ = ["put_in_place"]


def _in_the_way(paths: DbPaths, kind: str, signed: bool) -> str | None:
    """The first name that ``_keep_olds`` and ``_rotate`` would replace or remove, but cannot
    because it is a directory (a rename replaces anything else: a file, a symbolic link)."""
    final, link = paths.archive(kind), paths.link(kind)
    names = [final, final + ".sig", link, link + TMP_LINK, link + ".sig"]
    if signed:
        names.append(link + ".sig" + TMP_LINK)
    if os.path.isfile(final):
        names += [final + ".old", final + ".old" + TMP_LINK, final + ".old.sig"]
        if os.path.isfile(final + ".sig"):
            names.append(final + ".old.sig" + TMP_LINK)
    for name in names:
        with suppress(OSError):
            if stat.S_ISDIR(os.lstat(name).st_mode):
                return name
    return None


def put_in_place(paths: DbPaths, temps: dict[str, str], signed: bool, report: Report) -> None:
    """Both archives' ``.old`` copies first (a failure there leaves both as they were), then the renames.

    Nothing is touched if any name in the way cannot be replaced.
    """
    for kind in KINDS:
        culprit = _in_the_way(paths, kind, signed)
        if culprit is not None:
            raise RepoWriteError(
                f"Cannot put the new database '{paths.archive(kind)}' in place: "
                f"{os.strerror(errno.EISDIR)} ('{culprit}')."
            )
    kind = KINDS[0]
    try:
        for kind in KINDS:
            _keep_olds(paths, kind)
        for kind in KINDS:
            _rotate(paths, kind, temps[kind], temps[kind] + ".sig" if signed else None, report)
    except OSError as e:
        culprit = e.filename2 or e.filename  # os.replace: the name replaced
        where = f" ('{culprit}')" if culprit else ""
        raise RepoWriteError(
            f"Cannot put the new database '{paths.archive(kind)}' in place: {e.strerror}{where}."
        ) from None


def _keep_olds(paths: DbPaths, kind: str) -> None:
    """The archive as it is (and its signature) kept as ``.old`` (``.old.sig``)."""
    final = paths.archive(kind)
    if os.path.isfile(final):
        atomic.keep_old(final, final + ".old")
        if os.path.isfile(final + ".sig"):
            atomic.keep_old(final + ".sig", final + ".old.sig")
        else:
            with suppress(FileNotFoundError):
                os.unlink(final + ".old.sig")


def _rotate(paths: DbPaths, kind: str, tmp: str, tmp_sig: str | None, report: Report) -> None:
    """The new archive (and signature) renamed into place, and the symbolic links set; ``_keep_olds`` first."""
    final = paths.archive(kind)
    name = os.path.basename(final)
    os.replace(tmp, final)
    if tmp_sig is not None:
        os.replace(tmp_sig, final + ".sig")
    elif os.path.lexists(final + ".sig"):
        os.unlink(final + ".sig")
        report(Event(Level.WARNING, f"Removed the old signature '{name}.sig': the new database is not signed."))
    link = paths.link(kind)
    atomic.link(name, link)
    if tmp_sig is not None:
        atomic.link(name + ".sig", link + ".sig")
    else:
        with suppress(FileNotFoundError):
            os.unlink(link + ".sig")
