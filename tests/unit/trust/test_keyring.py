"""The package keyring (``repotools.trust.keyring``): what it knows of each key, as gpg lists it,
read without ever being written to, by root or by a packager who may only read it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.keyfactory import KeyFactory
from support.tools import readable_python

from repotools.errors import KeyringError
from repotools.trust.keyring import Keyring, check_keyring_home, load_keyring
from repotools.trust.signatures import Verdict, check_signatures


def test_keyring_knows_every_key_but_the_stranger_with_gpg_validities(keys: KeyFactory, keyring: Keyring) -> None:
    for key in keys:
        found = keyring.lookup(key.fingerprint)
        if not key.in_keyring:
            assert found == []
            continue
        assert [sk.owner.fingerprint for sk in found] == [key.fingerprint]
        assert found[0].owner.validity == key.validity
        assert found[0].owner.user_id == key.uid
        assert found[0].owner.trusted == key.trusted


def test_a_subkey_counts_as_its_primary_key(keys: KeyFactory, keyring: Keyring) -> None:
    key = keys["subkeyed"]
    assert key.signing_fingerprint != key.fingerprint
    (sub,) = keyring.lookup(key.signing_fingerprint)
    assert sub.owner.fingerprint == key.fingerprint
    (by_id,) = keyring.lookup(key.signing_keyid)
    assert by_id.owner.fingerprint == key.fingerprint


def test_keyring_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="is not a directory"):
        check_keyring_home(str(tmp_path / "absent"))
    with pytest.raises(KeyringError, match="holds no public keys"):
        load_keyring(str(tmp_path))


def test_an_empty_keyring_knows_nothing(keys: KeyFactory, data: Path) -> None:
    home = keys.new_home()
    keys.gpg(home, "--import", input=keys.export_public("alice"))
    keys.gpg(home, "--batch", "--yes", "--delete-keys", keys["alice"].fingerprint)
    kr = load_keyring(str(home))
    assert len(kr) == 0
    (check,) = check_signatures(data, keys.sign(data, "alice"), kr)
    assert check.verdict is Verdict.UNKNOWN_KEY


def test_an_unprivileged_packager_reads_a_root_owned_keyring(keys: KeyFactory, world_readable_dir: Path) -> None:
    """pacman-key's keyring belongs to root and is read-only for packagers: GnuPG must not need to write to it.

    The packager runs repotools from a world-readable copy (``readable_python``): this checkout
    may be unreadable to that user (a clone under /root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another user")  # CI runs as root
    tmp_path = world_readable_dir
    ro = tmp_path / "keyring"
    shutil.copytree(keys.keyring_home, ro, ignore=shutil.ignore_patterns("S.*", "*.lock"))
    for root, _dirs, files in os.walk(ro):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    os.chmod(ro / "private-keys-v1.d", 0o700)
    data = tmp_path / "pkg"
    data.write_bytes(b"data")
    keys.sign(data, "alice", "carol")
    for p in (tmp_path, data, Path(str(data) + ".sig")):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    python, python_env = readable_python(tmp_path / "python")
    code = (
        "import sys\n"
        "from repotools.trust.keyring import load_keyring\n"
        "from repotools.trust.signatures import check_signatures\n"
        "kr = load_keyring(sys.argv[1]); sig = open(sys.argv[2] + '.sig', 'rb').read()\n"
        "print(' '.join(f'{c.verdict.value}:{c.trusted}' for c in check_signatures(sys.argv[2], sig, kr)))"
    )
    before = sorted(p.name for p in ro.rglob("*"))
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", code, str(ro), str(data)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", **python_env},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["good:True", "good:False"]
    assert sorted(p.name for p in ro.rglob("*")) == before


def test_reading_a_keyring_with_an_outdated_trust_database_leaves_it_untouched(keys: KeyFactory) -> None:
    """GnuPG updates an outdated trust database whenever it lists keys, unless told not to: the
    keyring is only read, and the staleness is reported instead."""
    home = keys.clone_keyring()
    keys.gpg(home, "--no-auto-check-trustdb", "--quick-lsign-key", keys["carol"].fingerprint)

    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()}

    before = files()
    keyring = load_keyring(str(home))
    assert keyring.stale
    assert files() == before
    (carol,) = keyring.lookup(keys["carol"].fingerprint)
    assert not carol.owner.trusted  # as the trust database says until it is updated
    assert not load_keyring(str(keys.clone_keyring())).stale
