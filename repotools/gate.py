"""The signature gate of repo-add: every package's signatures checked before the database is touched.

Three ways to run, chosen by ``SignatureGate.build``:

- no package keyring given, configured or found at ``/etc/pacman.d/gnupg``:
  signatures are embedded unchecked, as pacman's repo-add does, with one warning;
- a keyring and no level: pacman's behaviour, except that a bad signature or a
  revoked key refuses the package (``policy.DropInRule``);
- a keyring and a level: the level is enforced exactly (``policy.Rule``).

The signature is checked over the very bytes that were hashed into the
database entry: the gate opens the package, makes sure it is the same file,
unchanged since the scan (device, inode, size, mtime, ctime), verifies through
that open descriptor and checks again afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .archive import file_identity
from .database import Event, Level, ScannedPackage
from .errors import KeyringError, MalformedSignature, PackageChanged, PackageError, SignatureFileError

if TYPE_CHECKING:  # imported when signatures are checked: not on the runs that check none
    from .keyring import Keyring
    from .policy import PackagePolicy, Rule
    from .signatures import SignatureCheck

__all__ = ["PackageSignatures", "SignatureGate", "Verification", "Verifier", "verify_package"]


@dataclass(frozen=True)
class PackageSignatures:
    """The gate's findings on one package, for reports."""

    path: str
    checked: bool  # False: embedded unchecked (no keyring, or level Never)
    checks: tuple[SignatureCheck, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "accepted": self.error is None,
            "error": self.error,
            "signatures": [c.to_json() for c in self.checks],
        }


