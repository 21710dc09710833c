"""Names replaced atomically, and nothing left behind: not even when the name replaced is already a
hard link of the file put there (rename(2) then does nothing, and succeeds)."""

from __future__ import annotations

import os
from pathlib import Path

from repotools.fs.atomic import TMP_LINK, keep_old, link, replace


def test_keep_old_when_old_is_already_a_hard_link_of_the_database(tmp_path: Path) -> None:
    db, old = tmp_path / "r.db.tar.gz", tmp_path / "r.db.tar.gz.old"
    db.write_bytes(b"database")
    os.link(db, old)  # left so by a run that failed between keeping .old and the rename
    keep_old(str(db), str(old))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db.tar.gz", "r.db.tar.gz.old"]
    assert os.path.samefile(db, old)


def test_keep_old_links_a_fresh_old(tmp_path: Path) -> None:
    db, old = tmp_path / "r.db.tar.gz", tmp_path / "r.db.tar.gz.old"
    db.write_bytes(b"new")
    old.write_bytes(b"older")
    keep_old(str(db), str(old))
    assert old.read_bytes() == b"new" and os.path.samefile(db, old)
    assert not (tmp_path / ("r.db.tar.gz.old" + TMP_LINK)).exists()


def test_replace_over_a_hard_link_of_itself_leaves_one_name(tmp_path: Path) -> None:
    final, tmp = tmp_path / "final", tmp_path / "tmp"
    final.write_bytes(b"x")
    os.link(final, tmp)
    replace(str(tmp), str(final))
    assert [p.name for p in tmp_path.iterdir()] == ["final"]


def test_link_over_a_hard_link_of_the_target(tmp_path: Path) -> None:
    (tmp_path / "r.db.tar.gz").write_bytes(b"db")
    link("r.db.tar.gz", str(tmp_path / "r.db"))
    assert os.readlink(tmp_path / "r.db") == "r.db.tar.gz"
    link("r.db.tar.gz", str(tmp_path / "r.db"))  # again, over itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db", "r.db.tar.gz"]
