"""Checking a detached signature file against a package keyring, one signature at a time.

Rules (each signature in the file gets its own verdict; nothing here decides
whether a package is accepted, that is ``policy``'s job):

- The file is split into its OpenPGP packets and every signature packet is
  verified on its own. (pysequoia's ``Sig`` keeps only the first signature of a
  file, so "good + forged" would pass as good.) A file holding anything but
  signature packets is malformed, and so is an empty one.
- The issuer is the signature's issuer fingerprint, or its key ID on older
  signatures. A subkey counts as its primary key.
- Verdicts: ``unknown key`` when no key of the keyring can have made it;
  ``revoked key`` when the signing key or its primary key is revoked;
  ``disabled key`` when the keyring's owner disabled the key (``pacman-key``
  disables the keys it revokes; pacman refuses their signatures); ``good``
  when it verifies (``expired key`` instead when the key has expired since:
  the signature was made while it was valid); when it does not verify,
  ``expired signature`` or ``expired key`` if the signature or key has expired
  and GnuPG, asked about that one signature, finds it valid but expired
  (pysequoia refuses to verify an expired signature at all, and anyone can
  forge a signature packet that only *claims* an expiry: only the public-key
  operation tells the two apart; the 16-bit digest prefix merely spares
  GnuPG the signatures that plainly do not match), and ``bad`` in every other
  case: the data or the signature was changed, or it cannot be verified.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ..errors import MalformedSignature
from .keyring import Key, Keyring, SigningKey

__all__ = ["SignatureCheck", "Verdict", "check_signatures", "split_signatures"]


class Verdict(Enum):
    GOOD = "good"
    BAD = "bad"
    UNKNOWN_KEY = "unknown key"
    REVOKED_KEY = "revoked key"
    DISABLED_KEY = "disabled key"
    EXPIRED_KEY = "expired key"
    EXPIRED_SIGNATURE = "expired signature"


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on one signature of a signature file."""

    index: int  # 1-based position in the file
    verdict: Verdict
    issuer: str  # fingerprint or key ID named by the signature, upper-case
    key: Key | None = None  # the primary key, when the keyring holds it
    created: datetime | None = None
    detail: str = ""

    @property
    def good(self) -> bool:
        return self.verdict is Verdict.GOOD

    @property
    def trusted(self) -> bool:
        """Good, by a key whose validity is full or ultimate."""
        return self.good and self.key is not None and self.key.trusted

    @property
    def fails(self) -> bool:
        """A forged or altered package, a revoked or a disabled key: refused under every level but Never."""
        return self.verdict in (Verdict.BAD, Verdict.REVOKED_KEY, Verdict.DISABLED_KEY)

    def describe(self) -> str:
        """One phrase: ``signature 2 by <fingerprint> (<user id>): good, known but not trusted (validity marginal)``."""
        who = self.key.describe() if self.key is not None else f"key {self.issuer}"
        text = f"signature {self.index} by {who}: {self.verdict.value}"
        if self.good and self.key is not None:
            text += ", trusted" if self.key.trusted else f", known but not trusted (validity {self.key.validity_name})"
        if self.detail:
            text += f" ({self.detail})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "verdict": self.verdict.value,
            "issuer": self.issuer,
            "fingerprint": self.key.fingerprint if self.key else None,
            "user_id": self.key.user_id if self.key else None,
            "validity": self.key.validity_name if self.key else None,
            "trusted": self.trusted,
            "created": self.created.isoformat() if self.created else None,
            "detail": self.detail or None,
        }


def split_signatures(data: bytes) -> list[Any]:
    """The signature packets of a detached signature file, each on its own."""
    from ._sequoia import pysequoia

    try:
        packets = list(pysequoia.packet.PacketPile.from_bytes(data))
    except (RuntimeError, ValueError) as e:  # RuntimeError for malformed input
        raise MalformedSignature(f"not an OpenPGP signature file ({e})") from None
    if not packets:
        raise MalformedSignature("it holds no signature")
    tag = pysequoia.packet.Tag.Signature
    for p in packets:
        if p.tag != tag:
            raise MalformedSignature(f"it holds a {p.tag} packet, not only signatures")
    return packets


_HASHES = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
_WEAK_HASHES = {1: "MD5", 2: "SHA-1", 3: "RIPEMD-160"}


