"""The edge around the database core: reading packages and databases from disk,
the lock file, atomic writes, ``.old`` rotation, symlinks and signatures.

``update`` is what ``repo-add`` and ``repo-remove`` run. It reports progress
through a callback and raises a RepoToolsError when the run fails; when it
raises, the repository directory holds exactly what it held before.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, MutableMapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .archive import (
    WRITER,
    compression_for,
    read_database,
    read_database_bytes,
    scan_package,
    usable_cpus,
    write_all,
    write_database,
)
from .chunks import CHUNKABLE, ChunkedEntries, Layout, LayoutCache, default_cache
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
    LockHeld,
    PackageNotFound,
    RepoToolsError,
    RepoWriteError,
    SignatureFileError,
)

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from .gate import Verifier

Entries = MutableMapping[str, dict[str, bytes]]

__all__ = ["RunFailed", "UpdateRequest", "lock", "read_signature", "scan", "update", "verify_only"]

Report = Callable[[Event], None]
KINDS = ("db", "files")
MAX_SIG_SIZE = 16384
PARALLEL_MIN = 8  # fewer packages than this are scanned in-process
TMP_LINK = ".tmp-link"  # the suffix of a link or .old copy being made, renamed over its final name

# The signals that stop a run. cli.py makes each one raise an exception where the run is,
# which unwinds it (the lock and temporary files are removed on the way). They are held back
# (blocked: they stay pending) wherever one landing would be lost or would leave something
# behind: while a process forks (a handler raising in an at-fork hook is ignored), between
# making the lock or a temporary file and the ``try`` that removes it, and while the new
# archives are renamed into place (all of them or none). Restoring the mask delivers a
# pending one, and its handler raises from there.
STOP_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM})
_Mask = set[int | signal.Signals]


def _hold_signals() -> _Mask:
    """Block the stop signals; the mask to give ``_release_signals``."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _release_signals(mask: _Mask) -> None:
    """Restore the mask: a stop signal that arrived meanwhile is handled now (and may raise here)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextmanager
def _signals_held() -> Iterator[_Mask]:
    mask = _hold_signals()
    try:
        yield mask
    finally:
        _release_signals(mask)


def _child_signals(mask: _Mask) -> None:
    """In a child forked with the stop signals held: ignore them, then the mask as it was.

    The parent alone answers them (the terminal's reach the whole process group, and so
    may SIGTERM: systemd, timeout(1)) and it stops its children itself: the files
    database's writer is killed, the scan workers finish the packages they hold and
    exit (a worker that dies while the pool is being shut down makes it fail noisily).
    """
    with suppress(ValueError):  # not the main thread: leave the dispositions alone
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    _release_signals(mask)


class RunFailed(RepoToolsError):
    """One or more packages or names failed; their errors were reported and nothing was written."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        super().__init__("No packages modified, nothing to do.")
        self.outcome = outcome


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
    # given the package paths, what the scan runs on each signed package (its
    # result reaches check_signature as ScannedPackage.verification), or None
    signature_verifier: Callable[[Sequence[str]], Verifier | None] | None = None
    dry_run: bool = False  # check and report, write nothing


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


def scan(path: str, verifier: Verifier | None = None) -> ScannedPackage:
    """Read one package file and its signature, and check the signature with ``verifier``.

    Errors are returned, not raised; a signature file that cannot be used is returned
    with the package's record, which repo-add checks against the database first.
    """
    try:
        if not os.path.isfile(path):
            raise PackageNotFound(path)
        s = scan_package(path)
        sig_error: SignatureFileError | None = None
        try:
            sig = read_signature(path)
        except SignatureFileError as e:  # reported with the record: repo-add checks the entry first
            sig, sig_error = None, e
        record, files = build_record(path, s.pkginfo, s.members, s.csize, s.md5sum, s.sha256sum, sig)
        if sig_error is not None:
            return ScannedPackage(path=path, record=record, files=files, identity=s.identity, error=sig_error)
        verification = (
            verifier(path, sig, s.identity, s.content) if verifier is not None and sig is not None else None
        )
        return ScannedPackage(path=path, record=record, files=files, identity=s.identity, verification=verification)
    except RepoToolsError as e:
        return ScannedPackage(path=path, error=e)


# the verifier of a scan worker process, set by its initializer (inherited through fork, never pickled)
_worker_verifier: Verifier | None = None


