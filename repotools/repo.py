"""The edge around the database core: reading packages and databases from disk,
the lock file, atomic writes, ``.old`` rotation, symlinks and signatures.

``update`` is what ``repo-add`` and ``repo-remove`` run. It reports progress
through a callback and raises a RepoToolsError when the run fails; when it
raises, the repository directory holds exactly what it held before.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from .archive import Entries, compression_for, read_database, scan_package, write_database
from .database import (
    AddOptions,
    Database,
    Event,
    Level,
    Outcome,
    ScannedPackage,
    SignatureHook,
    add_packages,
    build_record,
    remove_packages,
)
from .dbpath import DbPaths, parse_db_path
from .errors import (
    CorruptDatabase,
    DatabaseNotFound,
    GpgError,
    LockHeld,
    PackageNotFound,
    RepoToolsError,
    RepoWriteError,
    SignatureFileError,
)

__all__ = ["UpdateRequest", "update", "verify_only", "scan", "read_signature", "RunFailed", "lock"]

Report = Callable[[Event], None]
KINDS = ("db", "files")
MAX_SIG_SIZE = 16384


class RunFailed(RepoToolsError):
    """One or more packages or names failed; their errors were reported and nothing was written."""

    def __init__(self) -> None:
        super().__init__("No packages modified, nothing to do.")


@dataclass(frozen=True)
class UpdateRequest:
    db_path: str
    remove: bool = False  # repo-remove
    targets: Sequence[str] = ()  # package files, or names to remove
    options: AddOptions = field(default_factory=AddOptions)
    sign: bool = False
    key: str | None = None
    verify: bool = False
    wait_for_lock: bool = False
    jobs: int = 0
    check_signature: SignatureHook | None = None


def read_signature(path: str) -> bytes | None:
    """The detached signature beside a package, checked as repo-add checks it."""
    sig_path = path + ".sig"
    if not os.path.isfile(sig_path):
        return None
    try:
        with open(sig_path, "rb") as f:
            data = f.read(MAX_SIG_SIZE + 1)
    except OSError as e:
        raise SignatureFileError(f"Cannot read package signature file '{sig_path}': {e.strerror}.") from None
    if b"BEGIN PGP SIGNATURE" in data:
        raise SignatureFileError(f"Cannot use armored signatures for packages: {sig_path}")
    if len(data) > MAX_SIG_SIZE:
        raise SignatureFileError(f"Invalid package signature file '{sig_path}': larger than {MAX_SIG_SIZE} bytes.")
    if not data:
        raise SignatureFileError(f"Invalid package signature file '{sig_path}': it is empty.")
    return data


def scan(path: str) -> ScannedPackage:
    """Read one package file and its signature; errors are returned, not raised."""
    try:
        if not os.path.isfile(path):
            raise PackageNotFound(path)
        s = scan_package(path)
        sig = read_signature(path)
        record, files = build_record(path, s.pkginfo, s.members, s.csize, s.md5sum, s.sha256sum, sig)
        return ScannedPackage(path=path, record=record, files=files)
    except RepoToolsError as e:
        return ScannedPackage(path=path, error=e)


def _scan_all(paths: Sequence[str], jobs: int) -> list[ScannedPackage]:
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) < 2:
        return [scan(p) for p in paths]
    with ThreadPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        return list(pool.map(scan, paths))


@contextmanager
def lock(path: str, wait: bool, report: Report) -> Iterator[None]:
    """repo-add's lock file: created exclusively, holding our PID, removed at the end."""
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            holder = ""
            with suppress(OSError):
                with open(path) as f:
                    holder = f.read().strip()
            if not wait:
                held = f" Held by process {holder}" if holder else ""
                raise LockHeld(f"Failed to acquire lockfile: {path}.{held}") from None
            if not announced:
                report(Event(Level.MSG, f"Waiting for lock file {path}" + (f" (held by process {holder})" if holder else "") + "..."))
                announced = True
            time.sleep(0.2)
        except OSError as e:
            raise RepoWriteError(f"Failed to acquire lockfile: {path}: {e.strerror}.") from None
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    try:
        yield
    finally:
        with suppress(OSError):
            os.unlink(path)


def _read_existing(paths: DbPaths, kind: str, must_exist: bool) -> Entries:
    path = paths.archive(kind)
    if not os.path.lexists(path):
        if must_exist:
            raise DatabaseNotFound(path)
        return {}
    if not os.path.isfile(path):
        raise CorruptDatabase(f"Repository file '{path}' is not a regular file.")
    entries = read_database(path)
    if entries and not any("desc" in files for files in entries.values()):
        raise CorruptDatabase(f"Repository file '{path}' is not a proper pacman database.")
    return entries


def _verify_existing(paths: DbPaths, kind: str, key: str | None, report: Report) -> None:
    from .usergpg import UserGpg

    path = paths.archive(kind)
    if not os.path.isfile(path):
        return
    report(Event(Level.MSG, "Verifying database signature..."))
    if not os.path.isfile(path + ".sig"):
        report(Event(Level.WARNING, "No existing signature found, skipping verification."))
        return
    UserGpg(key).verify(path, path + ".sig")
    report(Event(Level.MSG2, "Database signature file verified."))


def verify_only(db_path: str, key: str | None, report: Report) -> None:
    """``repo-add -v db`` with no package: verify the database signatures and stop."""
    paths = parse_db_path(db_path)
    found = False
    for kind in KINDS:
        if os.path.isfile(paths.archive(kind)):
            found = True
            _verify_existing(paths, kind, key, report)
    if not found:
        raise DatabaseNotFound(paths.archive("db"))


