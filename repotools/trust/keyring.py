"""A package keyring: the public keys of a GnuPG home and each key's validity.

The keyring is the kind ``pacman-key`` manages (``/etc/pacman.d/gnupg``): master
keys certify packager keys, and GnuPG's web of trust gives every key a
validity. We ask GnuPG once per run, through python-gnupg, for two things: the
listing of every key with its validity (one ``--list-keys``) and the keys
themselves (one ``--export``). Verification then runs in-process against
:class:`Keyring`, which is plain data: no process is started per signature
(but for the rare signature that only GnuPG can tell from a forgery, see
:meth:`Keyring.gpg_statuses`).

Reading the keyring never writes to it: GnuPG's automatic update of the trust
database is turned off (it rewrote ``trustdb.gpg``, and failed on a keyring
the user may read but not write, such as a root-owned ``/etc/pacman.d/gnupg``).
A trust database that needs the update is reported (:attr:`Keyring.stale`).

Subkeys count as their primary key: a signature by a signing subkey is a
signature by the primary key's owner, with the subkey's own revocation and
expiry taken into account.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KeyringError

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
# no automatic --check-trustdb: reading the keyring must not write to it
GPG_OPTIONS = ["--no-auto-check-trustdb"]


@dataclass(frozen=True)
class Key:
    """A primary key of the keyring: who it is and how far the web of trust vouches for it."""

    fingerprint: str  # upper-case hex
    user_id: str
    validity: str  # GnuPG's letter
    disabled: bool = False  # the owner disabled it (``pacman-key`` disables the keys it revokes)

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

    def __init__(
        self, source: str, certs: Mapping[str, Any], signing_keys: Iterable[SigningKey], stale: bool = False
    ) -> None:
        self.source = source  # the GnuPG home
        self.stale = stale  # GnuPG asks for a --check-trustdb: validities may be out of date
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

    def gpg_statuses(self, signature: bytes, data_path: str, content: bytes | None = None) -> frozenset[str] | None:
        """GnuPG's own status keywords (``VALIDSIG``, ``EXPSIG``, ``BADSIG``...) on one signature
        packet over the data at ``data_path``, or over ``content``; None when GnuPG cannot be run.

        One process: only for the signatures pysequoia refuses as expired, where a forged
        signature and an expired one must be told apart by the public-key operation itself.
        """
        import gnupg

        try:
            gpg = gnupg.GPG(gnupghome=self.source, options=GPG_OPTIONS)
            with tempfile.TemporaryDirectory(prefix="repotools-sig.") as tmp:
                sig_path = os.path.join(tmp, "signature.sig")
                with open(sig_path, "wb") as f:
                    f.write(signature)
                if content is not None:
                    result = gpg.verify_data(sig_path, content)
                else:
                    fd = os.open(data_path, os.O_RDONLY)
                    try:  # through our descriptor: the very file the caller opened, whatever its name
                        proc_path = f"/proc/{os.getpid()}/fd/{fd}"
                        data = proc_path if os.path.exists(proc_path) else data_path
                        with open(sig_path, "rb") as sig:
                            result = gpg.verify_file(sig, data_filename=data)
                    finally:
                        os.close(fd)
        except (OSError, ValueError):
            return None
        return frozenset(
            line.split()[1] for line in (result.stderr or "").splitlines() if line.startswith("[GNUPG:] ") and len(line.split()) > 1
        )

    @classmethod
    def from_parts(
        cls, source: str, export: bytes, listing: Sequence[Mapping[str, Any]], stale: bool = False
    ) -> Keyring:
        """Build a keyring from ``gpg --export`` output and python-gnupg's ``list_keys()``.

        Keys listed without a certificate in the export (or the reverse) are left
        out: a key we cannot check a signature against is not in the keyring.
        """
        from ._sequoia import pysequoia

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
            owner = Key(
                fingerprint=fpr,
                user_id=str(uids[0]),
                validity=str(entry.get("trust", "")),
                disabled="D" in str(entry.get("cap", "")),
            )
            signing.append(SigningKey(fingerprint=fpr, validity=owner.validity, owner=owner))
            info = entry.get("subkey_info") or {}
            for sub in entry.get("subkeys") or ():
                keyid, sub_fpr = str(sub[0]), str(sub[2] or "").upper()
                if not sub_fpr:
                    continue
                letter = str((info.get(keyid) or {}).get("trust", ""))
                signing.append(SigningKey(fingerprint=sub_fpr, validity=letter, owner=owner))
        return cls(source, {f: c for f, c in certs.items()}, signing, stale)


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
    if not os.access(home, os.R_OK | os.X_OK):
        raise KeyringError(f"Cannot read package keyring '{home}': Permission denied.")
    if not any(os.path.isfile(os.path.join(home, n)) for n in ("pubring.kbx", "pubring.gpg")):
        raise KeyringError(f"Package keyring '{home}' holds no public keys (no pubring.kbx or pubring.gpg).")


def load_keyring(home: str) -> Keyring:
    """Read a GnuPG home's public keys and validities: two GnuPG processes, once per run."""
    check_keyring_home(home)
    import gnupg

    try:
        gpg = gnupg.GPG(gnupghome=home, options=GPG_OPTIONS)
        listing = gpg.list_keys()
    except (OSError, ValueError) as e:
        raise KeyringError(f"Cannot read package keyring '{home}': {e}") from None
    if getattr(listing, "returncode", 0) not in (0, None):
        raise KeyringError(f"Cannot read package keyring '{home}': gpg --list-keys failed{_gpg_reason(listing)}.")
    fingerprints = [k["fingerprint"] for k in listing]
    export = b""
    if fingerprints:
        data = gpg.export_keys(fingerprints, armor=False)
        export = data if isinstance(data, bytes) else data.encode("latin-1")
        if not export:
            raise KeyringError(f"Cannot export the keys of package keyring '{home}'.")
    return Keyring.from_parts(home, export, listing, _trustdb_stale(listing))


def _trustdb_stale(listing: Any) -> bool:
    """Whether the listing's ``tru`` record says the trust database is old (GnuPG's DETAILS: field 2 ``o``)."""
    data = getattr(listing, "data", b"")
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return any(line.startswith("tru:") and "o" in line.split(":")[1] for line in text.splitlines())


def _gpg_reason(result: Any) -> str:
    """GnuPG's own last complaint, for an error message: `` (<what gpg said>)``, or nothing."""
    said = [
        line.removeprefix("gpg: ").strip()
        for line in str(getattr(result, "stderr", "") or "").splitlines()
        if line.startswith("gpg: ")
    ]
    return f" ({said[-1]})" if said else ""
