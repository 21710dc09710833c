"""The console scripts, run as a user runs them: ``repo-add``, ``repo-remove`` and
``repotools add/remove`` in a subprocess, on a temporary repository.

Pinned here: exit codes (0, or 1 for every failure, usage errors included, as pacman
6.0.2's scripts), the exact lines a user sees, and that a failed run leaves the
repository directory exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import pty
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.openpgp import FRAMED_SIGNATURE
from support.packages import build_package, write_archive
from support.snapshots import desc_of, listing, snapshot
from support.tools import (
    BIN,
    EVERY_COMMAND,
    REMOVERS,
    REPO_ADD,
    REPO_REMOVE,
    TOOL_ADD,
    TOOL_REMOVE,
    Result,
    add_in_process,
    base_env,
    cli,
    run_update,
)

from repotools import __version__


@pytest.fixture
def populated(repo: Path) -> Path:
    """repo.db.tar.gz holding foo-1.0-1, written twice (so .old files exist)."""
    pkg = build_package(repo, "foo")
    add_in_process(repo, pkg)
    add_in_process(repo, pkg)
    return repo


# ---------------------------------------------------------------------------------------------
# the command line itself


@pytest.mark.parametrize("command", list(EVERY_COMMAND.values()), ids=list(EVERY_COMMAND))
def test_an_unknown_option_is_a_usage_error_with_exit_1(repo: Path, command: list[str]) -> None:
    r = cli(command, "--bogus", "repo.db.tar.gz", "foo", cwd=repo)
    assert r.rc == 1, r
    assert r.err.startswith("==> ERROR: No such option: --bogus"), r
    assert list(repo.iterdir()) == []


@pytest.mark.parametrize("command", list(EVERY_COMMAND.values()), ids=list(EVERY_COMMAND))
def test_json_without_a_database_path_keeps_standard_output_for_the_report(repo: Path, command: list[str]) -> None:
    r = cli(command, "--json", cwd=repo)
    assert r.rc == 1, r
    assert r.out == "" and r.err == "==> ERROR: Missing argument '<path-to-db>'.\n", r


@pytest.mark.parametrize("args", [[], ["-q"], [""], ["-n", "-R"]], ids=["none", "-q", "empty", "-n -R"])
@pytest.mark.parametrize("command", list(EVERY_COMMAND.values()), ids=list(EVERY_COMMAND))
def test_no_database_path_prints_the_usage_and_exits_1_as_pacman_s_scripts(
    repo: Path, command: list[str], args: list[str]
) -> None:
    r = cli(command, *args, cwd=repo)
    assert r.rc == 1, r
    assert "Usage:" in r.out and r.err == "", r
    assert r.out == cli(command, "--help", cwd=repo).out
    assert list(repo.iterdir()) == []


@pytest.mark.parametrize("command", list(EVERY_COMMAND.values()), ids=list(EVERY_COMMAND))
def test_version_exits_0(repo: Path, command: list[str]) -> None:
    r = cli(command, "-V", cwd=repo)
    assert r.rc == 0, r
    assert r.out.endswith(f"(repotools) {__version__}\n"), r
    assert r.err == ""


@pytest.mark.parametrize("command", list(EVERY_COMMAND.values()), ids=list(EVERY_COMMAND))
def test_help_exits_0_and_shows_the_usage(repo: Path, command: list[str]) -> None:
    r = cli(command, "-h", cwd=repo, env=base_env(COLUMNS="200"))
    assert r.rc == 0, r
    assert "Usage:" in r.out
    assert "<path-to-db>" in r.out
    assert list(repo.iterdir()) == []


def test_repotools_alone_prints_the_usage_and_exits_1_without_an_empty_error(repo: Path) -> None:
    r = cli([str(BIN / "repotools")], cwd=repo)
    assert r.rc == 1, r
    assert "Usage:" in r.out
    assert "==> ERROR: \n" not in r.err and not r.err.rstrip().endswith("==> ERROR:"), r


def test_repotools_add_takes_the_options_of_repo_add(repo: Path) -> None:
    build_package(repo)
    r = cli(
        TOOL_ADD,
        "-q",
        "--nocolor",
        "-n",
        "-p",
        "-R",
        "-j",
        "1",
        "repo.db.tar.gz",
        "foo-1.0-1-x86_64.pkg.tar.zst",
        cwd=repo,
    )
    assert r.rc == 0, r
    assert (r.out, r.err) == ("", "")
    r = cli(TOOL_REMOVE, "-q", "--nocolor", "repo.db.tar.gz", "foo", cwd=repo)
    assert r.rc == 0, r
    assert r.out == ""


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_number(repo: Path, value: str) -> None:
    r = cli(REPO_ADD, "-j", value, "repo.db.tar.gz", cwd=repo)
    assert r.rc == 1, r
    assert r.err.startswith("==> ERROR: Invalid value for '-j' / '--jobs'"), r
    assert list(repo.iterdir()) == []


def test_invalid_database_name_exits_1(repo: Path) -> None:
    build_package(repo)
    r = cli(REPO_ADD, "repo.db", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=repo)
    assert r.rc == 1, r
    assert r.err == "==> ERROR: 'repo.db' does not have a valid database archive extension.\n"
    assert sorted(p.name for p in repo.iterdir()) == ["foo-1.0-1-x86_64.pkg.tar.zst"]


# ---------------------------------------------------------------------------------------------
# what a user sees on success


def test_add_prints_repo_adds_messages(repo: Path) -> None:
    build_package(repo)
    r = cli(REPO_ADD, "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=repo)
    assert r.rc == 0, r
    assert r.out == (
        "==> Adding package 'foo-1.0-1-x86_64.pkg.tar.zst'\n"
        "  -> Computing checksums...\n"
        "  -> Creating 'desc' db entry...\n"
        "  -> Creating 'files' db entry...\n"
        "==> Creating updated database file 'repo.db.tar.gz'\n"
    )
    assert r.err == ""
    assert listing(repo / "repo.db.tar.gz") == ["foo-1.0-1/", "foo-1.0-1/desc"]


def test_remove_prints_repo_removes_messages(populated: Path) -> None:
    add_in_process(populated, build_package(populated, "bar"))
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "foo", cwd=populated)
    assert r.rc == 0, r
    assert r.out == (
        "==> Searching for package 'foo'...\n"
        "  -> Removing existing entry 'foo-1.0-1'...\n"
        "==> Creating updated database file 'repo.db.tar.gz'\n"
    )
    assert r.err == ""
    assert listing(populated / "repo.db.tar.gz") == ["bar-1.0-1/", "bar-1.0-1/desc"]


def test_quiet_prints_only_warnings(populated: Path) -> None:
    r = cli(REPO_ADD, "-q", "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=populated)
    assert r.rc == 0, r
    assert r.out == ""
    assert r.err == "==> WARNING: An entry for 'foo-1.0-1' already existed\n"


def test_quiet_prints_only_errors(populated: Path) -> None:
    r = cli(REPO_ADD, "-q", "repo.db.tar.gz", "nope.pkg.tar.zst", cwd=populated)
    assert r.rc == 1, r
    assert r.out == ""
    assert r.err == "==> ERROR: File 'nope.pkg.tar.zst' not found.\n"


def run_on_a_terminal(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> bytes:
    """Run with stdout and stderr on a pseudo-terminal; return everything it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=120)
    return b"".join(chunks)


