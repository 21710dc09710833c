"""Shared helpers for repotools' tests (other test modules import these: keep the names stable).

* Real packages: ``BUILDS`` lists the PKGBUILDs in ``tests/pkgbuilds`` and how each is built;
  ``build_packages`` runs ``makepkg`` for all of them (as an unprivileged user when we are root).
* Tools: ``REF_REPO_ADD``/``REF_REPO_REMOVE`` are pacman 6.0.2's scripts, ``OUR_REPO_ADD``/
  ``OUR_REPO_REMOVE`` ours; ``run_tool`` runs one under ``tool_env()`` (``LC_ALL=C.UTF-8``).
* Archives: ``read_archive`` reads any database (or package) archive into memory; ``read_desc``
  parses one entry's ``desc``; ``snapshot``/``compare_dirs`` compare two repository directories.
* GnuPG: ``GpgHome`` is a throw-away ``GNUPGHOME`` with unprotected signing keys.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libarchive
from libarchive.exception import ArchiveError

__all__ = [
    "BUILDS",
    "BUILD_USER",
    "OTHER_SIGNER",
    "OUR_REPO_ADD",
    "OUR_REPO_REMOVE",
    "PKGBUILDS_DIR",
    "REF_REPO_ADD",
    "REF_REPO_REMOVE",
    "SIGNER",
    "SOURCE_DATE_EPOCH",
    "Archive",
    "GpgHome",
    "PackageBuild",
    "ToolResult",
    "build_packages",
    "compare_dirs",
    "ensure_build_user",
    "package_key",
    "parse_desc",
    "read_archive",
    "read_desc",
    "remove_build_user",
    "run_tool",
    "snapshot",
    "tool_env",
]

TESTS_DIR = Path(__file__).resolve().parent
PKGBUILDS_DIR = TESTS_DIR / "pkgbuilds"

REF_REPO_ADD = "/usr/bin/repo-add"
REF_REPO_REMOVE = "/usr/bin/repo-remove"
# the console scripts of the environment running the tests (the project's .venv)
_BIN = Path(sys.executable).parent
OUR_REPO_ADD = str(_BIN / "repo-add")
OUR_REPO_REMOVE = str(_BIN / "repo-remove")

BUILD_USER = "repotools-builder"
# the two keys of the session's GpgHome (conftest.gpg_home)
SIGNER = "Repotools Test Signer <signer@example.invalid>"
OTHER_SIGNER = "Repotools Other Signer <other@example.invalid>"
SOURCE_DATE_EPOCH = "1700000000"
PACKAGER = "Repotools Tests <tests@example.invalid>"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- building real packages ---------------------------------------------------------------


@dataclass(frozen=True)
class PackageBuild:
    """One PKGBUILD directory under ``tests/pkgbuilds`` and how makepkg builds it."""

    directory: str
    pkgext: str
    # True: bsdtar runs in a UTF-8 locale (UTF-8 tar headers). False: as makepkg normally runs
    # it, with LANG=C, so non-ASCII names get binary ("hdrcharset=BINARY") headers.
    utf8_locale: bool = False
    # the package keys (see package_key) this build produces
    produces: tuple[str, ...] = ()


BUILDS: tuple[PackageBuild, ...] = (
    PackageBuild("rt-meta", ".pkg.tar.zst", produces=("rt-meta-1.2.3.r4.g5678-2",)),
    PackageBuild("rt-upgrade-1.0", ".pkg.tar.gz", produces=("rt-upgrade-1.0-1",)),
    PackageBuild("rt-upgrade-1.1", ".pkg.tar.xz", produces=("rt-upgrade-1.1-1",)),
    PackageBuild("rt-epoch-2", ".pkg.tar.bz2", produces=("rt-epoch-2:0.5-1",)),
    PackageBuild("rt-epoch-1.0", ".pkg.tar.lz", produces=("rt-epoch-1.0-1",)),
    PackageBuild("rt-split", ".pkg.tar", produces=("rt-split-a-3.1-4", "rt-split-b-3.1-4")),
    PackageBuild("rt-unicode", ".pkg.tar.zst", utf8_locale=True, produces=("rt-unicode-0.9-1",)),
    PackageBuild("rt-oddnames", ".pkg.tar.xz", produces=("rt-oddnames-1.0-1",)),
    PackageBuild("rt-many", ".pkg.tar.zst", produces=("rt-many-5.0-1",)),
    PackageBuild("rt-links", ".pkg.tar.gz", produces=("rt-links-2.0-1",)),
    PackageBuild("rt-foo", ".pkg.tar.zst", produces=("rt-foo-1.0-1",)),
    PackageBuild("rt-foo-bar", ".pkg.tar.Z", produces=("rt-foo-bar-0.1-3",)),
    PackageBuild("rt-minimal", ".pkg.tar.lz4", produces=("rt-minimal-1-1",)),
)

_PKGEXT = re.compile(r"\.pkg\.tar(\.[A-Za-z0-9]+)?$")


def package_key(filename: str) -> str:
    """``rt-foo-1.0-1-any.pkg.tar.zst`` -> ``rt-foo-1.0-1`` (name-[epoch:]pkgver-pkgrel)."""
    stem = _PKGEXT.sub("", filename)
    return stem.rsplit("-", 1)[0]


def ensure_build_user(home: Path) -> bool:
    """Create the unprivileged build user (home: ``home``) unless it exists; True if created."""
    try:
        pwd.getpwnam(BUILD_USER)
        return False
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--system", "--user-group", "--create-home", "--home-dir", str(home),
         "--shell", "/usr/sbin/nologin", BUILD_USER],
        check=True, capture_output=True,
    )
    return True


def remove_build_user() -> None:
    subprocess.run(["userdel", "-r", BUILD_USER], check=True, capture_output=True)


def _chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def _makepkg(build: PackageBuild, workdir: Path, user: str | None) -> list[Path]:
    startdir = workdir / "build" / build.directory
    pkgdest = workdir / "out" / build.directory
    shutil.copytree(PKGBUILDS_DIR / build.directory, startdir)
    pkgdest.mkdir(parents=True)
    srcdest = workdir / "src"
    env = {
        "PATH": PATH,
        "HOME": str(workdir / "home"),
        "LANG": "C.UTF-8",
        "PKGDEST": str(pkgdest),
        "SRCDEST": str(srcdest),
        "PKGEXT": build.pkgext,
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
        "PACKAGER": PACKAGER,
    }
    if build.utf8_locale:
        env["LC_ALL"] = "C.UTF-8"
    argv = ["makepkg", "-f", "--nodeps", "--noconfirm", "--nocolor"]
    if user is not None:
        _chown_tree(startdir, user)
        _chown_tree(pkgdest, user)
        argv = ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        env = {"PATH": PATH}
    proc = subprocess.run(argv, check=False, cwd=startdir, env=env, capture_output=True, text=True, errors="replace")
    made = sorted(pkgdest.iterdir())
    if proc.returncode != 0 or not made:
        raise RuntimeError(f"makepkg failed for {build.directory} (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return made


def build_packages(workdir: Path, user: str | None, builds: Sequence[PackageBuild] = BUILDS) -> dict[str, Path]:
    """Build every PKGBUILD with makepkg under ``workdir``; return package key -> package file.

    ``user``: run makepkg as this user (needed as root: makepkg refuses to run as root), with
    ``workdir`` made reachable for it. The builds run in parallel, one makepkg each.
    """
    for sub in ("build", "out", "src", "home"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    if user is not None:
        for sub in ("build", "out", "src", "home"):
            _chown_tree(workdir / sub, user)
    packages: dict[str, Path] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for build, files in zip(builds, pool.map(lambda b: _makepkg(b, workdir, user), builds)):
            keys = {package_key(f.name): f for f in files}
            if set(keys) != set(build.produces):
                raise RuntimeError(f"makepkg built {sorted(keys)} for {build.directory}, expected {build.produces}")
            packages.update(keys)
    return packages


# --- running the tools --------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\n[exit {self.returncode}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def tool_env(gnupghome: str | os.PathLike[str] | None = None, **extra: str) -> dict[str, str]:
    """The environment both implementations run in: a UTF-8 locale, no colour, no stray GnuPG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "GNUPG", "GPG", "SOURCE_DATE"))}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", PATH=env.get("PATH") or PATH, NO_COLOR="1")
    env.pop("TERM", None)
    if gnupghome is not None:
        env["GNUPGHOME"] = str(gnupghome)
    env.update(extra)
    return env


