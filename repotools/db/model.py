"""The sync database in memory and what an update did to it.

``Database`` holds the ``db`` archive's entries and records every change as it is
made, as a change to the ``files`` database too (whose entries another process
holds, see ``update.files_job``); the rules (``db.rules``) return those changes
in their ``Outcome``.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import RepoToolsError
from ..events import Event, Level
from ..formats.desc import PackageRecord, parse_desc

__all__ = [
    "AddOptions",
    "Candidate",
    "Database",
    "Entries",
    "FilesChange",
    "Outcome",
    "RunFailed",
    "entry_package_name",
    "replay",
]

# An in-memory database: entry directory -> {file name in it -> contents}
Entries = MutableMapping[str, dict[str, bytes]]
# one change to the files database: an entry's new members, or None when it goes
FilesChange = tuple[str, dict[str, bytes] | None]


def entry_package_name(dirname: str) -> str:
    """The package name of a database directory ``name-pkgver-pkgrel``."""
    parts = dirname.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else dirname


def replay(entries: Entries, changes: Sequence[FilesChange]) -> None:
    """Apply ``changes`` (an ``Outcome.files_changes``) to the files database's ``entries``."""
    for key, value in changes:
        if value is None:
            entries.pop(key, None)
        else:
            entries[key] = value


class Database:
    """A sync database in memory: ``db``'s entries, and the changes made to both archives."""

    def __init__(self, db: Entries | None = None) -> None:
        self.db: Entries = {} if db is None else db
        self.changes: list[FilesChange] = []  # for the files database, in order
        self.reindex()

    def reindex(self) -> None:
        """Forget the name index (after ``db`` was changed other than through this class)."""
        self._index: dict[str, set[str]] | None = None
        self._lookups = 0

    def entries_of(self, name: str) -> list[str]:
        """The directories of package ``name``, in the order repo-add's glob finds them."""
        if self._index is None:
            self._lookups += 1
            if self._lookups <= 8:  # a few lookups (an update of a few packages): no index needed
                prefix = name + "-"
                return sorted(d for d in self.db if d.startswith(prefix) and entry_package_name(d) == name)
            index: dict[str, set[str]] = {}
            for d in self.db:
                index.setdefault(entry_package_name(d), set()).add(d)
            self._index = index
        return sorted(self._index.get(name, ()))

    def put(self, dirname: str, desc: bytes, files: bytes) -> None:
        """Write a new entry into both databases."""
        self.db[dirname] = {"desc": desc}
        self.changes.append((dirname, {"desc": desc, "files": files}))
        if self._index is not None:
            self._index.setdefault(entry_package_name(dirname), set()).add(dirname)

    def desc(self, dirname: str) -> dict[str, list[str]]:
        return parse_desc(self.db[dirname].get("desc", b""))

    def drop(self, name: str, events: list[Event]) -> list[str]:
        """Remove every entry of package ``name`` from both databases; the entries removed."""
        found = self.entries_of(name)
        for d in found:
            events.append(Event(Level.MSG2, f"Removing existing entry '{d}'..."))
            del self.db[d]
            self.changes.append((d, None))
            if self._index is not None:
                self._index[name].discard(d)
        return found


class Candidate(Protocol):
    """A package file as read from disk (``update.scan.ScannedPackage``): its record and file
    list, or why it failed (both, when only its signature file failed)."""

    @property
    def path(self) -> str: ...
    @property
    def record(self) -> PackageRecord | None: ...
    @property
    def files(self) -> tuple[bytes, ...]: ...
    @property
    def error(self) -> RepoToolsError | None: ...


@dataclass(frozen=True, kw_only=True)
class AddOptions:
    only_new: bool = False  # -n
    remove_old: bool = False  # -R
    prevent_downgrade: bool = False  # -p


@dataclass
class Outcome:
    """What an update did, or why it failed; ``failed`` means nothing may be written."""

    events: list[Event] = field(default_factory=list)
    failed: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # names whose entries went
    replaced: list[str] = field(default_factory=list)  # entries replaced by an added package
    skipped: list[str] = field(default_factory=list)
    obsolete_files: list[str] = field(default_factory=list)
    files_changes: Sequence[FilesChange] = ()  # what the files database must be told, in order

    def fail(self, message: str) -> None:
        """An error: said in its place among the messages, and the run writes nothing."""
        self.events.append(Event(Level.ERROR, message))
        self.failed = True


class RunFailed(RepoToolsError):
    """One or more packages or names failed; their errors were reported and nothing was written.
    Its message is pacman's last word, a message rather than an error."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        super().__init__("No packages modified, nothing to do.")
        self.outcome = outcome