WARNING_AND_ERROR = ("repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", "nope.pkg.tar.zst")


def test_a_terminal_gets_colour_by_default(populated: Path) -> None:
    """The control for the two tests below: without --nocolor a terminal does get escape codes."""
    out = run_on_a_terminal([*REPO_ADD, *WARNING_AND_ERROR], populated, base_env(TERM="xterm-256color"))
    assert b"\x1b[" in out
    assert b"WARNING:" in out and b"ERROR:" in out


def test_nocolor_prints_no_escape_codes_on_a_terminal(populated: Path) -> None:
    out = run_on_a_terminal([*REPO_ADD, "--nocolor", *WARNING_AND_ERROR], populated, base_env(TERM="xterm-256color"))
    assert b"WARNING:" in out and b"ERROR:" in out
    assert b"\x1b" not in out


def test_no_color_environment_prints_no_escape_codes_on_a_terminal(populated: Path) -> None:
    out = run_on_a_terminal([*REPO_ADD, *WARNING_AND_ERROR], populated, base_env(TERM="xterm-256color", NO_COLOR="1"))
    assert b"WARNING:" in out and b"ERROR:" in out
    assert b"\x1b" not in out


def test_output_to_a_pipe_has_no_escape_codes(populated: Path) -> None:
    r = cli(REPO_ADD, *WARNING_AND_ERROR, cwd=populated, env=base_env(TERM="xterm-256color"))
    assert r.rc == 1
    assert "WARNING:" in r.err and "ERROR:" in r.err
    assert "\x1b" not in r.out + r.err


