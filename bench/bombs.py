#!/usr/bin/env python3
"""Peak memory of repo-add on decompression bombs, repotools against pacman, in the same run.

    .venv/bin/python bench/bombs.py [--bin .venv/bin] [--workdir /tmp/repotools-bombs]

1. a package (zstd, about 240 KB) of 5,000,000 empty members;
2. an existing database (gzip, about 800 KB) of four entries whose ``files`` members are
   200 MiB of zeros each, to which one small package is added.

Each command runs once; the peak is the largest resident set of any process of the command
(``wait4``'s maxrss over it and its reaped descendants), with its exit status and time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

import libarchive

FILE, DIRECTORY = 0o100000, 0o040000


def pkginfo(name: str) -> bytes:
    return f"pkgname = {name}\npkgver = 1-1\narch = any\nsize = 1\n".encode()


def member_bomb(path: str, members: int) -> None:
    with libarchive.file_writer(path, "pax_restricted", "zstd") as archive:
        info = pkginfo("bomb")
        archive.add_file_from_memory(".PKGINFO", len(info), info, permission=0o644, mtime=0)
        for i in range(members):
            archive.add_file_from_memory(f"usr/{i}", 0, b"", permission=0o644, mtime=0)


def small_package(path: str) -> None:
    with libarchive.file_writer(path, "pax_restricted", "zstd") as archive:
        info = pkginfo("small")
        archive.add_file_from_memory(".PKGINFO", len(info), info, permission=0o644, mtime=0)
        archive.add_file_from_memory("usr/small", 1, b"x", permission=0o644, mtime=0)


def zeros(size: int):  # noqa: ANN201 - a generator of blocks
    block = bytes(1 << 20)
    while size > 0:
        yield block[: min(size, len(block))]
        size -= len(block)


def database_bomb(directory: str, entries: int, member: int) -> None:
    for kind in ("db", "files"):
        with libarchive.file_writer(os.path.join(directory, f"r.{kind}.tar.gz"), "pax_restricted", "gzip") as a:
            for i in range(entries):
                desc = f"%FILENAME%\nb{i}-1-1-any.pkg.tar.zst\n\n%NAME%\nb{i}\n\n%VERSION%\n1-1\n\n".encode()
                a.add_file_from_memory(f"b{i}-1-1/", 0, b"", filetype=DIRECTORY, permission=0o755, mtime=0)
                a.add_file_from_memory(f"b{i}-1-1/desc", len(desc), desc, permission=0o644, mtime=0)
                if kind == "files":
                    a.add_file_from_memory(f"b{i}-1-1/files", member, zeros(member), permission=0o644, mtime=0)


def run(argv: list[str], cwd: str) -> tuple[int, float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, REPOTOOLS_CACHE_DIR="", LC_ALL="C.UTF-8"))  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return os.waitstatus_to_exitcode(status), took, usage.ru_maxrss / 1024, err.strip().splitlines()[-1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(sys.executable)))
    ap.add_argument("--workdir", default="/tmp/repotools-bombs")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    pkg = os.path.join(args.workdir, "bomb-1-1-any.pkg.tar.zst")
    if not os.path.exists(pkg):
        member_bomb(pkg, 5_000_000)
    db_dir = os.path.join(args.workdir, "db")
    if not os.path.isdir(db_dir):
        os.makedirs(db_dir)
        database_bomb(db_dir, 4, 200 << 20)
        small_package(os.path.join(db_dir, "small-1-1-any.pkg.tar.zst"))
    print(f"package: {os.path.getsize(pkg)} bytes; files database: "
          f"{os.path.getsize(os.path.join(db_dir, 'r.files.tar.gz'))} bytes")  # fmt: skip
    for tool, repo_add in (("repotools", os.path.join(args.bin, "repo-add")), ("pacman", "/usr/bin/repo-add")):
        for case, cwd, argv in (
            ("5,000,000 members", args.workdir, [repo_add, "m.db.tar.gz", os.path.basename(pkg)]),
            ("4 x 200 MiB members", db_dir, [repo_add, "r.db.tar.gz", "small-1-1-any.pkg.tar.zst"]),
        ):
            scratch = os.path.join(args.workdir, "scratch")
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(cwd, scratch, ignore=shutil.ignore_patterns("scratch", "db"))
            rc, took, peak, err = run(argv, scratch)
            print(f"{tool:9}  {case:20}  exit {rc}  {took:6.1f} s  peak RSS {peak:7.1f} MB  {err}")
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
