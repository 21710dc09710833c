"""Real packages, built with makepkg from the PKGBUILDs in ``tests/pkgbuilds``.

``BUILDS`` lists them and how each is built; ``build_packages`` runs ``makepkg`` for all of them
(as the unprivileged ``BUILD_USER`` when we are root, in a copy of each PKGBUILD directory under
the session's world-readable build directory: the checkout itself may be unreadable to that
user, under /root say). The session fixture ``built_packages`` (tests/conftest.py) maps each
package key (``name-[epoch:]pkgver-pkgrel``, the names below) to its file.
"""

from __future__ import annotations

import concurrent.futures
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .tools import PATH

__all__ = [
    "BUILDS",
    "BUILD_USER",
    "EPOCH_2",
    "EPOCH_NONE",
    "FOO",
    "FOO_BAR",
    "LINKS",
    "MANY",
    "META",
    "MINIMAL",
    "ODDNAMES",
    "PKGBUILDS_DIR",
    "SOURCE_DATE_EPOCH",
    "SPLIT_A",
    "SPLIT_B",
    "UNICODE",
    "UP_NEW",
    "UP_OLD",
    "PackageBuild",
    "build_packages",
    "ensure_build_user",
    "package_key",
    "remove_build_user",
]

PKGBUILDS_DIR = Path(__file__).resolve().parent.parent / "pkgbuilds"

BUILD_USER = "repotools-builder"
SOURCE_DATE_EPOCH = "1700000000"
PACKAGER = "Repotools Tests <tests@example.invalid>"

# the package keys of the builds
META = "rt-meta-1.2.3.r4.g5678-2"
UP_OLD = "rt-upgrade-1.0-1"
UP_NEW = "rt-upgrade-1.1-1"
EPOCH_2 = "rt-epoch-2:0.5-1"
EPOCH_NONE = "rt-epoch-1.0-1"
SPLIT_A = "rt-split-a-3.1-4"
SPLIT_B = "rt-split-b-3.1-4"
UNICODE = "rt-unicode-0.9-1"
ODDNAMES = "rt-oddnames-1.0-1"
MANY = "rt-many-5.0-1"
LINKS = "rt-links-2.0-1"
FOO = "rt-foo-1.0-1"
FOO_BAR = "rt-foo-bar-0.1-3"
MINIMAL = "rt-minimal-1-1"


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
    PackageBuild("rt-meta", ".pkg.tar.zst", produces=(META,)),
    PackageBuild("rt-upgrade-1.0", ".pkg.tar.gz", produces=(UP_OLD,)),
    PackageBuild("rt-upgrade-1.1", ".pkg.tar.xz", produces=(UP_NEW,)),
    PackageBuild("rt-epoch-2", ".pkg.tar.bz2", produces=(EPOCH_2,)),
    PackageBuild("rt-epoch-1.0", ".pkg.tar.lz", produces=(EPOCH_NONE,)),
    PackageBuild("rt-split", ".pkg.tar", produces=(SPLIT_A, SPLIT_B)),
    PackageBuild("rt-unicode", ".pkg.tar.zst", utf8_locale=True, produces=(UNICODE,)),
    PackageBuild("rt-oddnames", ".pkg.tar.xz", produces=(ODDNAMES,)),
    PackageBuild("rt-many", ".pkg.tar.zst", produces=(MANY,)),
    PackageBuild("rt-links", ".pkg.tar.gz", produces=(LINKS,)),
    PackageBuild("rt-foo", ".pkg.tar.zst", produces=(FOO,)),
    PackageBuild("rt-foo-bar", ".pkg.tar.Z", produces=(FOO_BAR,)),
    PackageBuild("rt-minimal", ".pkg.tar.lz4", produces=(MINIMAL,)),
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