# ---------------------------------------------------------------------------------------------
# failures: exit 1, a message naming the file, and the repository left exactly as it was

PKGINFO_WITHOUT_NAME = b"pkgver = 1.0-1\narch = x86_64\n"
PKGINFO_WITHOUT_VERSION = b"pkgname = foo\narch = x86_64\n"


def _junk(repo: Path) -> str:
    (repo / "junk.pkg.tar.zst").write_bytes(b"this is not an archive at all" * 10)
    return "junk.pkg.tar.zst"


def _no_pkginfo(repo: Path) -> str:
    write_archive(repo / "bare.pkg.tar.zst", [(b"usr/", 0o040000, b""), (b"usr/x", 0o100000, b"x")])
    return "bare.pkg.tar.zst"


def _with_pkginfo(pkginfo: bytes) -> Callable[[Path], str]:
    def make(repo: Path) -> str:
        return build_package(repo, pkginfo=pkginfo, filename="odd.pkg.tar.zst").name

    return make


PACKAGE_FAILURES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing package": (lambda r: "nope.pkg.tar.zst", "==> ERROR: File 'nope.pkg.tar.zst' not found."),
    "not a package": (_junk, "==> ERROR: 'junk.pkg.tar.zst' is not a package file (Unrecognized archive format)."),
    "package without .PKGINFO": (
        _no_pkginfo,
        "==> ERROR: 'bare.pkg.tar.zst' is not a package file (no .PKGINFO in it).",
    ),
    "package without pkgname": (
        _with_pkginfo(PKGINFO_WITHOUT_NAME),
        "==> ERROR: Invalid package file 'odd.pkg.tar.zst': its .PKGINFO has no pkgname or no pkgver.",
    ),
    "package without pkgver": (
        _with_pkginfo(PKGINFO_WITHOUT_VERSION),
        "==> ERROR: Invalid package file 'odd.pkg.tar.zst': its .PKGINFO has no pkgname or no pkgver.",
    ),
    "pkgname with path traversal": (
        _with_pkginfo(b"pkgname = ../../etc\npkgver = 1.0-1\n"),
        "==> ERROR: Invalid package file 'odd.pkg.tar.zst': pkgname '../../etc' starts with '.'.",
    ),
    "invalid pkgver": (
        _with_pkginfo(b"pkgname = foo\npkgver = 1.0\n"),
        (
            "==> ERROR: Invalid package file 'odd.pkg.tar.zst': "
            "pkgver '1.0' is not of the form [epoch:]pkgver-pkgrel in printable ASCII."
        ),
    ),
}


@pytest.mark.parametrize("case", list(PACKAGE_FAILURES), ids=list(PACKAGE_FAILURES))
def test_a_bad_package_fails_naming_it_and_changes_nothing(populated: Path, case: str) -> None:
    make, error_line = PACKAGE_FAILURES[case]
    target = make(populated)
    before = snapshot(populated)
    r = cli(REPO_ADD, "-R", "repo.db.tar.gz", target, cwd=populated)
    assert r.rc == 1, r
    assert r.err == error_line + "\n", r
    assert r.out.endswith("==> No packages modified, nothing to do.\n"), r
    assert snapshot(populated) == before


def test_one_bad_package_among_good_ones_adds_none(populated: Path) -> None:
    build_package(populated, "bar")
    before = snapshot(populated)
    r = cli(REPO_ADD, "repo.db.tar.gz", "bar-1.0-1-x86_64.pkg.tar.zst", "nope.pkg.tar.zst", cwd=populated)
    assert r.rc == 1, r
    assert "==> ERROR: File 'nope.pkg.tar.zst' not found.\n" in r.err
    assert snapshot(populated) == before


