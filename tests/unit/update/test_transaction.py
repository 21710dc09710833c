"""One update, all or nothing (``repotools.update.transaction``), run in-process: real package files
and databases in a temporary directory, the lock, atomic writes, ``.old`` rotation, links and
signatures.

Every failure test also checks that the repository directory holds exactly what it
held before (names, bytes, inodes and link targets).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import libarchive
import pytest
from support.openpgp import FRAMED_SIGNATURE
from support.packages import SDE, build_package, pkginfo_for, write_archive
from support.snapshots import listing, member, snapshot
from support.tools import run_update

import repotools.update.store
from repotools.db.model import AddOptions, RunFailed
from repotools.errors import (
    CorruptDatabase,
    DatabaseNotFound,
    InvalidDatabaseName,
    LockHeld,
    RepoWriteError,
)
from repotools.events import Level
from repotools.formats.desc import parse_desc
from repotools.update.request import AddRequest, VerifyRequest
from repotools.update.transaction import update, verify_only


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(SDE))
    d = tmp_path / "repo"
    d.mkdir()
    return d


@pytest.fixture
def populated(repo: Path) -> Path:
    """A repository holding foo-1.0-1 and bar-1.0-1, written twice so that .old files exist."""
    run_update(repo / "repo.db.tar.gz", build_package(repo, "foo"))
    run_update(repo / "repo.db.tar.gz", build_package(repo, "bar"))
    return repo


# ---------------------------------------------------------------------------------------------
# what a successful run writes


def test_add_writes_a_db_and_a_files_archive(repo: Path) -> None:
    pkg = build_package(repo)
    run_update(repo / "repo.db.tar.gz", pkg)
    assert listing(repo / "repo.db.tar.gz") == ["foo-1.0-1/", "foo-1.0-1/desc"]
    assert listing(repo / "repo.files.tar.gz") == ["foo-1.0-1/", "foo-1.0-1/desc", "foo-1.0-1/files"]
    assert member(repo / "repo.files.tar.gz", "foo-1.0-1/files") == b"%FILES%\nusr/\nusr/bin/\nusr/bin/foo\n"
    assert member(repo / "repo.files.tar.gz", "foo-1.0-1/desc") == member(repo / "repo.db.tar.gz", "foo-1.0-1/desc")


def test_desc_records_the_package_files_size_and_checksums(repo: Path) -> None:
    pkg = build_package(repo)
    run_update(repo / "repo.db.tar.gz", pkg)
    desc = parse_desc(member(repo / "repo.db.tar.gz", "foo-1.0-1/desc"))
    data = pkg.read_bytes()
    assert desc["FILENAME"] == [pkg.name]
    assert desc["CSIZE"] == [str(len(data))]
    assert desc["MD5SUM"] == [hashlib.md5(data).hexdigest()]
    assert desc["SHA256SUM"] == [hashlib.sha256(data).hexdigest()]
    assert desc["ISIZE"] == ["4096"]
    assert "PGPSIG" not in desc


def test_a_signature_beside_the_package_is_embedded(repo: Path) -> None:
    pkg = build_package(repo)
    Path(f"{pkg}.sig").write_bytes(FRAMED_SIGNATURE)
    _, events = run_update(repo / "repo.db.tar.gz", pkg)
    desc = parse_desc(member(repo / "repo.db.tar.gz", "foo-1.0-1/desc"))
    assert desc["PGPSIG"] == ["iA0EABYIAAAAAKvNAAj/"]
    assert (Level.MSG2, "Adding package signature...") in events


def test_members_are_owned_by_root_with_fixed_modes_and_the_source_date_epoch(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo))
    for kind in ("db", "files"):
        with libarchive.file_reader(str(repo / f"repo.{kind}.tar.gz")) as archive:
            for entry in archive:
                assert (entry.uid, entry.gid, entry.uname, entry.gname) == (0, 0, "root", "root")
                assert entry.mtime == SDE
                assert entry.perm == (0o755 if entry.isdir else 0o644)


def test_links_point_at_the_archives_by_relative_name(repo: Path) -> None:
    run_update(repo / "repo.db.tar.zst", build_package(repo))
    assert os.readlink(repo / "repo.db") == "repo.db.tar.zst"
    assert os.readlink(repo / "repo.files") == "repo.files.tar.zst"
    assert (repo / "repo.db").read_bytes() == (repo / "repo.db.tar.zst").read_bytes()


def test_a_plain_file_where_the_link_goes_is_replaced_by_the_link(repo: Path) -> None:
    (repo / "repo.db").write_bytes(b"stale copy")
    run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert os.readlink(repo / "repo.db") == "repo.db.tar.gz"


def test_archives_are_world_readable(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert (repo / "repo.db.tar.gz").stat().st_mode & 0o777 == 0o644
    assert (repo / "repo.files.tar.gz").stat().st_mode & 0o777 == 0o644


def test_the_first_write_makes_no_old_files(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert sorted(p.name for p in repo.iterdir()) == [
        "foo-1.0-1-x86_64.pkg.tar.zst",
        "repo.db",
        "repo.db.tar.gz",
        "repo.files",
        "repo.files.tar.gz",
    ]


def test_the_previous_archives_are_kept_as_hard_linked_old_files(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo, "foo"))
    before = {k: (repo / f"repo.{k}.tar.gz") for k in ("db", "files")}
    previous = {k: (p.stat().st_ino, p.read_bytes()) for k, p in before.items()}
    run_update(repo / "repo.db.tar.gz", build_package(repo, "bar"))
    for kind, (inode, data) in previous.items():
        old = repo / f"repo.{kind}.tar.gz.old"
        assert old.stat().st_ino == inode, "the .old file is the previous archive itself, not a copy"
        assert old.read_bytes() == data
        assert (repo / f"repo.{kind}.tar.gz").stat().st_ino != inode


def test_a_db_signature_is_kept_with_the_old_archive(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo, "foo"))
    (repo / "repo.db.tar.gz.sig").write_bytes(b"old signature")
    run_update(repo / "repo.db.tar.gz", build_package(repo, "bar"))
    assert (repo / "repo.db.tar.gz.old.sig").read_bytes() == b"old signature"


def test_a_stale_old_signature_is_removed_when_the_old_archive_had_none(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo, "foo"))
    (repo / "repo.db.tar.gz.old.sig").write_bytes(b"signature of some older archive")
    run_update(repo / "repo.db.tar.gz", build_package(repo, "bar"))
    assert not (repo / "repo.db.tar.gz.old.sig").exists()


def test_writing_unsigned_over_signed_removes_the_stale_signatures_with_a_warning(repo: Path) -> None:
    run_update(repo / "repo.db.tar.gz", build_package(repo, "foo"))
    for kind in ("db", "files"):
        (repo / f"repo.{kind}.tar.gz.sig").write_bytes(f"{kind} signature".encode())
        (repo / f"repo.{kind}.sig").symlink_to(f"repo.{kind}.tar.gz.sig")
    _, events = run_update(repo / "repo.db.tar.gz", build_package(repo, "bar"))
    for kind in ("db", "files"):
        assert not os.path.lexists(repo / f"repo.{kind}.tar.gz.sig")
        assert not os.path.lexists(repo / f"repo.{kind}.sig")
        assert (repo / f"repo.{kind}.tar.gz.old.sig").read_bytes() == f"{kind} signature".encode()
        assert (
            Level.WARNING,
            f"Removed the old signature 'repo.{kind}.tar.gz.sig': the new database is not signed.",
        ) in events


COMPRESSIONS = ["", ".gz", ".bz2", ".xz", ".zst", ".lrz", ".lzo", ".Z", ".lz4", ".lz"]
FILTERS = {
    "": [],
    ".gz": ["gzip"],
    ".bz2": ["bzip2"],
    ".xz": ["xz"],
    ".zst": ["zstd"],
    ".lrz": ["lrzip"],
    ".lzo": ["lzop"],
    ".Z": ["compress (.Z)"],
    ".lz4": ["lz4"],
    ".lz": ["lzip"],
}


@pytest.mark.parametrize("ext", COMPRESSIONS, ids=[e or "tar" for e in COMPRESSIONS])
def test_each_extension_is_written_with_its_compression(repo: Path, ext: str) -> None:
    run_update(repo / f"repo.db.tar{ext}", build_package(repo))
    for kind in ("db", "files"):
        with libarchive.file_reader(str(repo / f"repo.{kind}.tar{ext}")) as archive:
            names = [e.pathname for e in archive]
            assert [f.decode() for f in archive.filter_names if f != b"none"] == FILTERS[ext]
        assert "foo-1.0-1/desc" in names


@pytest.mark.parametrize("ext", [".gz", ".zst", ".xz", ".bz2", ""], ids=["gz", "zst", "xz", "bz2", "tar"])
def test_source_date_epoch_makes_the_archives_reproducible(
    tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(SDE))
    outputs = []
    for where in ("one", "two"):
        d = tmp_path / where
        d.mkdir()
        run_update(d / f"repo.db.tar{ext}", build_package(d, "foo"), build_package(d, "bar", "2:0.1-3"))
        outputs.append([(d / f"repo.{k}.tar{ext}").read_bytes() for k in ("db", "files")])
    assert outputs[0] == outputs[1]


def test_gzip_header_carries_no_timestamp_even_without_source_date_epoch(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    run_update(repo / "repo.db.tar.gz", build_package(repo))
    for kind in ("db", "files"):
        header = (repo / f"repo.{kind}.tar.gz").read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[4:8] == b"\0\0\0\0"


def test_removing_the_last_package_leaves_a_valid_empty_database(populated: Path) -> None:
    run_update(populated / "repo.db.tar.gz", "foo", "bar", remove=True)
    for kind in ("db", "files"):
        assert listing(populated / f"repo.{kind}.tar.gz") == []
    # and it can be added to again
    run_update(populated / "repo.db.tar.gz", build_package(populated, "baz"))
    assert listing(populated / "repo.db.tar.gz") == ["baz-1.0-1/", "baz-1.0-1/desc"]


def test_removing_the_last_package_warns_that_the_database_is_empty(populated: Path) -> None:
    _, events = run_update(populated / "repo.db.tar.gz", "foo", "bar", remove=True)
    assert (Level.WARNING, "No packages remain, creating empty database.") in events


def test_a_repository_without_a_files_database_gets_one(populated: Path) -> None:
    for name in ("repo.files.tar.gz", "repo.files.tar.gz.old", "repo.files"):
        (populated / name).unlink()
    run_update(populated / "repo.db.tar.gz", "foo", remove=True)
    assert listing(populated / "repo.files.tar.gz") == []
    assert listing(populated / "repo.db.tar.gz") == ["bar-1.0-1/", "bar-1.0-1/desc"]


def test_a_relative_database_path_is_taken_from_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    run_update(Path("repo.db.tar.gz"), build_package(repo).name)
    assert listing(repo / "repo.db.tar.gz") == ["foo-1.0-1/", "foo-1.0-1/desc"]


def test_parallel_scans_keep_the_command_line_order_and_errors(repo: Path) -> None:
    names = ["m", "c", "a", "k", "b", "j", "d", "i", "e", "h", "f", "g"]
    pkgs: list[object] = [build_package(repo, n) for n in names]
    _, events = run_update(repo / "repo.db.tar.gz", *pkgs, jobs=2)
    adding = [t for lvl, t in events if t.startswith("Adding package")]
    assert adding == [f"Adding package '{p}'" for p in pkgs]
    assert listing(repo / "repo.db.tar.gz") == [f"{n}-1.0-1/{m}" for n in sorted(names) for m in ("", "desc")]
    # an error found by a worker comes back with its message
    pkgs.insert(5, repo / "nope.pkg.tar.zst")
    events = []
    with pytest.raises(RunFailed):
        update(
            AddRequest(db_path=str(repo / "repo.db.tar.gz"), packages=[str(p) for p in pkgs], jobs=2),
            lambda e: events.append((e.level, e.text)),
        )
    assert (Level.ERROR, f"File '{repo / 'nope.pkg.tar.zst'}' not found.") in events


# ---------------------------------------------------------------------------------------------
# the lock


def test_the_lock_holds_our_pid_during_the_run_and_is_gone_after(repo: Path) -> None:
    lock = repo / "repo.db.tar.gz.lck"
    seen: list[str] = []
    req = AddRequest(db_path=str(repo / "repo.db.tar.gz"), packages=[str(build_package(repo))])
    update(req, lambda e: seen.append(lock.read_text()))
    assert seen and set(seen) == {f"{os.getpid()}\n"}
    assert not lock.exists()


def test_the_lock_is_removed_after_a_failed_run(populated: Path) -> None:
    with pytest.raises(RunFailed):
        run_update(populated / "repo.db.tar.gz", "nope", remove=True)
    assert not (populated / "repo.db.tar.gz.lck").exists()


def test_a_held_lock_fails_naming_the_holder_and_touches_nothing(populated: Path, live_pid: int) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text(f"{live_pid}\n")
    before = snapshot(populated)
    with pytest.raises(LockHeld) as e:
        run_update(populated / "repo.db.tar.gz", build_package(populated, "baz"))
    assert str(e.value) == f"Failed to acquire lockfile: {lock}. Held by process {live_pid}"
    assert e.value.lines() == [f"Failed to acquire lockfile: {lock}.", f"Held by process {live_pid}"]
    # build_package wrote the new package file; nothing else changed
    after = snapshot(populated)
    del after["baz-1.0-1-x86_64.pkg.tar.zst"]
    assert after == before


def test_an_empty_lock_is_held_by_nobody_named_as_repo_add_says(populated: Path) -> None:
    # repo-add: [[ -f $LOCKFILE ]] && error "Held by process %s" "$(cat "$LOCKFILE")"
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text("")
    with pytest.raises(LockHeld) as e:
        run_update(populated / "repo.db.tar.gz", "foo", remove=True)
    assert e.value.lines() == [f"Failed to acquire lockfile: {lock}.", "Held by process "]
    assert lock.read_text() == ""


def test_an_unreadable_lock_is_still_said_to_be_held(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text("4242\n")
    real_open = os.open

    def unreadable(file: str, flags: int, *args: int, **kwargs: object) -> int:
        if str(file) == str(lock) and not flags & os.O_CREAT:  # root reads any file: refuse it here
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", unreadable)
    with pytest.raises(LockHeld) as e:
        run_update(populated / "repo.db.tar.gz", "foo", remove=True)
    # repo-add tests [[ -f ]], then cat fails: "Held by process " with nothing after it
    assert e.value.lines() == [f"Failed to acquire lockfile: {lock}.", "Held by process "]


def test_a_fifo_in_place_of_the_lock_fails_at_once(populated: Path) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    os.mkfifo(lock)
    with pytest.raises(LockHeld) as e:  # not read: nothing writes to it, and it is not a file
        run_update(populated / "repo.db.tar.gz", "foo", remove=True)
    assert e.value.lines() == [f"Failed to acquire lockfile: {lock}."]


def test_wait_for_lock_waits_until_the_holder_lets_go(populated: Path, live_pid: int) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text(f"{live_pid}\n")
    waiting = threading.Event()

    def holder() -> None:
        waiting.wait(30)
        lock.unlink()

    t = threading.Thread(target=holder)
    t.start()

    def report(level: Level, text: str) -> None:
        if text.startswith("Waiting for lock file"):
            assert text == f"Waiting for lock file {lock} (held by process {live_pid})..."
            waiting.set()

    pkg = build_package(populated, "baz")
    try:
        update(
            AddRequest(db_path=str(populated / "repo.db.tar.gz"), packages=[str(pkg)], wait_for_lock=True),
            lambda e: report(e.level, e.text),
        )
    finally:
        waiting.set()
        t.join()
    assert "baz-1.0-1/desc" in listing(populated / "repo.db.tar.gz")
    assert not lock.exists()


# ---------------------------------------------------------------------------------------------
# failures: the directory is left exactly as it was


def _corrupt(repo: Path) -> None:
    (repo / "repo.db.tar.gz").unlink()
    (repo / "repo.db.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage that is not gzip")


def _junk(repo: Path) -> list[Path]:
    (repo / "junk.pkg.tar.zst").write_bytes(b"junk" * 100)
    return [repo / "junk.pkg.tar.zst"]


FAILURES: dict[str, tuple[Callable[[Path], list[Path]], type[Exception]]] = {
    "missing package": (lambda r: [r / "nope.pkg.tar.zst"], RunFailed),
    "not a package": (_junk, RunFailed),
    "package without .PKGINFO": (
        lambda r: [write_archive(r / "empty.pkg.tar.zst", [(b"usr/", 0o040000, b"")])],
        RunFailed,
    ),
    "invalid name": (lambda r: [build_package(r, "foo", pkginfo=pkginfo_for("-foo", "1.0-1"))], RunFailed),
    "one bad among good": (lambda r: [build_package(r, "baz"), r / "nope.pkg.tar.zst"], RunFailed),
}


@pytest.mark.parametrize("case", list(FAILURES), ids=list(FAILURES))
def test_a_failed_add_changes_nothing(populated: Path, case: str) -> None:
    make_targets, error = FAILURES[case]
    targets = make_targets(populated)
    before = snapshot(populated)
    with pytest.raises(error):
        run_update(populated / "repo.db.tar.gz", *targets, options=AddOptions(remove_old=True))
    assert snapshot(populated) == before


def test_a_failed_remove_changes_nothing(populated: Path) -> None:
    before = snapshot(populated)
    with pytest.raises(RunFailed):
        run_update(populated / "repo.db.tar.gz", "foo", "nope", remove=True)
    assert snapshot(populated) == before


def test_a_corrupt_database_is_refused_and_left_alone(populated: Path) -> None:
    _corrupt(populated)
    before = snapshot(populated)
    with pytest.raises(CorruptDatabase) as e:
        run_update(populated / "repo.db.tar.gz", build_package(populated, "foo"))
    assert str(e.value).startswith(f"Repository file '{populated / 'repo.db.tar.gz'}' is not a proper pacman database")
    assert snapshot(populated) == before


FOREIGN = {
    "top-level file": ([(b"README", 0o100000, b"hello")], "unexpected member 'README'"),
    "nested path": ([(b"a/", 0o040000, b""), (b"a/b/desc", 0o100000, b"x")], "unexpected member 'a/b/desc'"),
    "symlink member": (
        [(b"foo-1.0-1/", 0o040000, b""), (b"foo-1.0-1/desc", 0o120000, b"/etc/shadow")],
        "unexpected member 'foo-1.0-1/desc'",
    ),
    "path traversal": ([(b"../desc", 0o100000, b"x")], "unexpected member '../desc'"),
    "absolute path": ([(b"/etc/desc", 0o100000, b"x")], "unexpected member"),
    "dot entry": ([(b"./desc", 0o100000, b"x")], "unexpected member './desc'"),
}


@pytest.mark.parametrize("case", list(FOREIGN), ids=list(FOREIGN))
def test_a_foreign_archive_as_database_is_refused(repo: Path, case: str) -> None:
    members, why = FOREIGN[case]
    write_archive(repo / "repo.db.tar.gz", members, "gzip")
    before = snapshot(repo)
    with pytest.raises(CorruptDatabase) as e:
        run_update(repo / "repo.db.tar.gz", "foo", remove=True)
    assert str(e.value).startswith(f"Repository file '{repo / 'repo.db.tar.gz'}' is not a proper pacman database")
    assert why in str(e.value)
    assert snapshot(repo) == before


def test_an_archive_of_directories_without_desc_is_not_a_database(repo: Path) -> None:
    write_archive(repo / "repo.db.tar.gz", [(b"etc/", 0o040000, b""), (b"etc/passwd", 0o100000, b"root:x")], "gzip")
    before = snapshot(repo)
    with pytest.raises(CorruptDatabase) as e:
        run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert str(e.value) == f"Repository file '{repo / 'repo.db.tar.gz'}' is not a proper pacman database."
    after = snapshot(repo)
    del after["foo-1.0-1-x86_64.pkg.tar.zst"]
    assert after == before


def test_a_corrupt_files_database_is_refused_too(populated: Path) -> None:
    (populated / "repo.files.tar.gz").unlink()
    (populated / "repo.files.tar.gz").write_bytes(b"not an archive")
    before = snapshot(populated)
    with pytest.raises(CorruptDatabase) as e:
        run_update(populated / "repo.db.tar.gz", "foo", remove=True)
    assert f"'{populated / 'repo.files.tar.gz'}'" in str(e.value)
    assert snapshot(populated) == before


def test_a_database_that_is_a_directory_is_refused(repo: Path) -> None:
    (repo / "repo.db.tar.gz").mkdir()
    with pytest.raises(CorruptDatabase) as e:
        run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert str(e.value) == f"Repository file '{repo / 'repo.db.tar.gz'}' is not a regular file."


def test_a_missing_repository_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RepoWriteError) as e:
        run_update(tmp_path / "nowhere" / "repo.db.tar.gz")
    assert str(e.value) == f"{tmp_path / 'nowhere'}/ does not exist or is not a directory."


def test_a_repository_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(RepoWriteError) as e:
        run_update(tmp_path / "afile" / "repo.db.tar.gz")
    assert str(e.value) == f"{tmp_path / 'afile'}/ does not exist or is not a directory."
    assert (tmp_path / "afile").read_bytes() == b""


def test_an_invalid_database_name_is_refused_before_anything_happens(repo: Path) -> None:
    with pytest.raises(InvalidDatabaseName):
        run_update(repo / "repo.db", build_package(repo))
    assert sorted(p.name for p in repo.iterdir()) == ["foo-1.0-1-x86_64.pkg.tar.zst"]


def test_remove_from_a_database_that_does_not_exist_fails(repo: Path) -> None:
    with pytest.raises(DatabaseNotFound) as e:
        run_update(repo / "repo.db.tar.gz", "foo", remove=True)
    assert str(e.value) == f"Repository file '{repo / 'repo.db.tar.gz'}' was not found."
    assert list(repo.iterdir()) == []


def test_verify_only_without_a_database_fails(repo: Path) -> None:
    with pytest.raises(DatabaseNotFound):
        verify_only(VerifyRequest(db_path=str(repo / "repo.db.tar.gz"), key=None), lambda e: None)


def test_no_temporary_files_are_left_after_a_failure(populated: Path) -> None:
    with pytest.raises(RunFailed):
        run_update(populated / "repo.db.tar.gz", populated / "nope.pkg.tar.zst")
    assert not [p.name for p in populated.iterdir() if p.name.startswith(".") or "tmp" in p.name]


# ---------------------------------------------------------------------------------------------
# -R: the old package file goes only after a successful write


def test_remove_old_deletes_the_old_package_and_its_signature_after_writing(repo: Path) -> None:
    old = build_package(repo, "foo", "1.0-1")
    run_update(repo / "repo.db.tar.gz", old)
    Path(f"{old}.sig").write_bytes(b"old sig")
    new = build_package(repo, "foo", "1.0-2")
    _, events = run_update(repo / "repo.db.tar.gz", new, options=AddOptions(remove_old=True))
    assert not old.exists()
    assert not Path(f"{old}.sig").exists()
    assert new.exists()
    assert (Level.MSG2, f"Removing old package file '{old.name}'") in events
    assert listing(repo / "repo.db.tar.gz") == ["foo-1.0-2/", "foo-1.0-2/desc"]


def test_remove_old_keeps_the_old_package_when_the_run_fails(repo: Path) -> None:
    old = build_package(repo, "foo", "1.0-1")
    run_update(repo / "repo.db.tar.gz", old)
    Path(f"{old}.sig").write_bytes(b"old sig")
    new = build_package(repo, "foo", "1.0-2")
    with pytest.raises(RunFailed):
        run_update(repo / "repo.db.tar.gz", new, repo / "nope.pkg.tar.zst", options=AddOptions(remove_old=True))
    assert old.exists()
    assert Path(f"{old}.sig").read_bytes() == b"old sig"


def test_remove_old_keeps_the_old_package_when_the_write_fails(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = build_package(repo, "foo", "1.0-1")
    run_update(repo / "repo.db.tar.gz", old)
    new = build_package(repo, "foo", "1.0-2")
    before = snapshot(repo)

    def failing_write(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(repotools.update.store, "write_database", failing_write)  # both archives are written there
    with pytest.raises(RepoWriteError) as e:
        run_update(repo / "repo.db.tar.gz", new, options=AddOptions(remove_old=True))
    message = str(e.value)
    assert message.startswith(f"Cannot write '{repo}/") and message.endswith(": No space left on device."), message
    assert snapshot(repo) == before
    assert old.exists()


# ---------------------------------------------------------------------------------------------
# what is in the way of the rotation


# every name the update replaces or removes besides the archives themselves: a directory
# there is found before anything is renamed
IN_THE_WAY = [
    "r.db",
    "r.files",
    "r.db.sig",
    "r.files.sig",
    "r.db.tar.gz.sig",
    "r.files.tar.gz.sig",
    "r.db.tar.gz.old",
    "r.files.tar.gz.old",
    "r.db.tar.gz.old.sig",
    "r.files.tar.gz.old.sig",
    "r.db.tmp-link",
    "r.files.tar.gz.old.tmp-link",
]


@pytest.mark.parametrize("name", IN_THE_WAY)
def test_a_directory_in_the_way_of_the_rotation_fails_before_anything_is_touched(repo: Path, name: str) -> None:
    db = repo / "r.db.tar.gz"
    run_update(db, build_package(repo))
    run_update(db, build_package(repo))  # the .old files exist: each one must stay as it is
    newer = build_package(repo, version="1.0-2")
    in_the_way = repo / name
    if os.path.lexists(in_the_way):
        in_the_way.unlink()
    in_the_way.mkdir()
    before = snapshot(repo)
    kind = "files" if name.startswith("r.files") else "db"
    with pytest.raises(RepoWriteError) as failure:
        run_update(db, newer)
    assert str(failure.value) == (
        f"Cannot put the new database '{repo / f'r.{kind}.tar.gz'}' in place: Is a directory ('{in_the_way}')."
    )
    assert snapshot(repo) == before  # archives, links and .old files as they were, no temporary file left
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the files database's writer was reaped
    in_the_way.rmdir()
    outcome, _ = run_update(db, newer)
    assert outcome.added == ["foo-1.0-2"]
    assert os.readlink(repo / "r.db") == "r.db.tar.gz"


def test_a_failed_directory_sync_after_the_renames_is_a_warning_not_a_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from repotools.update import transaction

    def eio(directory: str) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO), directory)

    monkeypatch.setattr(transaction, "fsync_dir", eio)
    outcome, events = run_update(repo / "repo.db.tar.gz", build_package(repo))
    assert outcome.added == ["foo-1.0-1"]
    assert listing(repo / "repo.db.tar.gz") == ["foo-1.0-1/", "foo-1.0-1/desc"]
    warning = (
        f"The new database is in place, but syncing '{repo}' failed: Input/output error; a crash of the machine "
        "now may bring back the old one."
    )
    assert (Level.WARNING, warning) in events
