"""The ``desc`` and ``files`` entries of a pacman sync database.

Fields are written in repo-add's order, each only when its first value is
non-empty (``format_entry`` tests ``[[ $1 ]]``), as ``%NAME%``, one value a
line, then a blank line.

libalpm (``be_sync.c``, ``sync_db_read``) reads a scalar field as the one line
after its name and a list as the lines up to the first empty one; any other line
is matched against the field names. So a value holding a newline, or an empty
value in a list, would end its field early and have the lines after it read as
fields of their own: a package could forge its own ``%SHA256SUM%`` or
``%PGPSIG%``. ``unwritable`` says which value libalpm would not read back as
written; such a record is never rendered (``db.rules.build_record`` refuses it).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .pkginfo import PkgInfo

__all__ = [
    "PackageRecord",
    "bsdtar_list_name",
    "files_list",
    "parse_desc",
    "render_desc",
    "render_files",
    "unwritable",
]


@dataclass(frozen=True)
class PackageRecord:
    """Everything a database entry says about one package file."""

    filename: str
    info: PkgInfo
    csize: int
    md5sum: str
    sha256sum: str
    pgpsig: bytes | None = None


# the .PKGINFO key of each list field, for messages
_LIST_KEYS = (
    ("group", "groups"),
    ("license", "licenses"),
    ("replaces", "replaces"),
    ("conflict", "conflicts"),
    ("provides", "provides"),
    ("depend", "depends"),
    ("optdepend", "optdepends"),
    ("makedepend", "makedepends"),
    ("checkdepend", "checkdepends"),
)
_SCALAR_KEYS = (
    ("pkgname", "name"),
    ("pkgbase", "base"),
    ("pkgver", "version"),
    ("pkgdesc", "desc"),
    ("url", "url"),
    ("builddate", "builddate"),
    ("packager", "packager"),
    ("size", "isize"),
    ("arch", "arch"),
)
_LINE_BREAKS = ("\n", "\0")  # a value ends at either when libalpm reads it


def unwritable(rec: PackageRecord) -> str | None:
    """Why libalpm would not read ``rec``'s ``desc`` back as written (a value that would end its
    field, so that the lines after it are read as other fields), or None when it would."""
    if any(c in rec.filename for c in _LINE_BREAKS):
        return "its file name holds a newline, which would end the %FILENAME% field in the database"
    for key, attr in _SCALAR_KEYS:
        value: str = getattr(rec.info, attr)
        if any(c in value for c in _LINE_BREAKS):
            return f"its .PKGINFO '{key}' value holds a line break"
    for key, attr in _LIST_KEYS:
        values: tuple[str, ...] = getattr(rec.info, attr)
        if "" in values:
            return (
                f"its .PKGINFO has an empty '{key}' value, which would end the list in the database "
                "(libalpm would read the values after it as fields of their own)"
            )
        if any(c in v for v in values for c in _LINE_BREAKS):
            return f"its .PKGINFO '{key}' value holds a line break"
    return None


def render_desc(rec: PackageRecord) -> bytes:
    """The ``desc`` file repo-add writes for this package."""
    i = rec.info
    sig = base64.b64encode(rec.pgpsig).decode() if rec.pgpsig else ""
    out: list[str] = []
    for name, value in (  # one value (a str) or several (a tuple of them), in repo-add's order
        ("FILENAME", rec.filename),
        ("NAME", i.name),
        ("BASE", i.base),
        ("VERSION", i.version),
        ("DESC", i.desc),
        ("GROUPS", i.groups),
        ("CSIZE", str(rec.csize)),
        ("ISIZE", i.isize),
        ("MD5SUM", rec.md5sum),
        ("SHA256SUM", rec.sha256sum),
        ("PGPSIG", sig),
        ("URL", i.url),
        ("LICENSE", i.licenses),
        ("ARCH", i.arch),
        ("BUILDDATE", i.builddate),
        ("PACKAGER", i.packager),
        ("REPLACES", i.replaces),
        ("CONFLICTS", i.conflicts),
        ("PROVIDES", i.provides),
        ("DEPENDS", i.depends),
        ("OPTDEPENDS", i.optdepends),
        ("MAKEDEPENDS", i.makedepends),
        ("CHECKDEPENDS", i.checkdepends),
    ):
        if not value:
            continue
        if isinstance(value, str):
            out.append(f"%{name}%\n{value}\n\n")
        elif value[0]:  # format_entry tests the first value only
            out.append(f"%{name}%\n" + "\n".join(value) + "\n\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def render_files(paths: Iterable[bytes]) -> bytes:
    """The ``files`` entry: ``%FILES%`` then one path a line (already sorted)."""
    paths = tuple(paths)
    return b"%FILES%\n" + b"\n".join(paths) + b"\n" if paths else b"%FILES%\n"


def parse_desc(data: bytes) -> dict[str, list[str]]:
    """Parse a ``desc`` (or ``files``) entry into its fields, as libalpm reads them."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        if current is None:
            if len(line) > 2 and line[0] == "%" and line[-1] == "%":
                current = fields.setdefault(line[1:-1], [])
        elif line == "":
            current = None
        else:
            current.append(line)
    return fields