def test_a_corrupt_database_fails_naming_it_and_changes_nothing(populated: Path) -> None:
    (populated / "repo.db.tar.gz").unlink()
    (populated / "repo.db.tar.gz").write_bytes(b"\x1f\x8b\x08\x00 this gzip stream is broken")
    before = snapshot(populated)
    r = cli(REPO_ADD, "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=populated)
    assert r.rc == 1, r
    assert r.err.startswith(
        f"==> ERROR: Repository file '{populated / 'repo.db.tar.gz'}' is not a proper pacman database"
    ), r
    assert len(r.err.splitlines()) == 1
    assert snapshot(populated) == before


def test_a_foreign_archive_as_database_fails_naming_it_and_changes_nothing(repo: Path) -> None:
    write_archive(repo / "repo.db.tar.gz", [(b"README", 0o100000, b"a source tarball, not a database")], "gzip")
    build_package(repo)
    before = snapshot(repo)
    r = cli(REPO_ADD, "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=repo)
    assert r.rc == 1, r
    assert r.err == (
        f"==> ERROR: Repository file '{repo / 'repo.db.tar.gz'}' is not a proper pacman database:"
        " unexpected member 'README'.\n"
    )
    assert snapshot(repo) == before


def test_a_directory_path_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "afile").write_bytes(b"I am a file")
    build_package(tmp_path)
    before = snapshot(tmp_path)
    r = cli(REPO_ADD, "afile/repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=tmp_path)
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: {tmp_path / 'afile'}/ does not exist or is not a directory.\n"
    assert snapshot(tmp_path) == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    """Make every write beyond ``limit`` bytes fail with EFBIG, as a full disk fails: root cannot bypass it."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_lock_file_that_cannot_be_written_is_an_error_not_a_crash(populated: Path) -> None:
    before = snapshot(populated)
    r = cli(REPO_ADD, "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=populated, preexec_fn=_file_size_limit(0))
    assert r.rc == 1, r
    assert "Traceback" not in r.err, r
    assert r.err.startswith(f"==> ERROR: Failed to acquire lockfile: {populated / 'repo.db.tar.gz.lck'}"), r
    assert snapshot(populated) == before, "a stale lock or a temporary file was left behind"


def test_a_failed_database_write_changes_nothing_and_keeps_the_old_package(populated: Path) -> None:
    Path(populated / "foo-1.0-1-x86_64.pkg.tar.zst.sig").write_bytes(b"old signature")
    build_package(populated, "foo", "1.0-2")
    before = snapshot(populated)
    r = cli(
        REPO_ADD,
        "-R",
        "repo.db.tar.gz",
        "foo-1.0-2-x86_64.pkg.tar.zst",
        cwd=populated,
        preexec_fn=_file_size_limit(128),
    )
    assert r.rc == 1, r
    assert snapshot(populated) == before


def test_a_failed_database_write_is_reported_as_a_write_error_naming_where(populated: Path) -> None:
    build_package(populated, "bar", "1.0-1")
    r = cli(REPO_ADD, "repo.db.tar.gz", "bar-1.0-1-x86_64.pkg.tar.zst", cwd=populated, preexec_fn=_file_size_limit(128))
    assert r.rc == 1, r
    errors = [line for line in r.err.splitlines() if line.startswith("==> ERROR:")]
    assert len(errors) == 1, r
    assert str(populated) in errors[0], "the message names the repository directory or the file being written"
    assert "File too large" in errors[0], "the message gives the system's reason"


def test_a_held_lock_fails_naming_the_holder_and_changes_nothing(populated: Path, live_pid: int) -> None:
    (populated / "repo.db.tar.gz.lck").write_text(f"{live_pid}\n")
    before = snapshot(populated)
    r = cli(REPO_ADD, "repo.db.tar.gz", "foo-1.0-1-x86_64.pkg.tar.zst", cwd=populated)
    assert r.rc == 1, r
    assert r.err == (
        f"==> ERROR: Failed to acquire lockfile: {populated / 'repo.db.tar.gz.lck'}.\n"
        f"==> ERROR: Held by process {live_pid}\n"
    )
    assert snapshot(populated) == before


def _waiting_for_the_lock(
    directory: Path, package: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """``repo-add --wait-for-lock repo.db.tar.gz PACKAGE`` started in ``directory``, its output piped."""
    return subprocess.Popen(
        [*REPO_ADD, "--wait-for-lock", "repo.db.tar.gz", package],
        cwd=directory,
        env=base_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - the tests start no thread
    )


def test_wait_for_lock_waits_until_the_lock_is_released(populated: Path, live_pid: int) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text(f"{live_pid}\n")
    build_package(populated, "bar")
    proc = _waiting_for_the_lock(populated, "bar-1.0-1-x86_64.pkg.tar.zst")
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == f"==> Waiting for lock file {lock} (held by process {live_pid})...\n"
        assert proc.poll() is None, "it must still be waiting"
        releaser = threading.Thread(target=lock.unlink)
        releaser.start()
        releaser.join()
        rest, err = proc.communicate()
    finally:
        watchdog.cancel()
    assert proc.returncode == 0, err
    assert rest.endswith("==> Creating updated database file 'repo.db.tar.gz'\n")
    assert "bar-1.0-1/desc" in listing(populated / "repo.db.tar.gz")
    assert not lock.exists()


def test_remove_of_a_missing_name_fails_and_changes_nothing(populated: Path) -> None:
    before = snapshot(populated)
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "nope", cwd=populated)
    assert r.rc == 1, r
    assert r.err == "==> ERROR: Package matching 'nope' not found.\n"
    assert r.out == "==> Searching for package 'nope'...\n==> No packages modified, nothing to do.\n"
    assert snapshot(populated) == before


def test_remove_of_foo_does_not_remove_foo_bar(repo: Path) -> None:
    add_in_process(repo, build_package(repo, "foo-bar"))
    before = snapshot(repo)
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "foo", cwd=repo)
    assert r.rc == 1, r
    assert snapshot(repo) == before


def test_remove_from_a_missing_database_fails(repo: Path) -> None:
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "foo", cwd=repo)
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: Repository file '{repo / 'repo.db.tar.gz'}' was not found.\n"
    assert list(repo.iterdir()) == []


def test_a_directory_in_the_way_fails_the_same_from_the_command_line(repo: Path) -> None:
    """The review's case: the db link replaced by a directory; the files database is not
    written while the db cannot be, and no .old file moves."""
    db = repo / "r.db.tar.gz"
    run_update(db, build_package(repo))
    run_update(db, build_package(repo))
    bar = build_package(repo, "bar")
    (repo / "r.db").unlink()
    (repo / "r.db").mkdir()
    before = snapshot(repo)
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "repo-add"), "-q", "r.db.tar.gz", bar.name],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc
    assert proc.stderr == (
        f"==> ERROR: Cannot put the new database '{db}' in place: Is a directory ('{repo / 'r.db'}').\n"
    )
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------------------------
# what a successful run leaves on disk


def test_old_archives_are_hard_links_and_names_are_symlinks(populated: Path) -> None:
    previous = {k: (populated / f"repo.{k}.tar.gz").stat().st_ino for k in ("db", "files")}
    build_package(populated, "bar")
    assert cli(REPO_ADD, "-q", "repo.db.tar.gz", "bar-1.0-1-x86_64.pkg.tar.zst", cwd=populated).rc == 0
    for kind in ("db", "files"):
        assert (populated / f"repo.{kind}.tar.gz.old").stat().st_ino == previous[kind]
        assert os.readlink(populated / f"repo.{kind}") == f"repo.{kind}.tar.gz"
    assert not (populated / "repo.db.tar.gz.lck").exists()


def test_source_date_epoch_gives_byte_identical_databases_in_different_directories(tmp_path: Path) -> None:
    results = []
    built = build_package(tmp_path, "foo")
    for where in ("a", "b"):
        d = tmp_path / where / "x86_64"
        d.mkdir(parents=True)
        shutil.copy(built, d)
        r = cli(REPO_ADD, "-q", "core.db.tar.gz", built.name, cwd=d)
        assert r.rc == 0, r
        results.append([(d / f"core.{k}.tar.gz").read_bytes() for k in ("db", "files")])
    assert results[0] == results[1]


def test_removing_the_last_package_leaves_a_valid_empty_database(populated: Path) -> None:
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "foo", cwd=populated)
    assert r.rc == 0, r
    assert r.err == "==> WARNING: No packages remain, creating empty database.\n" * 2  # one for each archive
    for kind in ("db", "files"):
        assert listing(populated / f"repo.{kind}.tar.gz") == []


def test_jobs_reads_packages_in_parallel(repo: Path) -> None:
    names = [f"p{i}" for i in range(10)]
    pkgs = [build_package(repo, n).name for n in names]
    r = cli(REPO_ADD, "-j", "2", "repo.db.tar.gz", *pkgs, cwd=repo)
    assert r.rc == 0, r
    assert [line for line in r.out.splitlines() if line.startswith("==> Adding")] == [
        f"==> Adding package '{p}'" for p in pkgs
    ]
    assert listing(repo / "repo.db.tar.gz") == [f"{n}-1.0-1/{m}" for n in sorted(names) for m in ("", "desc")]


def test_include_sigs_is_accepted_and_embeds_the_signature(repo: Path) -> None:
    pkg = build_package(repo)
    Path(f"{pkg}.sig").write_bytes(FRAMED_SIGNATURE)
    r = cli(REPO_ADD, "--include-sigs", "repo.db.tar.gz", pkg.name, cwd=repo)
    assert r.rc == 0, r
    assert "  -> Adding package signature...\n" in r.out
    assert "%PGPSIG%\niA0EABYIAAAAAKvNAAj/\n" in desc_of(repo / "repo.db.tar.gz", "foo-1.0-1")


def test_an_unsigned_write_over_a_signed_database_removes_the_stale_signatures(populated: Path) -> None:
    for kind in ("db", "files"):
        (populated / f"repo.{kind}.tar.gz.sig").write_bytes(b"fake signature")
        (populated / f"repo.{kind}.sig").symlink_to(f"repo.{kind}.tar.gz.sig")
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "foo", cwd=populated)
    assert r.rc == 0, r
    for kind in ("db", "files"):
        assert not os.path.lexists(populated / f"repo.{kind}.tar.gz.sig")
        assert not os.path.lexists(populated / f"repo.{kind}.sig")
        assert (
            f"==> WARNING: Removed the old signature 'repo.{kind}.tar.gz.sig': the new database is not signed.\n"
            in r.err
        )


def test_remove_option_deletes_the_old_package_and_its_signature(populated: Path) -> None:
    old = populated / "foo-1.0-1-x86_64.pkg.tar.zst"
    Path(f"{old}.sig").write_bytes(b"old signature")
    new = build_package(populated, "foo", "1.0-2")
    r = cli(REPO_ADD, "-R", "repo.db.tar.gz", new.name, cwd=populated)
    assert r.rc == 0, r
    assert f"  -> Removing old package file '{old.name}'\n" in r.out
    assert not old.exists()
    assert not Path(f"{old}.sig").exists()
    assert new.exists()


def test_remove_option_keeps_the_old_package_when_the_run_fails(populated: Path) -> None:
    old = populated / "foo-1.0-1-x86_64.pkg.tar.zst"
    Path(f"{old}.sig").write_bytes(b"old signature")
    new = build_package(populated, "foo", "1.0-2")
    r = cli(REPO_ADD, "-R", "repo.db.tar.gz", new.name, "nope.pkg.tar.zst", cwd=populated)
    assert r.rc == 1, r
    assert old.exists()
    assert Path(f"{old}.sig").exists()


# ---------------------------------------------------------------------------------------------
# -s / -k without a usable key: refused before anything is touched


@pytest.fixture
def empty_gnupg_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)


def test_sign_without_any_secret_key_fails(populated: Path, empty_gnupg_home: Path) -> None:
    before = snapshot(populated)
    r = cli(
        REPO_ADD,
        "-s",
        "repo.db.tar.gz",
        "foo-1.0-1-x86_64.pkg.tar.zst",
        cwd=populated,
        env=base_env(GNUPGHOME=str(empty_gnupg_home)),
    )
    assert r.rc == 1, r
    assert r.err == "==> ERROR: There is no key in your keyring.\n"
    assert snapshot(populated) == before


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
def test_sign_with_an_unknown_key_fails_naming_the_key(populated: Path, empty_gnupg_home: Path, how: str) -> None:
    before = snapshot(populated)
    env = base_env(GNUPGHOME=str(empty_gnupg_home))
    args = ["-s", "repo.db.tar.gz"]
    if how == "-k":
        args[1:1] = ["-k", "DEADBEEF"]
    else:
        env["GPGKEY"] = "DEADBEEF"
    r = cli(REPO_ADD, *args, cwd=populated, env=env)
    assert r.rc == 1, r
    assert r.err == "==> ERROR: The key DEADBEEF does not exist in your keyring.\n"
    assert snapshot(populated) == before


# ---------------------------------------------------------------------------------------------
# repo-remove takes repo-add's options and ignores them (pacman's scripts share one parser)


@pytest.mark.parametrize(
    "options",
    ["-R", "-n", "-p", "--new", "--remove", "--prevent-downgrade", "--include-sigs", "-j 2", "--jobs=2", "-R -n -p"],
)
@pytest.mark.parametrize("command", REMOVERS.values(), ids=REMOVERS.keys())
def test_remove_accepts_and_ignores_the_options_of_repo_add(populated: Path, command: list[str], options: str) -> None:
    old = populated / "foo-1.0-1-x86_64.pkg.tar.zst"
    r = cli(command, *options.split(), "repo.db.tar.gz", "foo", cwd=populated)
    assert r.rc == 0, r
    assert r.err == "==> WARNING: No packages remain, creating empty database.\n" * 2  # one for each archive
    assert listing(populated / "repo.db.tar.gz") == []
    assert old.exists(), "-R removes no package file here"


def test_remove_takes_the_ignored_options_after_the_arguments_too(populated: Path) -> None:
    r = cli(REPO_REMOVE, "repo.db.tar.gz", "-R", "foo", "--prevent-downgrade", cwd=populated)
    assert r.rc == 0, r
    assert listing(populated / "repo.db.tar.gz") == []


# ---------------------------------------------------------------------------------------------
# signals: HUP, QUIT, INT and TERM stop a run as pacman's traps do (its message, exit 1), and
# the directory is left as it was: no lock, no temporary file, the databases untouched

STOP_MESSAGES = {
    "HUP": "HUP signal caught. Exiting...",
    "QUIT": "QUIT signal caught. Exiting...",
    "INT": "Aborted by user! Exiting...",
    "TERM": "TERM signal caught. Exiting...",
}

# Runs repo-add with a hook (HOOK_SCENARIO), so that the signal lands at a known point:
#   run      the run waits in add_packages (update.transaction's; lock held, files database writer forked) for
#            the signal, or for HOOK_RELEASE to appear
#   workers  the scan workers wait, holding their first packages, until the lock is gone:
#            the run waits for them
#   write    the run sends itself the signal from libarchive's write callback (the db archive)
#   fork:N   the run sends itself the signal from an at-fork hook, after its N-th fork
#            (1: the files database writer, 2: the first scan worker)
HOOKED_REPO_ADD = r"""
import os, signal, sys, time
scenario, marker, release, lock = (os.environ[k] for k in ("HOOK_SCENARIO", "HOOK_MARKER", "HOOK_RELEASE", "HOOK_LOCK"))
sig = getattr(signal, "SIG" + os.environ["HOOK_SIGNAL"])
sys.argv[0] = "repo-add"
import repotools.update.scan as scan_module
import repotools.update.transaction as transaction
parent = os.getpid()

def wait_for(done):
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.002)

if scenario == "run":
    real_add = transaction.add_packages
    def add_packages(*args, **kwargs):
        open(marker, "w").close()
        wait_for(lambda: os.path.exists(release))
        return real_add(*args, **kwargs)
    transaction.add_packages = add_packages
elif scenario == "workers":
    real_scan = scan_module.scan
    def scan(*args, **kwargs):
        if os.getpid() != parent:
            open(marker, "w").close()
            wait_for(lambda: not os.path.exists(lock))
        return real_scan(*args, **kwargs)
    scan_module.scan = scan
elif scenario == "write":
    from libarchive import ffi
    real_callback, sent = ffi.WRITE_CALLBACK, []
    def write_callback(function):
        def hooked(*args):
            if os.getpid() == parent and not sent:
                sent.append(True)
                os.kill(parent, sig)
            return function(*args)
        return real_callback(hooked)
    ffi.WRITE_CALLBACK = write_callback
elif scenario.startswith("fork:"):
    forks = []
    def after_fork():
        forks.append(True)
        if len(forks) == int(scenario[5:]):
            os.kill(os.getpid(), sig)
    os.register_at_fork(after_in_parent=after_fork)

from repotools.cli import launch
launch.repo_add()
"""


def _default_signals(ignored: Sequence[int] = ()) -> Callable[[], None]:
    """In the child: the stop signals as a shell with job control leaves them (the default),
    whatever this process inherited; ``ignored`` ignored, as nohup leaves SIGHUP."""

    def apply() -> None:
        for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)

    return apply


@contextlib.contextmanager
def _reaped(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Kill ``proc`` on the way out if it still runs (an assertion failed, a timeout)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _signal_when_there(
    proc: subprocess.Popen[Any], path: Path, signame: str, missing: str, poll: float = 0.002
) -> None:
    """Send ``SIG<signame>`` to ``proc`` as soon as ``path`` exists (within a minute)."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, missing
        time.sleep(poll)
    proc.send_signal(getattr(signal, "SIG" + signame))


def _hooked_run(
    repo: Path,
    scenario: str,
    signame: str,
    packages: Sequence[Path],
    *,
    send: bool = False,
    ignored: Sequence[int] = (),
    extra: Sequence[str] = (),
) -> Result:
    marker, release = repo.parent / "hook-reached", repo.parent / "hook-release"
    for p in (marker, release):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    env = base_env(
        HOOK_SCENARIO=scenario,
        HOOK_SIGNAL=signame,
        HOOK_MARKER=str(marker),
        HOOK_RELEASE=str(release),
        HOOK_LOCK=str(repo / "repo.db.tar.gz.lck"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", HOOKED_REPO_ADD, "-q", *extra, "repo.db.tar.gz", *(p.name for p in packages)],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals(ignored),  # noqa: PLW1509 - the tests start no thread
    )
    with _reaped(proc):
        if send:
            _signal_when_there(proc, marker, signame, "the hook was never reached")
            release.touch()
        out, err = proc.communicate(timeout=120)
    return Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


def _assert_stopped(r: Result, signame: str) -> None:
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: {STOP_MESSAGES[signame]}\n", r
    assert r.out == "\n", r  # pacman's trap_exit echoes an empty line first


@pytest.fixture
def many(populated: Path) -> list[Path]:
    """Twelve more packages beside foo (enough for the scan to run in worker processes)."""
    return [build_package(populated, f"p{i:02d}") for i in range(12)]


SIGNALS = list(STOP_MESSAGES)


@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_in_the_middle_of_a_run_stops_it_and_changes_nothing(
    populated: Path, many: list[Path], signame: str
) -> None:
    before = snapshot(populated)
    r = _hooked_run(populated, "run", signame, many[:3], send=True)
    _assert_stopped(r, signame)
    assert snapshot(populated) == before, "a lock, a temporary file or a new database was left behind"


@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_while_the_scan_workers_read_stops_the_run_and_changes_nothing(
    populated: Path, many: list[Path], signame: str
) -> None:
    before = snapshot(populated)
    r = _hooked_run(populated, "workers", signame, many, send=True, extra=["-j", "2"])
    _assert_stopped(r, signame)
    assert snapshot(populated) == before


@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_inside_a_libarchive_callback_is_not_lost(populated: Path, many: list[Path], signame: str) -> None:
    # an exception raised in a ctypes callback is printed and ignored: the run would go on
    before = snapshot(populated)
    r = _hooked_run(populated, "write", signame, many[:1])
    _assert_stopped(r, signame)
    assert snapshot(populated) == before


@pytest.mark.parametrize("nth", [1, 2], ids=["files database writer", "scan worker"])
@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_while_forking_is_not_lost(populated: Path, many: list[Path], signame: str, nth: int) -> None:
    # an exception raised in an at-fork hook is printed and ignored: the run would go on
    before = snapshot(populated)
    r = _hooked_run(populated, f"fork:{nth}", signame, many, extra=["-j", "2"])
    _assert_stopped(r, signame)
    assert snapshot(populated) == before


def test_a_signal_ignored_on_entry_stays_ignored(populated: Path, many: list[Path]) -> None:
    """nohup: as bash, whose traps cannot catch a signal ignored when it started."""
    r = _hooked_run(populated, "run", "HUP", many[:1], send=True, ignored=[signal.SIGHUP])
    assert r.rc == 0, r
    assert "p00-1.0-1/desc" in listing(populated / "repo.db.tar.gz")


@pytest.mark.parametrize("signame", ["INT", "TERM"])
def test_a_signal_while_waiting_for_the_lock_stops_the_wait(populated: Path, signame: str, live_pid: int) -> None:
    lock = populated / "repo.db.tar.gz.lck"
    lock.write_text(f"{live_pid}\n")
    before = snapshot(populated)
    proc = _waiting_for_the_lock(populated, "foo-1.0-1-x86_64.pkg.tar.zst", _default_signals())
    with _reaped(proc):
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"==> Waiting for lock file {lock} (held by process {live_pid})...\n"
        proc.send_signal(getattr(signal, "SIG" + signame))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert (out, err) == ("\n", f"==> ERROR: {STOP_MESSAGES[signame]}\n")
    assert snapshot(populated) == before, "the lock of the other process is left alone"


@pytest.fixture(scope="module")
def hundreds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("hundreds")
    return [build_package(d, f"h{i:03d}") for i in range(400)]


@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_stops_a_long_run_of_the_real_command(populated: Path, hundreds: list[Path], signame: str) -> None:
    """No hook: repo-add itself, signalled as soon as it holds the lock (the 400 packages
    take far longer to read than the signal takes to arrive)."""
    before = snapshot(populated)
    lock = populated / "repo.db.tar.gz.lck"
    proc = subprocess.Popen(
        [*REPO_ADD, "-q", "repo.db.tar.gz", *map(str, hundreds)],
        cwd=populated,
        env=base_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals(),  # noqa: PLW1509 - the tests start no thread
    )
    with _reaped(proc):
        _signal_when_there(proc, lock, signame, "the lock was never taken", poll=0.001)
        out, err = proc.communicate(timeout=120)
    _assert_stopped(Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err)), signame)
    assert snapshot(populated) == before
