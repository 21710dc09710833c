"""repo-add's and repo-remove's rules, applied to a ``Database`` in memory.

Pure: these functions take a database and packages already read, apply pacman's
rules and return what changed (``Outcome``), with the messages repo-add prints.
They open no file; ``update.transaction`` reads, locks and writes around them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ..errors import InvalidPackage, RepoToolsError
from ..events import Event, Level
from ..formats.desc import PackageRecord, files_list, first, render_desc, render_files, unwritable
from ..formats.pkginfo import PkgInfo, check_name, check_version, parse_pkginfo
from ..formats.vercmp import vercmp
from .model import AddOptions, Candidate, Database, Outcome

__all__ = ["Admit", "KeepOld", "add_packages", "build_record", "remove_packages"]

P = TypeVar("P", bound=Candidate)
# what is asked of each package before it is added: messages to show, or a RepoToolsError to refuse it
Admit = Callable[[P], list[Event]]
# what -R asks before deleting an old package file (its path, the name of the package it is the old
# file of): why it must stay, or None to delete it
KeepOld = Callable[[str, str], str | None]


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
    why = unwritable(record)
    if why:
        raise InvalidPackage(path, why)
    return record, tuple(files_list(members))


def add_packages(
    database: Database,
    packages: Iterable[P],
    options: AddOptions,
    admit: Admit[P] | None = None,
    keep_old: KeepOld | None = None,
) -> Outcome:
    """Apply repo-add's rules for each package, in order, to ``database``.

    ``admit`` (the signature gate) is called for every package before it is added;
    it returns messages to show, or raises a RepoToolsError to refuse the package.
    ``keep_old`` is asked before ``-R`` deletes an old package file (besides the check that
    no entry that stays names it): the transaction's look at the file itself.
    """
    database.reindex()
    out = Outcome()
    ev = out.events
    entry_of_file: dict[str, str] = {}
    seen: list[P] = []
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
        if admit is not None:
            try:
                ev.extend(admit(pkg))
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
            owner = _entry_naming(database, os.path.basename(old_file))
            # a forged or stale %FILENAME%: the file is another entry's package, or no package of this name
            why = f"it is the package file of entry '{owner}'" if owner is not None else None
            if why is None and keep_old is not None:
                why = keep_old(old_file, info.name)
            if why is not None:
                ev.append(Event(Level.WARNING, f"Not removing '{os.path.basename(old_file)}': {why}"))
            else:
                ev.append(Event(Level.MSG2, f"Removing old package file '{os.path.basename(old_file)}'"))
                out.obsolete_files += [old_file, old_file + ".sig"]
    if out.obsolete_files:
        # a later argument may bring back a file an earlier one made obsolete
        listed = {os.path.join(os.path.dirname(p.path), p.record.filename) for p in seen if p.record}
        listed = {f for f in listed if entry_of_file.get(f) in database.db}
        out.obsolete_files = [f for f in out.obsolete_files if f.removesuffix(".sig") not in listed]
    out.files_changes = database.changes
    return out


# a package file as makepkg names it: <pkgname>-<pkgver>-<pkgrel>-<arch>.pkg.tar[.ext]
_PACKAGE_FILE = re.compile(r"(.+)-[^-]+\.pkg\.tar(?:\.[A-Za-z0-9]+)?")


def _entry_naming(database: Database, filename: str) -> str | None:
    """The entry still in ``database`` whose package file is ``filename``, if any: the entry the
    file's own name says (``<name>-<version>`` of ``<name>-<version>-<arch>.pkg.tar.*``), when
    its ``%FILENAME%`` is that name. Only that one entry is read, so an update of a large
    database stays an update of a few chunks."""
    m = _PACKAGE_FILE.fullmatch(filename)
    if m is None or m[1] not in database.db:
        return None
    return m[1] if first(database.desc(m[1]), "FILENAME") == filename else None


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
    out.files_changes = database.changes
    return out
