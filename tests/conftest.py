"""Session fixtures shared by every test module: real packages built once with makepkg, and a
throw-away GnuPG home with signing keys.

``built_packages`` maps a package key (``name-[epoch:]pkgver-pkgrel``, see helpers.BUILDS) to
the package file; treat those files as read-only (copy them into a test's own directory).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    BUILD_USER,
    OTHER_SIGNER,
    SIGNER,
    GpgHome,
    build_packages,
    ensure_build_user,
    remove_build_user,
)


@pytest.fixture(scope="session", autouse=True)
def layout_cache() -> Iterator[Path]:
    """repotools' layout cache (``chunks.LayoutCache``) in a directory of the session, not ~/.cache."""
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
    (in /tmp itself when we are root: TMPDIR may be private)."""
    path = Path(tempfile.mkdtemp(prefix="repotools-build-", dir="/tmp" if os.geteuid() == 0 else None))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


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


from keyfactory import KeyFactory


@pytest.fixture(scope="session")
def keys() -> Iterator[KeyFactory]:
    """Real GnuPG keys and a pacman-like package keyring (see tests/keyfactory.py), built once
    per session: ``keys["alice"].fingerprint``, ``keys.sign(path, "alice")``, ``keys.keyring_home``."""
    factory = KeyFactory()
    try:
        yield factory
    finally:
        factory.close()
