"""``.PKGINFO``: parsed exactly as pacman's ``repo-add`` reads it, then validated.

repo-add reads each line with ``IFS=' =' read -r var val``, skips lines starting
with ``#`` and folds every run of whitespace in the value to one space. We
reproduce that word splitting (including bash's quirks with trailing ``=``) so
that the ``desc`` we write is the one pacman would write. Unlike repo-add, only
the known keys are used: a ``.PKGINFO`` cannot set ``pgpsig``, ``csize`` or any
other variable of the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PkgInfo", "check_name", "check_version", "parse_pkginfo", "split_line"]

_SCALARS = {
    "pkgname": "name",
    "pkgbase": "base",
    "pkgver": "version",
    "pkgdesc": "desc",
    "url": "url",
    "builddate": "builddate",
    "packager": "packager",
    "size": "isize",
    "arch": "arch",
}
_LISTS = {
    "group": "groups",
    "license": "licenses",
    "replaces": "replaces",
    "depend": "depends",
    "conflict": "conflicts",
    "provides": "provides",
    "optdepend": "optdepends",
    "makedepend": "makedepends",
    "checkdepend": "checkdepends",
}
_SPACE_RUN = re.compile(r"[ \t\n\v\f\r]+")

# makepkg's lint rules (lint_pkgbuild/pkgname.sh, pkgver.sh, epoch.sh)
_NAME = re.compile(r"[A-Za-z0-9+_.@-]+")
_VERSION = re.compile(r"(?:([0-9]*):)?([!-~]+)-([!-~]+)")
_FORBIDDEN_IN_VERSION = re.compile(r"[\s/:-]")
_PKGREL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class PkgInfo:
    """The fields of a ``.PKGINFO`` that a pacman database records."""

    name: str = ""
    base: str = ""
    version: str = ""
    desc: str = ""
    url: str = ""
    builddate: str = ""
    packager: str = ""
    isize: str = ""
    arch: str = ""
    groups: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    optdepends: tuple[str, ...] = ()
    makedepends: tuple[str, ...] = ()
    checkdepends: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def entry_name(self) -> str:
        """The database directory of this package: ``name-version``."""
        return f"{self.name}-{self.version}"


def _take_word(s: str, i: int) -> tuple[int, int]:
    """From s[i:], return the end of one word and the end of the delimiter after it."""
    n = len(s)
    end = i
    while end < n and s[end] not in " =":
        end += 1
    j = end
    while j < n and s[j] == " ":
        j += 1
    if j < n and s[j] == "=":
        j += 1
    while j < n and s[j] == " ":
        j += 1
    return end, j


# "key = value", the shape makepkg writes: for it, ``read`` gives the value as it stands
_PLAIN_LINE = re.compile(r"([^ =]+) = ([^ =](?:.*[^ =])?)", re.DOTALL)


def split_line(line: str) -> tuple[str, str]:
    """Split one line as bash's ``IFS=' =' read -r var val`` does."""
    plain = _PLAIN_LINE.fullmatch(line)
    if plain is not None:
        return plain[1], plain[2]
    return _split_line_as_read(line)


def _split_line_as_read(line: str) -> tuple[str, str]:
    s = line.lstrip(" ")
    end, j = _take_word(s, 0)
    var, rest = s[:end], s[j:]
    # bash hands the last variable the rest of the line; if that rest is one word
    # followed only by delimiters, the delimiters go too.
    wend, k = _take_word(rest, 0)
    val = rest[:wend] if k == len(rest) else rest.rstrip(" ")
    return var, val


# A .PKGINFO as makepkg writes it: "key = value" lines, "#" comments and empty lines, with
# nothing for the line loop (_read_lines) to strip, fold or split otherwise: no blank at either
# end of a line, no "=" next to the separator, and nowhere a tab, a CR, a VT, an FF or two spaces
# in a row. For such a text every line's split is _PLAIN_PAIR's, read in one pass.
_PLAIN_TEXT = re.compile(r"(?:(?:#[^\n]*|[^\s=#][^\s=]* = [^\s=](?:[^\n]*[^\s=])?)?\n)*")
_PLAIN_PAIR = re.compile(r"^([^\s=#][^\s=]*) = (.*)$", re.MULTILINE)
_FOLDED = ("  ", "\t", "\r", "\v", "\f")


def _plain_pairs(body: str) -> list[tuple[str, str]] | None:
    """The lines of ``body`` split in one pass, if it is plain (see above); None otherwise."""
    if any(s in body for s in _FOLDED) or not _PLAIN_TEXT.fullmatch(body):
        return None
    return _PLAIN_PAIR.findall(body)


def parse_pkginfo(data: bytes) -> PkgInfo:
    """Parse ``.PKGINFO`` bytes into the fields repo-add records (no validation)."""
    text = data.decode("utf-8", "surrogateescape")
    if "\0" in text:
        text = text.replace("\0", "")
    # `while read` never runs its body for a last line with no newline
    body = text[: text.rfind("\n") + 1]
    pairs = _plain_pairs(body)
    if pairs is None:
        pairs = _read_lines(body)
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    extra: dict[str, str] = {}
    for var, val in pairs:
        if var in _SCALARS:
            scalars[_SCALARS[var]] = val
        elif var in _LISTS:
            lists.setdefault(_LISTS[var], []).append(val)
        else:
            extra[var] = val
    fields: dict[str, Any] = dict(scalars)
    fields.update((k, tuple(v)) for k, v in lists.items())
    return PkgInfo(**fields, extra=extra)


def _read_lines(body: str) -> list[tuple[str, str]]:
    """The named lines of ``body`` (newline-terminated) as repo-add's loop splits and folds them."""
    pairs = []
    for line in body.split("\n")[:-1]:
        line = line.strip(" \t")  # `read -r line` with the default IFS
        if line.startswith("#"):
            continue
        var, val = split_line(line)
        if var:  # a line with no name sets nothing
            pairs.append((var, _SPACE_RUN.sub(" ", val)))
    return pairs


def check_name(name: str) -> str | None:
    """Return why pacman would refuse this package name, or None if it is fine."""
    if not name:
        return "pkgname is empty"
    if name[0] in "-.":
        return f"pkgname '{name}' starts with '{name[0]}'"
    if not _NAME.fullmatch(name):
        return f"pkgname {name!r} contains characters other than letters, digits and +_.@-"
    return None


def check_version(version: str) -> str | None:
    """Return why pacman would refuse this ``[epoch:]pkgver-pkgrel``, or None if it is fine."""
    if not version:
        return "pkgver is empty"
    m = _VERSION.fullmatch(version)
    if not m:
        return f"pkgver {version!r} is not of the form [epoch:]pkgver-pkgrel in printable ASCII"
    _epoch, ver, rel = m.groups()
    for part, what in ((ver, "pkgver"), (rel, "pkgrel")):
        if _FORBIDDEN_IN_VERSION.search(part):
            return f"{what} {part!r} in '{version}' contains a colon, slash, hyphen or whitespace"
    if not _PKGREL.fullmatch(rel):
        return f"pkgrel {rel!r} in '{version}' is not of the form integer[.integer]"
    return None
