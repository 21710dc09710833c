"""Sync database archives, through libarchive: read into memory (never extracted), and written once,
reproducibly, in chunks where the compression allows (``db.chunks``)."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from ..db.chunks import CHUNKABLE, Chunk, Layout, plan
from ..errors import CorruptDatabase, UnsupportedCompression
from ..fs.files import write_all
from ..fs.pool import usable_cpus
from ..limits import DEFAULT_LIMITS, Limits
from ._lib import BLOCK, WRITER, ArchiveError, archive_message, ffi, libarchive, read_data

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["WRITER", "Entries", "read_database", "read_database_bytes", "write_database"]

PARALLEL_CHUNKS = 8  # chunks to compress from which compressing in threads pays

# An in-memory database: entry directory -> {file name in it -> contents}
Entries = dict[str, dict[str, bytes]]

_AE_IFREG = 0o100000
_AE_IFDIR = 0o040000


def read_database(path: str, limits: Limits = DEFAULT_LIMITS) -> Entries:
    """Read a sync database archive (any compression) into memory.

    Only the layout pacman writes is accepted: top-level directories holding
    regular files. Anything else is a foreign archive and is refused.
    """
    return _read_database(lambda: libarchive.file_reader(path, block_size=BLOCK), path, limits)


def read_database_bytes(data: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> Entries:
    """``read_database`` of an archive (or one chunk of one) already in memory; ``path`` names it in errors."""
    return _read_database(lambda: libarchive.memory_reader(data), path, limits)


def _read_database(open_reader: Callable[[], Any], path: str, limits: Limits) -> Entries:
    try:
        with open_reader() as archive:
            return _read_entries(archive._pointer, path, limits)
    except ArchiveError as e:
        raise CorruptDatabase(
            f"Repository file '{path}' is not a proper pacman database: {archive_message(e)}."
        ) from None


def _read_entries(a: Any, path: str, limits: Limits) -> Entries:
    # This loop calls libarchive directly: a database has tens of thousands of
    # members and the per-member cost of the object API dominates otherwise.
    entries: Entries = {}
    next_header, filetype, pathname_w, entry_size = (
        ffi.read_next_header2,
        ffi.entry_filetype,
        ffi.entry_pathname_w,
        ffi.entry_size,
    )
    max_member, max_total, max_members = limits.db_member_bytes, limits.db_bytes, limits.db_members
    total = members = 0
    buf = ctypes.create_string_buffer(1 << 16)
    e = ffi.entry_new()
    try:
        while next_header(a, e) != ffi.ARCHIVE_EOF:
            members += 1
            if members > max_members:
                raise CorruptDatabase(
                    f"Repository file '{path}' is not a proper pacman database: more than {max_members} members."
                )
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
            if size > max_member:
                raise CorruptDatabase(
                    f"Repository file '{path}' is not a proper pacman database: member '{name}' claims {size} bytes."
                )
            total += size
            if total > max_total:
                raise CorruptDatabase(
                    f"Repository file '{path}' is not a proper pacman database: its members hold more than "
                    f"{max_total} bytes."
                )
            if size > len(buf):
                buf = ctypes.create_string_buffer(size)
            entries.setdefault(top, {})[rest] = read_data(a, size, buf)
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
        f"libarchive cannot write {compression or 'tar'} archives here: {archive_message(e)}."
    )


def _write_error(e: ArchiveError) -> OSError:
    code = getattr(e, "errno", 0) or 0
    return OSError(code or errno.EIO, os.strerror(code) if code else archive_message(e))


def _filter_options(compression: str | None) -> str:
    """libarchive's options for a write filter: gzip without the timestamp in its header."""
    return "gzip:!timestamp" if compression == "gzip" else ""


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
