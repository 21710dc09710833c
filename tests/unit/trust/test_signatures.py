"""Verdicts on real signatures made with gpg, against a real pacman-key-style keyring
(``repotools.trust.signatures``).

Each verdict is checked against what gpg itself says about the same signature
(GOODSIG/TRUST_*, BADSIG, NO_PUBKEY, REVKEYSIG, EXPKEYSIG, EXPSIG), so the
reference is GnuPG, not our own reading of it. The keyring and the package data are
the fixtures of this directory's conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.keyfactory import KeyFactory

from repotools.errors import DisabledKeySignature, MalformedSignature
from repotools.trust.keyring import Keyring, load_keyring
from repotools.trust.siglevel import DropInRule
from repotools.trust.signatures import Verdict, check_signatures, split_signatures


def gpg_says(keys: KeyFactory, sig: bytes, data: Path) -> set[str]:
    sig_path = data.with_name(data.name + ".gpgref.sig")
    sig_path.write_bytes(sig)
    return {line.split()[0] for line in keys.verify_status(sig_path, data)}


@pytest.mark.parametrize(
    ("name", "verdict", "trusted", "gpg_status"),
    [
        ("master", Verdict.GOOD, True, "TRUST_ULTIMATE"),
        ("alice", Verdict.GOOD, True, "TRUST_FULLY"),
        ("subkeyed", Verdict.GOOD, True, "TRUST_FULLY"),
        ("carol", Verdict.GOOD, False, "TRUST_UNDEFINED"),
        ("stranger", Verdict.UNKNOWN_KEY, False, "NO_PUBKEY"),
        ("revoked", Verdict.REVOKED_KEY, False, "REVKEYSIG"),
        ("expired", Verdict.EXPIRED_KEY, False, "EXPKEYSIG"),
    ],
)
def test_verdict_per_key(
    keys: KeyFactory, keyring: Keyring, data: Path, name: str, verdict: Verdict, trusted: bool, gpg_status: str
) -> None:
    sig = keys.sign(data, name)
    assert gpg_status in gpg_says(keys, sig, data)
    (check,) = check_signatures(data, sig, keyring)
    assert check.verdict is verdict
    assert check.trusted is trusted
    assert check.index == 1
    key = keys[name]
    if key.in_keyring:
        assert check.key is not None and check.key.fingerprint == key.fingerprint
    else:
        assert check.key is None and check.issuer.endswith(key.signing_keyid)


def test_an_expired_signature(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    sig = keys.sign_expiring(data, "alice")
    assert "EXPSIG" in gpg_says(keys, sig, data)
    (check,) = check_signatures(data, sig, keyring)
    assert check.verdict is Verdict.EXPIRED_SIGNATURE
    assert check.detail.startswith("expired ")


@pytest.mark.parametrize("name", ["alice", "carol", "subkeyed", "revoked", "expired"])
def test_a_package_changed_after_signing_is_bad_or_revoked(
    keys: KeyFactory, keyring: Keyring, data: Path, name: str
) -> None:
    sig = keys.sign(data, name)
    with data.open("r+b") as f:
        f.seek(100)
        f.write(b"X")
    assert "BADSIG" in gpg_says(keys, sig, data)
    (check,) = check_signatures(data, sig, keyring)
    # a revoked key fails whether or not the data matches; the others must not pass as expired
    assert check.verdict is (Verdict.REVOKED_KEY if name == "revoked" else Verdict.BAD)


def test_an_expired_signature_over_changed_data_is_bad(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    sig = keys.sign_expiring(data, "alice")
    data.write_bytes(data.read_bytes() + b"!")
    (check,) = check_signatures(data, sig, keyring)
    assert check.verdict is Verdict.BAD


@pytest.mark.parametrize("name", ["alice", "carol", "stranger", "revoked", "expired"])
def test_the_bytes_already_read_get_the_verdicts_the_file_gets(
    keys: KeyFactory, keyring: Keyring, data: Path, name: str
) -> None:
    sig = keys.sign(data, name)
    content = data.read_bytes()
    from_file = check_signatures(data, sig, keyring)
    data.write_bytes(b"other bytes")  # given its bytes, the file is not read again
    assert check_signatures(data, sig, keyring, content=content) == from_file
    changed = content[:100] + b"X" + content[101:]
    (check,) = check_signatures(data, sig, keyring, content=changed)
    assert check.verdict is {"stranger": Verdict.UNKNOWN_KEY, "revoked": Verdict.REVOKED_KEY}.get(name, Verdict.BAD)


def test_an_expired_signature_over_the_bytes_already_read(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    sig = keys.sign_expiring(data, "alice")
    content = data.read_bytes()
    data.unlink()
    (check,) = check_signatures(data, sig, keyring, content=content)
    assert check.verdict is Verdict.EXPIRED_SIGNATURE
    (check,) = check_signatures(data, sig, keyring, content=content + b"!")
    assert check.verdict is Verdict.BAD


def test_two_signatures_in_one_file_each_get_a_verdict(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    sig = keys.sign(data, "alice", "carol")
    checks = check_signatures(data, sig, keyring)
    assert [(c.index, c.verdict, c.trusted) for c in checks] == [(1, Verdict.GOOD, True), (2, Verdict.GOOD, False)]
    assert [c.key.fingerprint for c in checks if c.key] == [keys["alice"].fingerprint, keys["carol"].fingerprint]


def test_concatenated_signature_files(keys: KeyFactory, keyring: Keyring, data: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_bytes(b"other data")
    sig = keys.sign(data, "alice") + keys.sign(other, "bob") + keys.sign(data, "stranger")
    checks = check_signatures(data, sig, keyring)
    # the trap: pysequoia's Sig keeps only the first signature and would call this file good
    assert [c.verdict for c in checks] == [Verdict.GOOD, Verdict.BAD, Verdict.UNKNOWN_KEY]


def test_two_signatures_by_one_key(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    sig = keys.sign(data, "alice", "alice")
    checks = check_signatures(data, sig, keyring)
    assert len(checks) == 2 and all(c.good for c in checks)
    assert checks[0].key == checks[1].key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "it holds no signature"),
        (b"garbage that is not OpenPGP", "not an OpenPGP signature file"),
    ],
)
def test_malformed_signature_files(keyring: Keyring, data: Path, content: bytes, message: str) -> None:
    with pytest.raises(MalformedSignature, match=message):
        check_signatures(data, content, keyring)


def test_a_public_key_is_not_a_signature(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    with pytest.raises(MalformedSignature, match="not only signatures"):
        split_signatures(keys.export_public("alice"))


def test_describe_names_key_user_id_and_verdict(keys: KeyFactory, keyring: Keyring, data: Path) -> None:
    checks = check_signatures(data, keys.sign(data, "alice", "carol", "stranger"), keyring)
    a, c, s = (keys[n] for n in ("alice", "carol", "stranger"))
    assert [x.describe() for x in checks] == [
        f"signature 1 by {a.fingerprint} ({a.uid}): good, trusted",
        f"signature 2 by {c.fingerprint} ({c.uid}): good, known but not trusted (validity unknown)",
        f"signature 3 by key {s.signing_fingerprint}: unknown key",
    ]


def _forged(sig: bytes) -> bytes:
    """The same signature packet with its last byte, inside the signature value, changed: the
    hashed part, the issuer, the dates and the 16-bit digest prefix stay as they were."""
    return sig[:-1] + bytes([sig[-1] ^ 0x01])


@pytest.mark.parametrize(
    ("name", "expiring", "genuine"),
    [("alice", True, Verdict.EXPIRED_SIGNATURE), ("expired", False, Verdict.EXPIRED_KEY)],
)
def test_a_forged_signature_that_claims_an_expiry_is_bad(
    keys: KeyFactory, keyring: Keyring, data: Path, name: str, expiring: bool, genuine: Verdict
) -> None:
    """Anyone can write a signature packet that names a trusted key, an expiry in the past and
    the right digest prefix: only the public-key operation tells it from an expired signature."""
    sig = keys.sign_expiring(data, name) if expiring else keys.sign(data, name)
    (check,) = check_signatures(data, sig, keyring)
    assert check.verdict is genuine
    forged = _forged(sig)
    assert "BADSIG" in gpg_says(keys, forged, data)
    for content in (None, data.read_bytes()):
        (check,) = check_signatures(data, forged, keyring, content=content)
        assert check.verdict is Verdict.BAD
        assert check.fails


def test_a_key_disabled_in_the_keyring_fails_as_pacman_refuses_it(keys: KeyFactory, tmp_path: Path) -> None:
    """pacman-key disables the keys it revokes (keeping their validity); libalpm refuses their
    signatures (KEY_DISABLED) whatever the trust level."""
    home = keys.clone_keyring()
    alice = keys["alice"]
    keys.gpg(home, "--edit-key", alice.fingerprint, "disable", "quit")
    disabled = load_keyring(str(home))
    (found,) = disabled.lookup(alice.fingerprint)
    assert found.owner.disabled and found.owner.trusted  # the validity is as it was
    data = tmp_path / "pkg"
    data.write_bytes(b"data")
    sig = keys.sign(data, "alice")
    (check,) = check_signatures(data, sig, disabled)
    assert check.verdict is Verdict.DISABLED_KEY and check.fails and not check.trusted
    with pytest.raises(DisabledKeySignature):
        DropInRule().check([check], str(data))
    (check,) = check_signatures(data, sig, load_keyring(str(keys.clone_keyring())))
    assert check.verdict is Verdict.GOOD and check.trusted


@pytest.mark.parametrize(
    ("extra", "days_ahead", "detail"),
    [
        (("--digest-algo", "SHA1"), 0, "made with SHA-1, which is refused"),
        (("--textmode",), 0, "a text-mode signature (gpg --textmode) that does not verify over the package's bytes"),
        ((), 2, ", in the future"),
    ],
)
def test_a_signature_refused_for_what_it_is_says_why(
    keys: KeyFactory, keyring: Keyring, data: Path, extra: tuple[str, ...], days_ahead: int, detail: str
) -> None:
    """Signatures GnuPG finds good that are refused all the same: the verdict is bad, and the detail
    gives the reason, not "it does not match the package"."""
    import time

    when = int(time.time()) + days_ahead * 86400 if days_ahead else None
    data.write_bytes(bytes(range(256)) * 200)  # binary, with short "lines" (gpg --textmode refuses long ones)
    sig = keys._detach_sign(data, [keys["alice"]], when, extra=extra)
    assert "GOODSIG" in gpg_says(keys, sig, data)
    (check,) = check_signatures(data, sig, keyring)
    assert check.verdict is Verdict.BAD
    assert detail in check.detail
