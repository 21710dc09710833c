"""Every failure repotools reports, as one exception type each.

The message is built where the error is raised and is the one line a user sees;
only the CLI turns these into output and exit codes.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "ConfigError",
    "CorruptDatabase",
    "DatabaseError",
    "DatabaseNotFound",
    "EntryNotFound",
    "GpgError",
    "InvalidDatabaseName",
    "InvalidPackage",
    "InvalidSigLevel",
    "KeyringError",
    "LockHeld",
    "MalformedSignature",
    "NotAPackage",
    "PackageChanged",
    "PackageError",
    "PackageNotFound",
    "RepoToolsError",
    "RepoWriteError",
    "RevokedKeySignature",
    "SignatureFileError",
    "SignatureRejected",
    "SituationAborted",
    "TooFewSignatures",
    "UnsignedPackage",
    "UnsupportedCompression",
    "UnverifiedSignature",
    "UsageError",
]


def _rebuild(cls: type[RepoToolsError], message: str) -> RepoToolsError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class RepoToolsError(Exception):
    """Base class: a failure with a one-line message meant for the user."""

    def __reduce__(self) -> tuple[object, ...]:
        # subclasses build their message from other arguments; pickle the message
        # itself so errors cross process boundaries (parallel scans) unchanged
        return (_rebuild, (type(self), str(self)))

    def lines(self) -> list[str]:
        """The message as it is printed: one error line (cli.output escapes a newline in it, from a file
        name say, so that it stays one line)."""
        return [str(self)]


class UsageError(RepoToolsError):
    """The command line is wrong: an unknown option, a missing argument."""


class PackageError(RepoToolsError):
    """A package file given on the command line cannot be added."""


class PackageNotFound(PackageError):
    """The package file does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(f"File '{path}' not found.")


class NotAPackage(PackageError):
    """The file is not an archive holding a ``.PKGINFO``."""

    def __init__(self, path: str, why: str = "") -> None:
        detail = f" ({why})" if why else ""
        super().__init__(f"'{path}' is not a package file{detail}.")


class InvalidPackage(PackageError):
    """The package's ``.PKGINFO`` lacks a field or holds a value pacman would not accept."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"Invalid package file '{path}': {why}.")


class SignatureFileError(PackageError):
    """The ``.sig`` beside a package cannot be embedded (armored, oversized, unreadable)."""


class DatabaseError(RepoToolsError):
    """The repository database cannot be read or written."""


class InvalidDatabaseName(DatabaseError):
    """The database path does not end in an extension pacman's scripts accept."""

    def __init__(self, path: str) -> None:
        super().__init__(f"'{path}' does not have a valid database archive extension.")


class UnsupportedCompression(DatabaseError):
    """The extension is valid but this libarchive cannot write that compression."""


class CorruptDatabase(DatabaseError):
    """The existing database is not a readable pacman database."""


class DatabaseNotFound(DatabaseError):
    """repo-remove was given a database that does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Repository file '{path}' was not found.")


class LockHeld(DatabaseError):
    """Another process holds the database's lock file. Printed as repo-add prints it: "Failed
    to acquire lockfile: <path>.", then, when the lock is a regular file, "Held by process
    <its content>" (``holder``; empty when it could not be read). A lock whose process no
    longer runs (``stale``) says so on that line, with the command that clears it."""

    def __init__(self, path: str, holder: str | None, stale: bool = False) -> None:
        self._lines = [f"Failed to acquire lockfile: {path}."]
        if holder is not None:
            line = f"Held by process {holder}"
            if stale:
                quoted = "'" + path.replace("'", "'\\''") + "'"
                line += (
                    f", which no longer runs: a stale lock, left by a run that was killed. Remove it with "
                    f"rm -f -- {quoted} once no repo-add or repo-remove uses this database, or run with "
                    "--wait-for-lock to take it over"
                )
            self._lines.append(line)
        super().__init__(" ".join(self._lines))

    def lines(self) -> list[str]:
        return list(getattr(self, "_lines", None) or [str(self)])


class RepoWriteError(DatabaseError):
    """Writing the new database into the repository directory failed."""


class EntryNotFound(RepoToolsError):
    """repo-remove was asked to remove a name the database does not hold."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Package matching '{name}' not found.")


class GpgError(RepoToolsError):
    """GnuPG could not sign or verify the database."""


class ConfigError(RepoToolsError):
    """The configuration file is unreadable or holds an unknown key or a wrong type."""


class KeyringError(RepoToolsError):
    """The package keyring cannot be read (not a GnuPG home, GnuPG failed)."""


class MalformedSignature(RepoToolsError):
    """A signature file that is not a list of OpenPGP signature packets; the message says why."""


class SignatureRejected(PackageError):
    """A package's signatures do not satisfy the signature level; the message names every signature."""

    reason = "its signatures do not satisfy the level"

    def __init__(self, subject: str, level: str, details: list[str], reason: str | None = None) -> None:
        text = f"Package '{subject}' refused ({level}): {reason or self.reason}"
        if details:
            text += ": " + "; ".join(details)
        super().__init__(text + ".")


class UnsignedPackage(SignatureRejected):
    """The level requires a signature and the package has no ``.sig``."""

    reason = "it is not signed"


class BadSignature(SignatureRejected):
    """A signature by a known key does not match the package: it was altered or forged."""

    reason = "a signature does not match the package"


class RevokedKeySignature(SignatureRejected):
    """A signature was made by a revoked key (or a revoked subkey)."""

    reason = "a signature was made by a revoked key"


class DisabledKeySignature(SignatureRejected):
    """A signature was made by a key disabled in the keyring (``pacman-key`` disables the keys it revokes)."""

    reason = "a signature was made by a key disabled in the keyring"


class TooFewSignatures(SignatureRejected):
    """Fewer good signatures from distinct, counted keys than the level requires."""


class UnverifiedSignature(SignatureRejected):
    """``Required:All``: a signature present is not good, or not by a counted key."""


class InvalidSigLevel(UsageError):
    """A signature level that does not follow the SigLevel grammar."""


class SituationAborted(RepoToolsError):
    """A situation (no signature, unsigned database, ...) whose configured action is ``abort``."""


class PackageChanged(PackageError):
    """The package file changed between reading it and checking its signature."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Package '{path}' changed while it was being read; try again.")