def first(fields: Mapping[str, list[str]], name: str) -> str:
    """The first value of a field, or ``""``."""
    values = fields.get(name)
    return values[0] if values else ""


_ESCAPES = {7: b"\\a", 8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t", 11: b"\\v", 92: b"\\\\"}


_PLAIN = re.compile(rb"[ -\[\]-~]*")


def _escape_byte(b: int) -> bytes:
    if 0x20 <= b < 0x7F and b != 0x5C:
        return bytes((b,))
    return _ESCAPES.get(b) or b"\\%03o" % b


def bsdtar_list_name(path: bytes) -> bytes:
    """A member name as ``bsdtar -tf`` prints it in a UTF-8 locale.

    Printable characters are kept; a backslash, control characters and bytes that
    are not valid UTF-8 are escaped (``\\n``, ``\\ooo``), so a name can never break
    the one-path-a-line ``files`` format.
    """
    if _PLAIN.fullmatch(path):
        return path
    try:
        text: str | None = path.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    out = bytearray()
    if text is None:
        # escape byte by byte where the UTF-8 is broken, keep good characters
        i = 0
        while i < len(path):
            for width in (1, 2, 3, 4):
                chunk = path[i : i + width]
                try:
                    ch = chunk.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                out += _escape_char(ch)
                i += width
                break
            else:
                out += _escape_byte(path[i])
                i += 1
        return bytes(out)
    for ch in text:
        out += _escape_char(ch)
    return bytes(out)


def _escape_char(ch: str) -> bytes:
    code = ord(ch)
    if code < 0x80:
        return _escape_byte(code)
    if unicodedata.category(ch) in ("Cc", "Cs", "Cn") or ch in "\u2028\u2029":
        return b"".join(_escape_byte(b) for b in ch.encode("utf-8", "surrogatepass"))
    return ch.encode("utf-8")


# the bytes _PLAIN allows, and the newline: what bytes.translate deletes from plain joined names
_PLAIN_LINE_BYTES = bytes(b for b in range(0x20, 0x7F) if b != 0x5C) + b"\n"


def listed(name: bytes) -> bool:
    """Whether repo-add's ``bsdtar -tf --exclude='^.*'`` lists a member: not an empty name
    (bsdtar skips those), and not a dot-file once libarchive's pattern matching has skipped
    a leading ``./`` (with the slashes, ``./`` and final ``.`` after it), so ``./usr/bin/x``
    is listed (as it is named) and ``./.PKGINFO`` is not."""
    if not name:
        return False
    if not name.startswith(b"."):
        return True
    if not name.startswith(b"./"):
        return False
    i = 1
    while i < len(name) and (name[i] == 0x2F or name[i : i + 2] in (b"./", b".")):
        i += 1
    return not name[i:].startswith(b".")


def files_list(member_names: Iterable[bytes]) -> list[bytes]:
    """Package member names as repo-add lists them: no dot-files, escaped, ``sort -u``."""
    names = [n for n in member_names if (n and n[0] != 0x2E) or listed(n)]  # 0x2E: "."
    joined = b"\n".join(names)
    # nothing to escape in any name: only plain bytes, and no newline but the ones joining them
    if not joined.translate(None, _PLAIN_LINE_BYTES) and joined.count(b"\n") == len(names) - 1:
        return sorted(set(names))
    return sorted({bsdtar_list_name(n) for n in names})
