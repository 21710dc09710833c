"""``repo-add -s -k KEY`` (and ``GPGKEY``) signs with that key or fails, with real gpg keys.

python-gnupg's ``keyid=`` is gpg's ``--default-key``, which gpg silently replaces by its
default key when the key asked for is unusable (expired, revoked): the database came out
signed by a key nobody asked for, and the run said it was fine. Pinned here: the signer is
the key asked for (or the run fails, naming the key, and changes nothing), a key value gpg
would read as an option is refused before gpg sees it, and without a key gpg's default key
signs as before.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import GpgHome
from test_cli import REPO_ADD, Result, add_in_process, base_env, build_package, cli, snapshot

from repotools.errors import GpgError
from repotools.usergpg import UserGpg

DEFAULT = "Alice <alice@example.org>"  # the first secret key: gpg's default key
SECOND = "Bob <bob@example.org>"
EXPIRED = "Old <old@example.org>"
SUBKEYED = "Carol <carol@example.org>"  # a certify-only primary key with a signing subkey


class Keys:
    def __init__(self) -> None:
        self.home = GpgHome([DEFAULT, SECOND])
        # made in the past with a lifetime of a day: expired now, no sleeping
        self.home.gpg(
            "--faked-system-time", "20200101T000000!", "--passphrase", "", "--quick-gen-key", EXPIRED, "ed25519",
            "sign", "1d",
        )  # fmt: skip
        self.home.gpg("--passphrase", "", "--quick-gen-key", SUBKEYED, "ed25519", "cert", "never")
        self.fpr = {uid: self._fingerprints(uid)[0] for uid in (DEFAULT, SECOND, EXPIRED, SUBKEYED)}
        self.home.gpg("--passphrase", "", "--quick-add-key", self.fpr[SUBKEYED], "ed25519", "sign", "never")
        self.subkey = self._fingerprints(SUBKEYED)[1]

    def _fingerprints(self, uid: str) -> list[str]:
        listing = self.home.gpg("--with-colons", "--list-secret-keys", uid).stdout
        return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]

    def signers(self, signature: Path, data: Path) -> list[str]:
        """The fingerprints of the keys that made the good signatures in ``signature``."""
        proc = subprocess.run(
            ["gpg", "--batch", "--status-fd", "1", "--verify", str(signature), str(data)],
            env=base_env(GNUPGHOME=str(self.home.path)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("[GNUPG:] NEWSIG") == 1, proc.stdout
        return [line.split()[2] for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] VALIDSIG ")]

    def close(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home.path), "--kill", "gpg-agent"], capture_output=True, check=False
        )
        self.home.close()


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    k = Keys()
    try:
        yield k
    finally:
        k.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """repo.db.tar.gz holding foo-1.0-1 (unsigned), and bar-1.0-1 beside it to add."""
    d = tmp_path / "repo"
    d.mkdir()
    add_in_process(d, build_package(d, "foo"))
    build_package(d, "bar")
    return d


def add(repo: Path, keys: Keys, key: str | None, how: str = "-k", *extra: str) -> Result:
    env = base_env(GNUPGHOME=str(keys.home.path))
    args = ["-s", *extra, "repo.db.tar.gz", "bar-1.0-1-x86_64.pkg.tar.zst"]
    if key is not None and how == "-k":
        args[1:1] = ["-k", key]
    elif key is not None:
        env["GPGKEY"] = key
    return cli(REPO_ADD, *args, cwd=repo, env=env)


def assert_signed_by(repo: Path, keys: Keys, fingerprint: str) -> None:
    for kind in ("db", "files"):
        archive = repo / f"repo.{kind}.tar.gz"
        assert keys.signers(Path(f"{archive}.sig"), archive) == [fingerprint]
        assert (repo / f"repo.{kind}.sig").resolve() == Path(f"{archive}.sig").resolve()


# ---------------------------------------------------------------------------------------------
# the key asked for signs, whichever way it is named


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
@pytest.mark.parametrize(
    "form",
    ["fingerprint", "spaced lower-case fingerprint", "long key ID", "0x short key ID", "e-mail", "user ID"],
)
def test_the_second_of_two_keys_signs_when_asked_for(repo: Path, keys: Keys, how: str, form: str) -> None:
    fpr = keys.fpr[SECOND]
    key = {
        "fingerprint": fpr,
        "spaced lower-case fingerprint": " ".join(fpr[i : i + 4] for i in range(0, 40, 4)).lower(),
        "long key ID": fpr[-16:],
        "0x short key ID": "0x" + fpr[-8:],
        "e-mail": "bob@example.org",
        "user ID": SECOND,
    }[form]
    r = add(repo, keys, key, how)
    assert r.rc == 0, r
    assert r.err == ""
    assert "  -> Created signature file 'repo.db.tar.gz.sig'\n" in r.out
    assert_signed_by(repo, keys, fpr)


@pytest.mark.parametrize("which", ["primary", "subkey"])
def test_a_key_whose_signing_subkey_signs_is_the_key_asked_for(repo: Path, keys: Keys, which: str) -> None:
    asked = keys.fpr[SUBKEYED] if which == "primary" else keys.subkey
    r = add(repo, keys, asked[-16:])
    assert r.rc == 0, r
    assert_signed_by(repo, keys, keys.subkey)
    r = add(repo, keys, asked)
    assert r.rc == 0, r
    assert_signed_by(repo, keys, keys.subkey)


def test_without_a_key_gpgs_default_key_signs(repo: Path, keys: Keys) -> None:
    r = add(repo, keys, None)
    assert r.rc == 0, r
    assert_signed_by(repo, keys, keys.fpr[DEFAULT])


def test_an_empty_gpgkey_is_no_key_as_in_pacman(repo: Path, keys: Keys) -> None:
    r = add(repo, keys, "", "GPGKEY")
    assert r.rc == 0, r
    assert_signed_by(repo, keys, keys.fpr[DEFAULT])


# ---------------------------------------------------------------------------------------------
# an unusable key fails the run, naming the key, and nothing changes


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
def test_an_expired_key_fails_instead_of_signing_with_the_default_key(repo: Path, keys: Keys, how: str) -> None:
    before = snapshot(repo)
    fpr = keys.fpr[EXPIRED]
    r = add(repo, keys, fpr, how)
    assert r.rc == 1, r
    assert r.err.count("\n") == 1, r
    # the database's name, not its temporary file's
    assert r.err.startswith(f"==> ERROR: Failed to sign package database file 'repo.db.tar.gz' with the key {fpr}: ")
    assert "expired" in r.err, r
    assert "Created signature file" not in r.out
    assert snapshot(repo) == before  # no .sig, and the database as it was
    assert not list(repo.glob("*.sig"))


def test_an_expired_key_named_by_e_mail_fails_too(repo: Path, keys: Keys) -> None:
    before = snapshot(repo)
    r = add(repo, keys, "old@example.org")
    assert r.rc == 1, r
    assert "with the key old@example.org: " in r.err, r
    assert snapshot(repo) == before


def test_a_failed_signing_over_a_signed_database_keeps_the_old_signatures(repo: Path, keys: Keys) -> None:
    assert add(repo, keys, keys.fpr[SECOND]).rc == 0
    build_package(repo, "bar", "2.0-1")
    before = snapshot(repo)
    env = base_env(GNUPGHOME=str(keys.home.path))
    r = cli(
        REPO_ADD, "-s", "-k", keys.fpr[EXPIRED], "repo.db.tar.gz", "bar-2.0-1-x86_64.pkg.tar.zst", cwd=repo, env=env
    )
    assert r.rc == 1, r
    assert snapshot(repo) == before
    assert_signed_by(repo, keys, keys.fpr[SECOND])


# ---------------------------------------------------------------------------------------------
# a key value gpg would read as an option never reaches gpg


@pytest.mark.parametrize("how", ["-k", "GPGKEY"])
@pytest.mark.parametrize("value", ["-n", "--yes", "-"])
def test_a_key_starting_with_a_dash_is_refused(repo: Path, keys: Keys, how: str, value: str) -> None:
    before = snapshot(repo)
    r = add(repo, keys, value, how)
    assert r.rc == 1, r
    assert r.err == f"==> ERROR: The key {value} is not a key name: it starts with '-'.\n"
    assert r.out == ""
    assert snapshot(repo) == before


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_key_is_refused(repo: Path, keys: Keys, value: str) -> None:
    before = snapshot(repo)
    r = add(repo, keys, value)
    assert r.rc == 1, r
    assert r.err == "==> ERROR: The key to sign with (-k or GPGKEY) is empty.\n"
    assert snapshot(repo) == before


def test_a_dash_key_reaches_no_gpg_keyring_listing(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNUPGHOME", str(keys.home.path))
    gpg = UserGpg("-n")
    calls: list[object] = []

    def record(*args: object, **kwargs: object) -> list[object]:
        calls.append((args, kwargs))
        return []

    monkeypatch.setattr(gpg._gpg, "list_keys", record)
    monkeypatch.setattr(gpg._gpg, "sign_file", record)
    with pytest.raises(GpgError, match="starts with '-'"):
        gpg.check_secret_key()
    with pytest.raises(GpgError, match="starts with '-'"):
        gpg.sign(__file__, str(Path(keys.home.path) / "never.sig"))
    assert calls == []


# ---------------------------------------------------------------------------------------------
# the signer is checked after signing


@pytest.mark.parametrize("form", ["fingerprint", "long key ID", "short key ID"])
def test_a_signature_by_another_key_than_the_one_asked_for_is_an_error(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """Should gpg ever sign with another key (a ``local-user`` in gpg.conf, a gpg that falls back),
    the signature is removed and the run fails naming both keys."""
    monkeypatch.setenv("GNUPGHOME", str(keys.home.path))
    asked = keys.fpr[SECOND]
    key = {"fingerprint": asked, "long key ID": asked[-16:], "short key ID": asked[-8:]}[form]
    gpg = UserGpg(key)
    data, output = tmp_path / "repo.db.tar.gz", tmp_path / "repo.db.tar.gz.sig"
    data.write_bytes(b"database")

    def sign_file(*args: object, **kwargs: object) -> SimpleNamespace:
        assert kwargs.get("keyid") is None
        assert kwargs["extra_args"] == ["--local-user", key]
        output.write_bytes(b"a signature by someone else")
        return SimpleNamespace(fingerprint=keys.fpr[DEFAULT], status="signature created")

    monkeypatch.setattr(gpg._gpg, "sign_file", sign_file)
    with pytest.raises(GpgError) as error:
        gpg.sign(str(data), str(output))
    assert str(error.value) == (
        f"Failed to sign package database file 'repo.db.tar.gz' with the key {key}: "
        f"gpg signed with the key {keys.fpr[DEFAULT]} instead."
    )
    assert not output.exists()
