"""``repo-add -R`` against an existing database whose ``%FILENAME%`` values were forged: it deletes only
an old package file, never one of the repository's own files, and never the package file of an entry
that stays."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import libarchive
import pytest
from support.packages import build_package
from support.tools import OUR_REPO_ADD

DB = "t.db.tar.gz"


def package(directory: Path, name: str, version: str) -> str:
    """A small package file, as makepkg names it; its file name."""
    return build_package(directory, name, version).name


def forge_filename(db: Path, entry: str, filename: str) -> None:
    """Rewrite ``entry``'s ``%FILENAME%`` in the database archive, as a hostile database would hold it."""
    members: list[tuple[str, bytes, bool]] = []
    with libarchive.file_reader(str(db)) as archive:
        for e in archive:
            data = b"".join(e.get_blocks())
            if e.pathname == f"{entry}/desc":
                lines = data.decode().split("\n")
                lines[lines.index("%FILENAME%") + 1] = filename
                data = "\n".join(lines).encode()
            members.append((e.pathname, data, e.isdir))
    db.unlink()
    with libarchive.file_writer(str(db), "pax_restricted", "gzip") as archive:
        for name, data, isdir in members:
            if isdir:
                archive.add_file_from_memory(name, 0, b"", filetype=0o040000, permission=0o755, mtime=0)
            else:
                archive.add_file_from_memory(name, len(data), data, permission=0o644, mtime=0)


def repo_add(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C.UTF-8", REPOTOOLS_CACHE_DIR="")
    return subprocess.run([OUR_REPO_ADD, *args], cwd=repo, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    assert repo_add(tmp_path, DB, package(tmp_path, "victim", "1-1"), package(tmp_path, "evil", "1-1")).returncode == 0
    return tmp_path


def entries(db: Path) -> set[str]:
    with libarchive.file_reader(str(db)) as archive:
        return {e.pathname.split("/")[0] for e in archive}


@pytest.mark.parametrize("target", [DB, "t.db", "t.files.tar.gz", "t.files", "t.db.tar.gz.old"])
def test_a_filename_naming_the_database_does_not_delete_it(repo: Path, target: str) -> None:
    assert repo_add(repo, DB).returncode == 0  # a .old to aim at, too
    forge_filename(repo / DB, "evil-1-1", target)
    r = repo_add(repo, "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert f"==> WARNING: Not removing '{target}': it is one of the repository's own files\n" in r.stderr
    assert "Removing old package file" not in r.stdout
    assert (repo / target).exists()
    assert entries(repo / DB) == {"victim-1-1", "evil-2-1"}
    assert entries(repo / "t.files.tar.gz") == {"victim-1-1", "evil-2-1"}


def test_a_filename_naming_another_entrys_package_does_not_delete_it(repo: Path) -> None:
    victim = "victim-1-1-x86_64.pkg.tar.zst"
    forge_filename(repo / DB, "evil-1-1", victim)
    r = repo_add(repo, "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert f"==> WARNING: Not removing '{victim}': it is the package file of entry 'victim-1-1'\n" in r.stderr
    assert "Removing old package file" not in r.stdout
    assert (repo / victim).is_file()
    assert entries(repo / DB) == {"victim-1-1", "evil-2-1"}


def test_an_honest_filename_is_still_removed(repo: Path) -> None:
    r = repo_add(repo, "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert "  -> Removing old package file 'evil-1-1-x86_64.pkg.tar.zst'\n" in r.stdout
    assert not (repo / "evil-1-1-x86_64.pkg.tar.zst").exists()
    assert (repo / "victim-1-1-x86_64.pkg.tar.zst").is_file()


def test_a_filename_naming_a_live_package_not_named_as_makepkg_names_it_does_not_delete_it(repo: Path) -> None:
    victim = build_package(repo, "victim", "2-1", filename="victim.pkg.tar.zst").name
    assert repo_add(repo, DB, victim).returncode == 0
    forge_filename(repo / DB, "evil-1-1", victim)
    r = repo_add(repo, "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert f"==> WARNING: Not removing '{victim}': it is a package of 'victim', not of 'evil'\n" in r.stderr
    assert (repo / victim).is_file()


@pytest.mark.parametrize("kind", ["text", "another-repository"])
def test_a_filename_naming_a_file_that_is_no_package_does_not_delete_it(repo: Path, kind: str) -> None:
    name = "notes.txt" if kind == "text" else "extra.db.tar.gz"
    if kind == "text":
        (repo / name).write_text("a file of the repository's admin\n")
    else:
        assert repo_add(repo, name).returncode == 0
    forge_filename(repo / DB, "evil-1-1", name)
    r = repo_add(repo, "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert f"==> WARNING: Not removing '{name}': it is not a package file\n" in r.stderr
    assert (repo / name).is_file()


def test_a_dry_run_lists_no_protected_file_as_removed(repo: Path) -> None:
    forge_filename(repo / DB, "evil-1-1", DB)
    r = repo_add(repo, "--dry-run", "--json", "-R", DB, package(repo, "evil", "2-1"))
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["removed_files"] == []
