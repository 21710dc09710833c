"""Signing and verifying databases with the user's own GnuPG, as ``repo-add -s/-k/-v`` do.

python-gnupg drives the ``gpg`` of the user's ``GNUPGHOME`` (and its agent). The
privilege-separated database key is a different module; this one only exists
for drop-in compatibility with pacman's scripts.
"""

from __future__ import annotations

import os
import shutil

from .errors import GpgError

__all__ = ["UserGpg"]


class UserGpg:
    """The user's GnuPG keyring."""

    def __init__(self, key: str | None = None) -> None:
        if shutil.which("gpg") is None:
            raise GpgError("Cannot find the gpg binary! Is GnuPG installed?")
        import gnupg  # imported late: only -s and -v need it

        self._gpg = gnupg.GPG(gnupghome=os.environ.get("GNUPGHOME") or None, use_agent=True)
        self.key = key or None

    def check_secret_key(self) -> None:
        """Fail unless the signing key (or any secret key) is in the keyring."""
        keys = self._gpg.list_keys(secret=True, keys=self.key) if self.key else self._gpg.list_keys(secret=True)
        if not keys:
            if self.key:
                raise GpgError(f"The key {self.key} does not exist in your keyring.")
            raise GpgError("There is no key in your keyring.")

    def sign(self, path: str, output: str) -> None:
        """Write a binary detached signature of ``path`` to ``output``."""
        with open(path, "rb") as f:
            result = self._gpg.sign_file(f, keyid=self.key, detach=True, binary=True, output=output)
        if not result or not os.path.exists(output) or os.path.getsize(output) == 0:
            status = getattr(result, "status", None) or "gpg failed"
            raise GpgError(f"Failed to sign package database file '{os.path.basename(path)}': {status}.")

    def verify(self, path: str, signature: str) -> str:
        """Verify ``signature`` over ``path``; return who signed it, or raise."""
        with open(signature, "rb") as sig:
            result = self._gpg.verify_file(sig, path)
        if not result.valid:
            why = result.status or "no valid signature"
            raise GpgError(f"Database signature was NOT valid! ({os.path.basename(path)}: {why})")
        return f"{result.username or ''} ({result.fingerprint})".strip()