def _digest_matches(body: bytes, data_path: str, content: bytes | None = None) -> bool:
    """Whether a v4 binary signature's 16-bit digest prefix matches the data (RFC 4880 5.2.4).

    Used only to tell an expired signature from an altered package when
    OpenPGP refuses to verify it; it is no proof of anything else.
    """
    if len(body) < 6 or body[0] != 4 or body[1] != 0 or body[3] not in _HASHES:
        return False
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    if len(body) < hashed_end + 2:
        return False
    prefix_at = hashed_end + 2 + int.from_bytes(body[hashed_end : hashed_end + 2], "big")
    if len(body) < prefix_at + 2:
        return False
    try:
        h = hashlib.new(_HASHES[body[3]])
    except ValueError:
        return False
    if content is not None:
        h.update(content)
    else:
        try:
            with open(data_path, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        except OSError:
            return False
    h.update(body[:hashed_end])
    h.update(b"\x04\xff" + hashed_end.to_bytes(4, "big"))
    return h.digest()[:2] == body[prefix_at : prefix_at + 2]


def _refusal(body: bytes, created: datetime | None, now: datetime) -> str | None:
    """Why a signature that does not verify is refused, when the reason may not be the data."""
    if not body:
        return None
    if body[0] != 4:
        return f"a version {body[0]} signature, which is not supported"
    if len(body) > 3 and body[3] in _WEAK_HASHES:
        return f"made with {_WEAK_HASHES[body[3]]}, which is refused"
    if len(body) > 1 and body[1] == 0x01:
        return "a text-mode signature (gpg --textmode) that does not verify over the package's bytes"
    if len(body) > 1 and body[1] != 0x00:
        return f"a signature of type 0x{body[1]:02x}, not the signature of a file"
    if created is not None and created > now:
        return f"dated {created:%Y-%m-%d %H:%M:%S %Z}, in the future"
    return None


def _expired_at(packet: Any) -> datetime | None:
    expiry = packet.signature_expiration_time
    if isinstance(expiry, datetime):
        return expiry
    created, period = packet.signature_created, packet.signature_validity_period
    if isinstance(created, datetime) and period:
        return created + period  # type: ignore[no-any-return]
    return None


def _check_one(
    index: int, packet: Any, data_path: str, content: bytes | None, keyring: Keyring, now: datetime
) -> SignatureCheck:
    from ._sequoia import pysequoia

    issuer = (packet.issuer_fingerprint or packet.issuer_key_id or "").upper()
    created = packet.signature_created if isinstance(packet.signature_created, datetime) else None
    if not issuer:
        return SignatureCheck(index, Verdict.UNKNOWN_KEY, "", None, created, "the signature names no issuer")
    candidates = keyring.lookup(issuer)
    if not candidates:
        return SignatureCheck(index, Verdict.UNKNOWN_KEY, issuer, None, created)
    owners = {sk.owner.fingerprint: sk.owner for sk in candidates}
    certs = [c for c in (keyring.cert(f) for f in owners) if c is not None]
    try:
        signature = pysequoia.Sig.from_bytes(bytes(packet))
        if content is not None:
            result = pysequoia.verify(bytes=content, signature=signature, store=lambda _: certs)
        else:
            result = pysequoia.verify(file=data_path, signature=signature, store=lambda _: certs)
        valid = list(result.valid_sigs)
    except (RuntimeError, ValueError):  # pysequoia raises one RuntimeError for every failure
        valid = []
    signer: SigningKey | None
    if valid:
        found = keyring.lookup(str(valid[0].signing_key))
        signer = found[0] if found else candidates[0]
    else:  # with two keys behind one key ID, we cannot tell which one failed
        signer = candidates[0] if len(candidates) == 1 else None
    key = signer.owner if signer is not None else None
    if signer is not None and signer.revoked:
        return SignatureCheck(index, Verdict.REVOKED_KEY, issuer, key, created)
    if key is not None and key.disabled:
        return SignatureCheck(index, Verdict.DISABLED_KEY, issuer, key, created, "disabled in the keyring")
    if valid:
        assert signer is not None
        if signer.expired:
            return SignatureCheck(index, Verdict.EXPIRED_KEY, issuer, key, created, "made before the key expired")
        return SignatureCheck(index, Verdict.GOOD, issuer, key, created)
    body = packet.body
    refusal = _refusal(body, created, now)
    if refusal is not None:
        return SignatureCheck(index, Verdict.BAD, issuer, key, created, refusal)
    expiry = _expired_at(packet)
    sig_expired = expiry is not None and expiry <= now
    key_expired = signer is not None and signer.expired
    if (sig_expired or key_expired) and _digest_matches(body, data_path, content):
        gpg = keyring.gpg_statuses(bytes(packet), data_path, content)
        if gpg is None:
            return SignatureCheck(index, Verdict.BAD, issuer, key, created, "expired, and GnuPG could not check it")
        if "VALIDSIG" in gpg and "EXPSIG" in gpg and expiry is not None:
            return SignatureCheck(index, Verdict.EXPIRED_SIGNATURE, issuer, key, created, f"expired {expiry:%Y-%m-%d}")
        if "VALIDSIG" in gpg and "EXPKEYSIG" in gpg:
            return SignatureCheck(index, Verdict.EXPIRED_KEY, issuer, key, created)
    return SignatureCheck(index, Verdict.BAD, issuer, key, created, "it does not match the package")


def check_signatures(
    data_path: str | os.PathLike[str],
    signature: bytes,
    keyring: Keyring,
    now: datetime | None = None,
    content: bytes | None = None,
) -> tuple[SignatureCheck, ...]:
    """A verdict for each signature of ``signature`` over the file at ``data_path``, or over
    ``content``, that file's bytes, when they were read already (the file is then not read).

    Raises MalformedSignature when the signature file is not a list of OpenPGP
    signatures.
    """
    packets = split_signatures(signature)
    when = now or datetime.now(UTC)
    path = os.fspath(data_path)
    return tuple(_check_one(i, p, path, content, keyring, when) for i, p in enumerate(packets, 1))