def _init_worker(verifier: Verifier | None, mask: _Mask) -> None:
    global _worker_verifier
    _worker_verifier = verifier
    _child_signals(mask)


def _scan_in_worker(path: str) -> ScannedPackage:
    return scan(path, _worker_verifier)


def _scan_all(
    paths: Sequence[str], jobs: int, verifier: Verifier | None = None
) -> Generator[ScannedPackage, None, None]:
    """Scan packages (and check their signatures), in order, in worker processes when there
    are enough to pay for them; each one is yielded as soon as it is read, so the database
    is updated while the rest are still being read.

    Threads do not help here: hashing releases the GIL, but libarchive's many
    short calls from Python then wait on it (measured slower than one thread).
    """
    jobs = min(jobs or usable_cpus(), len(paths))
    if jobs <= 1 or len(paths) < PARALLEL_MIN or not hasattr(os, "fork"):
        for p in paths:
            with _signals_held():  # a large package is read through Python callbacks
                scanned = scan(p, verifier)
            yield scanned
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(64, len(paths) // (jobs * 4)))
    context = multiprocessing.get_context("fork")
    pool: ProcessPoolExecutor | None = None
    try:
        # the workers fork in map() (it submits every chunk) with the stop signals held;
        # each one restores the mask in _init_worker
        with _signals_held() as mask:
            pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(verifier, mask))
            results = pool.map(_scan_in_worker, paths, chunksize=chunk)
        yield from results
    except BaseException:  # closed early (a failure, an interrupt): do not wait for the rest
        if pool is not None:
            _shutdown_now(pool)
        raise
    pool.shutdown()


