"""A lock left by a killed run (its PID names no process) is reported as stale, with the command that
clears it; ``--wait-for-lock`` takes it over, once, however many waiters there are."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.packages import build_package
from support.snapshots import listing, snapshot
from support.tools import OUR_REPO_ADD, REPO_ADD, base_env, cli

DB = "repo.db.tar.gz"


def test_a_stale_lock_is_reported_with_the_command_that_clears_it(tmp_path: Path, dead_pid: int) -> None:
    lock = tmp_path / (DB + ".lck")
    lock.write_text(f"{dead_pid}\n")
    pkg = build_package(tmp_path, "foo")
    before = snapshot(tmp_path)
    r = cli(REPO_ADD, DB, pkg.name, cwd=tmp_path)
    assert r.rc == 1, r
    assert r.err == (
        f"==> ERROR: Failed to acquire lockfile: {lock}.\n"
        f"==> ERROR: Held by process {dead_pid}, which no longer runs: a stale lock, left by a run that was "
        f"killed. Remove it with rm -f -- '{lock}' once no repo-add or repo-remove uses this database, or run "
        "with --wait-for-lock to take it over\n"
    )
    assert snapshot(tmp_path) == before


def test_wait_for_lock_takes_a_stale_lock_over(tmp_path: Path, dead_pid: int) -> None:
    lock = tmp_path / (DB + ".lck")
    lock.write_text(f"{dead_pid}\n")
    pkg = build_package(tmp_path, "foo")
    r = cli(REPO_ADD, "-w", DB, pkg.name, cwd=tmp_path)
    assert r.rc == 0, r
    assert f"==> WARNING: Took over the stale lock file {lock}: process {dead_pid} no longer runs.\n" in r.err
    assert "Waiting for lock file" not in r.out
    assert listing(tmp_path / DB) == ["foo-1.0-1/", "foo-1.0-1/desc"]
    assert sorted(p.name for p in tmp_path.iterdir() if ".lck" in p.name) == []


def test_eight_waiters_on_a_stale_lock_take_it_over_once_and_lose_nothing(tmp_path: Path, dead_pid: int) -> None:
    lock = tmp_path / (DB + ".lck")
    lock.write_text(f"{dead_pid}\n")
    names = [f"pkg{i}" for i in range(8)]
    for name in names:
        build_package(tmp_path, name)
    procs = [
        subprocess.Popen(
            [OUR_REPO_ADD, "-w", "-q", DB, f"{name}-1.0-1-x86_64.pkg.tar.zst"],
            cwd=tmp_path,
            env=base_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, results
    took_over = [err for _out, err in results if "Took over the stale lock file" in err]
    assert len(took_over) == 1, results
    assert listing(tmp_path / DB) == sorted(f"{n}-1.0-1/{m}" for n in names for m in ("", "desc"))
    assert not [p.name for p in tmp_path.iterdir() if ".lck" in p.name or p.name.startswith(".tmp")]


@pytest.mark.parametrize(
    "content",
    ["", "not a pid\n", "0\n", "-1\n", "99999999999999999999\n", "\u0661\u0662\n"],
    ids=["empty", "text", "zero", "negative", "overflowing", "arabic-indic-digits"],
)
def test_a_lock_that_names_no_pid_is_held_not_stale(tmp_path: Path, content: str) -> None:
    lock = tmp_path / (DB + ".lck")
    lock.write_text(content)
    r = cli(REPO_ADD, DB, build_package(tmp_path, "foo").name, cwd=tmp_path)
    assert r.rc == 1, r
    assert r.err == (
        f"==> ERROR: Failed to acquire lockfile: {lock}.\n==> ERROR: Held by process {content.rstrip()}\n"
    )


def test_a_lock_whose_file_is_flocked_is_held_whatever_its_pid(tmp_path: Path, dead_pid: int) -> None:
    """A repotools run in another PID namespace (a container sharing the repository) writes a PID
    that names nobody here, but holds the lock file's flock: it is alive, not stale."""
    lock = tmp_path / (DB + ".lck")
    lock.write_text(f"{dead_pid}\n")
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = cli(REPO_ADD, DB, build_package(tmp_path, "foo").name, cwd=tmp_path)
    finally:
        os.close(fd)
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: Failed to acquire lockfile: {lock}.\n==> ERROR: Held by process {dead_pid}\n"


def test_a_waiter_whose_directory_is_locked_by_its_caller_still_stops_on_a_signal(
    tmp_path: Path, dead_pid: int
) -> None:
    """The takeover's flock of the directory never blocks: a caller holding it (flock(1) around the
    run) makes the run wait, signals answered, instead of hanging with them held."""
    (tmp_path / (DB + ".lck")).write_text(f"{dead_pid}\n")
    pkg = build_package(tmp_path, "foo")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [OUR_REPO_ADD, "-w", DB, pkg.name], cwd=tmp_path, env=base_env(), stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("==> Waiting for lock file ")
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 1
        finally:
            proc.kill()
            proc.wait()
    finally:
        os.close(fd)
    assert (tmp_path / (DB + ".lck")).read_text() == f"{dead_pid}\n"
