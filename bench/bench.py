#!/usr/bin/env python3
"""Benchmark repotools' repo-add/repo-remove against pacman's, in the same run.

    .venv/bin/python bench/bench.py [--cases a,b,c,d] [--pacman-sample N | --full] [--json FILE]

Cases (the targets are the project's, printed for the record):

  a  add 1,000 packages to an empty database            target >= 40x faster than pacman
  b  add one package (an upgrade) to a 5,000-entry db    target >= 10x
  c  remove one package from that 5,000-entry database   target >= 10x
  d  add 5,000 packages to an empty database             target >= 100x
  and repotools' peak memory < 200 MB in every case.

Packages are synthetic but shaped like makepkg's: a .pkg.tar.zst (restricted pax)
holding .BUILDINFO, .MTREE (gzipped mtree), .PKGINFO (pkgname, pkgbase, pkgver,
pkgdesc, url, builddate, packager, size, arch, license, depend, ...), then 5-50
files under usr/ with their directories. About 30 % of packages carry one blob of
100 KB-1 MB of half-random content, so hashing counts. Generation is seeded and
cached in the work directory (default /tmp/repotools-bench); a second run reuses
the packages and the 5,000-entry databases.

The 5,000-entry databases of (b) and (c) (both `db` and `files`) are built once
with repotools' repo-add, then copied fresh into each timed run's directory, for
both tools. Only the command is timed (fork to exit, wall clock). Each timed
command runs alone, its input files read once just before (untimed, see warm());
measurements are repeated and the median is reported.

pacman's scripts extract both databases into TMPDIR (15,000 files for a
5,000-entry files database). On a disk that costs seconds of metadata writes and
varies several-fold between runs; on a tmpfs (Arch Linux's /tmp) it does not.
By default pacman gets TMPDIR=/dev/shm (--pacman-tmpdir): the fair, conservative
setting. repotools keeps its temporary files in the repository directory.

pacman's repo-add costs tens of milliseconds per package (a dozen processes
each), so by default (a) and (d) time pacman on a sample of --pacman-sample
packages added to an empty database, and extrapolate linearly from a
one-package run: T(n) = T(1) + (T(N) - T(1)) * (n - 1) / (N - 1). This assumes
a constant cost per package, but pacman's grows with the database (find_pkgentry
globs the whole extracted directory): on a quiet 2-core machine d extrapolated
from 200 gave 170 s and the full run 222 s, a from 200 gave 34 s, the full run
35 s. So the estimate is low for pacman and the ratio conservative. Such rows are
marked "*". --full times pacman on everything (d then takes about 4 minutes);
half of repotools' runs of that case then come before pacman's run and half
after it, so that a machine whose speed drifts over those minutes weighs on
both tools alike.

Memory: "RSS" is the largest resident set of any one process of the command
(os.wait4, the kernel's maxrss over the process and its reaped descendants), the
median over the timed runs. "tree PSS" is the peak of the summed proportional
set size of the whole process tree (the parent, its pool workers and the forked
files-database writer), sampled every 5 ms in one extra, untimed run; PSS
counts shared copy-on-write pages once, so it is the honest total.

After each case both tools' databases are read back (with libarchive, not with
repotools' code) and compared: the same set of entries in `db` and in `files`,
and how many entries' contents differ (reported, not a failure of the bench).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import libarchive
from libarchive import ffi

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DEFAULT_BIN = os.path.join(TOP, ".venv", "bin")
GEN_VERSION = 3  # bump when the generator changes: invalidates cached pools

N_SMALL = 1000  # case a
N_BIG = 5000  # cases b, c, d
DB_NAME = "repo"

TARGETS = {"a": 40.0, "b": 10.0, "c": 10.0, "d": 100.0}
MEMORY_TARGET_MB = 200.0
TITLES = {
    "a": "add 1,000 pkgs to empty db",
    "b": "add 1 pkg (upgrade) to 5,000-entry db",
    "c": "remove 1 pkg from 5,000-entry db",
    "d": "add 5,000 pkgs to empty db",
}

# --------------------------------------------------------------------------------------
# synthetic packages

_SYLL = [
    "ba", "ce", "di", "fo", "gu", "ha", "ji", "ko", "lu", "me", "ni", "po", "qu", "ra", "se", "ti",
    "vo", "wu", "xa", "ye", "zo", "tron", "lex", "mon", "dar", "gen", "pix", "kit", "sync", "core",
]
_PREFIXES = ["", "", "", "", "python-", "lib", "perl-", "ruby-", "haskell-", "r-", "lua-", "xorg-", "ttf-", "qt6-"]
_SUFFIXES = ["", "", "", "", "", "-git", "-utils", "-docs", "-bin", "2", "-devel", "-common"]
_LICENSES = ["GPL-2.0-or-later", "MIT", "Apache-2.0", "BSD-3-Clause", "LGPL-2.1-or-later", "custom"]
_WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "library", "tool", "for", "parsing", "rendering", "network", "storage", "audio", "video", "image", "font", "terminal", "desktop", "plugin", "bindings", "fast", "small", "simple", "secure", "modern", "command", "line", "interface", "daemon", "service", "client", "server", "protocol", "format", "converter"]


@dataclass(frozen=True)
class PkgSpec:
    index: int
    name: str
    version: str
    arch: str
    seed: int

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.arch}.pkg.tar.zst"


def make_specs(n: int, seed: int) -> list[PkgSpec]:
    """n packages with unique names; some names are prefixes of others, as in real repositories."""
    rng = random.Random(seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        if names and rng.random() < 0.08:  # foo, foo-git, foo-docs ...
            base = rng.choice(names)
            name = base + rng.choice(["-git", "-docs", "-devel", "-bin", "-extra", "-cli", "2"])
        else:
            word = "".join(rng.choice(_SYLL) for _ in range(rng.randint(2, 4)))
            name = rng.choice(_PREFIXES) + word + rng.choice(_SUFFIXES)
        if name in seen:
            continue
        seen.add(name)
        names.append(name)
    specs = []
    for i, name in enumerate(names):
        r = rng.random()
        if r < 0.05:
            ver = f"{rng.randint(1, 3)}:{rng.randint(0, 9)}.{rng.randint(0, 30)}-{rng.randint(1, 5)}"
        elif r < 0.12:
            ver = f"r{rng.randint(10, 3000)}.{rng.getrandbits(28):07x}-1"
        else:
            ver = f"{rng.randint(0, 20)}.{rng.randint(0, 50)}.{rng.randint(0, 99)}-{rng.randint(1, 9)}"
        arch = "any" if rng.random() < 0.25 else "x86_64"
        specs.append(PkgSpec(i, name, ver, arch, rng.getrandbits(32)))
    return specs


def upgrade_of(spec: PkgSpec) -> PkgSpec:
    ver, rel = spec.version.rsplit("-", 1)
    return PkgSpec(spec.index, spec.name, f"{ver}-{int(rel) + 1}", spec.arch, spec.seed ^ 0x5A5A5A5A)


_CORPUS_RNG = random.Random(12345)
_CORPUS = "\n".join(
    " ".join(_CORPUS_RNG.choice(_WORDS) for _ in range(_CORPUS_RNG.randint(4, 14))) for _ in range(3000)
).encode()


def _text(rng: random.Random, nbytes: int) -> bytes:
    """nbytes of English-like text: a random slice of a fixed corpus."""
    nbytes = min(nbytes, len(_CORPUS) // 2)
    start = rng.randrange(len(_CORPUS) - nbytes)
    return _CORPUS[start : start + nbytes]


def _blob(rng: random.Random, nbytes: int) -> bytes:
    """Half random bytes, half repetitive: zstd gets it to roughly 55-60 %."""
    half = nbytes // 2
    rep = rng.randbytes(4096) * (half // 4096 + 1)
    return rng.randbytes(half) + rep[: nbytes - half]


def _members(spec: PkgSpec, all_names: list[str]) -> list[tuple[str, bytes | None, int]]:
    """(path, data or None for a directory, mode) of one package, makepkg's order."""
    rng = random.Random(spec.seed)
    n = spec.name
    files: dict[str, tuple[bytes, int]] = {}
    nfiles = rng.randint(5, 50)
    layout = [
        (f"usr/bin/{n}", 0o755),
        (f"usr/share/doc/{n}/README", 0o644),
        (f"usr/share/licenses/{n}/LICENSE", 0o644),
        (f"usr/share/man/man1/{n}.1.gz", 0o644),
    ]
    for i in range(nfiles):
        if i < len(layout):
            path, mode = layout[i]
        else:
            d = rng.choice([f"usr/lib/{n}", f"usr/lib/{n}/modules", f"usr/share/{n}", f"usr/share/{n}/data",
                            f"usr/include/{n}", "usr/share/locale/de/LC_MESSAGES"])
            path, mode = f"{d}/{''.join(rng.choice(_SYLL) for _ in range(3))}{i}.{rng.choice(['so', 'py', 'h', 'dat', 'mo', 'txt'])}", 0o644
        if path.endswith(".so") or mode == 0o755:
            data = rng.randbytes(rng.randint(200, 6000))
        else:
            data = _text(rng, rng.randint(100, 8000))
        files[path] = (data, mode)
    if rng.random() < 0.30:
        files[f"usr/lib/{n}/lib{n}.so.1"] = (_blob(rng, rng.randint(100_000, 1_000_000)), 0o755)
    isize = sum(len(d) for d, _ in files.values())
    dirs: set[str] = set()
    for p in files:
        parts = p.split("/")[:-1]
        for k in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:k]))

    builddate = 1_700_000_000 + rng.randint(0, 30_000_000)
    packager = "Bench Packager <bench@example.org>"
    deps = [d for d in rng.sample(all_names, min(len(all_names), rng.randint(0, 6))) if d != n]
    pkginfo = [
        "# Generated by makepkg 6.0.2",
        "# using fakeroot version 1.31",
        f"pkgname = {n}",
        f"pkgbase = {n}",
        f"pkgver = {spec.version}",
        f"pkgdesc = {' '.join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))}",
        f"url = https://example.org/{n}",
        f"builddate = {builddate}",
        f"packager = {packager}",
        f"size = {isize}",
        f"arch = {spec.arch}",
    ]
    pkginfo += [f"license = {lic}" for lic in rng.sample(_LICENSES, rng.randint(1, 2))]
    for i, d in enumerate(deps):
        pkginfo.append(f"depend = {d}>=1.0" if i % 3 == 1 else f"depend = {d}")
    if rng.random() < 0.3:
        pkginfo.append(f"optdepend = {rng.choice(all_names)}: {rng.choice(_WORDS)} support")
    if rng.random() < 0.2:
        pkginfo.append(f"provides = {n}-lib={spec.version.split('-')[0]}")
    pkginfo += ["makedepend = cmake", "makedepend = ninja"]
    buildinfo = [
        "format = 2", f"pkgname = {n}", f"pkgbase = {n}", f"pkgver = {spec.version}", f"pkgarch = {spec.arch}",
        f"pkgbuild_sha256sum = {hashlib.sha256(n.encode()).hexdigest()}", f"packager = {packager}",
        f"builddate = {builddate}", "builddir = /build", "startdir = /startdir", "buildtool = devtools",
        "buildtoolver = 1:1.0.0-1-any", "buildenv = !distcc", "buildenv = color", "buildenv = !ccache",
        "buildenv = check", "buildenv = !sign", "options = strip", "options = docs", "options = !libtool",
        "options = zipman", "options = purge", "options = debug", "options = lto",
    ]
    buildinfo += [f"installed = {d}-1.0-1-x86_64" for d in sorted(rng.sample(all_names, min(40, len(all_names))))]
    mtree = ["#mtree", "/set type=file uid=0 gid=0 mode=644"]
    for p in sorted(dirs):
        mtree.append(f"./{p} time={builddate}.0 mode=755 type=dir")
    for p, (data, mode) in sorted(files.items()):
        mtree.append(f"./{p} time={builddate}.0 mode={mode:o} size={len(data)} "
                     f"sha256digest={hashlib.sha256(data).hexdigest()}")
    mtree_gz = gzip.compress(("\n".join(mtree) + "\n").encode(), mtime=0)

    out: list[tuple[str, bytes | None, int]] = [
        (".BUILDINFO", ("\n".join(buildinfo) + "\n").encode(), 0o644),
        (".MTREE", mtree_gz, 0o644),
        (".PKGINFO", ("\n".join(pkginfo) + "\n").encode(), 0o644),
    ]
    entries = [(d, None, 0o755) for d in dirs] + [(p, d, m) for p, (d, m) in files.items()]
    out += sorted(entries, key=lambda e: e[0])
    return out


