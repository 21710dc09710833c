"""One ``repo-add`` or ``repo-remove`` run, all or nothing: lock, read, apply, write, sign, put in place.

``update`` reports progress through a callback and raises a RepoToolsError when
the run fails; when it raises, the repository directory holds exactly what it
held before. The ``db`` archive is written here while a forked process writes the
``files`` archive (``update.files_job``) from the changes the rules returned.
"""

from __future__ import annotations

import os
import time
from contextlib import closing, suppress

from ..db.model import Database, Outcome, RunFailed
from ..db.rules import KeepOld, add_packages, remove_packages
from ..errors import DatabaseNotFound, RepoWriteError
from ..events import Event, Level, Report
from ..formats.dbname import KINDS, DbPaths, compression_for, parse_db_path
from ..formats.pkginfo import parse_pkginfo
from ..fs.files import fsync_dir
from ..fs.lock import lock
from ..fs.signals import hold_signals, release_signals, signals_held
from ..limits import Limits
from .files_job import FilesJob
from .install import put_in_place
from .layouts import LayoutCache, default_cache
from .request import AddRequest, RemoveRequest, UpdateRequest, VerifyRequest
from .store import fill_temp, fixed_time, new_temp, read_existing, remember, remove_debris

__all__ = ["update", "verify_only"]


def _mtime() -> int:
    fixed = fixed_time()
    return fixed if fixed is not None else int(time.time())


def update(req: UpdateRequest, report: Report) -> Outcome:
    """Run one repo-add (an ``AddRequest``) or repo-remove (a ``RemoveRequest``): all or nothing."""
    paths = parse_db_path(req.db_path)
    compression = compression_for(paths.compression_ext)
    if not os.path.isdir(paths.directory):
        raise RepoWriteError(f"{paths.directory}/ does not exist or is not a directory.")
    if req.dry_run:
        return _dry_run(req, paths, report)
    gpg = None
    if req.sign or req.verify:
        from ..trust.usergpg import UserGpg

        gpg = UserGpg(req.key)
        if req.sign:
            gpg.check_secret_key()
    with lock(paths.lock, req.wait_for_lock, report):
        remove_debris(paths, report)
        if req.verify:
            for kind in KINDS:
                _verify_existing(paths, kind, req.key, report)
        mtime = _mtime()
        cache = default_cache(limits=req.limits)
        mask = hold_signals()  # from the fork and the temporary file to the try that removes them
        try:
            files_job = FilesJob(paths, compression, mtime, cache, mask, req.limits)  # forks before any thread
        except BaseException:
            release_signals(mask)
            raise
        db_tmp: str | None = None
        sigs: list[str] = []
        try:
            release_signals(mask)  # a signal held back meanwhile raises here
            database, outcome = _apply(req, paths, report, cache)
            if outcome.failed:
                files_job.finish(None)
                raise RunFailed(outcome)
            report(Event(Level.MSG, f"Creating updated database file '{req.db_path}'"))
            files_job.send(outcome.files_changes)  # both archives are written at the same time
            with signals_held():  # db_tmp is set before a signal can stop the run
                db_tmp = new_temp(paths, "db")
            remember(cache, fill_temp(db_tmp, database.db, compression, mtime))
            files_job.finish(outcome.files_changes)
            temps = {"db": db_tmp, "files": files_job.tmp}
            for kind in KINDS:  # as repo-add's create_db: each archive's warning, then its signature
                if not database.db:
                    report(Event(Level.WARNING, "No packages remain, creating empty database."))
                if req.sign and gpg is not None:
                    name = os.path.basename(paths.archive(kind))
                    report(Event(Level.MSG, f"Signing database '{name}'..."))
                    sigs.append(temps[kind] + ".sig")
                    gpg.sign(temps[kind], sigs[-1], name)
                    os.chmod(sigs[-1], 0o644)
                    report(Event(Level.MSG2, f"Created signature file '{name}.sig'"))
        except BaseException:
            files_job.abort()
            for tmp in ([db_tmp] if db_tmp else []) + sigs:
                with suppress(OSError):
                    os.unlink(tmp)
            raise
        try:
            with signals_held():  # all the renames or none: a signal is handled once they are done
                put_in_place(paths, temps, bool(sigs), report)
                _sync(paths, report)
                _remove_obsolete(outcome)
        except BaseException:
            for tmp in [*temps.values(), *sigs]:  # those not yet renamed into place
                with suppress(OSError):
                    os.unlink(tmp)
            raise
        finally:
            files_job.reap()  # within the lock: the next run finds the files database's layout
    return outcome


