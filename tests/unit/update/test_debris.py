"""What a killed run left in the repository directory is removed by the next run, under the lock, and
nothing else is."""

from __future__ import annotations

import os
from pathlib import Path

from support.packages import build_package
from support.tools import run_update

from repotools.events import Event, Level
from repotools.formats.dbname import parse_db_path
from repotools.update.store import remove_debris

DEBRIS = [
    ".tmp.repo.db.tar.gz.abc123_z",
    ".tmp.repo.db.tar.gz.abc123_z.sig",
    ".tmp.repo.files.tar.gz.0a1b2c3d",
    "repo.db.tar.gz.old.tmp-link",
    "repo.files.tar.gz.old.sig.tmp-link",
    "repo.db.tmp-link",
    "repo.files.sig.tmp-link",
]
KEPT = [
    ".tmp.other.db.tar.gz.abc123_z",  # another repository's
    ".tmp.repo.db.tar.gz.abc",  # not mkstemp's name
    ".tmp.repo.db.tar.gz.abc123_z.old",
    "repo.db.tar.gz.tmp-link",  # no name of ours is made so
    "notes.tmp-link",
]


def test_a_killed_runs_debris_is_removed_and_nothing_else(tmp_path: Path, dead_pid: int, live_pid: int) -> None:
    stale_aside, live_aside = f"repo.db.tar.gz.lck.stale-{dead_pid}", f"repo.db.tar.gz.lck.stale-{live_pid}"
    for name in [*DEBRIS, *KEPT, stale_aside, live_aside]:
        (tmp_path / name).write_bytes(b"left")
    events: list[Event] = []
    remove_debris(parse_db_path(str(tmp_path / "repo.db.tar.gz")), events.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*KEPT, live_aside])
    assert events == [
        Event(Level.WARNING, f"Removed '{name}', left behind by a run that was killed.")
        for name in sorted([*DEBRIS, stale_aside])
    ]


def test_the_next_update_removes_the_debris(tmp_path: Path) -> None:
    (tmp_path / DEBRIS[0]).write_bytes(b"half a database")
    _, events = run_update(tmp_path / "repo.db.tar.gz", build_package(tmp_path))
    assert (Level.WARNING, f"Removed '{DEBRIS[0]}', left behind by a run that was killed.") in events
    assert not (tmp_path / DEBRIS[0]).exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp.")]
