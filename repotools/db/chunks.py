"""Databases written in chunks, so that an update recompresses only what changed.

A pacman database is one compressed tar stream, and pacman's repo-add
decompresses and recompresses all of it for every update: with thousands of
entries that is most of the cost of adding one package. gzip, zstd and plain
tar streams may be cut into independent pieces and concatenated (gzip members,
zstd frames): every reader, libarchive and so pacman included, reads the
concatenation as the one stream. So repotools writes each database as a run of
*chunks*, each one compressed on its own and holding the tar members of a few
consecutive entries, then a last chunk holding the tar end-of-archive blocks.

Rules:

1. Chunk boundaries depend on the entry names alone (``boundaries``): a chunk
   ends after an entry whose name hashes to 0 modulo ``AVERAGE``, or when it
   holds ``MAXIMUM`` entries. So the same entries always give the same chunks
   and the same bytes (reproducible output), and adding or removing an entry
   changes only its own chunk and, at worst, a neighbour.
2. What repotools wrote is remembered in a :class:`Layout`: each chunk's byte
   range and the entries it holds. The layout is a cache, keyed by the SHA-256
   of the whole archive file, never trusted for more: a file whose bytes differ
   by one bit from the ones the layout was made for has no layout, and is read
   in full as pacman reads it. A cached layout carries a checksum of itself: a
   damaged one is ignored. (The cache is the user's own, trusted as the rest of
   their files are; a chunk that is read and does not hold the entries its
   layout names is an error.)
3. An update reads only the chunks whose entries it touches
   (:class:`ChunkedEntries`); a chunk of the new archive whose entries are
   exactly those of an untouched old chunk is copied from the old file, byte for
   byte; every other chunk is written anew.

Only gzip, zstd and uncompressed databases are chunked; the other compressions
are written in one piece, as before.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from ..errors import CorruptDatabase

__all__ = [
    "AVERAGE",
    "CHUNKABLE",
    "MAXIMUM",
    "Chunk",
    "ChunkedEntries",
    "Layout",
    "boundaries",
    "encode_json",
    "plan",
]

AVERAGE = 32  # entries per chunk, on average
MAXIMUM = 4 * AVERAGE
FORMAT = 3  # of the cached layout; bump when it, the chunking rule or the archive writer changes
CHUNKABLE = frozenset({"gzip", "zstd", None})

Files = dict[str, bytes]


def _ends_chunk(name: str) -> bool:
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) % AVERAGE == 0


def _cut_after(chunk: Sequence[str]) -> bool:
    """Rule 1: whether the chunk being made, ``chunk``, ends with its last name."""
    return len(chunk) >= MAXIMUM or _ends_chunk(chunk[-1])


def boundaries(names: Sequence[str]) -> list[list[str]]:
    """Cut sorted entry names into chunks (rule 1)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for name in names:
        current.append(name)
        if _cut_after(current):
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


@dataclass(frozen=True)
class Chunk:
    offset: int
    length: int
    entries: tuple[str, ...]  # empty for the end-of-archive chunk
    mtime: int = 0  # the time its members carry


@dataclass(frozen=True)
class Layout:
    """The chunks of one archive file, as written; the last one holds the end-of-archive blocks."""

    compression: str | None
    size: int
    chunks: tuple[Chunk, ...]
    sha256: str = ""  # of the archive file: the name it is cached under
    writer: str = ""  # the libarchive (and compression libraries) that wrote it

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "sha256": self.sha256,
            "compression": self.compression,
            "size": self.size,
            "writer": self.writer,
            "chunks": [[c.offset, c.length, list(c.entries), c.mtime] for c in self.chunks],
        }

    def encode(self) -> bytes:
        """The cached form: the SHA-256 of the JSON text, a newline, the JSON text."""
        return encode_json(self.to_json())

    @classmethod
    def decode(cls, data: bytes) -> Layout | None:
        """A layout from its cached form, or None when it is damaged (its checksum fails) or
        is not one this version wrote (see ``from_json``)."""
        digest, _, body = data.partition(b"\n")
        if digest != hashlib.sha256(body).hexdigest().encode():
            return None
        try:
            return cls.from_json(json.loads(body))
        except (ValueError, RecursionError):
            return None

    @classmethod
    def from_json(cls, doc: object) -> Layout | None:
        """A layout from its JSON document, or None when it is not one this version wrote,
        whole: its chunks follow each other to the end of the file, the entry names are in
        order and only the last chunk has none."""
        try:
            return cls._from_json(doc)
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def _from_json(cls, doc: object) -> Layout:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a layout of this format")
        sha256, compression, size, raw = doc["sha256"], doc["compression"], doc["size"], doc["chunks"]
        writer = doc["writer"]
        if not isinstance(sha256, str) or not isinstance(writer, str):
            raise TypeError("sha256, writer")
        if not (compression is None or isinstance(compression, str)):
            raise TypeError("compression")
        if not isinstance(size, int) or not isinstance(raw, list) or not raw:
            raise TypeError("size, chunks")
        chunks: list[Chunk] = []
        at = 0
        last = ""
        for offset, length, entries, mtime in raw:
            if offset != at or not isinstance(length, int) or length <= 0 or not isinstance(entries, list):
                raise ValueError("chunks do not follow each other")
            if not isinstance(mtime, int):
                raise TypeError("mtime")
            for name in entries:
                if not isinstance(name, str) or name <= last:
                    raise ValueError("entry names out of order")
                last = name
            chunks.append(Chunk(offset, length, tuple(entries), mtime))
            at += length
        if at != size or chunks[-1].entries or not all(c.entries for c in chunks[:-1]):
            raise ValueError("chunks do not add up to the file")
        return cls(compression, size, tuple(chunks), sha256, writer)


