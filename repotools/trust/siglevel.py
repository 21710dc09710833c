"""SigLevel: what is enough for a package or a database to be accepted, by its signatures.

Every decision about a set of signature verdicts (``signatures.SignatureCheck``)
is made here, by objects whose ``check`` raises a ``SignatureRejected`` naming
each signature, and never returns a bool a caller could forget to look at.

The grammar is pacman's ``SigLevel`` with counts::

    level  := word (whitespace word)*
    word   := [Package|Database] (Never | Optional[:count] | Required[:count]
                                  | TrustedOnly[:M] | TrustAll)
    count  := N (an integer >= 1) | All

Words without a prefix set both parts; later words override earlier ones. A
part no word mentions is ``Required TrustedOnly`` (``Required:1``).

Rules of a part (``Rule.check``):

1. ``Never``: nothing is checked; everything passes.
2. No signature: ``Optional`` passes, ``Required`` refuses.
3. A bad signature (a known key, and it does not match), a signature by a
   revoked key, or one by a key disabled in the keyring refuses the package, whatever the counts.
4. The good signatures counted are those by trusted keys (full or ultimate
   validity) under ``TrustedOnly``; by any key of the keyring under ``TrustAll``
   and ``TrustedOnly:M``. Each key counts once, however many signatures it made.
5. ``Required:N``: at least N counted keys. Signatures by unknown keys, expired
   ones and those by keys the trust word does not count are not counted and do
   not refuse the package.
6. ``Required:All``: every signature present is good and counted, and there is
   at least one.
7. ``TrustedOnly:M``: moreover, at least M of the counted keys are trusted.

The situations a verifier meets (no signature anywhere, a signed package in an
unsigned database, ...) are ``trust.situations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal, Protocol

from ..errors import (
    BadSignature,
    DisabledKeySignature,
    InvalidSigLevel,
    RevokedKeySignature,
    TooFewSignatures,
    UnsignedPackage,
    UnverifiedSignature,
)
from .signatures import SignatureCheck, Verdict

__all__ = [
    "Accepted",
    "DropInRule",
    "Mode",
    "PackagePolicy",
    "Rule",
    "SigLevel",
    "Trust",
    "pacman_would_refuse",
    "parse_siglevel",
]


class Mode(Enum):
    NEVER = "Never"
    OPTIONAL = "Optional"
    REQUIRED = "Required"


class Trust(Enum):
    TRUSTED_ONLY = "TrustedOnly"
    TRUST_ALL = "TrustAll"


Count = int | Literal["All"]


@dataclass(frozen=True)
class Accepted:
    """What a passing check counted."""

    checks: tuple[SignatureCheck, ...]
    counted_keys: tuple[str, ...] = ()  # primary fingerprints
    trusted_keys: tuple[str, ...] = ()


class PackagePolicy(Protocol):
    """Anything that decides on a package's signature verdicts."""

    def check(self, checks: Sequence[SignatureCheck] | None, subject: str) -> Accepted:
        """Accept, or raise a SignatureRejected; ``checks`` is None when there is no signature."""
        ...

    def __str__(self) -> str: ...


def _details(checks: Sequence[SignatureCheck]) -> list[str]:
    return [c.describe() for c in checks]


# the verdicts that refuse a package under every level but Never (SignatureCheck.fails), in the
# order their errors are chosen when a package has several
_FAILURES = (
    (Verdict.BAD, BadSignature),
    (Verdict.REVOKED_KEY, RevokedKeySignature),
    (Verdict.DISABLED_KEY, DisabledKeySignature),
)


def _refuse_failures(checks: Sequence[SignatureCheck], subject: str, level: str) -> None:
    for verdict, error in _FAILURES:
        if any(c.verdict is verdict for c in checks):
            raise error(subject, level, _details(checks))


