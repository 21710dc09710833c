"""Every archive read and write, through libarchive (libarchive-c).

* ``scan_package``: one pass over a package file that hashes the raw bytes while
  libarchive reads ``.PKGINFO`` and every member name.
* ``read_database``: a sync database read into memory (never extracted).
* ``write_database``: a database archive written once, reproducibly.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import locale
import logging
import os
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from .chunks import CHUNKABLE, Chunk, Layout, plan
from .errors import CorruptDatabase, NotAPackage, UnsupportedCompression


def _locate_libarchive() -> None:
    # ctypes.util.find_library spawns ldconfig, which costs tens of milliseconds
    # on every run; look where Debian and Arch put the library first.
    if os.environ.get("LIBARCHIVE"):
        return
    multiarch = getattr(sys.implementation, "_multiarch", "")
    dirs = [f"/usr/lib/{multiarch}", f"/lib/{multiarch}"] if multiarch else []
    dirs += ["/usr/lib", "/usr/lib64", "/usr/local/lib"]
    for d in dirs:  # the soname libarchive 3 has always had first, then any other (listing /usr/lib costs ~1 ms)
        if os.path.exists(os.path.join(d, "libarchive.so.13")):
            os.environ["LIBARCHIVE"] = os.path.join(d, "libarchive.so.13")
            return
    for d in dirs:
        try:
            hits = sorted(n for n in os.listdir(d) if n.startswith("libarchive.so.1"))
        except OSError:
            continue
        if hits:
            os.environ["LIBARCHIVE"] = os.path.join(d, hits[0])
            return


_locate_libarchive()

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

# Member names are read as libarchive converts them in a UTF-8 locale, whatever the caller's
# locale, as the files database promises (desc.bsdtar_list_name): under LC_ALL=C the conversion
# drops some characters (U+E0000-E007F) and does not compose decomposed names, as bsdtar does in
# UTF-8. Process-wide, but only LC_CTYPE, which nothing else here depends on after start-up.
for _name in ("C.UTF-8", "C.utf8", "en_US.UTF-8"):
    try:
        locale.setlocale(locale.LC_CTYPE, _name)
        break
    except locale.Error:
        continue

# libarchive-c logs libarchive's warnings ("Using external lzop program...") and Python's
# last-resort handler would print them on stderr, -q or not: our errors say what matters
ffi.logger.addHandler(logging.NullHandler())


def _writer() -> str:
    details = ffi.libarchive.archive_version_details
    details.argtypes, details.restype = [], ctypes.c_char_p
    return str(details().decode("utf-8", "replace"))


# libarchive and the compression libraries it writes with: chunks they wrote are copied only
# into archives written by the same ones (other versions may compress the same bytes otherwise)
WRITER = _writer()

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "COMPRESSIONS",
    "ArchiveError",
    "PackageScan",
    "compression_for",
    "read_database",
    "read_database_bytes",
    "scan_package",
    "usable_cpus",
    "write_all",
    "write_database",
]

BLOCK = 1 << 17
WHOLE_READ = 8 << 20  # bytes: a package up to this size is read whole, then parsed in memory
MAX_PKGINFO = 16 << 20  # bytes; makepkg writes a few KB
MAX_DB_MEMBER = 256 << 20  # bytes, one desc or files member of a database
PARALLEL_CHUNKS = 8  # chunks to compress from which compressing in threads pays

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
    content: bytes | None = None  # the file's bytes, when it was read whole (see WHOLE_READ)


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
    """Read a package once: its ``.PKGINFO``, its member names and its checksums.

    A package of up to ``WHOLE_READ`` bytes is read whole and hashed and parsed in
    memory (about 15 % less CPU than libarchive reading through Python callbacks);
    a larger one, or one that is not a regular file, is streamed, hashed as libarchive
    reads it. A regular file must be as large before and after as what was read.
    """
    try:
        with open(path, "rb", buffering=0) as f:
            before = os.fstat(f.fileno())
            regular = stat.S_ISREG(before.st_mode)
            if regular and before.st_size <= WHOLE_READ:
                data = f.read()  # to the end, whatever the size is by now
                md5, sha256, size = hashlib.md5(data), hashlib.sha256(data), len(data)
                pkginfo, members = _scan_memory(data)
            else:
                data = None
                reader = _HashingReader(f)
                with libarchive.stream_reader(reader, block_size=BLOCK) as archive:
                    pkginfo, members = _scan_members(archive._pointer)
                reader.drain()
                md5, sha256, size = reader.md5, reader.sha256, reader.size
            st = os.fstat(f.fileno())
    except ArchiveError as e:
        raise NotAPackage(path, _archive_message(e)) from None
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


def _scan_memory(data: bytes) -> tuple[bytes | None, list[bytes]]:
    # what libarchive.memory_reader does, without its wrapper objects (a package has tens of members:
    # the wrapper costs a few percent of reading one)
    a = ffi.read_new()
    try:
        ffi.read_support_filter_all(a)
        ffi.read_support_format_all(a)  # as libalpm, which opens a package in any format libarchive reads
        ffi.read_open_memory(a, data, len(data))
        return _scan_members(a)
    finally:
        ffi.read_free(a)


def _scan_members(a: Any) -> tuple[bytes | None, list[bytes]]:
    # libarchive called directly, as in _read_entries: a package has tens of
    # members and the object API costs more than the decompression of most of them.
    # Each name is the one bsdtar -t prints: archive_entry_pathname, in the UTF-8 locale set
    # above (a name libarchive cannot give, bsdtar skips: b"" here, which no list keeps)
    next_header, pathname, entry_size = ffi.read_next_header2, ffi.entry_pathname, ffi.entry_size
    pkginfo: bytes | None = None
    members: list[bytes] = []
    e = ffi.entry_new()
    try:
        while next_header(a, e) != ffi.ARCHIVE_EOF:
            name = pathname(e) or b""
            members.append(name)
            if pkginfo is None and name == b".PKGINFO":
                size = entry_size(e)
                if size > MAX_PKGINFO:
                    raise _TooLarge(f"its .PKGINFO claims {size} bytes")
                pkginfo = _read_data(a, size, ctypes.create_string_buffer(max(size, 1)))
    finally:
        ffi.entry_free(e)
    return pkginfo, members


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
    regular files. Anything else is a foreign archive and is refused.
    """
    return _read_database(lambda: libarchive.file_reader(path, block_size=BLOCK), path)