def write_package(args: tuple[PkgSpec, list[str], str]) -> str:
    spec, all_names, directory = args
    path = os.path.join(directory, spec.filename)
    tmp = path + ".part"
    mtime = 1_700_000_000
    with libarchive.file_writer(tmp, "pax_restricted", "zstd") as archive:
        for name, data, mode in _members(spec, all_names):
            if data is None:
                archive.add_file_from_memory(name, 0, b"", filetype=0o040000, permission=mode, mtime=mtime,
                                             uid=0, gid=0, uname="root", gname="root")
            else:
                archive.add_file_from_memory(name, len(data), data, permission=mode, mtime=mtime,
                                             uid=0, gid=0, uname="root", gname="root")
    os.replace(tmp, path)
    return path


@dataclass
class Pool:
    directory: str
    paths: list[str]  # N_BIG packages, in generation order
    upgrade: str  # a newer version of one package of paths, for case b
    upgraded_name: str
    removed_name: str  # for case c


def prepare_pool(workdir: str, seed: int, jobs: int) -> Pool:
    directory = os.path.join(workdir, "pool")
    manifest = os.path.join(directory, "manifest.json")
    key = {"gen": GEN_VERSION, "seed": seed, "n": N_BIG}
    if os.path.isfile(manifest):
        with open(manifest) as f:
            m = json.load(f)
        if m.get("key") == key and all(os.path.isfile(p) for p in m["paths"] + [m["upgrade"]]):
            return Pool(directory, m["paths"], m["upgrade"], m["upgraded_name"], m["removed_name"])
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(os.path.join(directory, "extra"))
    specs = make_specs(N_BIG, seed)
    names = [s.name for s in specs]
    rng = random.Random(seed + 1)
    upgraded = specs[rng.randrange(N_BIG)]
    removed = specs[rng.randrange(N_BIG)]
    up = upgrade_of(upgraded)
    t0 = time.perf_counter()
    log(f"generating {N_BIG} synthetic packages in {directory} ({jobs} processes)...")
    with ProcessPoolExecutor(jobs) as ex:
        paths = list(ex.map(write_package, [(s, names, directory) for s in specs], chunksize=32))
    up_path = write_package((up, names, os.path.join(directory, "extra")))
    size = sum(os.path.getsize(p) for p in paths)
    log(f"  done in {time.perf_counter() - t0:.1f} s: {size / 1e6:.0f} MB, "
        f"{size / N_BIG / 1e3:.0f} KB per package on average")
    with open(manifest, "w") as f:
        json.dump({"key": key, "paths": paths, "upgrade": up_path, "upgraded_name": upgraded.name,
                   "removed_name": removed.name}, f)
    return Pool(directory, paths, up_path, upgraded.name, removed.name)


