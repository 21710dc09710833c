"""``repo-add -s -k KEY`` (and ``GPGKEY``) signs with that key or fails, with real gpg keys.

python-gnupg's ``keyid=`` is gpg's ``--default-key``, which gpg silently replaces by its
default key when the key asked for is unusable (expired, revoked): the database came out
signed by a key nobody asked for, and the run said it was fine. Pinned here: the signer is
the key asked for (or the run fails, naming the key, and changes nothing), a key value gpg
would read as an option is refused before gpg sees it, and without a key gpg's default key
signs as before. The keys: support.gpg.UserKeys (the session fixture ``user_keys``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gpg import DEFAULT, EXPIRED, SECOND, SUBKEYED, UserKeys
from support.packages import build_package
from support.snapshots import snapshot
from support.tools import REPO_ADD, Result, add_in_process, base_env, cli


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """repo.db.tar.gz holding foo-1.0-1 (unsigned), and bar-1.0-1 beside it to add."""
    d = tmp_path / "repo"
    d.mkdir()
    add_in_process(d, build_package(d, "foo"))
    build_package(d, "bar")
    return d


def add(repo: Path, user_keys: UserKeys, key: str | None, how: str = "-k", *extra: str) -> Result:
    env = base_env(GNUPGHOME=str(user_keys.home.path))
    args = ["-s", *extra, "repo.db.tar.gz", "bar-1.0-1-x86_64.pkg.tar.zst"]
    if key is not None and how == "-k":
        args[1:1] = ["-k", key]
    elif key is not None:
        env["GPGKEY"] = key
    return cli(REPO_ADD, *args, cwd=repo, env=env)


def assert_signed_by(repo: Path, user_keys: UserKeys, fingerprint: str) -> None:
    for kind in ("db", "files"):
        archive = repo / f"repo.{kind}.tar.gz"
        assert user_keys.signers(Path(f"{archive}.sig"), archive) == [fingerprint]
        assert (repo / f"repo.{kind}.sig").resolve() == Path(f"{archive}.sig").resolve()


# ---------------------------------------------------------------------------------------------
# the key asked for signs, whichever way it is named


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
@pytest.mark.parametrize(
    "form",
    ["fingerprint", "spaced lower-case fingerprint", "long key ID", "0x short key ID", "e-mail", "user ID"],
)
def test_the_second_of_two_keys_signs_when_asked_for(repo: Path, user_keys: UserKeys, how: str, form: str) -> None:
    fpr = user_keys.fpr[SECOND]
    key = {
        "fingerprint": fpr,
        "spaced lower-case fingerprint": " ".join(fpr[i : i + 4] for i in range(0, 40, 4)).lower(),
        "long key ID": fpr[-16:],
        "0x short key ID": "0x" + fpr[-8:],
        "e-mail": "bob@example.org",
        "user ID": SECOND,
    }[form]
    r = add(repo, user_keys, key, how)
    assert r.rc == 0, r
    assert r.err == ""
    assert "  -> Created signature file 'repo.db.tar.gz.sig'\n" in r.out
    assert_signed_by(repo, user_keys, fpr)


@pytest.mark.parametrize("which", ["primary", "subkey"])
def test_a_key_whose_signing_subkey_signs_is_the_key_asked_for(repo: Path, user_keys: UserKeys, which: str) -> None:
    asked = user_keys.fpr[SUBKEYED] if which == "primary" else user_keys.subkey
    r = add(repo, user_keys, asked[-16:])
    assert r.rc == 0, r
    assert_signed_by(repo, user_keys, user_keys.subkey)
    r = add(repo, user_keys, asked)
    assert r.rc == 0, r
    assert_signed_by(repo, user_keys, user_keys.subkey)


def test_without_a_key_gpgs_default_key_signs(repo: Path, user_keys: UserKeys) -> None:
    r = add(repo, user_keys, None)
    assert r.rc == 0, r
    assert_signed_by(repo, user_keys, user_keys.fpr[DEFAULT])


def test_an_empty_gpgkey_is_no_key_as_in_pacman(repo: Path, user_keys: UserKeys) -> None:
    r = add(repo, user_keys, "", "GPGKEY")
    assert r.rc == 0, r
    assert_signed_by(repo, user_keys, user_keys.fpr[DEFAULT])


# ---------------------------------------------------------------------------------------------
# an unusable key fails the run, naming the key, and nothing changes


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
def test_an_expired_key_fails_instead_of_signing_with_the_default_key(repo: Path, user_keys: UserKeys, how: str) -> None:
    before = snapshot(repo)
    fpr = user_keys.fpr[EXPIRED]
    r = add(repo, user_keys, fpr, how)
    assert r.rc == 1, r
    assert r.err.count("\n") == 1, r
    # the database's name, not its temporary file's
    assert r.err.startswith(f"==> ERROR: Failed to sign package database file 'repo.db.tar.gz' with the key {fpr}: ")
    assert "expired" in r.err, r
    assert "Created signature file" not in r.out
    assert snapshot(repo) == before  # no .sig, and the database as it was
    assert not list(repo.glob("*.sig"))


def test_an_expired_key_named_by_e_mail_fails_too(repo: Path, user_keys: UserKeys) -> None:
    before = snapshot(repo)
    r = add(repo, user_keys, "old@example.org")
    assert r.rc == 1, r
    assert "with the key old@example.org: " in r.err, r
    assert snapshot(repo) == before


def test_a_failed_signing_over_a_signed_database_keeps_the_old_signatures(repo: Path, user_keys: UserKeys) -> None:
    assert add(repo, user_keys, user_keys.fpr[SECOND]).rc == 0
    build_package(repo, "bar", "2.0-1")
    before = snapshot(repo)
    env = base_env(GNUPGHOME=str(user_keys.home.path))
    r = cli(
        REPO_ADD, "-s", "-k", user_keys.fpr[EXPIRED], "repo.db.tar.gz", "bar-2.0-1-x86_64.pkg.tar.zst", cwd=repo, env=env
    )
    assert r.rc == 1, r
    assert snapshot(repo) == before
    assert_signed_by(repo, user_keys, user_keys.fpr[SECOND])


# ---------------------------------------------------------------------------------------------
# a key value gpg would read as an option never reaches gpg


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
@pytest.mark.parametrize("value", ["-n", "--yes", "-"])
def test_a_key_starting_with_a_dash_is_refused(repo: Path, user_keys: UserKeys, how: str, value: str) -> None:
    before = snapshot(repo)
    r = add(repo, user_keys, value, how)
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: The key {value} is not a key name: it starts with '-'.\n"
    assert r.out == ""
    assert snapshot(repo) == before


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_key_is_refused(repo: Path, user_keys: UserKeys, value: str) -> None:
    before = snapshot(repo)
    r = add(repo, user_keys, value)
    assert r.rc == 1, r
    assert r.err == "==> ERROR: The key to sign with (-k or GPGKEY) is empty.\n"
    assert snapshot(repo) == before
