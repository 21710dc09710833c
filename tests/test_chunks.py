"""Databases written in chunks (``repotools.chunks``): boundaries, the cached layout, updates
that read and recompress only the chunks they touch, and every reader still reading one archive.

Pinned: an update through the cache writes the very bytes a full rewrite writes; untouched
chunks are copied, not recompressed; a cached layout is used only for the exact bytes it was
made for; a damaged one is an error that drops it; the cache can be turned off and may be
unwritable.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import libarchive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_repo import SDE, build_package

from repotools import archive, chunks
from repotools.archive import read_database, read_database_bytes, write_database
from repotools.chunks import AVERAGE, MAXIMUM, ChunkedEntries, Layout, LayoutCache, boundaries, default_cache
from repotools.errors import CorruptDatabase
from repotools.repo import UpdateRequest, update

EXTS = {"gzip": ".gz", "zstd": ".zst", None: ""}


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


def _layout(sha256: str = "ab" * 32) -> Layout:
    return Layout(
        "gzip",
        30,
        (chunks.Chunk(0, 10, ("a-1-1",), 7), chunks.Chunk(10, 15, ("b-1-1",), 7), chunks.Chunk(25, 5, (), 7)),
        sha256,
        "libarchive 1.0",
    )


def test_a_layout_survives_its_cached_form() -> None:
    assert Layout.decode(_layout().encode()) == _layout()
    odd = Layout("gzip", 10, (chunks.Chunk(0, 5, ("caf\udce9-1-1", "é-1-1"), 7), chunks.Chunk(5, 5, (), 7)))
    assert Layout.decode(odd.encode()) == odd  # names that are not UTF-8, and names that are


def test_a_damaged_cached_layout_is_ignored() -> None:
    data = _layout().encode()
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
    doc = _layout().to_json()
    damage(doc)  # type: ignore[operator]
    assert Layout.from_json(doc) is None
    assert Layout.decode(chunks.encode_json(doc)) is None  # its checksum holds, its content does not


def test_the_cache_returns_a_layout_only_for_its_size_compression_and_writer(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path / "c"))
    cache.store("ab" * 32, _layout())
    cache.store("cd" * 32, _layout("ab" * 32))  # stored under another archive's name
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == _layout()
    assert cache.load("ab" * 32, "zstd", 30, "libarchive 1.0") is None
    assert cache.load("ab" * 32, "gzip", 31, "libarchive 1.0") is None
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.1") is None  # another libarchive or zlib
    assert cache.load("cd" * 32, "gzip", 30, "libarchive 1.0") is None
    (tmp_path / "c" / f"{'ef' * 32}.layout.json").write_text("{}")  # as the previous format was named
    cache.clear()
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    assert list((tmp_path / "c").iterdir()) == []


def test_the_cache_keeps_the_most_recently_used_layouts(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path))
    for i in range(LayoutCache.KEEP + 5):
        cache.store(f"{i:064x}", _layout(f"{i:064x}"))
        os.utime(tmp_path / f"{i:064x}.layout", (1000 + i, 1000 + i))
    (tmp_path / f"{'e' * 64}.layout.json").write_text("{}")  # as the previous format was named
    cache.store("f" * 64, _layout("f" * 64))
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == LayoutCache.KEEP
    assert f"{0:064x}.layout" not in kept and "f" * 64 + ".layout" in kept


def test_the_cache_directory_comes_from_the_environment(tmp_path: Path) -> None:
    assert default_cache({"REPOTOOLS_CACHE_DIR": ""}) is None
    assert default_cache({"REPOTOOLS_CACHE_DIR": "/x"}).directory == "/x"  # type: ignore[union-attr]
    assert default_cache({"XDG_CACHE_HOME": "/c", "HOME": "/h"}).directory == "/c/repotools"  # type: ignore[union-attr]
    assert default_cache({"HOME": "/h"}).directory == "/h/.cache/repotools"  # type: ignore[union-attr]
    assert default_cache({"XDG_CACHE_HOME": "rel", "HOME": "/h"}).directory == "/h/.cache/repotools"  # type: ignore[union-attr]


# --- writing and reading chunks -----------------------------------------------------------------------


def _entries(n: int, version: str = "1.0-1") -> dict[str, dict[str, bytes]]:
    return {
        f"pkg{i:04d}-{version}": {
            "desc": f"%NAME%\npkg{i:04d}\n\n%VERSION%\n{version}\n\n".encode(),
            "files": b"%FILES%\n",
        }
        for i in range(n)
    }


def _write(path: Path, entries: object, compression: str | None) -> Layout:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        layout = write_database(fd, entries, compression, SDE)  # type: ignore[arg-type]
    finally:
        os.close(fd)
    assert layout is not None
    return layout


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_a_chunked_archive_is_one_archive_to_every_reader(tmp_path: Path, compression: str | None) -> None:
    entries = _entries(300)
    path = tmp_path / f"r.db.tar{EXTS[compression]}"
    layout = _write(path, entries, compression)
    assert len(layout.chunks) > 5 and layout.size == path.stat().st_size
    assert read_database(str(path)) == entries
    listed = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(listed.splitlines()) == 900
    tool = {"gzip": ["gzip", "-t"], "zstd": ["zstd", "-q", "-t"], None: ["tar", "-tf"]}[compression]
    subprocess.run([*tool, str(path)], check=True, capture_output=True)
    data = path.read_bytes()
    for c in layout.chunks[:-1]:  # and every chunk on its own
        assert sorted(read_database_bytes(data[c.offset : c.offset + c.length], "x")) == list(c.entries)


def test_only_the_chunks_an_update_touches_are_read_and_the_others_are_copied(tmp_path: Path) -> None:
    entries = _entries(500)
    old = tmp_path / "old.db.tar.gz"
    layout = _write(old, entries, "gzip")
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
    new_layout = _write(new, lazy, "gzip")
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
    _write(full, expected, "gzip")
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
        entries = _entries(n)
        path = Path(tmp) / "r.db.tar"
        layout = _write(path, entries, None)
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
    layout = _write(path, _entries(200), "gzip")
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


# --- through update: the cache as repo-add uses it ---------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("REPOTOOLS_CACHE_DIR", str(d))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(SDE))
    return d


def _repo(tmp_path: Path, name: str, n: int) -> tuple[Path, list[Path]]:
    d = tmp_path / name
    d.mkdir()
    pkgs = [build_package(d, f"p{i:03d}") for i in range(n)]
    return d, pkgs


def _run(db: Path, *targets: Path | str, remove: bool = False) -> None:
    update(UpdateRequest(db_path=str(db), remove=remove, targets=[str(t) for t in targets], jobs=1), lambda e: None)


@pytest.mark.parametrize("ext", [".gz", ".zst", ""])
def test_updates_through_the_cache_write_what_a_full_rewrite_writes(
    tmp_path: Path, cache_dir: Path, ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, pkgs = _repo(tmp_path, "a", 120)
    db = a / f"r.db.tar{ext}"
    _run(db, *pkgs)
    assert len(list(cache_dir.iterdir())) == 2  # db and files: the child stored its layout before the run ended
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # and was reaped
    up = build_package(a, "p050", "1.0-2")
    new = build_package(a, "zzz", "1.0-1")
    _run(db, up, new)
    _run(db, "p010", "p011", remove=True)
    # the same content, written at once without any cache
    b = tmp_path / "b"
    b.mkdir()
    for p in [*pkgs, up, new]:
        os.link(p, b / p.name)
    monkeypatch.setenv("REPOTOOLS_CACHE_DIR", "")
    ref = b / db.name
    _run(ref, *(b / p.name for p in pkgs if p.name != "p050-1.0-1-x86_64.pkg.tar.zst"), b / up.name, b / new.name)
    _run(ref, "p010", "p011", remove=True)
    for kind in ("db", "files"):
        ours, theirs = a / f"r.{kind}.tar{ext}", b / f"r.{kind}.tar{ext}"
        assert ours.read_bytes() == theirs.read_bytes(), kind


def test_a_database_changed_behind_our_back_is_read_in_full(tmp_path: Path, cache_dir: Path) -> None:
    a, pkgs = _repo(tmp_path, "a", 60)
    db = a / "r.db.tar.gz"
    _run(db, *pkgs[:50])
    # another tool rewrites it (one gzip member, other bytes): its layout no longer applies
    members = read_database(str(db))
    with libarchive.file_writer(str(db), "pax_restricted", "gzip") as w:
        for top, files in sorted(members.items()):
            for name, data in files.items():
                w.add_file_from_memory(f"{top}/{name}", len(data), data)
    _run(db, *pkgs[50:])
    assert sorted(read_database(str(db))) == sorted(f"p{i:03d}-1.0-1" for i in range(60))


def _shift_first_boundary(cache_dir: Path, fix_digest: bool) -> None:
    """The last entry of the first chunk said to be the first of the second: valid JSON, names in
    order, a wrong layout."""
    for path in cache_dir.iterdir():
        digest, body = path.read_bytes().split(b"\n", 1)
        doc = json.loads(body)
        doc["chunks"][1][2].insert(0, doc["chunks"][0][2].pop())
        path.write_bytes(chunks.encode_json(doc) if fix_digest else digest + b"\n" + json.dumps(doc).encode())


def test_a_damaged_layout_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    a, pkgs = _repo(tmp_path, "a", 300)
    db = a / "r.db.tar.gz"
    _run(db, *pkgs)
    _shift_first_boundary(cache_dir, fix_digest=False)
    _run(db, "p001", "p002", remove=True)
    assert sorted(read_database(str(db))) == sorted(f"p{i:03d}-1.0-1" for i in range(300) if i not in (1, 2))


def test_a_layout_that_names_other_entries_than_a_chunk_read_is_an_error_and_is_dropped(
    tmp_path: Path, cache_dir: Path
) -> None:
    a, pkgs = _repo(tmp_path, "a", 300)
    db = a / "r.db.tar.gz"
    _run(db, *pkgs)
    _shift_first_boundary(cache_dir, fix_digest=True)  # as a bug in repotools would write it
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase, match="cached layout"):
        _run(db, "p001", "p002", remove=True)
    assert db.read_bytes() == before
    _run(db, "p001", "p002", remove=True)  # the layout was dropped: read in full
    assert sorted(read_database(str(db))) == sorted(f"p{i:03d}-1.0-1" for i in range(300) if i not in (1, 2))


def test_without_a_writable_cache_everything_still_works(tmp_path: Path, cache_dir: Path) -> None:
    cache_dir.mkdir()
    cache_dir.chmod(0o500)
    try:
        a, pkgs = _repo(tmp_path, "a", 40)
        db = a / "r.db.tar.zst"
        _run(db, *pkgs[:30])
        _run(db, *pkgs[30:])
        assert len(read_database(str(db))) == 40
    finally:
        cache_dir.chmod(0o700)


def test_other_compressions_are_written_in_one_piece(tmp_path: Path, cache_dir: Path) -> None:
    a, pkgs = _repo(tmp_path, "a", 40)
    _run(a / "r.db.tar.xz", *pkgs)
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    out = subprocess.run(["xz", "-l", str(a / "r.db.tar.xz")], capture_output=True, text=True, check=True).stdout
    assert "Strms" in out and out.splitlines()[1].split()[0] == "1"


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_chunks_compressed_in_threads_are_the_bytes_of_chunks_compressed_in_turn(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = _entries(3000)
    threaded = _write(tmp_path / "threads", entries, compression)
    assert sum(1 for c in threaded.chunks if c.entries) >= archive.PARALLEL_CHUNKS
    monkeypatch.setattr(archive, "PARALLEL_CHUNKS", 10**9)
    in_turn = _write(tmp_path / "in-turn", entries, compression)
    assert (tmp_path / "threads").read_bytes() == (tmp_path / "in-turn").read_bytes()
    assert threaded == in_turn
    assert read_database(str(tmp_path / "threads")) == entries


@pytest.mark.parametrize("ext", [".gz", ".zst"])
def test_pacman_repo_add_updates_a_chunked_database_and_we_update_its_output(
    tmp_path: Path, cache_dir: Path, ext: str
) -> None:
    """A maintainer may go back to pacman's repo-add, and forth again."""
    from helpers import REF_REPO_ADD, run_tool, tool_env

    a, pkgs = _repo(tmp_path, "a", 100)
    db = a / f"r.db.tar{ext}"
    _run(db, *pkgs[:90])
    theirs = run_tool([REF_REPO_ADD, db.name, *(p.name for p in pkgs[90:95])], a, tool_env())
    assert theirs.returncode == 0, str(theirs)
    assert sorted(read_database(str(db))) == sorted(f"p{i:03d}-1.0-1" for i in range(95))
    _run(db, *pkgs[95:])  # pacman's archive has no layout: read in full, then written in chunks
    for kind in ("db", "files"):
        entries = read_database(str(a / f"r.{kind}.tar{ext}"))
        assert sorted(entries) == sorted(f"p{i:03d}-1.0-1" for i in range(100))
    _run(db, "p000", remove=True)  # and updated through its new layout
    assert "p000-1.0-1" not in read_database(str(db))


