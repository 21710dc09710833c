"""Database file names: ``<name>.db.tar[.ext]`` and its ``files``, link and lock paths, and the
compression each extension means."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InvalidDatabaseName

__all__ = ["COMPRESSIONS", "KINDS", "DbPaths", "compression_for", "parse_db_path"]

# the two archives of a repository, in the order they are written and put in place
KINDS = ("db", "files")

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
class DbPaths:
    """Where everything of one repository lives, all in ``directory``."""

    directory: str  # absolute
    prefix: str  # "core" in core.db.tar.gz
    suffix: str  # "tar.gz"
    compression_ext: str  # ".gz", or "" for a plain tar
    lock: str

    def archive(self, kind: str) -> str:
        """``kind`` is ``db`` or ``files``: the archive's absolute path."""
        return os.path.join(self.directory, f"{self.prefix}.{kind}.{self.suffix}")

    def link(self, kind: str) -> str:
        """The ``<name>.db`` / ``<name>.files`` symlink."""
        return os.path.join(self.directory, f"{self.prefix}.{kind}")


def parse_db_path(path: str, cwd: str | None = None) -> DbPaths:
    """Check a database path the way repo-add does and work out its companions."""
    base = os.path.basename(path)
    if ".db.tar" not in base:
        raise InvalidDatabaseName(path)
    prefix, _, suffix = base.rpartition(".db.")
    ext = suffix[3:] if suffix.startswith("tar") else None
    if not prefix or ext is None or ext not in COMPRESSIONS:
        raise InvalidDatabaseName(path)
    absolute = path if os.path.isabs(path) else os.path.join(cwd or os.getcwd(), path)
    return DbPaths(
        directory=os.path.dirname(absolute),
        prefix=prefix,
        suffix=suffix,
        compression_ext=ext,
        lock=absolute + ".lck",
    )