def _sync(paths: DbPaths, report: Report) -> None:
    """The renames made durable. They are done: a failure here is said, and the run succeeds,
    since the new database is in place (it may not survive a crash of the machine)."""
    try:
        fsync_dir(paths.directory)
    except OSError as e:
        report(
            Event(
                Level.WARNING,
                f"The new database is in place, but syncing '{paths.directory}' failed: {e.strerror}; "
                "a crash of the machine now may bring back the old one.",
            )
        )


def _keep_old(paths: DbPaths, limits: Limits) -> KeepOld:
    """``-R``'s look at an old package file before it is deleted: never one of the repository's own
    files (an entry's ``%FILENAME%`` may name the database, a link or a signature of it: by name,
    and by inode for links to them), and only a package of the name being replaced."""
    from ..archive.package import read_pkginfo  # -R only: not on repo-remove's way

    names = {paths.lock}
    for kind in KINDS:
        for name in (paths.archive(kind), paths.link(kind)):
            names.update((name, name + ".sig"))
        names.update((paths.archive(kind) + ".old", paths.archive(kind) + ".old.sig"))
    inodes = set()
    for name in names:
        with suppress(OSError):
            st = os.stat(name)
            inodes.add((st.st_dev, st.st_ino))

    def keep(path: str, package: str) -> str | None:
        if os.path.abspath(path) in names:
            return "it is one of the repository's own files"
        try:
            st = os.stat(path)
        except OSError:
            return None  # nothing there to delete
        if (st.st_dev, st.st_ino) in inodes:
            return "it is one of the repository's own files"
        pkginfo = read_pkginfo(path, limits)
        if pkginfo is None:
            return "it is not a package file"
        name = parse_pkginfo(pkginfo).name
        if name != package:
            return f"it is a package of '{name}', not of '{package}'"
        return None

    return keep


def _remove_obsolete(outcome: Outcome) -> None:
    """``-R``: delete the old package files the rules kept for it (``_keep_old`` looked at each)."""
    removed = []
    for obsolete in outcome.obsolete_files:
        with suppress(FileNotFoundError):
            os.unlink(obsolete)
            removed.append(obsolete)
    outcome.obsolete_files = removed


def _apply(
    req: UpdateRequest, paths: DbPaths, report: Report, cache: LayoutCache | None = None
) -> tuple[Database, Outcome]:
    """Read the database and apply the request's rules in memory."""
    removing = isinstance(req, RemoveRequest)
    database = Database(read_existing(paths, "db", removing, cache, req.limits))
    if isinstance(req, RemoveRequest):
        outcome = remove_packages(database, req.names)
    else:
        assert isinstance(req, AddRequest)
        from .scan import scan_all  # the package readers: not on repo-remove's way

        gate = req.gate
        verifier = gate.verifier(req.packages) if gate is not None else None
        with closing(scan_all(req.packages, req.jobs, verifier, req.limits)) as scanned:
            keep_old = _keep_old(paths, req.limits) if req.options.remove_old else None
            outcome = add_packages(
                database, scanned, req.options, gate.admit if gate is not None else None, keep_old
            )
    for event in outcome.events:
        report(event)
    return database, outcome


def _dry_run(req: UpdateRequest, paths: DbPaths, report: Report) -> Outcome:
    """Everything ``update`` checks, without the lock and without writing anything."""
    if req.verify:
        for kind in KINDS:
            _verify_existing(paths, kind, req.key, report)
    _, outcome = _apply(req, paths, report, default_cache(limits=req.limits))
    if outcome.failed:
        raise RunFailed(outcome)
    report(Event(Level.MSG, f"Dry run: '{req.db_path}' was not written."))
    return outcome


def _verify_existing(paths: DbPaths, kind: str, key: str | None, report: Report) -> None:
    from ..trust.usergpg import UserGpg

    path = paths.archive(kind)
    if not os.path.isfile(path):
        return
    report(Event(Level.MSG, "Verifying database signature..."))
    if not os.path.isfile(path + ".sig"):
        report(Event(Level.WARNING, "No existing signature found, skipping verification."))
        return
    UserGpg(key).verify(path, path + ".sig")
    report(Event(Level.MSG2, "Database signature file verified."))


def verify_only(req: VerifyRequest, report: Report) -> None:
    """``repo-add -v db`` with no package: verify the database signatures and stop."""
    paths = parse_db_path(req.db_path)
    found = False
    for kind in KINDS:
        if os.path.isfile(paths.archive(kind)):
            found = True
            _verify_existing(paths, kind, req.key, report)
    if not found:
        raise DatabaseNotFound(paths.archive("db"))
