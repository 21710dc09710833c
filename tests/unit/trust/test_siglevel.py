"""Signature levels (``repotools.trust.siglevel``): the grammar, every counting rule.

Verdicts are built by hand here (the verification itself is tested against real
keys in test_signatures.py); each example of the issue is one test.
"""

from __future__ import annotations

import pytest

from repotools.errors import (
    BadSignature,
    InvalidSigLevel,
    RevokedKeySignature,
    SignatureRejected,
    TooFewSignatures,
    UnsignedPackage,
    UnverifiedSignature,
)
from repotools.trust.keyring import Key
from repotools.trust.siglevel import (
    DropInRule,
    Mode,
    Rule,
    SigLevel,
    Trust,
    pacman_would_refuse,
    parse_siglevel,
)
from repotools.trust.signatures import SignatureCheck, Verdict

TRUSTED_A = Key("A" * 40, "Alice <a@example.org>", "f")
TRUSTED_B = Key("B" * 40, "Bob <b@example.org>", "u")
UNTRUSTED_C = Key("C" * 40, "Carol <c@example.org>", "-")
UNTRUSTED_D = Key("D" * 40, "Dave <d@example.org>", "m")
REVOKED = Key("E" * 40, "Eve <e@example.org>", "r")


def good(key: Key, index: int = 1) -> SignatureCheck:
    return SignatureCheck(index, Verdict.GOOD, key.fingerprint, key)


def verdict(v: Verdict, key: Key | None, index: int = 1) -> SignatureCheck:
    return SignatureCheck(index, v, key.fingerprint if key else "F" * 16, key)


def sigs(*checks: SignatureCheck) -> list[SignatureCheck]:
    return [SignatureCheck(i, c.verdict, c.issuer, c.key, c.created, c.detail) for i, c in enumerate(checks, 1)]


def level(spec: str) -> Rule:
    return parse_siglevel(spec).package


# --- the examples -------------------------------------------------------------


def test_required_2_trustedonly_refuses_one_trusted_and_one_untrusted() -> None:
    with pytest.raises(TooFewSignatures, match=r"1 good signature from distinct counted keys, 2 required"):
        level("Required:2 TrustedOnly").check(sigs(good(TRUSTED_A), good(UNTRUSTED_C)), "p")


def test_required_2_trustall_accepts_one_trusted_and_one_untrusted() -> None:
    accepted = level("Required:2 TrustAll").check(sigs(good(TRUSTED_A), good(UNTRUSTED_C)), "p")
    assert accepted.counted_keys == (TRUSTED_A.fingerprint, UNTRUSTED_C.fingerprint)
    assert accepted.trusted_keys == (TRUSTED_A.fingerprint,)


def test_required_3_trustedonly_1_accepts_one_trusted_and_two_untrusted() -> None:
    level("Required:3 TrustedOnly:1").check(sigs(good(TRUSTED_A), good(UNTRUSTED_C), good(UNTRUSTED_D)), "p")


def test_required_3_trustedonly_1_refuses_three_untrusted() -> None:
    with pytest.raises(TooFewSignatures, match="0 from trusted keys, 1 required"):
        level("Required:3 TrustedOnly:1").check(
            sigs(good(UNTRUSTED_C), good(UNTRUSTED_D), good(Key("9" * 40, "", "-"))), "p"
        )


def test_required_2_refuses_two_signatures_by_the_same_key() -> None:
    with pytest.raises(TooFewSignatures, match="1 good signature from distinct counted keys, 2 required"):
        level("Required:2").check(sigs(good(TRUSTED_A), good(TRUSTED_A)), "p")


def test_required_1_accepts_a_trusted_signature_plus_an_unknown_key() -> None:
    level("Required:1").check(sigs(good(TRUSTED_A), verdict(Verdict.UNKNOWN_KEY, None)), "p")


def test_required_all_refuses_a_trusted_signature_plus_an_unknown_key() -> None:
    with pytest.raises(UnverifiedSignature, match="Required:All, and signature 2 is not good by a counted key"):
        level("Required:All").check(sigs(good(TRUSTED_A), verdict(Verdict.UNKNOWN_KEY, None)), "p")