def run_tool(argv: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> ToolResult:
    proc = subprocess.run(
        list(argv), check=False, cwd=cwd, env=dict(env) if env is not None else tool_env(),
        capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=300,
    )
    return ToolResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


# --- reading archives ---------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """An archive in memory: its compression filters and members (None for a directory)."""

    filters: tuple[str, ...]
    members: dict[str | bytes, bytes | None] = field(default_factory=dict)

    @property
    def entries(self) -> set[str]:
        """The top-level directories (package entries) of a database."""
        return {str(name).split("/", 1)[0] for name in self.members}


def read_archive(path: str | os.PathLike[str]) -> Archive:
    """Read every member of an archive; raises libarchive's ArchiveError if it is not one."""
    members: dict[str | bytes, bytes | None] = {}
    with libarchive.file_reader(str(path)) as archive:
        for entry in archive:
            name = entry.pathname
            members[name] = None if entry.isdir else b"".join(entry.get_blocks())
        filters = tuple(f.decode() if isinstance(f, bytes) else f for f in archive.filter_names)
    return Archive(filters=filters, members=members)


def parse_desc(data: bytes) -> dict[str, list[str]]:
    """A ``desc`` entry's fields, read as libalpm reads them."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in data.decode("utf-8").split("\n"):
        if current is None:
            if len(line) > 2 and line.startswith("%") and line.endswith("%"):
                current = fields.setdefault(line[1:-1], [])
        elif line == "":
            current = None
        else:
            current.append(line)
    return fields


def read_desc(db_path: str | os.PathLike[str], entry: str) -> dict[str, list[str]]:
    data = read_archive(db_path).members[f"{entry}/desc"]
    assert data is not None
    return parse_desc(data)


# --- comparing repository directories -----------------------------------------------------

_DB_ARCHIVE = re.compile(r"\.(db|files)\.tar(\.[A-Za-z0-9]+)?(\.old)?$")
_DB_SIGNATURE = re.compile(r"\.(db|files)(\.tar(\.[A-Za-z0-9]+)?(\.old)?)?\.sig$")


def snapshot(directory: str | os.PathLike[str]) -> dict[str, tuple[object, ...]]:
    """What a repository directory holds, in a form two implementations can agree on.

    Symlinks by target; database archives by compression and members (names and contents,
    not tar headers); database signatures by existence only (each signing makes new bytes);
    anything else by its SHA-256.
    """
    root = Path(directory)
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("symlink", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir",)
        elif _DB_SIGNATURE.search(path.name):
            out[rel] = ("signature",)
        elif _DB_ARCHIVE.search(path.name):
            try:
                archive = read_archive(path)
            except ArchiveError:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                out[rel] = ("archive", archive.filters, archive.members)
        else:
            out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _show(value: bytes | None) -> str:
    if value is None:
        return "<directory>"
    return value.decode("utf-8", "backslashreplace")


def _archive_diffs(name: str, ref: tuple[object, ...], ours: tuple[object, ...]) -> list[str]:
    import difflib

    diffs = []
    if ref[1] != ours[1]:
        diffs.append(f"{name}: compression {ref[1]} (pacman) != {ours[1]} (repotools)")
    ref_members: dict[str | bytes, bytes | None] = ref[2]  # type: ignore[assignment]
    our_members: dict[str | bytes, bytes | None] = ours[2]  # type: ignore[assignment]
    only_ref = sorted(map(str, set(ref_members) - set(our_members)))
    only_ours = sorted(map(str, set(our_members) - set(ref_members)))
    if only_ref:
        diffs.append(f"{name}: members only in pacman's: {only_ref}")
    if only_ours:
        diffs.append(f"{name}: members only in ours: {only_ours}")
    for member in sorted(set(ref_members) & set(our_members), key=str):
        a, b = ref_members[member], our_members[member]
        if a != b:
            delta = difflib.unified_diff(
                _show(a).splitlines(), _show(b).splitlines(), "pacman", "repotools", lineterm="", n=1
            )
            diffs.append(f"{name}: member {member!s} differs:\n" + "\n".join(list(delta)[:60]))
    return diffs


def compare_dirs(ref_dir: str | os.PathLike[str], our_dir: str | os.PathLike[str],
                 ignore: Iterable[str] = ()) -> list[str]:
    """Every difference between two repository directories (empty: they agree)."""
    ref, ours = snapshot(ref_dir), snapshot(our_dir)
    for name in ignore:
        ref.pop(name, None)
        ours.pop(name, None)
    diffs = []
    for name in sorted(set(ref) | set(ours)):
        if name not in ours:
            diffs.append(f"{name}: only in pacman's directory {ref[name][:2]}")
        elif name not in ref:
            diffs.append(f"{name}: only in ours {ours[name][:2]}")
        elif ref[name][0] == "archive" and ours[name][0] == "archive":
            diffs += _archive_diffs(name, ref[name], ours[name])
        elif ref[name] != ours[name]:
            diffs.append(f"{name}: {ref[name][:2]} (pacman) != {ours[name][:2]} (repotools)")
    return diffs


# --- GnuPG --------------------------------------------------------------------------------


class GpgHome:
    """A throw-away GNUPGHOME (short path: gpg-agent's socket lives in it) with signing keys."""

    def __init__(self, uids: Sequence[str]) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="rt-gpg-"))
        os.chmod(self.path, 0o700)
        self.fingerprints: dict[str, str] = {}
        for uid in uids:
            self.gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
            listing = self.gpg("--with-colons", "--list-secret-keys", uid).stdout
            fprs = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
            self.fingerprints[uid] = fprs[0]

    def gpg(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["gpg", "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", *args],
            env=tool_env(self.path), check=True, capture_output=True, text=True,
            input=input.decode() if input is not None else None,
        )

    def sign(self, path: str | os.PathLike[str], uid: str) -> bytes:
        """A binary detached signature of ``path`` by ``uid``'s key."""
        out = Path(self.path) / "detached.sig"
        self.gpg("--local-user", self.fingerprints[uid], "--detach-sign", "--no-armor", "--output", str(out), str(path))
        data = out.read_bytes()
        out.unlink()
        return data

    def armored_sign(self, path: str | os.PathLike[str], uid: str) -> bytes:
        out = Path(self.path) / "detached.asc"
        self.gpg("--local-user", self.fingerprints[uid], "--detach-sign", "--armor", "--output", str(out), str(path))
        data = out.read_bytes()
        out.unlink()
        return data

    def export(self, uid: str, armor: bool = True) -> bytes:
        args = ["--armor"] if armor else []
        return subprocess.run(
            ["gpg", "--batch", *args, "--export", self.fingerprints[uid]],
            env=tool_env(self.path), check=True, capture_output=True,
        ).stdout

    def verify(self, signature: str | os.PathLike[str], data: str | os.PathLike[str]) -> bool:
        proc = subprocess.run(
            ["gpg", "--batch", "--verify", str(signature), str(data)],
            check=False, env=tool_env(self.path), capture_output=True,
        )
        return proc.returncode == 0

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], check=False, env=tool_env(self.path), capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)
