"""pacman 6.0.2 installs what our signature gate accepted, and refuses what we warned about.

The package keyring is the key factory's pacman-key-style keyring (a copy: pacman
writes to it): a local master key, ultimately trusted, certifies alice and bob;
carol is imported but not certified. pacman runs with ``SigLevel = Required
TrustedOnly`` and that keyring as its GPGDir; the database is signed by alice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.builds import FOO, FOO_BAR, MINIMAL
from support.keyfactory import KeyFactory
from support.pacman import Pacman, info_fields
from support.tools import OUR_REPO_ADD, run_tool, tool_env

DB = "rt.db.tar.zst"


@pytest.fixture
def client_keyring(keys: KeyFactory) -> Path:
    return keys.clone_keyring()


def publish(repo: Path, keys: KeyFactory, package: Path, signers: tuple[str, ...], level: str) -> str:
    """Copy a package into the repository, sign it, and add it with our repo-add (database signed by alice)."""
    repo.mkdir(exist_ok=True)
    dest = repo / package.name
    shutil.copyfile(package, dest)
    keys.sign(dest, *signers)
    env = tool_env(keys.signers_home, REPOTOOLS_CONFIG="/dev/null")
    result = run_tool(
        [OUR_REPO_ADD, "-s", "-k", keys["alice"].fingerprint, "--pkg-keyring", str(keys.keyring_home),
         "--siglevel", level, DB, dest.name],
        repo,
        env,
    )
    assert result.returncode == 0, str(result)
    return result.stderr


def trusted_only_pacman(where: Path, repo: Path, gpgdir: Path) -> Pacman:
    pacman = Pacman.create(where, repo, gpgdir)
    text = pacman.config.read_text()
    assert text.count("SigLevel = Required DatabaseRequired\n") == 2
    pacman.config.write_text(text.replace("SigLevel = Required DatabaseRequired\n", "SigLevel = Required TrustedOnly\n"))
    return pacman


def test_pacman_installs_packages_we_accepted_with_one_and_two_trusted_signatures(
    tmp_path: Path, built_packages: dict[str, Path], keys: KeyFactory, client_keyring: Path
) -> None:
    repo = tmp_path / "repo"
    assert publish(repo, keys, built_packages[FOO], ("alice",), "Required") == ""
    assert publish(repo, keys, built_packages[MINIMAL], ("alice", "bob"), "Required:2") == ""
    pacman = trusted_only_pacman(tmp_path / "client", repo, client_keyring)
    pacman.ok("-Sy")
    pacman.ok("-S", "rt-foo", "rt-minimal")
    assert pacman.installed() == {"rt-foo": "1.0-1", "rt-minimal": "1-1"}
    for name in ("rt-foo", "rt-minimal"):
        assert "Signature" in info_fields(pacman.ok("-Qi", name).stdout)["Validated By"]


def test_pacman_refuses_what_we_warned_it_would_refuse(
    tmp_path: Path, built_packages: dict[str, Path], keys: KeyFactory, client_keyring: Path
) -> None:
    repo = tmp_path / "repo"
    warned = publish(repo, keys, built_packages[FOO_BAR], ("alice", "carol"), "Required:1")
    assert "WARNING: pacman clients with TrustedOnly will refuse" in warned
    assert f"signature 2 by {keys['carol'].fingerprint}" in warned
    pacman = trusted_only_pacman(tmp_path / "client", repo, client_keyring)
    pacman.ok("-Sy")
    result = pacman("-S", "--assume-installed", "rt-foo", "rt-foo-bar")
    assert result.returncode == 1, str(result)
    assert "unknown trust" in result.stderr
    assert pacman.installed() == {}
