"""The key factory (tests/support/keyfactory.py) builds what it promises, checked against gpg itself:
validities from ``gpg --with-colons --list-keys``, verdicts from ``gpg --status-fd 1 --verify``
in the package keyring."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from support.keyfactory import DAY, KEY_NAMES, KeyFactory

FPR = re.compile(r"[0-9A-F]{40}")


def keywords(status: list[str]) -> list[str]:
    return [line.split()[0] for line in status]


def lines(status: list[str], keyword: str) -> list[list[str]]:
    return [line.split() for line in status if line.split()[0] == keyword]


def colons(keys: KeyFactory, home: Path, *args: str) -> list[list[str]]:
    out = keys.gpg(home, "--with-colons", *args).stdout.decode()
    return [line.split(":") for line in out.splitlines()]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "pkg-1.0-1-any.pkg.tar.zst"
    path.write_bytes(b"package contents\n" * 100)
    return path


# --- the keys ---------------------------------------------------------------------------------


def test_build_is_fast(keys: KeyFactory) -> None:
    assert keys.build_seconds < 10


def test_every_key_is_described(keys: KeyFactory) -> None:
    assert keys.names == KEY_NAMES
    assert set(KEY_NAMES) == {
        "master", "alice", "bob", "carol", "dave", "revoked", "expired", "subkeyed", "stranger",
    }
    fingerprints = [key.fingerprint for key in keys]
    assert len(set(fingerprints)) == len(fingerprints)
    for key in keys:
        assert keys[key.name] is key
        assert FPR.fullmatch(key.fingerprint) and FPR.fullmatch(key.signing_fingerprint)
        assert key.keyid == key.fingerprint[-16:] and key.signing_keyid == key.signing_fingerprint[-16:]
        assert key.uid.endswith(f"<{key.email}>")
        assert key.created == keys.created
        if key.name == "subkeyed":
            assert key.signing_fingerprint != key.fingerprint
        else:
            assert key.signing_fingerprint == key.fingerprint
    assert keys["alice"].uid == "Alice Packager <alice@example.org>"
    assert keys.master is keys["master"]
    with pytest.raises(KeyError):
        keys["nobody"]


def test_timeline(keys: KeyFactory) -> None:
    expired = keys["expired"]
    assert expired.expires is not None
    assert expired.created < keys.past_sign_time < expired.expires < keys.now
    assert keys.created <= keys.now - 2 * 365 * DAY
    assert keys.revoked_at is not None and keys.past_sign_time < keys.revoked_at
    assert keys["revoked"].sign_time == keys["expired"].sign_time == keys.past_sign_time
    assert all(key.sign_time is None for key in keys if key.name not in ("revoked", "expired"))
    assert all(key.expires is None for key in keys if key.name != "expired")


def test_signers_home_has_every_secret_key(keys: KeyFactory) -> None:
    listing = colons(keys, keys.signers_home, "--list-secret-keys")
    fprs = {row[9] for row in listing if row[0] == "fpr"}
    assert {key.fingerprint for key in keys} | {key.signing_fingerprint for key in keys} <= fprs
    # No revocation in the signers home: the revoked key still signs there.
    assert not any(row[0] == "rev" for row in colons(keys, keys.signers_home, "--list-sigs"))


def test_keyring_holds_public_keys_and_only_the_masters_secret(keys: KeyFactory) -> None:
    secret = colons(keys, keys.keyring_home, "--list-secret-keys")
    assert [row[9] for row in secret if row[0] == "fpr"] == [keys.master.fingerprint]
    public = {row[9] for row in colons(keys, keys.keyring_home, "--list-keys") if row[0] == "fpr"}
    assert public == {key.fingerprint for key in keys if key.in_keyring} | {keys["subkeyed"].signing_fingerprint}
    assert keys["stranger"].fingerprint not in public
    ownertrust = keys.gpg(keys.keyring_home, "--export-ownertrust").stdout.decode()
    assert [line for line in ownertrust.splitlines() if not line.startswith("#")] == [f"{keys.master.fingerprint}:6:"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("master", {"u"}), ("alice", {"f"}), ("bob", {"f"}), ("carol", {"-", "q"}), ("dave", {"-", "q"}),
     ("revoked", {"r"}), ("expired", {"e"}), ("subkeyed", {"f"}), ("stranger", None)],
)
def test_validity_in_package_keyring(keys: KeyFactory, name: str, expected: set[str] | None) -> None:
    listing = colons(keys, keys.keyring_home, "--list-keys")
    validity = None
    for row, following in itertools.pairwise(listing):
        if row[0] == "pub" and following[0] == "fpr" and following[9] == keys[name].fingerprint:
            validity = row[1]
    if expected is None:
        assert validity is None
        assert keys[name].validity is None
    else:
        assert validity in expected
        assert keys[name].validity == validity
        assert keys.validities()[keys[name].fingerprint] == validity
        assert keys[name].trusted == (validity in ("u", "f"))


def test_certifications_are_local_and_by_the_master(keys: KeyFactory) -> None:
    listing = colons(keys, keys.keyring_home, "--list-sigs")
    certifiers: dict[str, set[str]] = {}
    current = ""
    for row in listing:
        if row[0] == "pub":
            current = ""
        elif row[0] == "fpr" and not current:
            current = row[9]
        elif row[0] == "sig" and row[10].startswith("1"):  # certification classes 0x10-0x13
            if row[4] == keys.master.keyid and current != keys.master.fingerprint:
                assert row[10].endswith("l"), row  # local (non-exportable), as pacman-key --lsign-key
            certifiers.setdefault(current, set()).add(row[4])
    for key in keys:
        if not key.in_keyring:
            continue
        by_master = keys.master.keyid in certifiers.get(key.fingerprint, set())
        assert by_master == (key.certified or key.name == "master"), key.name


def test_subkey_is_the_only_signing_key(keys: KeyFactory) -> None:
    listing = colons(keys, keys.signers_home, "--list-keys", keys["subkeyed"].fingerprint)
    pub = next(row for row in listing if row[0] == "pub")
    subs = [row for row in listing if row[0] == "sub"]
    assert "s" not in pub[11] and "c" in pub[11]
    assert len(subs) == 1 and "s" in subs[0][11]
    assert subs[0][4] == keys["subkeyed"].signing_keyid


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "trust"),
    [("master", "TRUST_ULTIMATE"), ("alice", "TRUST_FULLY"), ("bob", "TRUST_FULLY"),
     ("subkeyed", "TRUST_FULLY"), ("carol", "TRUST_UNDEFINED"), ("dave", "TRUST_UNDEFINED")],
)
def test_good_signature(keys: KeyFactory, data: Path, name: str, trust: str) -> None:
    key = keys[name]
    signature = keys.sign(data, name)
    assert Path(f"{data}.sig").read_bytes() == signature
    status = keys.verify_status(f"{data}.sig", data)
    assert keywords(status).count("GOODSIG") == 1 and keywords(status).count("NEWSIG") == 1
    assert lines(status, "GOODSIG")[0][1] == key.signing_keyid
    assert " ".join(lines(status, "GOODSIG")[0][2:]) == key.uid
    validsig = lines(status, "VALIDSIG")[0]
    assert validsig[1] == key.signing_fingerprint and validsig[-1] == key.fingerprint
    assert abs(int(validsig[3]) - keys.now) < 3600  # made now
    assert trust in keywords(status)
    assert not {"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG"} & set(keywords(status))


def test_signature_is_binary_and_by_the_given_subkey(keys: KeyFactory, data: Path) -> None:
    signature = keys.sign(data, "subkeyed", out=data.parent / "other.sig")
    assert signature[0] & 0x80 and not signature.startswith(b"-----")
    assert (data.parent / "other.sig").read_bytes() == signature
    assert not Path(f"{data}.sig").exists()
    packets = keys.gpg(keys.signers_home, "--list-packets", input=signature).stdout.decode()
    assert re.findall(r"keyid ([0-9A-F]{16})", packets) == [keys["subkeyed"].signing_keyid]


def test_armored_signature(keys: KeyFactory, data: Path) -> None:
    signature = keys.sign(data, "alice", armor=True)
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert "GOODSIG" in keywords(keys.verify_status(f"{data}.sig", data))
    both = keys.sign(data, "alice", "expired", armor=True)
    assert both.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert {"GOODSIG", "EXPKEYSIG"} <= set(keywords(keys.verify_status(f"{data}.sig", data)))


def test_unknown_key(keys: KeyFactory, data: Path) -> None:
    keys.sign(data, "stranger")
    status = keys.verify_status(f"{data}.sig", data)
    assert lines(status, "NO_PUBKEY")[0][1] == keys["stranger"].keyid
    assert lines(status, "ERRSIG")[0][1] == keys["stranger"].keyid
    assert "GOODSIG" not in keywords(status) and "VALIDSIG" not in keywords(status)
    # The signers home knows it: the signature itself is good.
    assert "GOODSIG" in keywords(keys.verify_status(f"{data}.sig", data, home=keys.signers_home))


def test_revoked_key(keys: KeyFactory, data: Path) -> None:
    keys.sign(data, "revoked")
    status = keys.verify_status(f"{data}.sig", data)
    assert lines(status, "REVKEYSIG")[0][1] == keys["revoked"].keyid
    assert "GOODSIG" not in keywords(status)
    validsig = lines(status, "VALIDSIG")[0]
    assert int(validsig[3]) - keys.past_sign_time < 3600  # made before the revocation
    assert keys.revoked_at is not None and int(validsig[3]) < keys.revoked_at
    assert "GOODSIG" in keywords(keys.verify_status(f"{data}.sig", data, home=keys.signers_home))


def test_expired_key(keys: KeyFactory, data: Path) -> None:
    keys.sign(data, "expired")
    status = keys.verify_status(f"{data}.sig", data)
    assert lines(status, "EXPKEYSIG")[0][1] == keys["expired"].keyid
    assert "GOODSIG" not in keywords(status)
    made = int(lines(status, "VALIDSIG")[0][3])
    expires = keys["expired"].expires
    assert expires is not None and keys["expired"].created < made < expires  # made while valid


def test_expired_signature(keys: KeyFactory, data: Path) -> None:
    signature = keys.sign_expiring(data, "alice")
    assert Path(f"{data}.sig").read_bytes() == signature
    status = keys.verify_status(f"{data}.sig", data)
    assert lines(status, "EXPSIG")[0][1] == keys["alice"].keyid
    assert not {"GOODSIG", "EXPKEYSIG", "REVKEYSIG", "BADSIG"} & set(keywords(status))
    validsig = lines(status, "VALIDSIG")[0]
    assert int(validsig[3]) - keys.past_sign_time < 3600
    assert int(validsig[4]) - int(validsig[3]) == DAY  # expiry timestamp field


def test_modified_data(keys: KeyFactory, data: Path) -> None:
    keys.sign(data, "alice")
    with data.open("ab") as f:
        f.write(b"tampered")
    status = keys.verify_status(f"{data}.sig", data)
    assert lines(status, "BADSIG")[0][1] == keys["alice"].keyid
    assert not {"GOODSIG", "VALIDSIG"} & set(keywords(status))


def test_two_signatures_in_one_file(keys: KeyFactory, data: Path) -> None:
    signature = keys.sign(data, "alice", "bob")
    packets = keys.gpg(keys.signers_home, "--list-packets", input=signature).stdout.decode()
    assert re.findall(r"keyid ([0-9A-F]{16})", packets) == [keys["alice"].keyid, keys["bob"].keyid]
    status = keys.verify_status(f"{data}.sig", data)
    assert [line[1] for line in lines(status, "GOODSIG")] == [keys["alice"].keyid, keys["bob"].keyid]
    assert keywords(status).count("TRUST_FULLY") == 2


def test_concatenated_signature_files(keys: KeyFactory, data: Path) -> None:
    first = keys.sign(data, "alice", out=data.parent / "a.sig")
    second = keys.sign(data, "bob", out=data.parent / "b.sig")
    (data.parent / "ab.sig").write_bytes(first + second)
    status = keys.verify_status(data.parent / "ab.sig", data)
    assert [line[1] for line in lines(status, "GOODSIG")] == [keys["alice"].keyid, keys["bob"].keyid]


def test_mixed_and_repeated_signers(keys: KeyFactory, data: Path) -> None:
    keys.sign(data, "carol", "revoked", "stranger", "carol")
    status = keys.verify_status(f"{data}.sig", data)
    assert keywords(status).count("NEWSIG") == 4
    assert [line[1] for line in lines(status, "GOODSIG")] == [keys["carol"].keyid] * 2
    assert [line[1] for line in lines(status, "REVKEYSIG")] == [keys["revoked"].keyid]
    assert [line[1] for line in lines(status, "NO_PUBKEY")] == [keys["stranger"].keyid]


def test_sign_bytes(keys: KeyFactory, data: Path) -> None:
    signature = keys.sign_bytes(data.read_bytes(), "bob")
    (data.parent / "mem.sig").write_bytes(signature)
    assert "GOODSIG" in keywords(keys.verify_status(data.parent / "mem.sig", data))
    assert not Path(f"{data}.sig").exists()
    with pytest.raises(ValueError):
        keys.sign(data)
    with pytest.raises(KeyError):
        keys.sign(data, "nobody")


# --- exports and copies -----------------------------------------------------------------------


def test_export_public(keys: KeyFactory) -> None:
    home = keys.new_home()
    keys.gpg(home, "--import", input=keys.export_public(["alice", "subkeyed"]))
    keys.gpg(home, "--import", input=keys.export_public("carol", armor=True))
    listing = colons(keys, home, "--list-keys")
    assert {row[9] for row in listing if row[0] == "fpr"} == {
        keys["alice"].fingerprint, keys["subkeyed"].fingerprint, keys["subkeyed"].signing_fingerprint,
        keys["carol"].fingerprint,
    }
    assert not colons(keys, home, "--list-secret-keys")
    assert keys.export_public(armor=True).startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_clone_keyring(keys: KeyFactory, data: Path) -> None:
    clone = keys.clone_keyring()
    assert clone != keys.keyring_home and len(str(clone)) < 40
    assert keys.validities(clone) == keys.validities()
    keys.gpg(clone, "--delete-keys", keys["alice"].fingerprint)
    keys.sign(data, "alice")
    assert "NO_PUBKEY" in keywords(keys.verify_status(f"{data}.sig", data, home=clone))
    assert "GOODSIG" in keywords(keys.verify_status(f"{data}.sig", data))
    # The clone carries the master's secret: it can certify.
    keys.gpg(clone, "--default-key", keys.master.fingerprint, "--quick-lsign-key", keys["carol"].fingerprint)
    keys.gpg(clone, "--check-trustdb")
    assert keys.validities(clone)[keys["carol"].fingerprint] == "f"
    assert keys.validities()[keys["carol"].fingerprint] == "-"
