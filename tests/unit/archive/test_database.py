"""Database archives (``repotools.archive.database``): an archive written in chunks is one archive to
every reader (libarchive, bsdtar, gzip, zstd, tar), chunks compressed in threads are the bytes of
chunks compressed in turn, and a member claiming more than any database holds is refused."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest
from support.databases import EXTS, make_entries, write_entries

import repotools.archive.database as archive_database
from repotools.archive.database import read_database, read_database_bytes
from repotools.errors import CorruptDatabase
from repotools.limits import Limits


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_a_chunked_archive_is_one_archive_to_every_reader(tmp_path: Path, compression: str | None) -> None:
    entries = make_entries(300)
    path = tmp_path / f"r.db.tar{EXTS[compression]}"
    layout = write_entries(path, entries, compression)
    assert len(layout.chunks) > 5 and layout.size == path.stat().st_size
    assert read_database(str(path)) == entries
    listed = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(listed.splitlines()) == 900
    tool = {"gzip": ["gzip", "-t"], "zstd": ["zstd", "-q", "-t"], None: ["tar", "-tf"]}[compression]
    subprocess.run([*tool, str(path)], check=True, capture_output=True)
    data = path.read_bytes()
    for c in layout.chunks[:-1]:  # and every chunk on its own
        assert sorted(read_database_bytes(data[c.offset : c.offset + c.length], "x")) == list(c.entries)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_chunks_compressed_in_threads_are_the_bytes_of_chunks_compressed_in_turn(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = make_entries(3000)
    threaded = write_entries(tmp_path / "threads", entries, compression)
    assert sum(1 for c in threaded.chunks if c.entries) >= archive_database.PARALLEL_CHUNKS
    monkeypatch.setattr(archive_database, "PARALLEL_CHUNKS", 10**9)
    in_turn = write_entries(tmp_path / "in-turn", entries, compression)
    assert (tmp_path / "threads").read_bytes() == (tmp_path / "in-turn").read_bytes()
    assert threaded == in_turn
    assert read_database(str(tmp_path / "threads")) == entries


def test_a_database_member_claiming_a_huge_size_is_a_corrupt_database(tmp_path: Path) -> None:
    info = tarfile.TarInfo("foo-1-1/desc")
    info.size = 2**40
    path = tmp_path / "r.db.tar"
    path.write_bytes(info.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * 2048)
    with pytest.raises(CorruptDatabase, match=r"member 'foo-1-1/desc' claims 1099511627776 bytes"):
        read_database(str(path))


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        (Limits(db_members=5), "more than 5 members"),
        (Limits(db_bytes=100), "its members hold more than 100 bytes"),
    ],
    ids=["members", "bytes"],
)
def test_a_database_bomb_is_refused_at_the_bound(tmp_path: Path, limits: Limits, why: str) -> None:
    path = tmp_path / "r.db.tar.gz"
    write_entries(path, make_entries(4), "gzip")
    with pytest.raises(CorruptDatabase) as e:
        read_database(str(path), limits)
    assert str(e.value) == f"Repository file '{path}' is not a proper pacman database: {why}."
    assert len(read_database(str(path))) == 4
