"""Every archive read and write, through libarchive (libarchive-c).

* ``scan_package``: one pass over a package file that hashes the raw bytes while
  libarchive reads ``.PKGINFO`` and every member name.
* ``read_database``: a sync database read into memory (never extracted).
* ``write_database``: a database archive written once, reproducibly.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import io
import os
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import CorruptDatabase, NotAPackage, UnsupportedCompression


def _locate_libarchive() -> None:
    # ctypes.util.find_library spawns ldconfig, which costs tens of milliseconds
    # on every run; look where Debian and Arch put the library first.
    if os.environ.get("LIBARCHIVE"):
        return
    dirs = [sysconfig.get_config_var("LIBDIR") or "", "/usr/lib", "/usr/lib64", "/usr/local/lib"]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs[0:0] = [f"/usr/lib/{multiarch}", f"/lib/{multiarch}"]
    for d in dirs:
        hits = sorted(glob.glob(os.path.join(d, "libarchive.so.1*")))
        if hits:
            os.environ["LIBARCHIVE"] = hits[0]
            return


_locate_libarchive()

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

__all__ = [
    "COMPRESSIONS",
    "ArchiveError",
    "PackageScan",
    "compression_for",
    "read_database",
    "scan_package",
    "write_database",
]

BLOCK = 1 << 17

# extension after ".tar" -> libarchive write filter (None: no compression)
COMPRESSIONS: Mapping[str, str | None] = {
    "": None,
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
    ".zst": "zstd",
    ".lrz": "lrzip",
    ".lzo": "lzop",
    ".Z": "compress",
    ".lz4": "lz4",
    ".lz": "lzip",
}


def compression_for(suffix: str) -> str | None:
    """The libarchive filter for the part of a database name after ``.tar``."""
    return COMPRESSIONS[suffix]


@dataclass(frozen=True)
class PackageScan:
    """What one pass over a package file yields."""

    pkginfo: bytes
    members: list[bytes]
    csize: int
    md5sum: str
    sha256sum: str
    identity: tuple[int, ...] = ()  # see file_identity


def file_identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is replaced or written to (ctime cannot be set back by users)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _HashingReader:
    """A non-seekable file wrapper that hashes every byte libarchive reads."""

    def __init__(self, f: io.RawIOBase) -> None:
        self._f = f
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readinto(self, buf: bytearray | memoryview) -> int:
        n = self._f.readinto(buf) or 0
        if n:
            view = memoryview(buf)[:n]
            self.md5.update(view)
            self.sha256.update(view)
            self.size += n
        return n

    def seekable(self) -> bool:
        return False

    def drain(self) -> None:
        buf = bytearray(BLOCK)
        while self.readinto(buf):
            pass


def scan_package(path: str) -> PackageScan:
    """Read a package once: its ``.PKGINFO``, its member names and its checksums."""
    pkginfo: bytes | None = None
    members: list[bytes] = []
    try:
        with open(path, "rb", buffering=0) as f:
            reader = _HashingReader(f)
            with libarchive.stream_reader(reader, block_size=BLOCK) as archive:
                for entry in archive:
                    name = _entry_name(entry)
                    members.append(name)
                    if pkginfo is None and name == b".PKGINFO":
                        pkginfo = b"".join(entry.get_blocks(BLOCK))
            reader.drain()
            identity = file_identity(os.fstat(f.fileno()))
    except ArchiveError as e:
        raise NotAPackage(path, _archive_message(e)) from None
    except OSError as e:
        raise NotAPackage(path, e.strerror or str(e)) from None
    if pkginfo is None:
        raise NotAPackage(path, "no .PKGINFO in it")
    return PackageScan(
        pkginfo=pkginfo,
        members=members,
        csize=reader.size,
        md5sum=reader.md5.hexdigest(),
        sha256sum=reader.sha256.hexdigest(),
        identity=identity,
    )


def _entry_name(entry: libarchive.ArchiveEntry) -> bytes:
    raw = ffi.entry_pathname_w(entry._entry_p)
    if raw is not None:
        return str(raw).encode("utf-8", "surrogateescape")
    name = ffi.entry_pathname(entry._entry_p)
    return bytes(name) if name is not None else b""


def _archive_message(e: ArchiveError) -> str:
    msg = getattr(e, "msg", None) or str(e)
    return msg.split(" (errno=")[0]


# An in-memory database: entry directory -> {file name in it -> contents}
Entries = dict[str, dict[str, bytes]]

_AE_IFREG = 0o100000
_AE_IFDIR = 0o040000


def read_database(path: str) -> Entries:
    """Read a sync database archive (any compression) into memory.

    Only the layout pacman writes is accepted: top-level directories holding
    regular files. Anything else is a foreign archive and is refused. This loop
    calls libarchive directly: a database has tens of thousands of members and
    the per-member cost of the object API dominates otherwise.
    """
    entries: Entries = {}
    next_header, filetype, pathname_w, entry_size, read_data = (
        ffi.read_next_header2,
        ffi.entry_filetype,
        ffi.entry_pathname_w,
        ffi.entry_size,
        ffi.read_data,
    )
    buf = ctypes.create_string_buffer(1 << 16)
    try:
        with libarchive.file_reader(path, block_size=BLOCK) as archive:
            a = archive._pointer
            e = ffi.entry_new()
            try:
                while next_header(a, e) != ffi.ARCHIVE_EOF:
                    name = pathname_w(e) or ""
                    kind = filetype(e)
                    top, _, rest = name.rstrip("/").partition("/")
                    if kind == _AE_IFDIR and not rest and top not in ("", ".", ".."):
                        entries.setdefault(top, {})
                        continue
                    if kind != _AE_IFREG or not rest or "/" in rest or top in ("", ".", ".."):
                        raise CorruptDatabase(
                            f"Repository file '{path}' is not a proper pacman database: unexpected member '{name}'."
                        )
                    size = entry_size(e)
                    if size > len(buf):
                        buf = ctypes.create_string_buffer(size)
                    got = 0
                    while got < size:
                        n = read_data(a, ctypes.byref(buf, got), size - got)
                        if n <= 0:
                            break
                        got += n
                    entries.setdefault(top, {})[rest] = buf.raw[:got]
            finally:
                ffi.entry_free(e)
    except ArchiveError as e:
        raise CorruptDatabase(
            f"Repository file '{path}' is not a proper pacman database: {_archive_message(e)}."
        ) from None
    return entries


def write_database(
    fd: int,
    entries: Mapping[str, Mapping[str, bytes]],
    compression: str | None,
    mtime: int,
) -> None:
    """Write ``entries`` as a pacman database archive to the open file ``fd``.

    Members are sorted, owned by root, mode 0755/0644, all with ``mtime``; gzip
    gets no timestamp. The same entries and mtime give the same bytes.
    """
    options = "gzip:!timestamp" if compression == "gzip" else ""
    opened = False
    try:
        with libarchive.fd_writer(fd, "pax_restricted", filter_name=compression, options=options) as archive:
            opened = True
            _add_entries(archive._pointer, entries, mtime)
    except ArchiveError as e:
        if not opened:  # the filter could not be set up: this libarchive cannot write it
            raise UnsupportedCompression(
                f"libarchive cannot write {compression or 'tar'} archives here: {_archive_message(e)}."
            ) from None
        code = getattr(e, "errno", 0) or 0
        raise OSError(code or errno.EIO, os.strerror(code) if code else _archive_message(e)) from None


def _template(kind: int, perm: int, mtime: int) -> Any:
    e = ffi.entry_new()
    ffi.entry_set_filetype(e, kind)
    ffi.entry_set_perm(e, perm)
    ffi.entry_set_uid(e, 0)
    ffi.entry_set_gid(e, 0)
    ffi.entry_update_uname_utf8(e, b"root")
    ffi.entry_update_gname_utf8(e, b"root")
    ffi.entry_set_mtime(e, mtime, 0)
    ffi.entry_set_size(e, 0)
    return e


def _add_entries(a: ctypes.c_void_p, entries: Mapping[str, Mapping[str, bytes]], mtime: int) -> None:
    # Two reused template entries: per member only the path and size change.
    d = _template(_AE_IFDIR, 0o755, mtime)
    f = _template(_AE_IFREG, 0o644, mtime)
    set_path, set_size, header, data_ = (
        ffi.entry_update_pathname_utf8,
        ffi.entry_set_size,
        ffi.write_header,
        ffi.write_data,
    )
    try:
        for top in sorted(entries):
            prefix = top.encode("utf-8", "surrogateescape")
            set_path(d, prefix + b"/")
            header(a, d)
            files = entries[top]
            for name in sorted(files):
                data = files[name]
                set_path(f, prefix + b"/" + name.encode("utf-8", "surrogateescape"))
                set_size(f, len(data))
                header(a, f)
                if data:
                    data_(a, data, len(data))
    finally:
        ffi.entry_free(d)
        ffi.entry_free(f)