def test_required_all_accepts_when_every_signature_is_good_and_trusted() -> None:
    level("Required:All").check(sigs(good(TRUSTED_A), good(TRUSTED_B)), "p")


def test_required_all_trustedonly_refuses_an_untrusted_good_signature() -> None:
    with pytest.raises(UnverifiedSignature):
        level("Required:All TrustedOnly").check(sigs(good(TRUSTED_A), good(UNTRUSTED_C)), "p")


def test_required_all_trustall_accepts_an_untrusted_good_signature() -> None:
    level("Required:All TrustAll").check(sigs(good(TRUSTED_A), good(UNTRUSTED_C)), "p")


def test_required_all_refuses_an_unsigned_package() -> None:
    with pytest.raises(UnsignedPackage, match="it is not signed"):
        level("Required:All").check(None, "p")


# --- failures under every level but Never ---------------------------------------------


@pytest.mark.parametrize("spec", ["Required", "Required:All", "Optional", "Required TrustAll", "Required:1 TrustedOnly:1"])
def test_a_bad_signature_refuses_whatever_the_count(spec: str) -> None:
    with pytest.raises(BadSignature, match="a signature does not match the package"):
        level(spec).check(sigs(good(TRUSTED_A), good(TRUSTED_B), verdict(Verdict.BAD, UNTRUSTED_C)), "p")


@pytest.mark.parametrize("spec", ["Required", "Optional TrustAll"])
def test_a_revoked_key_refuses_whatever_the_count(spec: str) -> None:
    with pytest.raises(RevokedKeySignature, match="made by a revoked key"):
        level(spec).check(sigs(good(TRUSTED_A), verdict(Verdict.REVOKED_KEY, REVOKED)), "p")


def test_never_checks_nothing() -> None:
    rule = level("Never")
    assert rule.mode is Mode.NEVER
    rule.check(sigs(verdict(Verdict.BAD, TRUSTED_A)), "p")
    rule.check(None, "p")


@pytest.mark.parametrize("v", [Verdict.UNKNOWN_KEY, Verdict.EXPIRED_KEY, Verdict.EXPIRED_SIGNATURE])
def test_unknown_and_expired_are_not_counted_and_do_not_refuse(v: Verdict) -> None:
    level("Required").check(sigs(good(TRUSTED_A), verdict(v, TRUSTED_B if v is not Verdict.UNKNOWN_KEY else None)), "p")
    with pytest.raises(TooFewSignatures):
        level("Required").check(sigs(verdict(v, TRUSTED_B if v is not Verdict.UNKNOWN_KEY else None)), "p")


def test_optional_passes_an_unsigned_package_and_checks_a_present_signature() -> None:
    rule = level("Optional")
    rule.check(None, "p")
    rule.check([], "p")
    with pytest.raises(TooFewSignatures):
        rule.check(sigs(good(UNTRUSTED_C)), "p")
    rule.check(sigs(good(TRUSTED_A)), "p")


def test_required_refuses_an_unsigned_package() -> None:
    with pytest.raises(UnsignedPackage):
        level("Required").check(None, "p")


def test_trustedonly_counts_only_trusted_keys() -> None:
    with pytest.raises(TooFewSignatures):
        level("Required TrustedOnly").check(sigs(good(UNTRUSTED_C)), "p")
    level("Required TrustAll").check(sigs(good(UNTRUSTED_C)), "p")


def test_refusal_names_every_signature_key_and_verdict() -> None:
    with pytest.raises(SignatureRejected) as e:
        level("Required:2").check(sigs(good(TRUSTED_A), good(UNTRUSTED_D), verdict(Verdict.UNKNOWN_KEY, None)), "x.pkg")
    assert str(e.value) == (
        "Package 'x.pkg' refused (Required:2 TrustedOnly): 1 good signature from distinct counted keys, 2 required: "
        f"signature 1 by {'A' * 40} (Alice <a@example.org>): good, trusted; "
        f"signature 2 by {'D' * 40} (Dave <d@example.org>): good, known but not trusted (validity marginal); "
        f"signature 3 by key {'F' * 16}: unknown key."
    )


