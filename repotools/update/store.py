"""The repository's archives on disk: an existing one read (chunk by chunk, when the layout cache
knows it), a new one written into a temporary file beside it, fsynced."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import suppress

from ..archive.database import WRITER, read_database, read_database_bytes, write_database
from ..db.chunks import CHUNKABLE, ChunkedEntries, Layout
from ..db.model import Entries
from ..errors import CorruptDatabase, DatabaseNotFound, RepoWriteError
from ..events import Event, Level, Report
from ..formats.dbname import KINDS, DbPaths, compression_for
from ..fs.atomic import TMP_LINK
from ..fs.lock import holder_gone
from ..fs.signals import signals_held
from ..limits import DEFAULT_LIMITS, Limits
from .layouts import LayoutCache

__all__ = ["fill_temp", "fixed_time", "new_temp", "read_existing", "remember", "remove_debris"]


def read_existing(
    paths: DbPaths, kind: str, must_exist: bool, cache: LayoutCache | None = None, limits: Limits = DEFAULT_LIMITS
) -> Entries:
    """The entries of an existing database archive (none when it does not exist).

    An archive repotools wrote, whose layout the cache holds, is read chunk by
    chunk as the update needs it (``db.chunks.ChunkedEntries``); any other is read
    in full.
    """
    path = paths.archive(kind)
    if not os.path.lexists(path):
        if must_exist:
            raise DatabaseNotFound(path)
        return {}
    if not os.path.isfile(path):
        raise CorruptDatabase(f"Repository file '{path}' is not a regular file.")
    compression = compression_for(paths.compression_ext)
    entries: Entries
    if cache is None or compression not in CHUNKABLE:
        entries = read_database(path, limits)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise CorruptDatabase(f"Cannot read repository file '{path}': {e.strerror}.") from None
        sha256 = hashlib.sha256(data).hexdigest()
        layout = cache.load(sha256, compression, len(data), WRITER)
        if layout is not None:
            return ChunkedEntries(
                data, layout, lambda chunk: read_database_bytes(chunk, path, limits), path, cache.clear
            )
        entries = read_database_bytes(data, path, limits)
    if entries and not any("desc" in files for files in entries.values()):
        raise CorruptDatabase(f"Repository file '{path}' is not a proper pacman database.")
    return entries


def new_temp(paths: DbPaths, kind: str) -> str:
    """An empty temporary file beside the ``kind`` archive, for its new version."""
    final = paths.archive(kind)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".tmp.{os.path.basename(final)}.", dir=paths.directory)
    except OSError as e:
        raise RepoWriteError(f"Cannot write the new database in '{paths.directory}': {e.strerror}.") from None
    os.close(fd)
    return tmp


def remember(cache: LayoutCache | None, layout: Layout | None) -> None:
    if layout is not None and cache is not None:
        cache.store(layout.sha256, layout)


def fixed_time() -> int | None:
    """``SOURCE_DATE_EPOCH``, when it is set to a time."""
    sde = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(sde) if sde.isdigit() else None


def fill_temp(tmp: str, entries: Entries, compression: str | None, mtime: int) -> Layout | None:
    """Write a database archive into ``tmp``, fsynced; its layout, when it was written in chunks."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.fchmod(fd, 0o644)
            # with SOURCE_DATE_EPOCH, the very bytes of a full rewrite; without it, copied
            # chunks keep the time they were written at
            with signals_held():  # libarchive calls Python back: a signal raising there would be lost
                layout = write_database(fd, entries, compression, mtime, keep_times=fixed_time() is None)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise RepoWriteError(f"Cannot write '{tmp}': {e.strerror}.") from None
    return layout


def _debris_names(paths: DbPaths) -> re.Pattern[str]:
    """The names a run of this repository makes and removes again: its temporary archives and
    their signatures (``new_temp``: ``.tmp.<archive>.`` and mkstemp's eight characters), the links
    and ``.old`` copies being made (``fs.atomic``), a stale lock being taken over (``fs.lock``)."""
    archives = [os.path.basename(paths.archive(kind)) for kind in KINDS]
    made = [
        name + suffix
        for kind in KINDS
        for name, suffix in (
            (os.path.basename(paths.archive(kind)) + ".old", TMP_LINK),
            (os.path.basename(paths.archive(kind)) + ".old.sig", TMP_LINK),
            (os.path.basename(paths.link(kind)), TMP_LINK),
            (os.path.basename(paths.link(kind)) + ".sig", TMP_LINK),
        )
    ]
    return re.compile(
        "|".join(
            [rf"\.tmp\.{re.escape(a)}\.[a-z0-9_]{{8}}(?:\.sig)?" for a in archives]
            + [re.escape(m) for m in made]
            + [rf"{re.escape(os.path.basename(paths.lock))}\.stale-(?P<taker>[0-9]+)"]
        )
    )


def remove_debris(paths: DbPaths, report: Report) -> None:
    """Under the lock: remove what a run of this repository that was killed left behind (no other
    run can be making these names now), each with a warning."""
    pattern = _debris_names(paths)
    found: list[str] = []
    with suppress(OSError), os.scandir(paths.directory) as it:
        for e in it:
            m = pattern.fullmatch(e.name)
            # a stale lock moved aside by a waiter that still runs is that waiter's to put back
            if m and not e.is_dir(follow_symlinks=False) and (m["taker"] is None or holder_gone(m["taker"])):
                found.append(e.name)
    for name in sorted(found):
        with suppress(FileNotFoundError):
            os.unlink(os.path.join(paths.directory, name))
            report(Event(Level.WARNING, f"Removed '{name}', left behind by a run that was killed."))