# --------------------------------------------------------------------------------------
# running and measuring commands


@dataclass
class Run:
    seconds: float
    maxrss_mb: float
    rc: int
    cpu_s: float = 0.0  # user + system of the process tree (reaped descendants included)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _tree_pids(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = sum(_pss_kb(p) for p in _tree_pids(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self.stop.wait(self.interval)


def run_cmd(argv: list[str], cwd: str, logfile: str, sample_pss: bool = False,
            env: dict[str, str] | None = None) -> tuple[Run, float]:
    """Run one command; return its wall time, max RSS and exit code (and tree PSS peak, MB)."""
    with open(logfile, "ab") as out:
        out.write(("$ " + " ".join(argv[:6]) + (" ..." if len(argv) > 6 else "") + "\n").encode())
        out.flush()
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        sampler = None
        if sample_pss:
            sampler = PssSampler(p.pid)
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
    pss = sampler.peak_kb / 1024 if sampler else 0.0
    return Run(t1 - t0, ru.ru_maxrss / 1024, p.returncode, ru.ru_utime + ru.ru_stime), pss


def copy_db(src: str, dst: str) -> None:
    """Copy a repository's database files (regular files and the .db/.files symlinks)."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.islink(s):
            os.symlink(os.readlink(s), d)
        elif os.path.isfile(s):
            shutil.copy2(s, d)


def read_db(path: str) -> dict[str, dict[str, bytes]]:
    """A database archive as {entry: {file: contents}} (independent of repotools)."""
    entries: dict[str, dict[str, bytes]] = {}
    with libarchive.file_reader(path) as archive:
        for entry in archive:
            name = entry.pathname.rstrip("/")
            top, _, rest = name.partition("/")
            d = entries.setdefault(top, {})
            if rest and entry.isfile:
                d[rest] = b"".join(entry.get_blocks())
    return entries


def compare(dir_a: str, dir_b: str, ext: str) -> dict[str, object]:
    """Compare the db and files databases of two repositories."""
    result: dict[str, object] = {}
    ok = True
    for kind in ("db", "files"):
        a = read_db(os.path.join(dir_a, f"{DB_NAME}.{kind}{ext}"))
        b = read_db(os.path.join(dir_b, f"{DB_NAME}.{kind}{ext}"))
        same_set = set(a) == set(b)
        ok &= same_set
        differ = sum(1 for k in set(a) & set(b) if a[k] != b[k])
        result[kind] = {
            "entries_pacman": len(a), "entries_repotools": len(b), "same_entries": same_set,
            "only_pacman": sorted(set(a) - set(b))[:5], "only_repotools": sorted(set(b) - set(a))[:5],
            "entries_with_different_contents": differ,
        }
    result["ok"] = ok
    return result


# --------------------------------------------------------------------------------------
# the cases


@dataclass
class CaseResult:
    case: str
    title: str
    pacman_s: float | None = None
    pacman_note: str = ""  # "", "extrapolated from N", "not run"
    pacman_runs: list[float] = field(default_factory=list)
    pacman_cpu_s: float | None = None  # user + system of pacman's whole process tree (median / extrapolated)
    repotools_s: float = 0.0
    repotools_runs: list[float] = field(default_factory=list)
    repotools_cpu_s: float = 0.0  # median CPU time (user + system, whole process tree)
    repotools_rss_mb: float = 0.0
    repotools_tree_pss_mb: float = 0.0
    ratio: float | None = None
    cpu_ratio: float | None = None  # pacman CPU / repotools CPU: less sensitive to a busy machine
    target: float = 0.0
    passed: bool | None = None
    check: dict[str, object] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = os.path.abspath(args.workdir)
        self.ext = args.ext
        self.ours = os.path.join(args.repotools_bin, "repo-add")
        self.ours_rm = os.path.join(args.repotools_bin, "repo-remove")
        self.logfile = os.path.join(self.workdir, "commands.log")
        self.runs = os.path.join(self.workdir, "runs")
        # repotools' layout cache (REPOTOOLS_CACHE_DIR): the base databases' layouts live beside them,
        # so that b and c measure what a maintainer's next update finds; a and d runs get their own
        self.layouts = os.path.join(self.workdir, f"layouts{self.ext}")
        self._counter = 0
        os.makedirs(self.workdir, exist_ok=True)
        open(self.logfile, "w").close()
        self.pool = prepare_pool(self.workdir, args.seed, args.gen_jobs)
        self.base = ""
        self._rss: dict[str, list[float]] = {}
        self._cpu: dict[str, list[float]] = {}
        self._sample_cache: dict[int, tuple[Run, Run, str]] = {}

    def db_arg(self, d: str) -> str:
        return os.path.join(d, f"{DB_NAME}.db{self.ext}")

    def fresh_dir(self, label: str, with_base: bool) -> str:
        self._counter += 1
        d = os.path.join(self.runs, f"{self._counter:03d}-{label}")
        shutil.rmtree(d, ignore_errors=True)
        if with_base:
            copy_db(self.base, d)
        else:
            os.makedirs(d)
        return d

    def timed(self, label: str, tool: str, argv: list[str], with_base: bool,
              sample_pss: bool = False) -> tuple[Run, float, str]:
        d = self.fresh_dir(label, with_base)
        argv = [a.replace("{DB}", self.db_arg(d)) for a in argv]
        warm(argv)
        env = None
        if tool == "pacman" and self.args.pacman_tmpdir:
            env = dict(os.environ, TMPDIR=self.args.pacman_tmpdir)
        if tool == "repotools":
            env = dict(os.environ, REPOTOOLS_CACHE_DIR=self.layouts if with_base else d + "-layouts")
        run, pss = run_cmd(argv, d, self.logfile, sample_pss, env)
        if run.rc != 0:
            raise SystemExit(f"{tool} failed (exit {run.rc}) in {d}; see {self.logfile}")
        return run, pss, d

    def base_layouts_present(self, base: str) -> bool:
        """Whether repotools' layout cache holds the layouts of both base archives (always true
        for the compressions repotools writes in one piece)."""
        if self.ext not in (".tar.gz", ".tar.zst", ".tar"):
            return True
        from repotools.archive._lib import WRITER
        from repotools.update.layouts import LayoutCache

        cache = LayoutCache(self.layouts)
        compression = {".tar.gz": "gzip", ".tar.zst": "zstd", ".tar": None}[self.ext]
        for kind in ("db", "files"):
            with open(os.path.join(base, f"{DB_NAME}.{kind}{self.ext}"), "rb") as f:
                data = f.read()
            if cache.load(hashlib.sha256(data).hexdigest(), compression, len(data), WRITER) is None:
                return False
        return True

    def prepare_base(self) -> None:
        """The 5,000-entry databases, built once with repotools (cached, with their layouts)."""
        base = os.path.join(self.workdir, f"base-{N_BIG}{self.ext}")
        stamp = os.path.join(base, "stamp.json")
        key = {"pool": os.path.getmtime(os.path.join(self.pool.directory, "manifest.json")), "bin": self.ours}
        if os.path.isfile(stamp):
            with open(stamp) as f:
                if json.load(f) == key and self.base_layouts_present(base):
                    self.base = base
                    return
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        log(f"building the {N_BIG}-entry base databases with repotools in {base}...")
        t0 = time.perf_counter()
        subprocess.run([self.ours, "-q", os.path.join(base, f"{DB_NAME}.db{self.ext}"), *self.pool.paths],
                       check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, REPOTOOLS_CACHE_DIR=self.layouts))
        for name in os.listdir(base):
            if name.endswith(".old"):
                os.unlink(os.path.join(base, name))
        with open(stamp, "w") as f:
            json.dump(key, f)
        log(f"  done in {time.perf_counter() - t0:.1f} s")
        if not self.base_layouts_present(base):
            raise SystemExit(f"repotools stored no layout of the base databases in {self.layouts}")
        self.base = base

    def ours_once(self, res: CaseResult, label: str, argv: list[str], with_base: bool) -> str:
        run, _, d = self.timed(f"{label}-repotools", "repotools", argv, with_base)
        res.repotools_runs.append(run.seconds)
        self._rss.setdefault(res.case, []).append(run.maxrss_mb)
        self._cpu.setdefault(res.case, []).append(run.cpu_s)
        return d

    def ours_summary(self, res: CaseResult, label: str, argv: list[str], with_base: bool) -> None:
        """Median of the timed runs, and one more (untimed) run sampling the tree's PSS."""
        _, pss, d = self.timed(f"{label}-repotools-pss", "repotools", argv, with_base, sample_pss=True)
        shutil.rmtree(d)
        res.repotools_s = statistics.median(res.repotools_runs)
        res.repotools_rss_mb = statistics.median(self._rss[res.case])
        res.repotools_cpu_s = statistics.median(self._cpu[res.case])
        res.repotools_tree_pss_mb = pss

    def measure_ours(self, res: CaseResult, label: str, argv: list[str], with_base: bool, reps: int,
                     last: str = "") -> str:
        """``reps`` timed runs; the directory of the last one (``last``, the one before, is removed)."""
        for _ in range(reps):
            if last:
                shutil.rmtree(last)
            last = self.ours_once(res, label, argv, with_base)
        return last

    def finish(self, res: CaseResult) -> CaseResult:
        res.target = TARGETS[res.case]
        if res.pacman_s:
            res.ratio = res.pacman_s / res.repotools_s
            if res.pacman_cpu_s and res.repotools_cpu_s:
                res.cpu_ratio = res.pacman_cpu_s / res.repotools_cpu_s
            res.passed = res.ratio >= res.target and max(res.repotools_tree_pss_mb, res.repotools_rss_mb) < MEMORY_TARGET_MB
        return res

    # a and d -------------------------------------------------------------------------
    def bulk_add(self, case: str, n: int) -> CaseResult:
        res = CaseResult(case, TITLES[case])
        paths = self.pool.paths[:n]
        reps = self.args.repeat if n <= N_SMALL else self.args.repeat_big
        sample = n if self.args.full else min(n, self.args.pacman_sample)
        ours = [self.ours, "{DB}", *paths]
        # a full pacman run takes minutes, over which this machine's speed drifts: half of
        # repotools' runs come before it and half after, so that the drift weighs on both alike
        before = (reps + 1) // 2 if sample == n else reps
        log(f"[{case}] repotools: add {n} packages to an empty database, {before} of {reps} runs...")
        ours_dir = self.measure_ours(res, case, ours, False, before)

        if sample <= 0:
            res.pacman_note = "not run"
        elif sample == n:
            log(f"[{case}] pacman: add {n} packages to an empty database (full run)...")
            run, _, pac_dir = self.timed(f"{case}-pacman", "pacman", ["/usr/bin/repo-add", "{DB}", *paths], False)
            res.pacman_runs = [run.seconds]
            res.pacman_s = run.seconds
            res.pacman_cpu_s = run.cpu_s
            log(f"[{case}] repotools: the other {reps - before} runs...")
            ours_dir = self.measure_ours(res, case, ours, False, reps - before, ours_dir)
            res.check = compare(pac_dir, ours_dir, self.ext)
        else:
            big, one, pac_dir = self.pacman_sample_runs(sample)
            t_sample, t_one = big.seconds, one.seconds
            res.pacman_runs = [t_one, t_sample]
            res.pacman_s = t_one + (t_sample - t_one) * (n - 1) / (sample - 1)
            res.pacman_cpu_s = one.cpu_s + (big.cpu_s - one.cpu_s) * (n - 1) / (sample - 1)
            res.pacman_note = f"extrapolated from {sample}"
            log(f"[{case}]   pacman T(1) = {t_one:.2f} s, T({sample}) = {t_sample:.2f} s -> "
                f"T({n}) ~ {res.pacman_s:.1f} s (linear extrapolation)")
            # same packages through repotools, for the comparison
            _, _, ours_sample = self.timed(f"{case}-repotools-sample", "repotools",
                                           [self.ours, "{DB}", *self.pool.paths[:sample]], False)
            res.check = compare(pac_dir, ours_sample, self.ext)
        self.ours_summary(res, case, ours, False)
        log(f"[{case}]   repotools median {res.repotools_s:.3f} s (runs: {_fmt(res.repotools_runs)}), "
            f"CPU {res.repotools_cpu_s:.2f} s, RSS {res.repotools_rss_mb:.0f} MB, tree PSS {res.repotools_tree_pss_mb:.0f} MB")
        if res.pacman_runs:
            log(f"[{case}]   pacman {res.pacman_s:.1f} s{' (' + res.pacman_note + ')' if res.pacman_note else ''}")
        return self.finish(res)

    def pacman_sample_runs(self, sample: int) -> tuple[Run, Run, str]:
        """pacman adding the first `sample` packages, and one package, to an empty db (shared by a and d)."""
        if sample not in self._sample_cache:
            log(f"[a/d] pacman: add {sample} packages (sample) and 1 package to an empty database...")
            ones: list[Run] = []
            for _ in range(self.args.pacman_repeat):
                run, _, d = self.timed("pacman-one", "pacman", ["/usr/bin/repo-add", "{DB}", self.pool.paths[0]], False)
                ones.append(run)
                shutil.rmtree(d)
            one = Run(statistics.median(r.seconds for r in ones), 0.0, 0, statistics.median(r.cpu_s for r in ones))
            run, _, d = self.timed(f"pacman-sample{sample}", "pacman",
                                   ["/usr/bin/repo-add", "{DB}", *self.pool.paths[:sample]], False)
            self._sample_cache[sample] = (run, one, d)
        return self._sample_cache[sample]

    # b and c -------------------------------------------------------------------------
    def small_change(self, case: str) -> CaseResult:
        res = CaseResult(case, TITLES[case])
        self.prepare_base()
        if case == "b":
            ours = [self.ours, "{DB}", self.pool.upgrade]
            pacman = ["/usr/bin/repo-add", "{DB}", self.pool.upgrade]
            what = f"upgrade {os.path.basename(self.pool.upgrade)}"
        else:
            ours = [self.ours_rm, "{DB}", self.pool.removed_name]
            pacman = ["/usr/bin/repo-remove", "{DB}", self.pool.removed_name]
            what = f"remove {self.pool.removed_name}"
        reps = self.args.repeat
        log(f"[{case}] {what} in a {N_BIG}-entry database: repotools x{reps}, pacman x{self.args.pacman_repeat}...")
        pac_dir = ours_dir = ""
        pac_cpu: list[float] = []
        # interleave the two tools so that drifting machine load hits both alike
        for i in range(max(reps, self.args.pacman_repeat)):
            if i < self.args.pacman_repeat:
                run, _, d = self.timed(f"{case}-pacman", "pacman", pacman, True)
                res.pacman_runs.append(run.seconds)
                pac_cpu.append(run.cpu_s)
                if pac_dir:
                    shutil.rmtree(pac_dir)
                pac_dir = d
            if i < reps:
                d = self.ours_once(res, case, ours, True)
                if ours_dir:
                    shutil.rmtree(ours_dir)
                ours_dir = d
        self.ours_summary(res, case, ours, True)
        res.pacman_s = statistics.median(res.pacman_runs)
        res.pacman_cpu_s = statistics.median(pac_cpu)
        log(f"[{case}]   repotools median {res.repotools_s:.3f} s (runs: {_fmt(res.repotools_runs)}), "
            f"CPU {res.repotools_cpu_s:.2f} s; "
            f"pacman median {res.pacman_s:.2f} s (runs: {_fmt(res.pacman_runs)})")
        res.check = compare(pac_dir, ours_dir, self.ext)
        return self.finish(res)


