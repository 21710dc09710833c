"""The user's own gpg (``repotools.trust.usergpg``): a key value gpg would read as an option never
reaches gpg, and a signature by another key than the one asked for is an error. The signing
itself, with real keys and through repo-add, is pinned in integration/test_usergpg_signing.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from support.gpg import DEFAULT, SECOND, UserKeys

from repotools.errors import GpgError
from repotools.trust.usergpg import UserGpg


def test_a_dash_key_reaches_no_gpg_keyring_listing(user_keys: UserKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNUPGHOME", str(user_keys.home.path))
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
        gpg.sign(__file__, str(Path(user_keys.home.path) / "never.sig"))
    assert calls == []


# ---------------------------------------------------------------------------------------------
# the signer is checked after signing


@pytest.mark.parametrize("form", ["fingerprint", "long key ID", "short key ID"])
def test_a_signature_by_another_key_than_the_one_asked_for_is_an_error(
    tmp_path: Path, user_keys: UserKeys, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """Should gpg ever sign with another key (a ``local-user`` in gpg.conf, a gpg that falls back),
    the signature is removed and the run fails naming both keys."""
    monkeypatch.setenv("GNUPGHOME", str(user_keys.home.path))
    asked = user_keys.fpr[SECOND]
    key = {"fingerprint": asked, "long key ID": asked[-16:], "short key ID": asked[-8:]}[form]
    gpg = UserGpg(key)
    data, output = tmp_path / "repo.db.tar.gz", tmp_path / "repo.db.tar.gz.sig"
    data.write_bytes(b"database")

    def sign_file(*args: object, **kwargs: object) -> SimpleNamespace:
        assert kwargs.get("keyid") is None
        assert kwargs["extra_args"] == ["--local-user", key]
        output.write_bytes(b"a signature by someone else")
        return SimpleNamespace(fingerprint=user_keys.fpr[DEFAULT], status="signature created")

    monkeypatch.setattr(gpg._gpg, "sign_file", sign_file)
    with pytest.raises(GpgError) as error:
        gpg.sign(str(data), str(output))
    assert str(error.value) == (
        f"Failed to sign package database file 'repo.db.tar.gz' with the key {key}: "
        f"gpg signed with the key {user_keys.fpr[DEFAULT]} instead."
    )
    assert not output.exists()
