"""Signing and verifying databases with the user's own GnuPG, as ``repo-add -s/-k/-v`` do.

python-gnupg drives the ``gpg`` of the user's ``GNUPGHOME`` (and its agent). The
privilege-separated database key is a different module; this one only exists
for drop-in compatibility with pacman's scripts.

With a key (``-k`` or ``GPGKEY``) the signature is made by that key or not at all:
gpg is given ``--local-user KEY`` (python-gnupg's ``keyid=`` is ``--default-key``,
which gpg silently replaces by its default key when the key is unusable), and the
key that signed, from gpg's ``SIG_CREATED`` status, is checked against the key
asked for.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import suppress
from typing import Any

from ..errors import GpgError

__all__ = ["UserGpg"]

_HEX = re.compile(r"[0-9A-Fa-f]+")


def _expected(key: str) -> tuple[str, str] | None:
    """What gpg reads ``key`` as: ``("fpr", HEX)``, ``("keyid", HEX)``, or None for a user ID.

    The forms are gpg's own (``classify_user_id``): a fingerprint of 40 (or 64) hex digits,
    spaces allowed; a key ID of 8 or 16 hex digits; either with a ``0x`` prefix and a ``!``
    suffix. Anything else names a user ID, matched by gpg alone.
    """
    value = key.strip()
    value = value.removesuffix("!")
    if value[:2].lower() == "0x":
        value = value[2:]
    compact = value.replace(" ", "")
    if _HEX.fullmatch(compact) and len(compact) in (40, 64):
        return ("fpr", compact.upper())
    if _HEX.fullmatch(value) and len(value) in (8, 16):
        return ("keyid", value.upper())
    return None


def _failure_reason(result: Any) -> str:
    """gpg's own words for a failed signing, else python-gnupg's status."""
    stderr = getattr(result, "stderr", "") or ""
    reason = ""
    unusable = False
    for line in stderr.splitlines():
        if line.startswith("gpg: signing failed: "):
            reason = line.removeprefix("gpg: signing failed: ").strip()
        elif line.startswith("[GNUPG:] KEY_CONSIDERED "):
            fields = line.split()
            if len(fields) >= 4 and fields[3].isdigit() and int(fields[3]) & 2:
                unusable = True  # all its subkeys are expired or revoked
    reason = reason or getattr(result, "status", None) or "gpg failed"
    if unusable:
        reason += " (the key has expired or was revoked)"
    return reason


class UserGpg:
    """The user's GnuPG keyring."""

    def __init__(self, key: str | None = None) -> None:
        if shutil.which("gpg") is None:
            raise GpgError("Cannot find the gpg binary! Is GnuPG installed?")
        import gnupg  # imported late: only -s and -v need it

        self._gpg = gnupg.GPG(gnupghome=os.environ.get("GNUPGHOME") or None, use_agent=True)
        self.key = key

    def _signing_key(self) -> str | None:
        """The key asked for, refused before it reaches gpg if gpg would not read it as a key."""
        if self.key is None:
            return None
        if not self.key.strip():
            raise GpgError("The key to sign with (-k or GPGKEY) is empty.")
        if self.key.startswith("-"):
            raise GpgError(f"The key {self.key} is not a key name: it starts with '-'.")
        return self.key

    def check_secret_key(self) -> None:
        """Fail unless the signing key (or any secret key) is in the keyring."""
        key = self._signing_key()
        keys = self._gpg.list_keys(secret=True, keys=["--", key]) if key else self._gpg.list_keys(secret=True)
        if not keys:
            if key:
                raise GpgError(f"The key {key} does not exist in your keyring.")
            raise GpgError("There is no key in your keyring.")

    def sign(self, path: str, output: str, name: str | None = None) -> None:
        """Write a binary detached signature of ``path`` to ``output``, by the key asked for;
        ``name`` is what errors call the file (the database, not its temporary file)."""
        key = self._signing_key()
        name = name or os.path.basename(path)
        by = f" with the key {key}" if key else ""
        extra = ["--local-user", key] if key else None  # fails, where --default-key falls back
        with open(path, "rb") as f:
            result = self._gpg.sign_file(f, detach=True, binary=True, output=output, extra_args=extra)
        try:
            if not result or not os.path.exists(output) or os.path.getsize(output) == 0:
                raise GpgError(f"Failed to sign package database file '{name}'{by}: {_failure_reason(result)}.")
            if key and not self._made_by(key, str(result.fingerprint)):
                raise GpgError(
                    f"Failed to sign package database file '{name}'{by}: "
                    f"gpg signed with the key {result.fingerprint} instead."
                )
        except GpgError:
            with suppress(OSError):
                os.unlink(output)
            raise

    def _made_by(self, key: str, fingerprint: str) -> bool:
        """Whether the signing (sub)key ``fingerprint`` is the key asked for, or a subkey of it."""
        expected = _expected(key)
        if expected is None:
            return True  # a user ID: --local-user chose the key, there is nothing to compare
        kind, value = expected
        signer = fingerprint.upper()

        def matches(fpr: str) -> bool:
            return fpr == value if kind == "fpr" else fpr.endswith(value)

        if matches(signer):
            return True
        if not _HEX.fullmatch(signer):
            return False
        primaries = self._gpg.list_keys(keys=[signer])  # the primary key holding that subkey
        return any(
            matches(str(k.get("fingerprint", "")).upper()) and signer in self._fingerprints(k) for k in primaries
        )

    @staticmethod
    def _fingerprints(key: dict[str, Any]) -> set[str]:
        found = {str(key.get("fingerprint", "")).upper()}
        for sub in key.get("subkeys") or []:
            if len(sub) > 2 and sub[2]:
                found.add(str(sub[2]).upper())
        return found

    def verify(self, path: str, signature: str) -> str:
        """Verify ``signature`` over ``path``; return who signed it, or raise."""
        with open(signature, "rb") as sig:
            result = self._gpg.verify_file(sig, path)
        if not result.valid:
            why = result.status or "no valid signature"
            raise GpgError(f"Database signature was NOT valid! ({os.path.basename(path)}: {why})")
        return f"{result.username or ''} ({result.fingerprint})".strip()
