"""The repository's archives through the layout cache (``repotools.update.store``), as repo-add uses
them: an update reads and recompresses only the chunks it touches and writes the very bytes a
full rewrite writes; an archive changed behind our back, or a damaged layout, is read in full; a
layout that names other entries than a chunk holds is an error that drops it; the cache may be
off or unwritable; pacman's repo-add may update the database in between."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import libarchive
import pytest
from support.databases import write_entries
from support.packages import SDE, build_package
from support.tools import REF_REPO_ADD, run_tool, run_update, tool_env

from repotools.archive.database import read_database
from repotools.db import chunks
from repotools.errors import CorruptDatabase


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
    if remove:
        run_update(db, *targets, remove=True)
    else:
        run_update(db, *targets, jobs=1)


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


@pytest.mark.parametrize("ext", [".gz", ".zst"])
def test_pacman_repo_add_updates_a_chunked_database_and_we_update_its_output(
    tmp_path: Path, cache_dir: Path, ext: str
) -> None:
    """A maintainer may go back to pacman's repo-add, and forth again."""
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
    write_entries(ref, read_database(str(db)), "gzip", mtime=2000000000)
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