@dataclass(frozen=True)
class Rule:
    """One part (package or database) of a signature level."""

    mode: Mode = Mode.REQUIRED
    count: Count = 1
    trust: Trust = Trust.TRUSTED_ONLY
    min_trusted: int = 0  # TrustedOnly:M

    def __str__(self) -> str:
        if self.mode is Mode.NEVER:
            return "Never"
        mode = self.mode.value + (f":{self.count}" if self.count != 1 else "")
        trust = self.trust.value if not self.min_trusted else f"TrustedOnly:{self.min_trusted}"
        return f"{mode} {trust}"

    def counts(self, check: SignatureCheck) -> bool:
        """Whether a signature counts towards ``Required:N``."""
        if not check.good or check.key is None:
            return False
        return check.key.trusted or self.trust is Trust.TRUST_ALL or self.min_trusted > 0

    def check(self, checks: Sequence[SignatureCheck] | None, subject: str) -> Accepted:
        level = str(self)
        if self.mode is Mode.NEVER:
            return Accepted(tuple(checks or ()))
        if not checks:
            if self.mode is Mode.OPTIONAL:
                return Accepted(())
            raise UnsignedPackage(subject, level, [])
        _refuse_failures(checks, subject, level)
        counted = tuple(dict.fromkeys(c.key.fingerprint for c in checks if self.counts(c) and c.key))
        trusted = tuple(dict.fromkeys(c.key.fingerprint for c in checks if c.trusted and c.key))
        if self.count == "All":
            left_out = [c for c in checks if not self.counts(c)]
            if left_out:
                which = ", ".join(str(c.index) for c in left_out)
                raise UnverifiedSignature(
                    subject,
                    level,
                    _details(checks),
                    f"Required:All, and signature {which} is not good by a counted key",
                )
        elif len(counted) < self.count:
            raise TooFewSignatures(
                subject,
                level,
                _details(checks),
                f"{len(counted)} good signature{'s' if len(counted) != 1 else ''} from distinct counted keys, "
                f"{self.count} required",
            )
        if len(trusted) < self.min_trusted:
            raise TooFewSignatures(
                subject, level, _details(checks), f"{len(trusted)} from trusted keys, {self.min_trusted} required"
            )
        return Accepted(tuple(checks), counted, trusted)


@dataclass(frozen=True)
class DropInRule:
    """repo-add with a keyring and no level: add what pacman's repo-add adds, but never a forgery.

    Unsigned packages pass; a bad signature, a revoked or a disabled key refuses the package;
    anything else (unknown or untrusted keys, expiry) passes, with the warnings
    the caller gives.
    """

    def __str__(self) -> str:
        return "no signature level: bad signatures, revoked and disabled keys refused"

    def check(self, checks: Sequence[SignatureCheck] | None, subject: str) -> Accepted:
        if checks:
            _refuse_failures(checks, subject, "no signature level set")
        return Accepted(tuple(checks or ()))


def pacman_would_refuse(check: SignatureCheck) -> bool:
    """pacman with ``TrustedOnly`` requires every signature to be valid from a full or ultimate key."""
    return not check.trusted


@dataclass(frozen=True)
class SigLevel:
    package: Rule = field(default_factory=Rule)
    database: Rule = field(default_factory=Rule)

    def __str__(self) -> str:
        if self.package == self.database:
            return str(self.package)
        words = [f"Package{w}" for w in str(self.package).split()]
        words += [f"Database{w}" for w in str(self.database).split()]
        return " ".join(words)


def _parse_count(word: str, text: str, allow_all: bool) -> int | Literal["All"]:
    if allow_all and text == "All":
        return "All"
    if text.isdigit() and int(text) >= 1 and text.isascii():
        return int(text)
    allowed = "an integer of at least 1" + (" or All" if allow_all else "")
    raise InvalidSigLevel(f"Invalid signature level word '{word}': the count must be {allowed}.")


def parse_siglevel(spec: str) -> SigLevel:
    """Parse a signature level; raises InvalidSigLevel naming the word at fault."""
    words = spec.split()
    if not words:
        raise InvalidSigLevel("Invalid signature level: it is empty.")
    parts = {"Package": Rule(), "Database": Rule()}
    for word in words:
        name, _, arg = word.partition(":")
        targets = ["Package", "Database"]
        for prefix in ("Package", "Database"):
            if name.startswith(prefix) and name != prefix:
                targets, name = [prefix], name[len(prefix) :]
                break
        if ":" in word and not arg:
            raise InvalidSigLevel(f"Invalid signature level word '{word}': a count is missing after ':'.")
        for t in targets:
            r = parts[t]
            if name == "Never" and not arg:
                r = replace(r, mode=Mode.NEVER)
            elif name in ("Optional", "Required"):
                r = replace(r, mode=Mode(name), count=_parse_count(word, arg, True) if arg else 1)
            elif name == "TrustedOnly":
                r = replace(r, trust=Trust.TRUSTED_ONLY, min_trusted=int(_parse_count(word, arg, False)) if arg else 0)
            elif name == "TrustAll" and not arg:
                r = replace(r, trust=Trust.TRUST_ALL, min_trusted=0)
            elif name in ("Never", "TrustAll"):
                raise InvalidSigLevel(f"Invalid signature level word '{word}': {name} takes no count.")
            else:
                raise InvalidSigLevel(
                    f"Invalid signature level word '{word}': expected Never, Optional, Required, TrustedOnly or "
                    "TrustAll, optionally after Package or Database."
                )
            parts[t] = r
    return SigLevel(package=parts["Package"], database=parts["Database"])
