"""Databases written in chunks (``repotools.db.chunks``): boundaries, the layout of an archive, and
the chunked entries an update reads and writes back, only the chunks it touches read and
recompressed.

Pinned: an update through the cache writes the very bytes a full rewrite writes; untouched
chunks are copied, not recompressed; a layout that does not add up is ignored; a chunk that does
not hold what the layout says is an error that drops it. The layout cache is pinned in
update/test_layouts.py, updates through it in update/test_store.py, the archives themselves in
archive/test_database.py.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.databases import make_entries, sample_layout, write_entries

from repotools.archive.database import read_database, read_database_bytes
from repotools.db import chunks
from repotools.db.chunks import AVERAGE, MAXIMUM, ChunkedEntries, Layout, boundaries
from repotools.errors import CorruptDatabase

# --- boundaries ---------------------------------------------------------------------------------------


names = st.lists(st.text("abcdefgh-.0123456789", min_size=1, max_size=12), unique=True, max_size=400).map(sorted)


@given(names)
def test_boundaries_cut_the_names_in_order_into_bounded_chunks(ns: list[str]) -> None:
    cut = boundaries(ns)
    assert [n for c in cut for n in c] == ns
    assert all(0 < len(c) <= MAXIMUM for c in cut)
    for c in cut[:-1]:  # a chunk ends at a name that hashes to 0, or when full
        assert len(c) == MAXIMUM or chunks._ends_chunk(c[-1])
    assert all(not chunks._ends_chunk(n) for c in cut for n in c[:-1])


@settings(max_examples=200)
@given(names, st.text("abcdefgh-.0123456789", min_size=1, max_size=12))
def test_adding_a_name_changes_only_the_chunks_around_it(ns: list[str], extra: str) -> None:
    if extra in ns or len(ns) > MAXIMUM:  # below MAXIMUM, boundaries depend on names alone
        return
    before = {tuple(c) for c in boundaries(ns)}
    after = {tuple(c) for c in boundaries(sorted([*ns, extra]))}
    assert len(after - before) <= 2  # the chunk taking the name, split in two at most


def test_chunks_average_about_AVERAGE_entries() -> None:
    ns = sorted(f"pkg{i}-1.0-1" for i in range(20000))
    sizes = [len(c) for c in boundaries(ns)]
    assert AVERAGE * 0.7 < sum(sizes) / len(sizes) < AVERAGE * 1.3


# --- the layout and its cache -------------------------------------------------------------------------


def test_a_layout_survives_its_cached_form() -> None:
    assert Layout.decode(sample_layout().encode()) == sample_layout()
    odd = Layout("gzip", 10, (chunks.Chunk(0, 5, ("caf\udce9-1-1", "é-1-1"), 7), chunks.Chunk(5, 5, (), 7)))
    assert Layout.decode(odd.encode()) == odd  # names that are not UTF-8, and names that are


def test_a_damaged_cached_layout_is_ignored() -> None:
    data = sample_layout().encode()
    assert Layout.decode(data.replace(b'"a-1-1"', b'"a-1-2"')) is None  # its checksum fails
    assert Layout.decode(data[:-1]) is None
    assert Layout.decode(b"") is None
    assert Layout.decode(data.split(b"\n", 1)[1]) is None  # no checksum
    body = b"[" * 200_000
    assert Layout.decode(hashlib.sha256(body).hexdigest().encode() + b"\n" + body) is None  # too deep for json
    body = b"{not json"
    assert Layout.decode(hashlib.sha256(body).hexdigest().encode() + b"\n" + body) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(format=0),
        lambda d: d.update(size=31),
        lambda d: d["chunks"][1].__setitem__(0, 11),  # a gap
        lambda d: d["chunks"][2].__setitem__(2, ["c-1-1"]),  # entries in the end-of-archive chunk
        lambda d: d["chunks"][0].__setitem__(2, []),  # a member chunk without entries
        lambda d: d["chunks"][0].__setitem__(1, 0),
        lambda d: d.update(chunks=[]),
        lambda d: d.update(chunks="x"),
        lambda d: d.pop("compression"),
        lambda d: d["chunks"][0][2].insert(0, "zzz-1-1"),  # names out of order
        lambda d: d["chunks"][1][2].insert(0, "a-1-1"),  # a name twice
        lambda d: d.update(sha256=1),
        lambda d: d.pop("writer"),
        lambda d: d["chunks"][0].__setitem__(3, "7"),  # an mtime that is not a number
    ],
)
def test_a_layout_that_does_not_add_up_is_ignored(damage: object) -> None:
    doc = sample_layout().to_json()
    damage(doc)  # type: ignore[operator]
    assert Layout.from_json(doc) is None
    assert Layout.decode(chunks.encode_json(doc)) is None  # its checksum holds, its content does not


# --- writing and reading chunks -----------------------------------------------------------------------


def test_only_the_chunks_an_update_touches_are_read_and_the_others_are_copied(tmp_path: Path) -> None:
    entries = make_entries(500)
    old = tmp_path / "old.db.tar.gz"
    layout = write_entries(old, entries, "gzip")
    data = old.read_bytes()
    reads: list[bytes] = []

    def read_chunk(chunk: bytes) -> dict[str, dict[str, bytes]]:
        reads.append(chunk)
        return read_database_bytes(chunk, str(old))

    lazy = ChunkedEntries(data, layout, read_chunk, str(old))
    assert len(lazy) == 500 and not reads
    del lazy["pkg0100-1.0-1"]
    lazy["pkg0100-1.0-2"] = {"desc": b"%NAME%\npkg0100\n\n", "files": b"%FILES%\n"}
    assert lazy["pkg0200-1.0-1"] == entries["pkg0200-1.0-1"]
    assert len(reads) == 1  # one chunk read, for one lookup
    new = tmp_path / "new.db.tar.gz"
    new_layout = write_entries(new, lazy, "gzip")
    assert len(reads) == 2  # and the chunk that changed
    old_chunks = {data[c.offset : c.offset + c.length] for c in layout.chunks}
    new_data = new.read_bytes()
    copied = [c for c in new_layout.chunks[:-1] if new_data[c.offset : c.offset + c.length] in old_chunks]
    assert len(copied) >= len(new_layout.chunks) - 3
    expected = dict(entries)
    del expected["pkg0100-1.0-1"]
    expected["pkg0100-1.0-2"] = {"desc": b"%NAME%\npkg0100\n\n", "files": b"%FILES%\n"}
    assert read_database(str(new)) == expected
    full = tmp_path / "full.db.tar.gz"  # the same bytes as writing it all anew
    write_entries(full, expected, "gzip")
    assert full.read_bytes() == new_data


@contextmanager
def _small_chunks(average: int, maximum: int) -> Iterator[None]:
    saved = chunks.AVERAGE, chunks.MAXIMUM
    chunks.AVERAGE, chunks.MAXIMUM = average, maximum
    try:
        yield
    finally:
        chunks.AVERAGE, chunks.MAXIMUM = saved


edits = st.lists(st.tuples(st.sampled_from(["add", "delete", "replace"]), st.integers(0, 10_000)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 120), edits, st.sampled_from([(2, 3), (4, 6), (3, 100)]))
def test_an_update_plans_the_chunks_a_full_rewrite_would_cut(
    n: int, changes: list[tuple[str, int]], sizes: tuple[int, int]
) -> None:
    with _small_chunks(*sizes), tempfile.TemporaryDirectory() as tmp:
        entries = make_entries(n)
        path = Path(tmp) / "r.db.tar"
        layout = write_entries(path, entries, None)
        data = path.read_bytes()
        lazy = ChunkedEntries(data, layout, lambda b: read_database_bytes(b, "x"), "x")
        final = dict(entries)
        for what, k in changes:
            live = sorted(final)
            if what == "add":
                name = f"pkg{k:05d}-2-1"  # sorts between and around the old names
                lazy[name] = final[name] = {"desc": b"%NAME%\nx\n\n"}
            elif live:
                name = live[k % len(live)]
                if what == "delete":
                    del lazy[name], final[name]
                else:
                    lazy[name] = final[name] = {"desc": b"%NAME%\nchanged\n\n"}
        planned = list(chunks.plan(lazy))
        assert [names for names, _ in planned] == boundaries(sorted(final))
        old = {c.entries: data[c.offset : c.offset + c.length] for c in layout.chunks}
        for names, reuse in planned:
            if reuse is not None:  # a copy: an old chunk, none of whose entries changed
                assert old[tuple(names)] == reuse[1] and reuse[0].entries == tuple(names)
                assert all(final[name] == entries[name] for name in names)
        assert sorted(lazy) == sorted(final)


def test_a_chunk_that_does_not_hold_what_the_layout_says_is_an_error_and_drops_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "r.db.tar.gz"
    layout = write_entries(path, make_entries(200), "gzip")
    c = layout.chunks[0]
    wrong = Layout(
        layout.compression, layout.size, (chunks.Chunk(c.offset, c.length, ("other-1-1",), c.mtime), *layout.chunks[1:])
    )
    dropped: list[bool] = []
    lazy = ChunkedEntries(
        path.read_bytes(), wrong, lambda b: read_database_bytes(b, str(path)), str(path), lambda: dropped.append(True)
    )
    with pytest.raises(CorruptDatabase, match=r"does not hold what repotools' cached layout of it says \(chunk 1\)"):
        lazy["other-1-1"]
    assert dropped == [True]

