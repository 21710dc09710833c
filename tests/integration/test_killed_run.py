"""A ``repo-add`` killed with SIGKILL leaves no process behind: its package-reading workers and its
files-database writer die with it (they used to block on a pipe for as long as one waited)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from support.packages import DIRECTORY, FILE, pkginfo_for, write_archive
from support.tools import OUR_REPO_ADD

# Run in a process of its own, which makes itself the subreaper of what it starts: the killed
# run's orphans become its children, so it sees whether they exit (and reaps them).
SUPERVISOR = textwrap.dedent(
    """
    import ctypes, json, os, signal, subprocess, sys, time
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    argv, cwd = json.loads(sys.argv[1])
    run = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    deadline = time.monotonic() + 60
    while len(children(run.pid)) < 3 and time.monotonic() < deadline:  # the files writer, two workers
        time.sleep(0.001)
    seen = children(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    alive = list(seen)
    deadline = time.monotonic() + 10
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    alive.remove(pid)
            except ChildProcessError:
                alive.remove(pid)
        time.sleep(0.01)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print(json.dumps({"seen": seen, "alive": alive}))
    """
)


def package(path: Path, name: str, members: int) -> None:
    files = [(f"usr/share/{name}/{i}".encode(), FILE, b"") for i in range(members)]
    write_archive(path, [(b".PKGINFO", FILE, pkginfo_for(name, "1-1")), (b"usr/", DIRECTORY, b""), *files])


def test_a_killed_run_leaves_no_worker_behind(tmp_path: Path) -> None:
    # the first package takes a worker a while to read (many members): the kill lands mid-scan
    names = [f"p{i}" for i in range(8)]
    for i, name in enumerate(names):
        package(tmp_path / f"{name}-1-1-any.pkg.tar.zst", name, 150_000 if i == 0 else 1)
    argv = [OUR_REPO_ADD, "-q", "-j", "2", "r.db.tar.gz", *(f"{n}-1-1-any.pkg.tar.zst" for n in names)]
    env = dict(os.environ, REPOTOOLS_CACHE_DIR="")
    done = subprocess.run(
        [sys.executable, "-c", SUPERVISOR, json.dumps([argv, str(tmp_path)])],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert len(result["seen"]) == 3, result  # the kill came while the workers were there
    assert result["alive"] == []
    assert not (tmp_path / "r.db.tar.gz").exists()
