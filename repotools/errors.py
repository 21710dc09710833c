"""Every failure repotools reports, as one exception type each.

The message is built where the error is raised and is the one line a user sees;
only the CLI turns these into output and exit codes.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptDatabase",
    "DatabaseError",
    "DatabaseNotFound",
    "EntryNotFound",
    "GpgError",
    "InvalidDatabaseName",
    "InvalidPackage",
    "LockHeld",
    "NotAPackage",
    "PackageError",
    "PackageNotFound",
    "RepoToolsError",
    "RepoWriteError",
    "SignatureFileError",
    "UnsupportedCompression",
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
    """Another process holds the database's lock file."""


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
