"""Session fixtures shared by every test directory (``unit/``, ``integration/``, ``support/``):
real packages built once with makepkg, throw-away GnuPG homes with signing keys, the key
factory; and the Hypothesis profiles.

``built_packages`` maps a package key (``name-[epoch:]pkgver-pkgrel``, see support.builds) to
the package file; treat those files as read-only (copy them into a test's own directory).

Hypothesis: with ``CI`` set (CI runs with ``CI=true``) the "ci" profile runs every property test
on the same examples every time (derandomized, no example database, no deadline: a slow machine
is not a failure); otherwise the "dev" profile, Hypothesis' defaults (``--hypothesis-seed``
applies there, not under "ci").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # `support` importable whatever pytest's import mode
    sys.path.insert(0, str(TESTS_DIR))

from support.builds import BUILD_USER, build_packages, ensure_build_user, remove_build_user
from support.gpg import OTHER_SIGNER, SIGNER, GpgHome, UserKeys
from support.keyfactory import KeyFactory
from support.tools import world_readable_tmpdir

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session", autouse=True)
def layout_cache() -> Iterator[Path]:
    """repotools' layout cache (``update.layouts.LayoutCache``) in a directory of the session, not ~/.cache."""
    path = Path(tempfile.mkdtemp(prefix="repotools-cache-"))
    old = os.environ.get("REPOTOOLS_CACHE_DIR")
    os.environ["REPOTOOLS_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("REPOTOOLS_CACHE_DIR", None)
    else:
        os.environ["REPOTOOLS_CACHE_DIR"] = old
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def build_workdir() -> Iterator[Path]:
    """A directory outside pytest's private (0700) tmp tree, so the build user can reach it
    (in /tmp itself when we are root: TMPDIR may be private); the PKGBUILD directories are
    copied into it, as the checkout may be unreadable to the build user."""
    with world_readable_tmpdir() as path:
        yield path


@pytest.fixture(scope="session")
def build_user(build_workdir: Path) -> Iterator[str | None]:
    """As root, an unprivileged user for makepkg (created here, removed at the end if created
    here); as any other user, None: makepkg runs as ourselves."""
    if os.geteuid() != 0:
        yield None
        return
    created = ensure_build_user(build_workdir / "home")
    try:
        yield BUILD_USER
    finally:
        if created:
            remove_build_user()


@pytest.fixture(scope="session")
def built_packages(build_workdir: Path, build_user: str | None) -> dict[str, Path]:
    """Every package of tests/pkgbuilds, built once per session with makepkg."""
    return build_packages(build_workdir, build_user)


@pytest.fixture(scope="session")
def gpg_home() -> Iterator[GpgHome]:
    """A GNUPGHOME with two unprotected ed25519 signing keys: SIGNER and OTHER_SIGNER."""
    home = GpgHome([SIGNER, OTHER_SIGNER])
    try:
        yield home
    finally:
        home.close()


@pytest.fixture(scope="session")
def user_keys() -> Iterator[UserKeys]:
    """A packager's own GnuPG home for ``repo-add -s -k`` (see support.gpg.UserKeys)."""
    keys = UserKeys()
    try:
        yield keys
    finally:
        keys.close()


@pytest.fixture(scope="session")
def keys() -> Iterator[KeyFactory]:
    """Real GnuPG keys and a pacman-like package keyring (see support/keyfactory.py), built once
    per session: ``keys["alice"].fingerprint``, ``keys.sign(path, "alice")``, ``keys.keyring_home``."""
    factory = KeyFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The PID of a process that runs for the whole test (a lock it holds is not stale)."""
    proc = subprocess.Popen(["sleep", "600"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def dead_pid() -> int:
    """The PID of a process that has exited and been reaped (a lock naming it is stale)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory every user can read (not under pytest's private tmp tree), removed afterwards."""
    with world_readable_tmpdir() as path:
        yield path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A new, empty repository directory (modules that need more define their own)."""
    d = tmp_path / "repo"
    d.mkdir()
    return d
