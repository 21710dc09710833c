"""What a directory or an archive holds, read back for assertions.

* ``snapshot(directory)``: every name in a directory with its kind, bytes or link target, inode
  and mode: a failed run must leave it exactly as it was (``assert snapshot(d) == before``).
* ``listing``/``member``/``desc_of``: an archive's member names, one member, one entry's
  ``desc``, as ``bsdtar`` reads them.
* ``read_archive`` reads any database (or package) archive into memory with libarchive;
  ``parse_desc``/``read_desc`` read one entry's ``desc`` as libalpm reads it.
* ``repository_contents``/``compare_dirs``: what two repository directories hold, in a form two
  implementations can agree on (the differential tests).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libarchive
from libarchive.exception import ArchiveError

__all__ = [
    "Archive",
    "compare_dirs",
    "desc_of",
    "listing",
    "member",
    "parse_desc",
    "read_archive",
    "read_desc",
    "repository_contents",
    "snapshot",
]


def snapshot(directory: Path) -> dict[str, tuple[object, ...]]:
    """Everything in a directory: each name with its kind, bytes or target, and inode."""
    state: dict[str, tuple[object, ...]] = {}
    for p in sorted(directory.iterdir()):
        st = p.lstat()
        if p.is_symlink():
            state[p.name] = ("link", os.readlink(p))
        elif p.is_dir():
            state[p.name] = ("dir", st.st_ino)
        else:
            state[p.name] = ("file", p.read_bytes(), st.st_ino, st.st_mode)
    return state


def listing(archive: Path) -> list[str]:
    out = subprocess.run(["bsdtar", "-tf", str(archive)], capture_output=True, check=True).stdout.decode()
    return out.splitlines()


def member(archive: Path, name: str) -> bytes:
    return subprocess.run(["bsdtar", "-xOf", str(archive), name], capture_output=True, check=True).stdout


def desc_of(archive: Path, entry: str) -> str:
    return member(archive, f"{entry}/desc").decode()


# --- reading archives ---------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """An archive in memory: its compression filters and members (None for a directory)."""

    filters: tuple[str, ...]
    members: dict[str | bytes, bytes | None] = field(default_factory=dict)

    @property
    def entries(self) -> set[str]:
        """The top-level directories (package entries) of a database."""
        return {str(name).split("/", 1)[0] for name in self.members}


def read_archive(path: str | os.PathLike[str]) -> Archive:
    """Read every member of an archive; raises libarchive's ArchiveError if it is not one."""
    members: dict[str | bytes, bytes | None] = {}
    with libarchive.file_reader(str(path)) as archive:
        for entry in archive:
            name = entry.pathname
            members[name] = None if entry.isdir else b"".join(entry.get_blocks())
        filters = tuple(f.decode() if isinstance(f, bytes) else f for f in archive.filter_names)
    return Archive(filters=filters, members=members)


def parse_desc(data: bytes) -> dict[str, list[str]]:
    """A ``desc`` entry's fields, read as libalpm reads them."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in data.decode("utf-8").split("\n"):
        if current is None:
            if len(line) > 2 and line.startswith("%") and line.endswith("%"):
                current = fields.setdefault(line[1:-1], [])
        elif line == "":
            current = None
        else:
            current.append(line)
    return fields


def read_desc(db_path: str | os.PathLike[str], entry: str) -> dict[str, list[str]]:
    data = read_archive(db_path).members[f"{entry}/desc"]
    assert data is not None
    return parse_desc(data)


# --- comparing repository directories -----------------------------------------------------

_DB_ARCHIVE = re.compile(r"\.(db|files)\.tar(\.[A-Za-z0-9]+)?(\.old)?$")
_DB_SIGNATURE = re.compile(r"\.(db|files)(\.tar(\.[A-Za-z0-9]+)?(\.old)?)?\.sig$")


def repository_contents(directory: str | os.PathLike[str]) -> dict[str, tuple[object, ...]]:
    """What a repository directory holds, in a form two implementations can agree on.

    Symlinks by target; database archives by compression and members (names and contents,
    not tar headers); database signatures by existence only (each signing makes new bytes);
    anything else by its SHA-256.
    """
    root = Path(directory)
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("symlink", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir",)
        elif _DB_SIGNATURE.search(path.name):
            out[rel] = ("signature",)
        elif _DB_ARCHIVE.search(path.name):
            try:
                archive = read_archive(path)
            except ArchiveError:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                out[rel] = ("archive", archive.filters, archive.members)
        else:
            out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _show(value: bytes | None) -> str:
    if value is None:
        return "<directory>"
    return value.decode("utf-8", "backslashreplace")


def _archive_diffs(name: str, ref: tuple[object, ...], ours: tuple[object, ...]) -> list[str]:
    diffs = []
    if ref[1] != ours[1]:
        diffs.append(f"{name}: compression {ref[1]} (pacman) != {ours[1]} (repotools)")
    ref_members: dict[str | bytes, bytes | None] = ref[2]  # type: ignore[assignment]
    our_members: dict[str | bytes, bytes | None] = ours[2]  # type: ignore[assignment]
    only_ref = sorted(map(str, set(ref_members) - set(our_members)))
    only_ours = sorted(map(str, set(our_members) - set(ref_members)))
    if only_ref:
        diffs.append(f"{name}: members only in pacman's: {only_ref}")
    if only_ours:
        diffs.append(f"{name}: members only in ours: {only_ours}")
    for member in sorted(set(ref_members) & set(our_members), key=str):
        a, b = ref_members[member], our_members[member]
        if a != b:
            delta = difflib.unified_diff(
                _show(a).splitlines(), _show(b).splitlines(), "pacman", "repotools", lineterm="", n=1
            )
            diffs.append(f"{name}: member {member!s} differs:\n" + "\n".join(list(delta)[:60]))
    return diffs


def compare_dirs(ref_dir: str | os.PathLike[str], our_dir: str | os.PathLike[str],
                 ignore: Iterable[str] = ()) -> list[str]:
    """Every difference between two repository directories (empty: they agree)."""
    ref, ours = repository_contents(ref_dir), repository_contents(our_dir)
    for name in ignore:
        ref.pop(name, None)
        ours.pop(name, None)
    diffs = []
    for name in sorted(set(ref) | set(ours)):
        if name not in ours:
            diffs.append(f"{name}: only in pacman's directory {ref[name][:2]}")
        elif name not in ref:
            diffs.append(f"{name}: only in ours {ours[name][:2]}")
        elif ref[name][0] == "archive" and ours[name][0] == "archive":
            diffs += _archive_diffs(name, ref[name], ours[name])
        elif ref[name] != ours[name]:
            diffs.append(f"{name}: {ref[name][:2]} (pacman) != {ours[name][:2]} (repotools)")
    return diffs
