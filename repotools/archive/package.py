"""A package file read once: ``.PKGINFO``, every member name and the checksums of the raw bytes."""

from __future__ import annotations

import ctypes
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from typing import Any

from ..errors import NotAPackage
from ..fs.files import file_identity
from ..limits import DEFAULT_LIMITS, Limits
from ._lib import BLOCK, ArchiveError, archive_message, ffi, libarchive, read_data

__all__ = ["PackageScan", "read_pkginfo", "scan_package"]


@dataclass(frozen=True)
class PackageScan:
    """What one pass over a package file yields."""

    pkginfo: bytes
    members: list[bytes]
    csize: int
    md5sum: str
    sha256sum: str
    identity: tuple[int, ...] = ()  # see file_identity
    content: bytes | None = None  # the file's bytes, when it was read whole (see Limits.whole_read_bytes)


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


def scan_package(path: str, limits: Limits = DEFAULT_LIMITS) -> PackageScan:
    """Read a package once: its ``.PKGINFO``, its member names and its checksums.

    A package of up to ``limits.whole_read_bytes`` is read whole and hashed and parsed in
    memory (about 15 % less CPU than libarchive reading through Python callbacks);
    a larger one, or one that is not a regular file, is streamed, hashed as libarchive
    reads it. A regular file must be as large before and after as what was read.
    """
    try:
        with open(path, "rb", buffering=0) as f:
            before = os.fstat(f.fileno())
            regular = stat.S_ISREG(before.st_mode)
            if regular and before.st_size <= limits.whole_read_bytes:
                data = f.read()  # to the end, whatever the size is by now
                md5, sha256, size = hashlib.md5(data), hashlib.sha256(data), len(data)
                pkginfo, members = _scan_memory(data, limits)
            else:
                data = None
                reader = _HashingReader(f)
                with libarchive.stream_reader(reader, block_size=BLOCK) as archive:
                    pkginfo, members = _scan_members(archive._pointer, limits)
                reader.drain()
                md5, sha256, size = reader.md5, reader.sha256, reader.size
            st = os.fstat(f.fileno())
    except ArchiveError as e:
        raise NotAPackage(path, archive_message(e)) from None
    except _TooLarge as e:
        raise NotAPackage(path, str(e)) from None
    except OSError as e:
        raise NotAPackage(path, e.strerror or str(e)) from None
    if regular and not size == before.st_size == st.st_size:  # written to while it was read
        raise NotAPackage(path, "it changed while it was being read")
    if pkginfo is None:
        if b"./.PKGINFO" in members:  # pacman's repo-add takes it, and libalpm then cannot install it
            raise NotAPackage(path, "its .PKGINFO is named './.PKGINFO', which pacman cannot read")
        raise NotAPackage(path, "no .PKGINFO in it")
    return PackageScan(
        pkginfo=pkginfo,
        members=members,
        csize=size,
        md5sum=md5.hexdigest(),
        sha256sum=sha256.hexdigest(),
        identity=file_identity(st),
        content=data,
    )


class _TooLarge(Exception):
    """A member larger than anything a package holds there: refused before memory is spent on it."""


def _scan_memory(data: bytes, limits: Limits) -> tuple[bytes | None, list[bytes]]:
    # what libarchive.memory_reader does, without its wrapper objects (a package has tens of members:
    # the wrapper costs a few percent of reading one)
    a = ffi.read_new()
    try:
        ffi.read_support_filter_all(a)
        ffi.read_support_format_all(a)  # as libalpm, which opens a package in any format libarchive reads
        ffi.read_open_memory(a, data, len(data))
        return _scan_members(a, limits)
    finally:
        ffi.read_free(a)


def _scan_members(a: Any, limits: Limits) -> tuple[bytes | None, list[bytes]]:
    # libarchive called directly, as in archive.database._read_entries: a package has tens of
    # members and the object API costs more than the decompression of most of them.
    # Each name is the one bsdtar -t prints: archive_entry_pathname, in the UTF-8 locale set
    # above (a name libarchive cannot give, bsdtar skips: b"" here, which no list keeps)
    next_header, pathname, entry_size = ffi.read_next_header2, ffi.entry_pathname, ffi.entry_size
    pkginfo: bytes | None = None
    members: list[bytes] = []
    max_members, max_names, max_pkginfo = limits.package_members, limits.package_names_bytes, limits.pkginfo_bytes
    names = 0
    e = ffi.entry_new()
    try:
        while next_header(a, e) != ffi.ARCHIVE_EOF:
            name = pathname(e) or b""
            members.append(name)
            names += len(name)
            if len(members) > max_members:
                raise _TooLarge(f"it holds more than {max_members} members")
            if names > max_names:
                raise _TooLarge(f"the names of its members take more than {max_names} bytes")
            if pkginfo is None and name == b".PKGINFO":
                size = entry_size(e)
                if size > max_pkginfo:
                    raise _TooLarge(f"its .PKGINFO claims {size} bytes")
                pkginfo = read_data(a, size, ctypes.create_string_buffer(max(size, 1)))
    finally:
        ffi.entry_free(e)
    return pkginfo, members


def read_pkginfo(path: str, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """The ``.PKGINFO`` of the package file at ``path``, read up to it and no further (makepkg puts
    it first); None when ``path`` is no regular file or no package, or has none within
    ``limits.package_members`` members."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with libarchive.file_reader(path, block_size=BLOCK) as archive:
            a = archive._pointer
            e = ffi.entry_new()
            try:
                for _ in range(limits.package_members):
                    if ffi.read_next_header2(a, e) == ffi.ARCHIVE_EOF:
                        return None
                    if (ffi.entry_pathname(e) or b"") == b".PKGINFO":
                        size = ffi.entry_size(e)
                        if size > limits.pkginfo_bytes:
                            return None
                        return read_data(a, size, ctypes.create_string_buffer(max(size, 1)))
            finally:
                ffi.entry_free(e)
    except (ArchiveError, OSError):
        return None
    return None