def encode_json(doc: Mapping[str, object]) -> bytes:
    """A layout document as cached: a damaged file fails its checksum, and is no layout (the
    checksum does not prove who wrote it: the cache directory's ownership does)."""
    body = json.dumps(doc, separators=(",", ":")).encode()  # ASCII: names that are not UTF-8 survive
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


class ChunkedEntries(MutableMapping[str, Files]):
    """A database archive's entries, read chunk by chunk as they are needed (rule 3).

    ``read_chunk`` turns the bytes of one chunk into its entries. Changes are
    kept apart from the archive, so ``plan`` can tell the old chunks none of
    whose entries was changed, read or not.
    """

    def __init__(
        self,
        data: bytes,
        layout: Layout,
        read_chunk: Callable[[bytes], dict[str, Files]],
        source: str,
        on_mismatch: Callable[[], None] = lambda: None,
    ) -> None:
        self.data = data
        self.layout = layout
        self.source = source
        self._read_chunk = read_chunk
        self._on_mismatch = on_mismatch
        self._chunk_of = {name: i for i, c in enumerate(layout.chunks) for name in c.entries}
        self._loaded: dict[int, dict[str, Files]] = {}
        self._changed: dict[str, Files | None] = {}  # None: deleted

    def chunk_bytes(self, c: Chunk) -> bytes:
        """The compressed bytes of one chunk of the old archive."""
        return self.data[c.offset : c.offset + c.length]

    def _load(self, i: int) -> dict[str, Files]:
        if i not in self._loaded:
            c = self.layout.chunks[i]
            entries = self._read_chunk(self.chunk_bytes(c))
            if sorted(entries) != list(c.entries):
                self._on_mismatch()
                raise CorruptDatabase(
                    f"Repository file '{self.source}' does not hold what repotools' cached layout of it says "
                    f"(chunk {i + 1}); the cached layouts were dropped, run the command again."
                )
            self._loaded[i] = entries
        return self._loaded[i]

    def __getitem__(self, name: str) -> Files:
        if name in self._changed:
            value = self._changed[name]
            if value is None:
                raise KeyError(name)
            return value
        i = self._chunk_of.get(name)
        if i is None:
            raise KeyError(name)
        return self._load(i)[name]

    def __setitem__(self, name: str, value: Files) -> None:
        self._changed[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._changed[name] = None

    def __contains__(self, name: object) -> bool:
        if name in self._changed:
            return self._changed[name] is not None
        return name in self._chunk_of

    def __iter__(self) -> Iterator[str]:
        if not self._changed:
            return iter(self._chunk_of)
        return self._iter_changed()

    def _iter_changed(self) -> Iterator[str]:
        for name in self._chunk_of:
            if self._changed.get(name, ()) is not None:
                yield name
        for name, value in self._changed.items():
            if value is not None and name not in self._chunk_of:
                yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def plan(self, mtime: int | None = None) -> Iterator[tuple[list[str], Chunk | None]]:
        """``plan`` for these entries: the old cuts are kept where nothing changed, and the
        names are cut again (rule 1) only from a changed chunk to the next old cut the new
        cutting meets, where its state is the same as the old one's. With ``mtime``, a chunk
        whose members carry another time counts as changed."""
        old = self.layout.chunks[:-1]
        dirty = {self._chunk_of[n] for n in self._changed if n in self._chunk_of}
        if mtime is not None:
            dirty.update(i for i, c in enumerate(old) if c.mtime != mtime)
        lasts = [c.entries[-1] for c in old]
        extra: dict[int, list[str]] = {}  # names that are new, by the old chunk whose range takes them
        for name, value in self._changed.items():
            if value is not None and name not in self._chunk_of:
                r = bisect.bisect_left(lasts, name)
                extra.setdefault(r, []).append(name)
                dirty.add(r)
        if len(old) in extra and old:
            dirty.add(len(old) - 1)  # the last chunk ends with the names, not with a cut
        i = 0
        while i < len(old) or (i == len(old) and i in extra):
            if i < len(old) and i not in dirty:
                yield list(old[i].entries), old[i]
                i += 1
                continue
            current: list[str] = []
            while True:
                names = [n for n in old[i].entries if self._changed.get(n, ()) is not None] if i < len(old) else []
                names += extra.get(i, ())
                for name in sorted(names):
                    current.append(name)
                    if _cut_after(current):
                        yield current, None
                        current = []
                i += 1
                if i > len(old) or (i == len(old) and i not in extra):
                    break
                if not current and i < len(old) and i not in dirty:
                    break  # back on an old cut, before an unchanged chunk
            if current:
                yield current, None


def plan(
    entries: Mapping[str, Mapping[str, bytes]], mtime: int | None = None
) -> Iterable[tuple[list[str], tuple[Chunk, bytes] | None]]:
    """The chunks of the archive that holds ``entries``: each one's entry names, and the old
    chunk and its compressed bytes when it can be copied (None: write it anew). With
    ``mtime``, only old chunks whose members carry that time are copied: the result is then
    the very archive a full rewrite at ``mtime`` gives."""
    if not isinstance(entries, ChunkedEntries):
        return ((names, None) for names in boundaries(sorted(entries)))
    return ((names, None if c is None else (c, entries.chunk_bytes(c))) for names, c in entries.plan(mtime))