@dataclass
class SignatureGate:
    keyring_home: str | None
    policy: PackagePolicy | None  # None with no keyring
    load: Callable[[str], Keyring] | None = None  # None: keyring.load_keyring
    never: bool = False  # level Never: nothing is checked, nothing said
    findings: dict[str, PackageSignatures] = field(default_factory=dict)
    _warned_unchecked: bool = False
    _warned_stale: bool = False
    _keyring: Keyring | None = None

    @classmethod
    def build(
        cls, keyring: str | None, rule: Rule | None, load: Callable[[str], Keyring] | None = None
    ) -> SignatureGate:
        """The gate for a keyring home (or none) and a package rule (None: no level set).

        The keyring is read (two GnuPG processes) only when a signed package needs it.
        """
        if keyring is not None:
            from .keyring import check_keyring_home

            check_keyring_home(keyring)
        if rule is not None:
            from .policy import Mode

            if rule.mode is Mode.NEVER:
                return cls(keyring, rule, load, never=True)
            if keyring is None:
                raise KeyringError(
                    f"Signature level '{rule}' needs a package keyring: give --pkg-keyring, set pkg-keyring in the "
                    "configuration, or set up /etc/pacman.d/gnupg with pacman-key."
                )
        if keyring is None:
            return cls(None, None, load)
        if rule is None:
            from .policy import DropInRule

            return cls(keyring, DropInRule(), load)
        return cls(keyring, rule, load)

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            assert self.keyring_home is not None
            if self.load is None:
                from .keyring import load_keyring

                self.load = load_keyring
            self._keyring = self.load(self.keyring_home)
        return self._keyring

    def __call__(self, pkg: ScannedPackage) -> list[Event]:
        assert pkg.record is not None
        sig = pkg.record.pgpsig
        if self.never:
            self.findings[pkg.path] = PackageSignatures(pkg.path, checked=False)
            return []
        if self.keyring_home is None or self.policy is None:
            self.findings[pkg.path] = PackageSignatures(pkg.path, checked=False)
            if sig is not None and not self._warned_unchecked:
                self._warned_unchecked = True
                return [
                    Event(
                        Level.WARNING,
                        "No package keyring (--pkg-keyring, pkg-keyring in the configuration, or "
                        "/etc/pacman.d/gnupg): package signatures are embedded unchecked.",
                    )
                ]
            return []
        checks: tuple[SignatureCheck, ...] | None = None
        try:
            if sig is not None:
                found = pkg.verification
                if not isinstance(found, Verification):  # not checked by the scan: check now
                    found = verify_package(self.keyring, pkg.path, sig, pkg.identity)
                if found.error is not None:
                    raise found.error
                checks = found.checks
            self.policy.check(checks, pkg.path)
        except PackageError as e:
            self.findings[pkg.path] = PackageSignatures(pkg.path, True, checks or (), str(e))
            raise
        self.findings[pkg.path] = PackageSignatures(pkg.path, True, checks or ())
        from .policy import pacman_would_refuse

        events = self._stale_warning() + [Event(Level.MSG2, _capitalized(c.describe())) for c in checks or ()]
        refused = [c for c in checks or () if pacman_would_refuse(c)]
        if refused:
            events.append(
                Event(
                    Level.WARNING,
                    f"pacman clients with TrustedOnly will refuse '{os.path.basename(pkg.path)}' (every signature "
                    "must be good by a fully trusted key): " + "; ".join(c.describe() for c in refused),
                )
            )
        return events

    def _stale_warning(self) -> list[Event]:
        """Once, when the keyring was read and GnuPG says its trust database is out of date."""
        if self._keyring is None or not self._keyring.stale or self._warned_stale:
            return []
        self._warned_stale = True
        return [
            Event(
                Level.WARNING,
                f"The trust database of package keyring '{self._keyring.source}' is out of date (GnuPG asks for "
                "--check-trustdb): key validities may be stale. Update it with 'pacman-key --updatedb'; "
                "repotools does not write to the keyring.",
            )
        ]

    def verifier(self, paths: Sequence[str]) -> Verifier | None:
        """What the scan runs on each signed package, in the worker that read it, or None.

        Checking signatures costs more than reading packages (a public-key
        operation and a second hash of every byte), so it runs beside the scan,
        in parallel; the policy is still applied here, in order, by ``__call__``.
        The keyring is loaded now, before any worker forks, and only when some
        package has a ``.sig``.
        """
        if self.never or self.keyring_home is None or self.policy is None:
            return None
        if not any(os.path.isfile(p + ".sig") for p in paths):
            return None
        try:
            keyring = self.keyring
        except KeyringError:
            return None  # each package then fails on its own, when (and if) it is checked
        return partial(verify_package, keyring)

    def report(self, paths: Sequence[str]) -> list[dict[str, Any]]:
        return [{"path": p} | self.findings[p].to_json() for p in paths if p in self.findings]


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Verification:
    """The verdicts on a package's signatures, or why they could not be checked (picklable)."""

    checks: tuple[SignatureCheck, ...] = ()
    error: PackageError | None = None


# (path, signature file, identity of the bytes scanned, those bytes when the scan kept them)
Verifier = Callable[[str, bytes, tuple[int, ...], bytes | None], Verification]


def verify_package(
    keyring: Keyring, path: str, sig: bytes, identity: tuple[int, ...], content: bytes | None = None
) -> Verification:
    """Check every signature of ``sig`` over the package at ``path``, the very bytes that were scanned.

    ``content``, the bytes the scan read and hashed, are verified as they are. Without
    them, the file is opened once and checked against ``identity`` (``archive.file_identity``
    of the bytes that were hashed) before and after verifying through that descriptor.
    """
    from .signatures import check_signatures

    def check(data_path: str) -> tuple[SignatureCheck, ...]:
        try:
            return check_signatures(data_path, sig, keyring, content=content)
        except MalformedSignature as e:
            raise SignatureFileError(f"Invalid package signature file '{path}.sig': {e}.") from None

    try:
        if content is not None:
            return Verification(check(path))
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise PackageChanged(path) from e
        try:
            if identity and file_identity(os.fstat(fd)) != identity:
                raise PackageChanged(path)
            checks = check(f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else path)
            if identity and file_identity(os.fstat(fd)) != identity:
                raise PackageChanged(path)
        finally:
            os.close(fd)
    except PackageError as e:
        return Verification(error=e)
    return Verification(checks)
