"""The package keyring of the key factory, read once a module, and package data to sign."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.keyfactory import KeyFactory

from repotools.trust.keyring import Keyring, load_keyring


@pytest.fixture(scope="module")
def keyring(keys: KeyFactory) -> Keyring:
    return load_keyring(str(keys.keyring_home))


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pkg-1-1-any.pkg.tar.zst"
    path.write_bytes(b"package bytes " * 5000)
    yield path