# --- the drop-in rule (a keyring, no level) -------------------------------------------


def test_drop_in_accepts_unsigned_unknown_untrusted_and_expired() -> None:
    rule = DropInRule()
    rule.check(None, "p")
    rule.check(sigs(verdict(Verdict.UNKNOWN_KEY, None)), "p")
    rule.check(sigs(good(UNTRUSTED_C), verdict(Verdict.EXPIRED_KEY, TRUSTED_B), verdict(Verdict.EXPIRED_SIGNATURE, TRUSTED_A)), "p")


def test_drop_in_refuses_bad_and_revoked() -> None:
    with pytest.raises(BadSignature):
        DropInRule().check(sigs(verdict(Verdict.BAD, TRUSTED_A)), "p")
    with pytest.raises(RevokedKeySignature):
        DropInRule().check(sigs(verdict(Verdict.REVOKED_KEY, REVOKED)), "p")


def test_pacman_would_refuse_anything_but_good_by_a_trusted_key() -> None:
    assert not pacman_would_refuse(good(TRUSTED_A))
    assert pacman_would_refuse(good(UNTRUSTED_C))
    for v in Verdict:
        if v is not Verdict.GOOD:
            assert pacman_would_refuse(verdict(v, TRUSTED_A))


# --- the grammar ----------------------------------------------------------------------


def test_default_part_is_required_1_trustedonly() -> None:
    lvl = parse_siglevel("TrustAll")
    assert lvl.package == Rule(Mode.REQUIRED, 1, Trust.TRUST_ALL, 0)
    assert str(parse_siglevel("Required")) == "Required TrustedOnly"


def test_prefixes_set_one_part_and_later_words_win() -> None:
    lvl = parse_siglevel("Required DatabaseOptional PackageRequired:2 PackageTrustAll TrustedOnly:1")
    assert lvl.package == Rule(Mode.REQUIRED, 2, Trust.TRUSTED_ONLY, 1)
    assert lvl.database == Rule(Mode.OPTIONAL, 1, Trust.TRUSTED_ONLY, 1)
    assert str(lvl) == "PackageRequired:2 PackageTrustedOnly:1 DatabaseOptional DatabaseTrustedOnly:1"


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("Never", "Never"),
        ("Optional", "Optional TrustedOnly"),
        ("Required:All", "Required:All TrustedOnly"),
        ("Required:3 TrustedOnly:2", "Required:3 TrustedOnly:2"),
        ("TrustedOnly:1 TrustAll", "Required TrustAll"),
        ("PackageNever DatabaseRequired", "PackageNever DatabaseRequired DatabaseTrustedOnly"),
    ],
)
def test_round_trip(spec: str, text: str) -> None:
    assert str(parse_siglevel(spec)) == text
    assert parse_siglevel(str(parse_siglevel(spec))) == parse_siglevel(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("Requried", "word 'Requried': expected Never, Optional, Required"),
        ("required", "word 'required'"),
        ("Required:0", "the count must be an integer of at least 1 or All"),
        ("Required:-1", "the count must be"),
        ("Required:two", "the count must be"),
        ("Required:", "a count is missing"),
        ("TrustedOnly:All", "the count must be an integer of at least 1."),
        ("TrustAll:2", "TrustAll takes no count"),
        ("Never:1", "Never takes no count"),
        ("Package", "word 'Package'"),
        ("PackageFoo", "word 'PackageFoo'"),
        ("Required:٣", "the count must be"),
    ],
)
def test_invalid_levels_name_the_word(spec: str, message: str) -> None:
    with pytest.raises(InvalidSigLevel, match=message):
        parse_siglevel(spec)


def test_siglevel_default_object() -> None:
    assert SigLevel() == parse_siglevel("Required TrustedOnly")