def _mtime() -> int:
    sde = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(sde) if sde.isdigit() else int(time.time())


def update(req: UpdateRequest, report: Report) -> Outcome:
    """Run one repo-add or repo-remove: all or nothing."""
    paths = parse_db_path(req.db_path)
    compression = compression_for(paths.compression_ext)
    if not os.path.isdir(paths.directory):
        raise RepoWriteError(f"{paths.directory}/ does not exist or is not a directory.")
    gpg = None
    if req.sign or req.verify:
        from .usergpg import UserGpg

        gpg = UserGpg(req.key)
        if req.sign:
            gpg.check_secret_key()
    with lock(paths.lock, req.wait_for_lock, report):
        if req.verify:
            for kind in KINDS:
                _verify_existing(paths, kind, req.key, report)
        with ThreadPoolExecutor(max_workers=3) as pool:
            db_future = pool.submit(_read_existing, paths, "db", req.remove)
            files_future = pool.submit(_read_existing, paths, "files", False)
            if req.remove:
                scanned: list[ScannedPackage] = []
            else:
                scanned = _scan_all(req.targets, req.jobs)
            database = Database(db=db_future.result(), files=files_future.result())
        if req.remove:
            outcome = remove_packages(database, req.targets)
        else:
            outcome = add_packages(database, scanned, req.options, req.check_signature)
        for event in outcome.events:
            report(event)
        if outcome.failed:
            raise RunFailed()
        report(Event(Level.MSG, f"Creating updated database file '{req.db_path}'"))
        _commit(paths, database, compression, gpg if req.sign else None, report)
        for obsolete in outcome.obsolete_files:
            with suppress(FileNotFoundError):
                os.unlink(obsolete)
    return outcome


def _write_temp(paths: DbPaths, kind: str, entries: Entries, compression: str | None, mtime: int) -> str:
    final = paths.archive(kind)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp.{os.path.basename(final)}.", dir=paths.directory)
    try:
        try:
            os.fchmod(fd, 0o644)
            write_database(fd, entries, compression, mtime)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _commit(paths: DbPaths, database: Database, compression: str | None, gpg: object | None, report: Report) -> None:
    mtime = _mtime()
    temps: dict[str, str] = {}
    sigs: dict[str, str] = {}
    try:
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = {
                    kind: pool.submit(_write_temp, paths, kind, getattr(database, kind), compression, mtime)
                    for kind in KINDS
                }
                for kind, fut in futures.items():
                    with suppress(Exception):
                        temps[kind] = fut.result()
                for fut in futures.values():
                    fut.result()  # re-raise the first failure
        except OSError as e:
            raise RepoWriteError(f"Cannot write the new database in '{paths.directory}': {e.strerror}.") from None
        if not database.db:
            report(Event(Level.WARNING, "No packages remain, creating empty database."))
        if gpg is not None:
            for kind in KINDS:
                name = os.path.basename(paths.archive(kind))
                report(Event(Level.MSG, f"Signing database '{name}'..."))
                sigs[kind] = temps[kind] + ".sig"
                gpg.sign(temps[kind], sigs[kind])  # type: ignore[attr-defined]
                os.chmod(sigs[kind], 0o644)
                report(Event(Level.MSG2, f"Created signature file '{name}.sig'"))
    except BaseException:
        for tmp in list(temps.values()) + list(sigs.values()):
            with suppress(OSError):
                os.unlink(tmp)
        raise
    for kind in KINDS:
        _rotate(paths, kind, temps[kind], sigs.get(kind), report)
    dirfd = os.open(paths.directory, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _keep_old(path: str, old: str) -> None:
    """Make ``old`` a hard link to ``path`` (a copy where links are impossible)."""
    tmp = old + ".tmp-link"
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    os.replace(tmp, old)


def _link(target_name: str, link_path: str) -> None:
    """Point ``link_path`` at ``target_name`` (a name in the same directory), atomically."""
    tmp = link_path + ".tmp-link"
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.symlink(target_name, tmp)
    except OSError:
        try:
            os.link(os.path.join(os.path.dirname(link_path), target_name), tmp)
        except OSError:
            shutil.copy2(os.path.join(os.path.dirname(link_path), target_name), tmp)
    os.replace(tmp, link_path)


def _rotate(paths: DbPaths, kind: str, tmp: str, tmp_sig: str | None, report: Report) -> None:
    final = paths.archive(kind)
    name = os.path.basename(final)
    if os.path.isfile(final):
        _keep_old(final, final + ".old")
        if os.path.isfile(final + ".sig"):
            _keep_old(final + ".sig", final + ".old.sig")
        else:
            with suppress(FileNotFoundError):
                os.unlink(final + ".old.sig")
    os.replace(tmp, final)
    if tmp_sig is not None:
        os.replace(tmp_sig, final + ".sig")
    elif os.path.lexists(final + ".sig"):
        os.unlink(final + ".sig")
        report(Event(Level.WARNING, f"Removed the old signature '{name}.sig': the new database is not signed."))
    link = paths.link(kind)
    _link(name, link)
    if tmp_sig is not None:
        _link(name + ".sig", link + ".sig")
    else:
        with suppress(FileNotFoundError):
            os.unlink(link + ".sig")