def read_database_bytes(data: bytes, path: str) -> Entries:
    """``read_database`` of an archive (or one chunk of one) already in memory; ``path`` names it in errors."""
    return _read_database(lambda: libarchive.memory_reader(data), path)


def _read_database(open_reader: Callable[[], Any], path: str) -> Entries:
    try:
        with open_reader() as archive:
            return _read_entries(archive._pointer, path)
    except ArchiveError as e:
        raise CorruptDatabase(
            f"Repository file '{path}' is not a proper pacman database: {_archive_message(e)}."
        ) from None


def _read_data(a: Any, size: int, buf: Any) -> bytes:
    """The data of the current member, ``size`` bytes at most, through ``buf`` (large enough)."""
    got = 0
    while got < size:
        n = ffi.read_data(a, ctypes.byref(buf, got), size - got)
        if n <= 0:
            break
        got += n
    return buf.raw[:got]  # type: ignore[no-any-return]


def _read_entries(a: Any, path: str) -> Entries:
    # This loop calls libarchive directly: a database has tens of thousands of
    # members and the per-member cost of the object API dominates otherwise.
    entries: Entries = {}
    next_header, filetype, pathname_w, entry_size = (
        ffi.read_next_header2,
        ffi.entry_filetype,
        ffi.entry_pathname_w,
        ffi.entry_size,
    )
    buf = ctypes.create_string_buffer(1 << 16)
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
            if size > MAX_DB_MEMBER:
                raise CorruptDatabase(
                    f"Repository file '{path}' is not a proper pacman database: member '{name}' claims {size} bytes."
                )
            if size > len(buf):
                buf = ctypes.create_string_buffer(size)
            entries.setdefault(top, {})[rest] = _read_data(a, size, buf)
    finally:
        ffi.entry_free(e)
    return entries


def write_database(
    fd: int,
    entries: Mapping[str, Mapping[str, bytes]],
    compression: str | None,
    mtime: int,
    keep_times: bool = False,
) -> Layout | None:
    """Write ``entries`` as a pacman database archive to the open file ``fd``.

    Members are sorted, owned by root, mode 0755/0644, all with ``mtime``; gzip
    gets no timestamp. The same entries and mtime give the same bytes. gzip,
    zstd and plain tar are written in chunks (``chunks``), copying the unchanged
    chunks of a ``ChunkedEntries`` (with ``keep_times``, whatever time their
    members carry; without it, only those dated ``mtime``, so that the bytes are
    those of a full rewrite); the layout written is returned. Other
    compressions are written in one piece (None is returned).
    """
    if compression in CHUNKABLE:
        return _write_chunked(fd, entries, compression, mtime, keep_times)
    opened = False
    try:
        with libarchive.fd_writer(
            fd, "pax_restricted", filter_name=compression, options=_filter_options(compression)
        ) as archive:
            opened = True
            a = archive._pointer
            with _Templates(mtime) as t:
                for top in sorted(entries):
                    t.add_entry(a, top, entries[top])
    except ArchiveError as e:
        if not opened:  # the filter could not be set up: this libarchive cannot write it
            raise _unsupported(compression, e) from None
        raise _write_error(e) from None
    return None


def _unsupported(compression: str | None, e: ArchiveError) -> UnsupportedCompression:
    return UnsupportedCompression(
        f"libarchive cannot write {compression or 'tar'} archives here: {_archive_message(e)}."
    )


def _write_error(e: ArchiveError) -> OSError:
    code = getattr(e, "errno", 0) or 0
    return OSError(code or errno.EIO, os.strerror(code) if code else _archive_message(e))