# --- times, and what the review of the chunked writer found ------------------------------------------------


def _member_times(path: Path) -> dict[str, int]:
    with libarchive.file_reader(str(path)) as archive:
        return {e.pathname: int(e.mtime) for e in archive}


def test_with_another_source_date_epoch_an_update_is_a_full_rewrite_at_that_time(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, pkgs = _repo(tmp_path, "a", 120)
    db = a / "r.db.tar.gz"
    _run(db, *pkgs[:119])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "2000000000")
    _run(db, pkgs[119])
    assert set(_member_times(db).values()) == {2000000000}
    ref = tmp_path / "ref.db.tar.gz"
    monkeypatch.setattr("test_chunks.SDE", 2000000000)  # the time _write gives
    _write(ref, read_database(str(db)), "gzip")
    assert ref.read_bytes() == db.read_bytes()


def test_without_source_date_epoch_copied_chunks_keep_the_time_they_were_written_at(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, pkgs = _repo(tmp_path, "a", 300)
    db = a / "r.db.tar.gz"
    _run(db, *pkgs[:299])
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    _run(db, pkgs[299])
    times = _member_times(db)
    assert times["p000-1.0-1/desc"] == SDE  # in a chunk that was copied
    assert times["p299-1.0-1/desc"] > SDE  # in the chunk that was written now


def test_a_layout_nested_beyond_what_json_can_read_is_ignored(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path))
    (tmp_path / f"{'ab' * 32}.layout").write_text("[" * 200_000)
    assert cache.load("ab" * 32, "gzip", 30, "x") is None


def test_layouts_are_trusted_only_from_a_directory_and_files_no_one_else_may_write(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path / "c"))
    cache.store("ab" * 32, _layout())
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == _layout()
    (tmp_path / "c").chmod(0o777)  # a shared directory: anyone could plant a layout
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    cache.store("cd" * 32, _layout("cd" * 32))
    assert not (tmp_path / "c" / f"{'cd' * 32}.layout").exists()
    (tmp_path / "c").chmod(0o700)
    (tmp_path / "c" / f"{'ab' * 32}.layout").chmod(0o666)
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    (tmp_path / "c" / f"{'ab' * 32}.layout").chmod(0o600)
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == _layout()