def _shutdown_now(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and return: the workers finish the packages they hold
    and exit on their own (the interpreter waits for them at exit)."""
    from concurrent.futures import process

    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)  # wakes the pool's manager thread up
    # Python's exit hook would wake it up again, and in 3.11 that races with the thread
    # closing its wake-up pipe as it ends ("Bad file descriptor" on the way out); it is
    # still joined at exit as every other thread
    wakeups = getattr(process, "_threads_wakeups", None)
    if manager is not None and wakeups is not None:
        wakeups.pop(manager, None)


@contextmanager
def lock(path: str, wait: bool, report: Report) -> Iterator[None]:
    """repo-add's lock file: created exclusively, holding our PID, removed at the end."""
    mask = _hold_signals()  # from the lock's creation to the try that removes it
    try:
        _acquire(path, wait, report, mask)
        try:
            _release_signals(mask)  # a signal held back meanwhile raises here, within the try
            yield
        finally:
            with suppress(OSError):
                os.unlink(path)
    finally:
        _release_signals(mask)


def _acquire(path: str, wait: bool, report: Report, mask: _Mask) -> None:
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
            _release_signals(mask)  # a signal stops the wait
            time.sleep(0.2)
            _hold_signals()
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


def _read_existing(paths: DbPaths, kind: str, must_exist: bool, cache: LayoutCache | None = None) -> Entries:
    """The entries of an existing database archive (none when it does not exist).

    An archive repotools wrote, whose layout the cache holds, is read chunk by
    chunk as the update needs it (``chunks.ChunkedEntries``); any other is read
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
    if cache is None or compression not in CHUNKABLE:
        entries = read_database(path)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise CorruptDatabase(f"Cannot read repository file '{path}': {e.strerror}.") from None
        sha256 = hashlib.sha256(data).hexdigest()
        layout = cache.load(sha256, compression, len(data), WRITER)
        if layout is not None:
            return ChunkedEntries(data, layout, lambda chunk: read_database_bytes(chunk, path), path, cache.clear)
        entries = read_database_bytes(data, path)
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


class _RecordedFiles(dict[str, dict[str, bytes]]):
    """Stands in for the ``files`` database in the parent process: it records what
    the core does to it (replayed by the process that holds the real one)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, dict[str, bytes] | None]] = []

    def __setitem__(self, key: str, value: dict[str, bytes]) -> None:
        self.ops.append((key, value))

    def pop(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.ops.append((key, None))
        return default


def _replay(entries: Entries, ops: Sequence[tuple[str, dict[str, bytes] | None]]) -> None:
    for key, value in ops:
        if value is None:
            entries.pop(key, None)
        else:
            entries[key] = value


def _read_pipe(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class _FilesJob:
    """The ``files`` database, read, updated and written in a forked process.

    The two archives are independent once the core has decided what changes, and
    each costs as much to decompress and recompress as the other, so the child
    does the files database while this process does the ``db`` one. The child
    writes to a temporary file this process created, so this process can always
    remove it.
    """

    def __init__(
        self, paths: DbPaths, compression: str | None, mtime: int, cache: LayoutCache | None, mask: _Mask
    ) -> None:
        """Make the temporary file and fork, with the stop signals held (``mask``: the mask
        to restore, which the child restores at once); on an error, nothing is left."""
        self.paths, self.compression, self.mtime, self.cache = paths, compression, mtime, cache
        self.tmp = _new_temp(paths, "files")
        self.pid = 0
        self._exited = 0  # a child that answered and is still storing its layout: reaped by reap()
        self._delta_w = self._result_r = -1
        if not hasattr(os, "fork"):
            return
        to_child = from_child = -1
        try:
            to_child, self._delta_w = os.pipe()
            self._result_r, from_child = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
                status = 1
                try:
                    _child_signals(mask)
                    os.close(self._delta_w)
                    os.close(self._result_r)
                    result, layout = self._child(to_child)
                    write_all(from_child, pickle.dumps(result))
                    os.close(from_child)  # the parent goes on: the layout is only a cache
                    status = 0
                    _remember(self.cache, layout)
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
            entries = _read_existing(self.paths, "files", False, self.cache)
            ops = pickle.loads(_read_pipe(delta_fd))
            if ops is None:
                return None, None
            return None, self._write(entries, ops)
        except RepoToolsError as e:
            return e, None
        except OSError as e:
            return RepoWriteError(f"Cannot write '{self.tmp}': {e.strerror}."), None
        except BaseException as e:  # noqa: BLE001 - anything else is reported, not lost
            return RepoWriteError(f"Writing the files database failed: {e!r}."), None

    def _write(self, entries: Entries, ops: Sequence[tuple[str, dict[str, bytes] | None]]) -> Layout | None:
        _replay(entries, ops)
        return _fill_temp(self.tmp, entries, self.compression, self.mtime)

    def send(self, ops: Sequence[tuple[str, dict[str, bytes] | None]] | None) -> None:
        """Hand the child the changes (None: abandon): it writes while this process goes on."""
        if self._delta_w < 0:
            return
        try:
            with suppress(BrokenPipeError):
                write_all(self._delta_w, pickle.dumps(ops))
        finally:
            os.close(self._delta_w)
            self._delta_w = -1

    def finish(self, ops: Sequence[tuple[str, dict[str, bytes] | None]] | None) -> None:
        """Hand the child the changes if ``send`` did not, and wait; raise its error."""
        if not self.pid:
            if ops is not None:
                _remember(self.cache, self._write(_read_existing(self.paths, "files", False, self.cache), ops))
            return
        pid, self.pid = self.pid, 0
        answer = b""
        try:
            self.send(ops)
            answer = _read_pipe(self._result_r)  # the child closes its end once it has answered
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


def _fixed_time() -> int | None:
    sde = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(sde) if sde.isdigit() else None


def _mtime() -> int:
    fixed = _fixed_time()
    return fixed if fixed is not None else int(time.time())


def update(req: UpdateRequest, report: Report) -> Outcome:
    """Run one repo-add or repo-remove: all or nothing."""
    paths = parse_db_path(req.db_path)
    compression = compression_for(paths.compression_ext)
    if not os.path.isdir(paths.directory):
        raise RepoWriteError(f"{paths.directory}/ does not exist or is not a directory.")
    if req.dry_run:
        return _dry_run(req, paths, report)
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
        mtime = _mtime()
        cache = default_cache()
        mask = _hold_signals()  # from the fork and the temporary file to the try that removes them
        try:
            files_job = _FilesJob(paths, compression, mtime, cache, mask)  # forks before any thread exists
        except BaseException:
            _release_signals(mask)
            raise
        db_tmp: str | None = None
        sigs: list[str] = []
        try:
            _release_signals(mask)  # a signal held back meanwhile raises here
            database, outcome = _apply(req, paths, report, cache)
            if outcome.failed:
                files_job.finish(None)
                raise RunFailed(outcome)
            report(Event(Level.MSG, f"Creating updated database file '{req.db_path}'"))
            assert isinstance(database.files, _RecordedFiles)
            files_job.send(database.files.ops)  # both archives are written at the same time
            with _signals_held():  # db_tmp is set before a signal can stop the run
                db_tmp = _new_temp(paths, "db")
            _remember(cache, _fill_temp(db_tmp, database.db, compression, mtime))
            files_job.finish(database.files.ops)
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
            with _signals_held():  # all the renames or none: a signal is handled once they are done
                _put_in_place(paths, temps, bool(sigs), report)
                _fsync_dir(paths.directory)
                for obsolete in outcome.obsolete_files:
                    with suppress(FileNotFoundError):
                        os.unlink(obsolete)
        except BaseException:
            for tmp in [*temps.values(), *sigs]:  # those not yet renamed into place
                with suppress(OSError):
                    os.unlink(tmp)
            raise
        finally:
            files_job.reap()  # within the lock: the next run finds the files database's layout
    return outcome


def _apply(
    req: UpdateRequest, paths: DbPaths, report: Report, cache: LayoutCache | None = None
) -> tuple[Database, Outcome]:
    """Read the database and apply the request's rules in memory."""
    database = Database(db=_read_existing(paths, "db", req.remove, cache), files=_RecordedFiles())
    if req.remove:
        outcome = remove_packages(database, req.targets)
    else:
        verifier = req.signature_verifier(req.targets) if req.signature_verifier is not None else None
        with closing(_scan_all(req.targets, req.jobs, verifier)) as scanned:
            outcome = add_packages(database, scanned, req.options, req.check_signature)
    for event in outcome.events:
        report(event)
    return database, outcome


def _dry_run(req: UpdateRequest, paths: DbPaths, report: Report) -> Outcome:
    """Everything ``update`` checks, without the lock and without writing anything."""
    if req.verify:
        for kind in KINDS:
            _verify_existing(paths, kind, req.key, report)
    _, outcome = _apply(req, paths, report, default_cache())
    if outcome.failed:
        raise RunFailed(outcome)
    report(Event(Level.MSG, f"Dry run: '{req.db_path}' was not written."))
    return outcome


def _new_temp(paths: DbPaths, kind: str) -> str:
    final = paths.archive(kind)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".tmp.{os.path.basename(final)}.", dir=paths.directory)
    except OSError as e:
        raise RepoWriteError(f"Cannot write the new database in '{paths.directory}': {e.strerror}.") from None
    os.close(fd)
    return tmp


def _remember(cache: LayoutCache | None, layout: Layout | None) -> None:
    if layout is not None and cache is not None:
        cache.store(layout.sha256, layout)


def _fill_temp(tmp: str, entries: Entries, compression: str | None, mtime: int) -> Layout | None:
    """Write a database archive into ``tmp``, fsynced; its layout, when it was written in chunks."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.fchmod(fd, 0o644)
            # with SOURCE_DATE_EPOCH, the very bytes of a full rewrite; without it, copied
            # chunks keep the time they were written at
            with _signals_held():  # libarchive calls Python back: a signal raising there would be lost
                layout = write_database(fd, entries, compression, mtime, keep_times=_fixed_time() is None)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise RepoWriteError(f"Cannot write '{tmp}': {e.strerror}.") from None
    return layout


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_old(path: str, old: str) -> None:
    """Make ``old`` a hard link to ``path`` (a copy where links are impossible)."""
    tmp = old + TMP_LINK
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    _replace(tmp, old)


def _replace(tmp: str, final: str) -> None:
    """``os.replace``, and ``tmp`` gone if it fails."""
    try:
        os.replace(tmp, final)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _link(target_name: str, link_path: str) -> None:
    """Point ``link_path`` at ``target_name`` (a name in the same directory), atomically."""
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
    _replace(tmp, link_path)


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


def _put_in_place(paths: DbPaths, temps: dict[str, str], signed: bool, report: Report) -> None:
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
        _keep_old(final, final + ".old")
        if os.path.isfile(final + ".sig"):
            _keep_old(final + ".sig", final + ".old.sig")
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
    _link(name, link)
    if tmp_sig is not None:
        _link(name + ".sig", link + ".sig")
    else:
        with suppress(FileNotFoundError):
            os.unlink(link + ".sig")
