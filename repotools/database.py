"""The sync database model and the add/remove rules of repo-add and repo-remove.

Pure: this module takes an in-memory database and packages already read, applies
pacman's rules and returns what changed, with the messages repo-add prints. It
opens no file. ``repo.py`` does the reading, locking and writing around it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .desc import PackageRecord, files_list, first, parse_desc, render_desc, render_files
from .errors import InvalidPackage, RepoToolsError
from .pkginfo import PkgInfo, check_name, check_version, parse_pkginfo
from .vercmp import vercmp

__all__ = [
    "AddOptions",
    "Database",
    "Event",
    "Level",
    "Outcome",
    "ScannedPackage",
    "add_packages",
    "build_record",
    "entry_package_name",
    "remove_packages",
]


class Level(Enum):
    """How a message is shown: repo-add's msg, msg2, warning and error."""

    MSG = "msg"
    MSG2 = "msg2"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    level: Level
    text: str


def entry_package_name(dirname: str) -> str:
    """The package name of a database directory ``name-pkgver-pkgrel``."""
    parts = dirname.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else dirname


@dataclass
class Database:
    """A sync database and its ``files`` twin, in memory."""

    db: MutableMapping[str, dict[str, bytes]] = field(default_factory=dict)
    files: MutableMapping[str, dict[str, bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        self.files[dirname] = {"desc": desc, "files": files}
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
            self.files.pop(d, None)
            if self._index is not None:
                self._index[name].discard(d)
        return found


@dataclass(frozen=True)
class ScannedPackage:
    """A package file as read from disk: its record and file list, or why it failed (both,
    when only its signature file failed)."""

    path: str
    record: PackageRecord | None = None
    files: tuple[bytes, ...] = ()
    error: RepoToolsError | None = None
    identity: tuple[int, ...] = ()  # archive.file_identity of the bytes that were read
    verification: object = None  # what the signature hook's verifier found beside the scan


@dataclass(frozen=True)
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

    def fail(self, message: str) -> None:
        """An error: said in its place among the messages, and the run writes nothing."""
        self.events.append(Event(Level.ERROR, message))
        self.failed = True


def build_record(
    path: str,
    pkginfo: bytes,
    members: Sequence[bytes],
    csize: int,
    md5sum: str,
    sha256sum: str,
    pgpsig: bytes | None,
) -> tuple[PackageRecord, tuple[bytes, ...]]:
    """Turn what was read from a package into its database record and file list."""
    info: PkgInfo = parse_pkginfo(pkginfo)
    if not info.name or not info.version:
        raise InvalidPackage(path, "its .PKGINFO has no pkgname or no pkgver")
    why = check_name(info.name) or check_version(info.version)
    if why:
        raise InvalidPackage(path, why)
    record = PackageRecord(
        filename=os.path.basename(path),
        info=info,
        csize=csize,
        md5sum=md5sum,
        sha256sum=sha256sum,
        pgpsig=pgpsig,
    )
    return record, tuple(files_list(members))


SignatureHook = Callable[[ScannedPackage], list[Event]]


def add_packages(
    database: Database,
    packages: Iterable[ScannedPackage],
    options: AddOptions,
    check_signature: SignatureHook | None = None,
) -> Outcome:
    """Apply repo-add's rules for each package, in order, to ``database``.

    ``check_signature`` is called for every package before it is added; it
    returns messages to show, or raises a RepoToolsError to refuse the package.
    """
    database.reindex()
    out = Outcome()
    ev = out.events
    entry_of_file: dict[str, str] = {}
    seen: list[ScannedPackage] = []
    for pkg in packages:  # an iterator, perhaps: packages may still be being read
        seen.append(pkg)
        rec = pkg.record
        if rec is None:
            if isinstance(pkg.error, InvalidPackage):  # repo-add finds that out reading .PKGINFO, once adding
                ev.append(Event(Level.MSG, f"Adding package '{pkg.path}'"))
            out.fail(str(pkg.error))
            continue
        info = rec.info
        ev.append(Event(Level.MSG, f"Adding package '{pkg.path}'"))
        entry = info.entry_name
        old_file: str | None = None
        if entry in database.db:
            ev.append(Event(Level.WARNING, f"An entry for '{entry}' already existed"))
            if options.only_new:
                out.skipped.append(entry)
                continue
        else:
            existing = database.entries_of(info.name)
            if existing:
                desc = database.desc(existing[0])
                if vercmp(first(desc, "VERSION"), info.version) > 0:
                    ev.append(Event(Level.WARNING, f"A newer version for '{info.name}' is already present in database"))
                    if options.prevent_downgrade:
                        out.skipped.append(entry)
                        continue
                if options.remove_old:
                    old_name = first(desc, "FILENAME")
                    if old_name and "/" not in old_name and old_name not in ("", ".", ".."):
                        old_file = os.path.join(os.path.dirname(pkg.path), old_name)
        if pkg.error is not None:  # its signature file, which repo-add reads after the checks above
            out.fail(str(pkg.error))
            continue
        if rec.pgpsig is not None:
            ev.append(Event(Level.MSG2, "Adding package signature..."))
        if check_signature is not None:
            try:
                ev.extend(check_signature(pkg))
            except RepoToolsError as e:
                out.fail(str(e))
                continue
        ev.append(Event(Level.MSG2, "Computing checksums..."))
        dropped = database.drop(info.name, ev)
        if dropped:
            out.removed.append(info.name)
            out.replaced.extend(dropped)
        ev.append(Event(Level.MSG2, "Creating 'desc' db entry..."))
        desc_bytes = render_desc(rec)
        ev.append(Event(Level.MSG2, "Creating 'files' db entry..."))
        database.put(entry, desc_bytes, render_files(pkg.files))
        entry_of_file[os.path.join(os.path.dirname(pkg.path), rec.filename)] = entry
        out.added.append(entry)
        if old_file is not None and os.path.basename(old_file) != rec.filename:
            ev.append(Event(Level.MSG2, f"Removing old package file '{os.path.basename(old_file)}'"))
            out.obsolete_files += [old_file, old_file + ".sig"]
    if out.obsolete_files:
        # a later argument may bring back a file an earlier one made obsolete
        listed = {os.path.join(os.path.dirname(p.path), p.record.filename) for p in seen if p.record}
        listed = {f for f in listed if entry_of_file.get(f) in database.db}
        out.obsolete_files = [f for f in out.obsolete_files if f.removesuffix(".sig") not in listed]
    return out


def remove_packages(database: Database, names: Sequence[str]) -> Outcome:
    """Apply repo-remove's rules: every entry of each name goes, a missing name fails."""
    database.reindex()
    out = Outcome()
    for name in names:
        out.events.append(Event(Level.MSG, f"Searching for package '{name}'..."))
        if database.drop(name, out.events):
            out.removed.append(name)
        else:
            out.fail(f"Package matching '{name}' not found.")
    return out