def warm(paths: list[str]) -> None:
    """Read the command's input files once, untimed, so that every timed run finds them in the
    page cache. This machine's page cache loses files within minutes (a d run right after
    dropping it: 4.56 s; warm: 3.24-3.44 s), and pacman's script reads each package three times
    in full and twice in part where repotools reads it once: a cold cache would be paid by
    repotools alone."""
    buf = bytearray(1 << 20)
    for p in paths:
        if os.path.isfile(p):
            with open(p, "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass


def _fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.3f}" for x in xs)


def table(results: list[CaseResult]) -> str:
    head = ["case", "pacman s", "repotools s", "ratio", "target", "pass", "RSS MB", "tree PSS MB",
            "CPU s pacman/ours", "CPU ratio", "same entries"]
    rows = []
    for r in results:
        pac = "-" if r.pacman_s is None else f"{r.pacman_s:.2f}" + ("*" if r.pacman_note.startswith("extra") else "")
        check = r.check
        same = "-" if not check else ("yes" if check.get("ok") else "NO")
        if check and check.get("ok"):
            diff = sum(int(check[k]["entries_with_different_contents"]) for k in ("db", "files"))  # type: ignore[index]
            if diff:
                same += f" ({diff} differ)"
        rows.append([
            f"{r.case}: {r.title}", pac, f"{r.repotools_s:.3f}",
            "-" if r.ratio is None else f"{r.ratio:.1f}x", f">={r.target:g}x",
            {True: "PASS", False: "FAIL", None: "-"}[r.passed],
            f"{r.repotools_rss_mb:.0f}", f"{r.repotools_tree_pss_mb:.0f}",
            ("-" if r.pacman_cpu_s is None else f"{r.pacman_cpu_s:.1f}") + f"/{r.repotools_cpu_s:.2f}",
            "-" if r.cpu_ratio is None else f"{r.cpu_ratio:.1f}x", same,
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    if any(r.pacman_note.startswith("extra") for r in results):
        notes = sorted({r.pacman_note for r in results if r.pacman_note.startswith("extra")})
        out.append(f"* pacman time extrapolated linearly ({', '.join(notes)} packages and from 1; "
                   "low for pacman, so the ratio is conservative; --full measures it instead).")
    out.append(f"pass = ratio >= target and repotools' memory (RSS and tree PSS) < {MEMORY_TARGET_MB:g} MB. "
               "Times are medians of the runs.")
    out.append("CPU s = user + system time of the whole process tree (for information: with 2 workers, "
               "repotools trades CPU for wall time; a busy machine inflates wall times, less so CPU).")
    return "\n".join(out)


def environment(args: argparse.Namespace) -> dict[str, object]:
    def ver(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, check=False, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "pacman_repo_add": ver(["/usr/bin/repo-add", "--version"]),
        "repotools": ver([os.path.join(args.repotools_bin, "repo-add"), "--version"]),
        "libarchive": ffi.version_number(),
        "db_extension": args.ext,
        "pacman_tmpdir": args.pacman_tmpdir or os.environ.get("TMPDIR", "/tmp"),
    }


def _default_tmpdir() -> str:
    """/dev/shm if it is a writable tmpfs: pacman's repo-add extracts both databases into TMPDIR, and on a
    disk a 5,000-entry files database (15,000 files) costs it seconds of metadata writes and varies a lot."""
    try:
        with open("/proc/mounts") as f:
            tmpfs = any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f)
    except OSError:
        return ""
    return "/dev/shm" if tmpfs and os.access("/dev/shm", os.W_OK) else ""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--cases", default="a,b,c,d", help="comma-separated subset of a,b,c,d (default: all)")
    p.add_argument("--pacman-sample", type=int, default=200, metavar="N",
                   help="for a and d, time pacman on N packages and extrapolate (default 200; 0: skip pacman)")
    p.add_argument("--full", action="store_true", help="time pacman on all packages in a and d (slow: minutes)")
    p.add_argument("--repeat", type=int, default=5, metavar="N", help="repotools runs per case, median taken (default 5)")
    p.add_argument("--repeat-big", type=int, default=3, metavar="N", help="repotools runs for case d (default 3)")
    p.add_argument("--pacman-repeat", type=int, default=3, metavar="N",
                   help="pacman runs for b and c and for the one-package run (default 3)")
    p.add_argument("--workdir", default=os.environ.get("REPOTOOLS_BENCH_DIR", "/tmp/repotools-bench"),
                   help="where packages (cached) and runs go (default /tmp/repotools-bench)")
    p.add_argument("--repotools-bin", default=DEFAULT_BIN, help=f"directory of repotools' repo-add (default {DEFAULT_BIN})")
    p.add_argument("--pacman-tmpdir", default=_default_tmpdir(), metavar="DIR",
                   help="TMPDIR for pacman's scripts, which extract the databases there (default: /dev/shm when "
                        "it is a tmpfs, as /tmp is on Arch Linux; '' to inherit TMPDIR)")
    p.add_argument("--ext", default=".tar.gz", choices=[".tar.gz", ".tar.zst", ".tar.xz", ".tar"],
                   help="database compression suffix (default .tar.gz)")
    p.add_argument("--seed", type=int, default=1, help="package generator seed (default 1)")
    p.add_argument("--gen-jobs", type=int, default=os.cpu_count() or 1, help="processes generating packages")
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' for stdout)")
    args = p.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not cases or any(c not in TARGETS for c in cases):
        p.error("--cases takes a comma-separated subset of a,b,c,d")
    if args.pacman_sample == 1:
        p.error("--pacman-sample must be 0 or at least 2")
    for tool in ("/usr/bin/repo-add", "/usr/bin/repo-remove", os.path.join(args.repotools_bin, "repo-add")):
        if not os.access(tool, os.X_OK):
            p.error(f"{tool} not found")

    # byte-compile repotools as pip does for installed packages (an editable install does not, and
    # PYTHONDONTWRITEBYTECODE keeps Python from doing it): what a user's second run finds
    python = os.path.join(args.repotools_bin, "python")
    if os.access(python, os.X_OK):
        subprocess.run([python, "-m", "compileall", "-q", os.path.join(TOP, "repotools")], check=False,
                       stdout=subprocess.DEVNULL)
    env = environment(args)
    log(f"machine: {env['cpus']} CPUs, load average {env['loadavg_at_start']}; {env['pacman_repo_add']}; "
        f"{env['repotools']}; databases *.db{args.ext}; pacman's TMPDIR {env['pacman_tmpdir']}")
    bench = Bench(args)
    shutil.rmtree(bench.runs, ignore_errors=True)
    results = []
    t0 = time.perf_counter()
    for case in sorted(cases):
        if case == "a":
            results.append(bench.bulk_add("a", N_SMALL))
        elif case == "d":
            results.append(bench.bulk_add("d", N_BIG))
        else:
            results.append(bench.small_change(case))
        chk = results[-1].check
        if chk and not chk.get("ok"):
            log(f"[{case}] WARNING: the two databases hold different entries: {json.dumps(chk)}")
    env["loadavg_at_end"] = os.getloadavg()
    env["total_seconds"] = round(time.perf_counter() - t0, 1)
    if not args.keep:
        shutil.rmtree(bench.runs, ignore_errors=True)

    print()
    print(table(results))
    print(f"\npacman's TMPDIR: {env['pacman_tmpdir']}; {env['cpus']} CPUs; load average {env['loadavg_at_start'][0]:.2f} at start, "
          f"{env['loadavg_at_end'][0]:.2f} at end; {env['total_seconds']} s in all; command log: {bench.logfile}")
    if args.json:
        data = json.dumps({"environment": env, "results": [asdict(r) for r in results]}, indent=2)
        if args.json == "-":
            print(data)
        else:
            with open(args.json, "w") as f:
                f.write(data + "\n")
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
