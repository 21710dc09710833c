"""The signature gate of repo-add: every package's signatures checked before the database is touched.

The transaction sees a gate through ``PackageGate`` alone: ``verifier`` says what
the scan runs beside each signed package, ``admit`` applies the policy to each
package in order. ``SignatureGate`` is the one implementation; three ways to run,
chosen by ``SignatureGate.build``:

- no package keyring given, configured or found at ``/etc/pacman.d/gnupg``:
  signatures are embedded unchecked, as pacman's repo-add does, with one warning;
- a keyring and no level: pacman's behaviour, except that a bad signature or a
  revoked key refuses the package (``trust.siglevel.DropInRule``);
- a keyring and a level: the level is enforced exactly (``trust.siglevel.Rule``).

The signature is checked over the very bytes that were hashed into the
database entry (``trust.verification.verify_package``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import KeyringError, PackageError
from ..events import Event, Level
from ..trust.verification import Verifier, verify_package

if TYPE_CHECKING:  # imported when signatures are checked: not on the runs that check none
    from ..trust.keyring import Keyring
    from ..trust.siglevel import PackagePolicy, Rule
    from ..trust.signatures import SignatureCheck
    from .scan import ScannedPackage

__all__ = ["PackageGate", "PackageSignatures", "SignatureGate"]


class PackageGate(Protocol):
    """What the transaction asks of the signature gate."""

    def verifier(self, paths: Sequence[str]) -> Verifier | None:
        """What the scan runs on each signed package, in the worker that read it, or None."""

    def admit(self, pkg: ScannedPackage) -> list[Event]:
        """Messages to show for a package about to be added, or a RepoToolsError to refuse it."""


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
            from ..trust.keyring import check_keyring_home

            check_keyring_home(keyring)
        if rule is not None:
            from ..trust.siglevel import Mode

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
            from ..trust.siglevel import DropInRule

            return cls(keyring, DropInRule(), load)
        return cls(keyring, rule, load)

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            assert self.keyring_home is not None
            if self.load is None:
                from ..trust.keyring import load_keyring

                self.load = load_keyring
            self._keyring = self.load(self.keyring_home)
        return self._keyring

    def admit(self, pkg: ScannedPackage) -> list[Event]:
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
                if found is None:  # not checked by the scan: check now
                    found = verify_package(self.keyring, pkg.path, sig, pkg.identity)
                if found.error is not None:
                    raise found.error
                checks = found.checks
            self.policy.check(checks, pkg.path)
        except PackageError as e:
            self.findings[pkg.path] = PackageSignatures(pkg.path, True, checks or (), str(e))
            raise
        self.findings[pkg.path] = PackageSignatures(pkg.path, True, checks or ())
        from ..trust.siglevel import pacman_would_refuse

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
        in parallel; the policy is still applied here, in order, by ``admit``.
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
