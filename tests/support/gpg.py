"""GnuPG homes with signing keys, for the database signatures of ``repo-add -s``.

* ``GpgHome``: a throw-away ``GNUPGHOME`` with unprotected ed25519 signing keys; the session
  fixture ``gpg_home`` (tests/conftest.py) holds ``SIGNER`` and ``OTHER_SIGNER``.
* ``UserKeys``: a packager's own keyring as ``repo-add -s -k`` meets it: gpg's default key
  (``DEFAULT``), a second key (``SECOND``), an expired one (``EXPIRED``) and a certify-only key
  with a signing subkey (``SUBKEYED``); the session fixture ``user_keys``.

Package signatures checked against a pacman-key-style keyring are the key factory's
(``support.keyfactory``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .tools import base_env, tool_env

__all__ = ["DEFAULT", "EXPIRED", "OTHER_SIGNER", "SECOND", "SIGNER", "SUBKEYED", "GpgHome", "UserKeys"]

# the two keys of the session's GpgHome (conftest.gpg_home)
SIGNER = "Repotools Test Signer <signer@example.invalid>"
OTHER_SIGNER = "Repotools Other Signer <other@example.invalid>"

# the keys of UserKeys
DEFAULT = "Alice <alice@example.org>"  # the first secret key: gpg's default key
SECOND = "Bob <bob@example.org>"
EXPIRED = "Old <old@example.org>"
SUBKEYED = "Carol <carol@example.org>"  # a certify-only primary key with a signing subkey


class GpgHome:
    """A throw-away GNUPGHOME (short path: gpg-agent's socket lives in it) with signing keys."""

    def __init__(self, uids: Sequence[str]) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="rt-gpg-"))
        os.chmod(self.path, 0o700)
        self.fingerprints: dict[str, str] = {}
        for uid in uids:
            self.gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
            listing = self.gpg("--with-colons", "--list-secret-keys", uid).stdout
            fprs = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
            self.fingerprints[uid] = fprs[0]

    def gpg(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["gpg", "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", *args],
            env=tool_env(self.path), check=True, capture_output=True, text=True,
            input=input.decode() if input is not None else None,
        )

    def sign(self, path: str | os.PathLike[str], uid: str) -> bytes:
        """A binary detached signature of ``path`` by ``uid``'s key."""
        out = Path(self.path) / "detached.sig"
        self.gpg("--local-user", self.fingerprints[uid], "--detach-sign", "--no-armor", "--output", str(out), str(path))
        data = out.read_bytes()
        out.unlink()
        return data

    def armored_sign(self, path: str | os.PathLike[str], uid: str) -> bytes:
        out = Path(self.path) / "detached.asc"
        self.gpg("--local-user", self.fingerprints[uid], "--detach-sign", "--armor", "--output", str(out), str(path))
        data = out.read_bytes()
        out.unlink()
        return data

    def export(self, uid: str, armor: bool = True) -> bytes:
        args = ["--armor"] if armor else []
        return subprocess.run(
            ["gpg", "--batch", *args, "--export", self.fingerprints[uid]],
            env=tool_env(self.path), check=True, capture_output=True,
        ).stdout

    def verify(self, signature: str | os.PathLike[str], data: str | os.PathLike[str]) -> bool:
        proc = subprocess.run(
            ["gpg", "--batch", "--verify", str(signature), str(data)],
            check=False, env=tool_env(self.path), capture_output=True,
        )
        return proc.returncode == 0

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], check=False, env=tool_env(self.path), capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)


class UserKeys:
    """A packager's GnuPG home: ``DEFAULT`` and ``SECOND``, ``EXPIRED`` (expired now) and ``SUBKEYED``
    (signing with its subkey); ``fpr[uid]`` is each primary key's fingerprint, ``subkey`` the
    signing subkey's."""

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
