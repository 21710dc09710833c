"""A package keyring: the public keys of a GnuPG home and each key's validity.

The keyring is the kind ``pacman-key`` manages (``/etc/pacman.d/gnupg``): master
keys certify packager keys, and GnuPG's web of trust gives every key a
validity. We ask GnuPG once per run, through python-gnupg, for two things: the
listing of every key with its validity (one ``--list-keys``) and the keys
themselves (one ``--export``). Verification then runs in-process against
:class:`Keyring`, which is plain data: no process is started per signature.

Subkeys count as their primary key: a signature by a signing subkey is a
signature by the primary key's owner, with the subkey's own revocation and
expiry taken into account.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import KeyringError

__all__ = [
    "VALIDITY_NAMES",
    "Key",
    "Keyring",
    "SigningKey",
    "check_keyring_home",
    "find_default_keyring",
    "load_keyring",
]

# GnuPG's validity letters (the second field of --with-colons), as words
VALIDITY_NAMES = {
    "u": "ultimate",
    "f": "full",
    "m": "marginal",
    "-": "unknown",
    "q": "undefined",
    "n": "never",
    "e": "expired",
    "r": "revoked",
    "i": "invalid",
    "d": "disabled",
    "o": "unknown",
    "": "unknown",
}
TRUSTED_VALIDITIES = frozenset("uf")
DEFAULT_KEYRING = "/etc/pacman.d/gnupg"


@dataclass(frozen=True)
class Key:
    """A primary key of the keyring: who it is and how far the web of trust vouches for it."""

    fingerprint: str  # upper-case hex
    user_id: str
    validity: str  # GnuPG's letter

    @property
    def trusted(self) -> bool:
        """Full or ultimate validity: the web of trust vouches for this key."""
        return self.validity in TRUSTED_VALIDITIES

    @property
    def revoked(self) -> bool:
        return self.validity == "r"

    @property
    def expired(self) -> bool:
        return self.validity == "e"

    @property
    def validity_name(self) -> str:
        return VALIDITY_NAMES.get(self.validity, self.validity)

    def describe(self) -> str:
        return f"{self.fingerprint} ({self.user_id})" if self.user_id else self.fingerprint


@dataclass(frozen=True)
class SigningKey:
    """The key (primary or subkey) that made a signature, and the primary key it belongs to."""

    fingerprint: str  # the signing key itself, upper-case hex
    validity: str  # the signing key's own letter (a subkey may be revoked or expired alone)
    owner: Key

    @property
    def revoked(self) -> bool:
        return self.validity == "r" or self.owner.revoked

    @property
    def expired(self) -> bool:
        return self.validity == "e" or self.owner.expired


class Keyring:
    """Public keys indexed by fingerprint and key ID, with their OpenPGP certificates.

    Built with :func:`load_keyring` (runs GnuPG) or :meth:`from_parts` (pure).
    """

    def __init__(self, source: str, certs: Mapping[str, Any], signing_keys: Iterable[SigningKey]) -> None:
        self.source = source
        self._certs = dict(certs)  # primary fingerprint -> pysequoia Cert
        self._by_fpr: dict[str, SigningKey] = {}
        self._by_keyid: dict[str, list[SigningKey]] = {}
        for sk in signing_keys:
            self._by_fpr[sk.fingerprint] = sk
            self._by_keyid.setdefault(sk.fingerprint[-16:], []).append(sk)

    def __len__(self) -> int:
        return len({sk.owner.fingerprint for sk in self._by_fpr.values()})

    def lookup(self, issuer: str) -> list[SigningKey]:
        """The keys a signature's issuer (a fingerprint or a 16-digit key ID) may name."""
        issuer = issuer.upper()
        if len(issuer) == 16:
            return list(self._by_keyid.get(issuer, ()))
        sk = self._by_fpr.get(issuer)
        return [sk] if sk is not None else []

    def cert(self, primary_fingerprint: str) -> Any:
        """The certificate of a primary key, for pysequoia."""
        return self._certs.get(primary_fingerprint)

    @classmethod
    def from_parts(cls, source: str, export: bytes, listing: Sequence[Mapping[str, Any]]) -> Keyring:
        """Build a keyring from ``gpg --export`` output and python-gnupg's ``list_keys()``.

        Keys listed without a certificate in the export (or the reverse) are left
        out: a key we cannot check a signature against is not in the keyring.
        """
        from .sequoia import pysequoia

        try:
            certs = {c.fingerprint.upper(): c for c in pysequoia.Cert.split_bytes(export)} if export else {}
        except (RuntimeError, ValueError) as e:  # pysequoia raises plain errors for malformed input
            raise KeyringError(f"Cannot read the keys exported from '{source}': {e}") from None
        signing: list[SigningKey] = []
        for entry in listing:
            fpr = str(entry.get("fingerprint", "")).upper()
            if fpr not in certs:
                continue
            uids = entry.get("uids") or [""]
            owner = Key(fingerprint=fpr, user_id=str(uids[0]), validity=str(entry.get("trust", "")))
            signing.append(SigningKey(fingerprint=fpr, validity=owner.validity, owner=owner))
            info = entry.get("subkey_info") or {}
            for sub in entry.get("subkeys") or ():
                keyid, sub_fpr = str(sub[0]), str(sub[2] or "").upper()
                if not sub_fpr:
                    continue
                letter = str((info.get(keyid) or {}).get("trust", ""))
                signing.append(SigningKey(fingerprint=sub_fpr, validity=letter, owner=owner))
        return cls(source, {f: c for f, c in certs.items()}, signing)


def find_default_keyring() -> str | None:
    """pacman's keyring, when this machine has one."""
    for name in ("pubring.kbx", "pubring.gpg"):
        if os.path.isfile(os.path.join(DEFAULT_KEYRING, name)):
            return DEFAULT_KEYRING
    return None


def check_keyring_home(home: str) -> None:
    """Refuse at once a keyring that is plainly not a GnuPG home with keys."""
    if not os.path.isdir(home):
        raise KeyringError(f"Package keyring '{home}' is not a directory.")
    if not any(os.path.isfile(os.path.join(home, n)) for n in ("pubring.kbx", "pubring.gpg")):
        raise KeyringError(f"Package keyring '{home}' holds no public keys (no pubring.kbx or pubring.gpg).")


def load_keyring(home: str) -> Keyring:
    """Read a GnuPG home's public keys and validities: two GnuPG processes, once per run."""
    check_keyring_home(home)
    import gnupg

    try:
        gpg = gnupg.GPG(gnupghome=home)
        listing = gpg.list_keys()
    except (OSError, ValueError) as e:
        raise KeyringError(f"Cannot read package keyring '{home}': {e}") from None
    if getattr(listing, "returncode", 0) not in (0, None):
        raise KeyringError(f"Cannot read package keyring '{home}': gpg --list-keys failed.")
    fingerprints = [k["fingerprint"] for k in listing]
    export = b""
    if fingerprints:
        data = gpg.export_keys(fingerprints, armor=False)
        export = data if isinstance(data, bytes) else data.encode("latin-1")
        if not export:
            raise KeyringError(f"Cannot export the keys of package keyring '{home}'.")
    return Keyring.from_parts(home, export, listing)
