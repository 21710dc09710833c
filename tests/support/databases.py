"""Databases in memory and the archives written from them, for the chunked-archive tests.

``make_entries(n)`` is a database of ``n`` entries (``pkg0000-1.0-1`` and on); ``write_entries``
writes one with repotools' archive writer and returns the layout it wrote (every member's time is
``mtime``, ``SDE`` unless told); ``sample_layout`` is a small hand-made layout of three chunks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from repotools.archive.database import write_database
from repotools.db.chunks import Chunk, Layout

from .packages import SDE

__all__ = ["EXTS", "make_entries", "sample_layout", "write_entries"]

# the archive name's extension of each compression the layout cache knows
EXTS = {"gzip": ".gz", "zstd": ".zst", None: ""}


def sample_layout(sha256: str = "ab" * 32) -> Layout:
    return Layout(
        "gzip",
        30,
        (Chunk(0, 10, ("a-1-1",), 7), Chunk(10, 15, ("b-1-1",), 7), Chunk(25, 5, (), 7)),
        sha256,
        "libarchive 1.0",
    )


def make_entries(n: int, version: str = "1.0-1") -> dict[str, dict[str, bytes]]:
    return {
        f"pkg{i:04d}-{version}": {
            "desc": f"%NAME%\npkg{i:04d}\n\n%VERSION%\n{version}\n\n".encode(),
            "files": b"%FILES%\n",
        }
        for i in range(n)
    }


def write_entries(
    path: Path, entries: Mapping[str, Mapping[str, bytes]], compression: str | None, mtime: int = SDE
) -> Layout:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        layout = write_database(fd, entries, compression, mtime)
    finally:
        os.close(fd)
    assert layout is not None
    return layout