def _filter_options(compression: str | None) -> str:
    """libarchive's options for a write filter: gzip without the timestamp in its header."""
    return "gzip:!timestamp" if compression == "gzip" else ""


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a file or a pipe), however many calls it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextmanager
def _memory_writer(format_name: str, compression: str | None) -> Iterator[tuple[Any, list[bytes]]]:
    """A libarchive writer whose output, unblocked and unpadded, is collected in a list of bytes."""
    out: list[bytes] = []

    def collect(_a: Any, _context: Any, buffer: Any, length: int) -> int:
        out.append(ctypes.string_at(buffer, length))
        return length

    callback = ffi.WRITE_CALLBACK(collect)
    a = ffi.write_new()
    try:
        ffi.get_write_format_function(format_name)(a)
        if compression:
            ffi.get_write_filter_function(compression)(a)
            options = _filter_options(compression)
            if options:
                ffi.write_set_options(a, options.encode())
        ffi.write_set_bytes_in_last_block(a, 1)
        ffi.write_set_bytes_per_block(a, 0)
        ffi.write_open(a, None, ffi.NO_OPEN_CB, callback, ffi.NO_CLOSE_CB)
        yield a, out
        ffi.write_close(a)
    except BaseException:
        ffi.write_fail(a)
        raise
    finally:
        ffi.write_free(a)


def _compress(data: bytes, compression: str | None) -> bytes:
    """One chunk: ``data`` compressed on its own (a gzip member, a zstd frame), by libarchive."""
    if compression is None:
        return data
    try:
        with _memory_writer("raw", compression) as (a, out):
            e = _template(_AE_IFREG, 0o644, 0)
            try:
                ffi.entry_set_size(e, len(data))
                ffi.write_header(a, e)
                ffi.write_data(a, data, len(data))
            finally:
                ffi.entry_free(e)
    except ArchiveError as e:
        raise _unsupported(compression, e) from None
    return b"".join(out)


def _write_chunked(
    fd: int, entries: Mapping[str, Mapping[str, bytes]], compression: str | None, mtime: int, keep_times: bool
) -> Layout:
    chunks: list[Chunk] = []
    offset = 0
    sha256 = hashlib.sha256()

    def emit(piece: bytes, names: Sequence[str], chunk_mtime: int = mtime) -> None:
        nonlocal offset
        write_all(fd, piece)
        sha256.update(piece)
        chunks.append(Chunk(offset, len(piece), tuple(names), chunk_mtime))
        offset += len(piece)

    planned = list(plan(entries, None if keep_times else mtime))
    cpus = usable_cpus()
    pool = None
    if compression is not None and cpus > 1 and sum(1 for _, reuse in planned if reuse is None) >= PARALLEL_CHUNKS:
        # ctypes releases the GIL while libarchive compresses: chunks are compressed in
        # threads while this one cuts the next ones out of the tar stream
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(cpus)
    queue: deque[tuple[Sequence[str], bytes | Future[bytes], int]] = deque()

    def flush(keep: int) -> None:  # write out, in order, all but the last ``keep`` chunks
        while len(queue) > keep:
            names, piece, chunk_mtime = queue.popleft()
            emit(piece if isinstance(piece, bytes) else piece.result(), names, chunk_mtime)

    try:
        # one tar stream, unblocked, cut at entry boundaries: every chunk holds whole members
        with _memory_writer("pax_restricted", None) as (a, tar), _Templates(mtime) as t:
            for names, reuse in planned:
                if reuse is not None:
                    old, piece = reuse
                    queue.append((names, piece, old.mtime))
                else:
                    for top in names:
                        t.add_entry(a, top, entries[top], finish=True)
                    data = b"".join(tar)
                    tar.clear()
                    queue.append(
                        (
                            names,
                            pool.submit(_compress, data, compression) if pool else _compress(data, compression),
                            mtime,
                        )
                    )
                flush(keep=2 * cpus if pool else 0)
        flush(keep=0)
        emit(_compress(b"".join(tar), compression), ())  # the end-of-archive blocks
    except ArchiveError as e:
        raise _write_error(e) from None
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return Layout(compression, offset, tuple(chunks), sha256.hexdigest(), WRITER)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, a container's limit), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Templates:
    """Two reused libarchive entries, a directory and a file: per member only the path and size change."""

    def __init__(self, mtime: int) -> None:
        self.d = _template(_AE_IFDIR, 0o755, mtime)
        self.f = _template(_AE_IFREG, 0o644, mtime)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        ffi.entry_free(self.d)
        ffi.entry_free(self.f)

    def add_entry(self, a: Any, top: str, files: Mapping[str, bytes], finish: bool = False) -> None:
        """The members of one database entry: its directory, then its files, sorted."""
        set_path, set_size, header, write_data = (
            ffi.entry_update_pathname_utf8,
            ffi.entry_set_size,
            ffi.write_header,
            ffi.write_data,
        )
        prefix = top.encode("utf-8", "surrogateescape")
        set_path(self.d, prefix + b"/")
        header(a, self.d)
        for name in sorted(files):
            data = files[name]
            set_path(self.f, prefix + b"/" + name.encode("utf-8", "surrogateescape"))
            set_size(self.f, len(data))
            header(a, self.f)
            if data:
                write_data(a, data, len(data))
        if finish:  # the last member's padding now, not at the next header: the chunk ends here
            ffi.write_finish_entry(a)


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
