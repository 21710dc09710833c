"""Names replaced atomically: a temporary name beside the final one, then a rename over it."""

from __future__ import annotations

import os
import shutil
from contextlib import suppress

__all__ = ["TMP_LINK", "keep_old", "link", "replace"]

TMP_LINK = ".tmp-link"  # the suffix of a link or .old copy being made, renamed over its final name


def replace(tmp: str, final: str) -> None:
    """``os.replace``, and ``tmp`` gone whether it succeeds or fails.

    rename(2) does nothing, successfully, when both names are links to one file (an ``.old``
    that is already a hard link of the database): ``tmp`` is then removed here.
    """
    try:
        os.replace(tmp, final)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    with suppress(FileNotFoundError):
        if os.path.samestat(os.lstat(tmp), os.lstat(final)):
            os.unlink(tmp)


def keep_old(path: str, old: str) -> None:
    """Make ``old`` a hard link to ``path`` (a copy where links are impossible)."""
    tmp = old + TMP_LINK
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    replace(tmp, old)


def link(target_name: str, link_path: str) -> None:
    """Point ``link_path`` at ``target_name`` (a name in the same directory), atomically: a symbolic
    link, else a hard link, else a copy."""
    tmp = link_path + TMP_LINK
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.symlink(target_name, tmp)
    except OSError:
        try:
            os.link(os.path.join(os.path.dirname(link_path), target_name), tmp)
        except OSError:
            shutil.copy2(os.path.join(os.path.dirname(link_path), target_name), tmp)
    replace(tmp, link_path)
