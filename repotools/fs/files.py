"""Small file-descriptor mechanics: whole writes and reads, a file's identity, directory fsync."""

from __future__ import annotations

import os

__all__ = ["file_identity", "fsync_dir", "read_all", "write_all"]


def file_identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is replaced or written to (ctime cannot be set back by users)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a file or a pipe), however many calls it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_all(fd: int) -> bytes:
    """Everything ``fd`` gives until its end (a pipe: until the writer closes it)."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
