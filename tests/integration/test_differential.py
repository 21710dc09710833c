"""repotools' repo-add/repo-remove against pacman 6.0.2's, on real packages built with makepkg.

Each scenario runs pacman's script in one directory and ours in another, with the same inputs
and arguments, then compares exit codes and what the directories hold: file names, symlink
targets, and every member of every database archive (names as a set, contents byte for byte).
Tar headers (mtime, owner, order) are not compared: ours are reproducible, pacman's are not.

Known, intended differences are asserted on our side alone, in the section at the end.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.builds import (
    EPOCH_2,
    EPOCH_NONE,
    FOO,
    FOO_BAR,
    LINKS,
    MANY,
    META,
    MINIMAL,
    ODDNAMES,
    SPLIT_A,
    SPLIT_B,
    UNICODE,
    UP_NEW,
    UP_OLD,
)
from support.gpg import OTHER_SIGNER, SIGNER, GpgHome
from support.openpgp import padded_signature_file
from support.snapshots import Archive, compare_dirs, parse_desc, read_archive, read_desc
from support.tools import OUR_REPO_ADD, OUR_REPO_REMOVE, REF_REPO_ADD, REF_REPO_REMOVE, ToolResult, run_tool, tool_env

DB = "test.db.tar.gz"
FILES = "test.files.tar.gz"


def raw_state(directory: Path) -> dict[str, str]:
    """Every file's bytes (as a hash) or symlink target: "nothing was written" means this is unchanged."""
    state = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            state[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[rel] = "dir"
    return state


class Repos:
    """Two repository directories fed the same inputs: pacman's scripts run in one, ours in the other."""

    def __init__(self, root: Path, packages: dict[str, Path], gnupghome: Path | None = None) -> None:
        self.ref = root / "pacman"
        self.ours = root / "repotools"
        self.ref.mkdir()
        self.ours.mkdir()
        self.packages = packages
        self.env = tool_env(gnupghome)

    @property
    def dirs(self) -> tuple[Path, Path]:
        return self.ref, self.ours

    def put(self, key: str, subdir: str = "") -> str:
        """Copy a built package into both directories; return its path relative to them."""
        src = self.packages[key]
        rel = os.path.join(subdir, src.name) if subdir else src.name
        for d in self.dirs:
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, d / rel)
        return rel

    def write(self, rel: str, data: bytes) -> str:
        for d in self.dirs:
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_bytes(data)
        return rel

    def _run(
        self, tools: tuple[str, str], args: Sequence[str], expect: int, merged: bool
    ) -> tuple[ToolResult, ToolResult]:
        run = run_merged if merged else run_tool
        ref = run([tools[0], *args], self.ref, self.env)
        ours = run([tools[1], *args], self.ours, self.env)
        assert ref.returncode == expect, f"pacman's script did not exit {expect}:\n{ref}"
        assert ours.returncode == ref.returncode, f"exit codes differ:\n{ref}\n\n{ours}"
        assert_same_messages((ref, ours), merged)
        return ref, ours

    def add(self, *args: str, expect: int = 0, merged: bool = False) -> tuple[ToolResult, ToolResult]:
        """Both tools' repo-add, in their directories; ``merged``: with standard error and
        output in one pipe, so that the messages are compared in the order they came."""
        return self._run((REF_REPO_ADD, OUR_REPO_ADD), args, expect, merged)

    def remove(self, *args: str, expect: int = 0, merged: bool = False) -> tuple[ToolResult, ToolResult]:
        return self._run((REF_REPO_REMOVE, OUR_REPO_REMOVE), args, expect, merged)

    def assert_same(self) -> None:
        diffs = compare_dirs(self.ref, self.ours)
        assert not diffs, "pacman's and our repository directories differ:\n" + "\n".join(diffs)

    def our_db(self, name: str = DB) -> Archive:
        return read_archive(self.ours / name)

    def our_entries(self, name: str = DB) -> set[str]:
        """The entries of our database; the files database must hold the same ones."""
        entries = self.our_db(name).entries
        files_name = name.replace(".db.", ".files.", 1)
        assert read_archive(self.ours / files_name).entries == entries
        return entries

    def our_desc(self, entry: str, name: str = DB) -> dict[str, list[str]]:
        data = self.our_db(name).members[f"{entry}/desc"]
        assert data is not None
        return parse_desc(data)

    def our_files(self, entry: str, name: str = FILES) -> list[str]:
        data = read_archive(self.ours / name).members[f"{entry}/files"]
        assert data is not None
        lines = data.decode("utf-8").split("\n")
        assert lines[0] == "%FILES%" and lines[-1] == ""
        return lines[1:-1]


@pytest.fixture
def repos(tmp_path: Path, built_packages: dict[str, Path]) -> Repos:
    return Repos(tmp_path, built_packages)


@pytest.fixture
def signing_repos(tmp_path: Path, built_packages: dict[str, Path], gpg_home: GpgHome) -> Repos:
    return Repos(tmp_path, built_packages, gpg_home.path)


# --- adding --------------------------------------------------------------------------------


def test_add_one_package_to_a_new_database(repos: Repos) -> None:
    pkg = repos.put(META)
    repos.add(DB, pkg)
    repos.assert_same()
    assert repos.our_entries() == {META}
    desc = repos.our_desc(META)
    # backup= is not a database field; the whitespace runs in pkgdesc are folded
    assert "BACKUP" not in desc
    assert desc["DESC"] == ["A package with every metadata field = all of them"]
    assert desc["FILENAME"] == [pkg]
    assert desc["SHA256SUM"] == [hashlib.sha256((repos.ours / pkg).read_bytes()).hexdigest()]
    assert "etc/rt-meta.conf" in repos.our_files(META)
    assert os.readlink(repos.ours / "test.db") == DB
    assert os.readlink(repos.ours / "test.files") == FILES


def test_add_every_package_in_one_run(repos: Repos, built_packages: dict[str, Path]) -> None:
    # the older version of each pair first: the later argument wins
    order = [UP_OLD, UP_NEW, EPOCH_NONE, EPOCH_2] + sorted(
        set(built_packages) - {UP_OLD, UP_NEW, EPOCH_NONE, EPOCH_2}
    )
    pkgs = [repos.put(key) for key in order]
    repos.add("test.db.tar.zst", *pkgs)
    repos.assert_same()
    assert repos.our_entries("test.db.tar.zst") == set(built_packages) - {UP_OLD, EPOCH_NONE}


def test_add_packages_one_run_at_a_time(repos: Repos) -> None:
    for key in (SPLIT_A, SPLIT_B, UNICODE, ODDNAMES, MANY, LINKS, MINIMAL):
        repos.add(DB, repos.put(key))
        repos.assert_same()
    assert repos.our_entries() == {SPLIT_A, SPLIT_B, UNICODE, ODDNAMES, MANY, LINKS, MINIMAL}
    assert repos.our_desc(SPLIT_A)["BASE"] == ["rt-split"]
    assert len(repos.our_files(MANY)) == 3000 + 40 + 3  # files, their directories, usr/ usr/share/ rt-many/
    assert "usr/share/rt-oddnames/back\\\\slash" in repos.our_files(ODDNAMES)
    assert "usr/share/rt-unicode/ファイル.txt" in repos.our_files(UNICODE)
    assert repos.our_desc(UNICODE)["DESC"] == ["Ünïcödé pàckage — 日本語の説明 ✓ ελληνικά"]
    # an empty field is left out
    assert set(repos.our_desc(MINIMAL)) == {
        "FILENAME", "NAME", "BASE", "VERSION", "CSIZE", "ISIZE", "MD5SUM", "SHA256SUM", "ARCH", "BUILDDATE",
        "PACKAGER",
    }


# Database compressions: pacman's compress_as picks the compressor from the extension.
MAGIC = {
    "": (257, b"ustar"),
    ".gz": (0, b"\x1f\x8b"),
    ".bz2": (0, b"BZh"),
    ".xz": (0, b"\xfd7zXZ\x00"),
    ".zst": (0, b"\x28\xb5\x2f\xfd"),
    ".lz4": (0, b"\x04\x22\x4d\x18"),
    ".lz": (0, b"LZIP"),
    ".Z": (0, b"\x1f\x9d"),
    ".lzo": (0, b"\x89LZO"),
    ".lrz": (0, b"LRZI"),
}


@pytest.mark.parametrize("ext", list(MAGIC), ids=lambda e: e or ".tar")
def test_database_compression(repos: Repos, ext: str) -> None:
    db, files = f"test.db.tar{ext}", f"test.files.tar{ext}"
    repos.add(db, repos.put(FOO), repos.put(UNICODE))  # a new database
    repos.assert_same()
    repos.add(db, repos.put(FOO_BAR))  # read and rewritten
    repos.assert_same()
    repos.remove(db, "rt-foo", "rt-unicode")
    repos.assert_same()
    assert repos.our_entries(db) == {FOO_BAR}
    offset, magic = MAGIC[ext]
    for name in (db, files, db + ".old", files + ".old"):
        with open(repos.ours / name, "rb") as f:
            assert f.read(offset + len(magic))[offset:] == magic, name


def test_database_in_another_compression_than_its_name(repos: Repos) -> None:
    # a gzip database named .zst: both read whatever it is and write zstd
    repos.add("old.db.tar.gz", repos.put(FOO))
    for d in repos.dirs:
        shutil.copyfile(d / "old.db.tar.gz", d / "test.db.tar.zst")
        shutil.copyfile(d / "old.files.tar.gz", d / "test.files.tar.zst")
    repos.add("test.db.tar.zst", repos.put(FOO_BAR))
    repos.assert_same()
    assert repos.our_entries("test.db.tar.zst") == {FOO, FOO_BAR}
    assert repos.our_db("test.db.tar.zst").filters[0] == "zstd"


def test_database_and_packages_in_other_directories(repos: Repos) -> None:
    db = "dépôt/my.repo-1.db.tar.xz"
    for d in repos.dirs:
        (d / "dépôt").mkdir()
    repos.add(db, repos.put(UP_OLD, "pool"), repos.put(FOO, "pool"))
    repos.add("-R", db, repos.put(UP_NEW, "pool"))
    repos.assert_same()
    assert repos.our_entries(db) == {FOO, UP_NEW}
    assert os.readlink(repos.ours / "dépôt/my.repo-1.db") == "my.repo-1.db.tar.xz"
    assert not (repos.ours / "pool" / repos.packages[UP_OLD].name).exists()


def test_absolute_paths(repos: Repos) -> None:
    pkg = repos.put(FOO)
    # run from /, each on its own directory's absolute paths
    ref = run_tool([REF_REPO_ADD, str(repos.ref / DB), str(repos.ref / pkg)], "/", repos.env)
    ours = run_tool([OUR_REPO_ADD, str(repos.ours / DB), str(repos.ours / pkg)], "/", repos.env)
    assert ref.returncode == ours.returncode == 0, f"{ref}\n{ours}"
    repos.assert_same()
    assert repos.our_desc(FOO)["FILENAME"] == [pkg]


def test_package_file_with_another_name(repos: Repos) -> None:
    # repo-add records the file's own name, whatever it is, and never looks at the extension
    for d in repos.dirs:
        shutil.copyfile(repos.packages[FOO], d / "renamed-foo.pkg.tar.zst")
        shutil.copyfile(repos.packages[FOO_BAR], d / "no-extension")
        os.symlink("renamed-foo.pkg.tar.zst", d / "link-to-foo.pkg.tar.zst")
    repos.add(DB, "no-extension", "link-to-foo.pkg.tar.zst")
    repos.assert_same()
    assert repos.our_desc(FOO)["FILENAME"] == ["link-to-foo.pkg.tar.zst"]
    assert repos.our_desc(FOO_BAR)["FILENAME"] == ["no-extension"]
    repos.add(DB, "renamed-foo.pkg.tar.zst", "renamed-foo.pkg.tar.zst")  # twice in one run
    repos.assert_same()
    assert repos.our_desc(FOO)["FILENAME"] == ["renamed-foo.pkg.tar.zst"]


def test_database_that_is_a_symlink(repos: Repos) -> None:
    repos.add("store.db.tar.gz", repos.put(FOO))
    for d in repos.dirs:
        os.symlink("store.db.tar.gz", d / DB)
        os.symlink("store.files.tar.gz", d / FILES)
    repos.add(DB, repos.put(FOO_BAR))
    repos.assert_same()
    assert repos.our_entries() == {FOO, FOO_BAR}


def test_quiet_prints_only_warnings(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_NEW))
    ref, ours = repos.add("-q", DB, repos.put(UP_OLD))
    repos.assert_same()
    assert ref.stdout == ours.stdout == ""
    assert "newer version" in ours.stderr


def test_many_packages_with_one_missing_write_nothing(repos: Repos, built_packages: dict[str, Path]) -> None:
    # enough packages for our parallel scan: its errors come back from worker processes
    pkgs = [repos.put(key) for key in sorted(set(built_packages) - {UP_OLD, EPOCH_NONE})]
    _ref, ours = repos.add("test.db.tar.zst", *pkgs[:6], "rt-missing-1-1-any.pkg.tar.zst", *pkgs[6:], expect=1)
    repos.assert_same()
    assert not (repos.ours / "test.db.tar.zst").exists()
    assert "rt-missing-1-1-any.pkg.tar.zst" in ours.stderr


@pytest.mark.parametrize("first", ["pacman", "repotools"])
def test_one_tool_continues_the_others_database(repos: Repos, first: str) -> None:
    # switching tools mid-life: the database one wrote, the other updates, in both directions
    tool = {"pacman": REF_REPO_ADD, "repotools": OUR_REPO_ADD}[first]
    made = repos.ref if first == "pacman" else repos.ours
    for key in (FOO, UP_OLD, UNICODE):
        repos.put(key)
    start = run_tool([tool, DB, repos.packages[FOO].name, repos.packages[UP_OLD].name, repos.packages[UNICODE].name],
                     made, repos.env)
    assert start.returncode == 0, str(start)
    other = repos.ours if made is repos.ref else repos.ref
    for name in (DB, FILES):
        shutil.copyfile(made / name, other / name)
    repos.add("-R", DB, repos.put(UP_NEW), repos.put(FOO_BAR))
    repos.remove(DB, "rt-unicode")
    repos.assert_same()
    assert repos.our_entries() == {FOO, UP_NEW, FOO_BAR}


def test_no_packages_writes_an_empty_database(repos: Repos) -> None:
    repos.add(DB)
    repos.assert_same()
    assert repos.our_db().members == {}
    repos.add(DB, repos.put(FOO))
    repos.add(DB)  # an existing database is rewritten unchanged
    repos.assert_same()
    assert repos.our_entries() == {FOO}


def test_missing_files_database(repos: Repos) -> None:
    repos.add(DB, repos.put(FOO))
    for d in repos.dirs:
        (d / FILES).unlink()
    repos.add(DB, repos.put(FOO_BAR))  # the files database restarts with what is added now
    repos.assert_same()
    assert repos.our_db().entries == {FOO, FOO_BAR}
    assert read_archive(repos.ours / FILES).entries == {FOO_BAR}
    repos.remove(DB, "rt-foo")
    repos.assert_same()


def test_databases_out_of_step(repos: Repos) -> None:
    # a files database from another run: each is updated on its own terms
    repos.add("other.db.tar.gz", repos.put(UP_OLD), repos.put(LINKS))
    repos.add(DB, repos.put(FOO), repos.put(UP_OLD))
    for d in repos.dirs:
        shutil.copyfile(d / "other.files.tar.gz", d / FILES)
    repos.add(DB, repos.put(UP_NEW), repos.put(FOO_BAR))
    repos.remove(DB, "rt-foo", "rt-links", expect=1)  # rt-links is only in the files database
    repos.remove(DB, "rt-foo")
    repos.assert_same()
    assert repos.our_db().entries == {UP_NEW, FOO_BAR}
    assert read_archive(repos.ours / FILES).entries == {UP_NEW, FOO_BAR, LINKS}


# --- upgrades, downgrades, -n, -p, -R ------------------------------------------------------


def test_upgrade(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_OLD))
    repos.add(DB, repos.put(UP_NEW))
    repos.assert_same()
    assert repos.our_entries() == {UP_NEW}
    assert "usr/share/rt-upgrade/NEWS" in repos.our_files(UP_NEW)


def test_upgrade_by_epoch(repos: Repos) -> None:
    repos.add(DB, repos.put(EPOCH_NONE))
    _, ours = repos.add(DB, repos.put(EPOCH_2))  # 2:0.5-1 is newer than 1.0-1
    repos.assert_same()
    assert "newer version" not in ours.stderr
    assert repos.our_entries() == {EPOCH_2}
    assert repos.our_desc(EPOCH_2)["VERSION"] == ["2:0.5-1"]


def test_downgrade_warns_and_adds(repos: Repos) -> None:
    repos.add(DB, repos.put(EPOCH_2))
    ref, ours = repos.add(DB, repos.put(EPOCH_NONE))
    repos.assert_same()
    for result in (ref, ours):
        assert "A newer version for 'rt-epoch' is already present in database" in result.stderr
    assert repos.our_entries() == {EPOCH_NONE}


def test_prevent_downgrade_refuses_silently(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_NEW))
    _ref, ours = repos.add("-p", DB, repos.put(UP_OLD))  # exit 0: a warning, not an error
    repos.assert_same()
    assert "newer version" in ours.stderr
    assert repos.our_entries() == {UP_NEW}


def test_prevent_downgrade_still_upgrades(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_OLD))
    repos.add("--prevent-downgrade", DB, repos.put(UP_NEW))
    repos.assert_same()
    assert repos.our_entries() == {UP_NEW}


def test_two_versions_in_one_run(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_NEW), repos.put(UP_OLD))  # a downgrade within the run
    repos.assert_same()
    assert repos.our_entries() == {UP_OLD}


def test_readding_the_same_version_rewrites_the_entry(repos: Repos, gpg_home: GpgHome) -> None:
    pkg = repos.put(UP_OLD)
    repos.add(DB, pkg)
    repos.write(pkg + ".sig", gpg_home.sign(repos.ours / pkg, SIGNER))
    ref, ours = repos.add(DB, pkg)
    repos.assert_same()
    for result in (ref, ours):
        assert f"An entry for '{UP_OLD}' already existed" in result.stderr
    assert "PGPSIG" in repos.our_desc(UP_OLD)


def test_only_new_skips_an_existing_entry(repos: Repos, gpg_home: GpgHome) -> None:
    pkg = repos.put(UP_OLD)
    repos.add(DB, pkg)
    repos.write(pkg + ".sig", gpg_home.sign(repos.ours / pkg, SIGNER))
    repos.add("-n", DB, pkg)  # skipped: the new signature is not picked up
    repos.assert_same()
    assert "PGPSIG" not in repos.our_desc(UP_OLD)


def test_only_new_adds_another_version(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_OLD))
    repos.add("--new", DB, repos.put(UP_NEW))
    repos.assert_same()
    assert repos.our_entries() == {UP_NEW}


def test_remove_old_deletes_the_old_package_and_its_signature(repos: Repos, gpg_home: GpgHome) -> None:
    old = repos.put(UP_OLD)
    repos.write(old + ".sig", gpg_home.sign(repos.ours / old, SIGNER))
    repos.add(DB, old)
    new = repos.put(UP_NEW)
    repos.add("-R", DB, new)
    repos.assert_same()
    assert not (repos.ours / old).exists() and not (repos.ours / (old + ".sig")).exists()
    assert_every_listed_file_exists(repos.ours)


def test_remove_old_looks_beside_the_new_package(repos: Repos) -> None:
    # the old file is looked for in the new package's directory, not the database's
    old = repos.put(UP_OLD, "pool")
    repos.put(UP_OLD)  # a same-named file beside the database stays
    repos.add(DB, old)
    repos.add("--remove", DB, repos.put(UP_NEW, "pool"))
    repos.assert_same()
    assert not (repos.ours / old).exists()
    assert (repos.ours / os.path.basename(old)).exists()


def test_remove_old_on_a_downgrade_deletes_the_newer_file(repos: Repos) -> None:
    newer = repos.put(EPOCH_2)  # a ':' in its name
    repos.add(DB, newer)
    repos.add("-R", DB, repos.put(EPOCH_NONE))
    repos.assert_same()
    assert not (repos.ours / newer).exists()
    assert repos.our_entries() == {EPOCH_NONE}


def test_remove_old_keeps_the_file_of_the_same_version(repos: Repos) -> None:
    pkg = repos.put(UP_OLD)
    repos.add(DB, pkg)
    repos.add("-R", DB, pkg)
    repos.assert_same()
    assert (repos.ours / pkg).exists()


def assert_every_listed_file_exists(directory: Path, db: str = DB) -> None:
    """The invariant -R must keep: every package file the database names is still there."""
    archive = read_archive(directory / db)
    for name, data in archive.members.items():
        if str(name).endswith("/desc") and data is not None:
            filename = parse_desc(data)["FILENAME"][0]
            assert (directory / filename).is_file(), f"{db} lists {filename}, which -R deleted"


def test_remove_old_never_deletes_a_file_the_database_lists(repos: Repos, gpg_home: GpgHome) -> None:
    # Two versions in one -R run, the older last: it replaces the newer one, so the newer file
    # is the old one now; the older file is the one the database lists and must stay, with its
    # .sig (pacman 6.0.2 downloads package .sig files). pacman itself deletes the older file
    # while processing the first argument and then fails on the second ("not found").
    old, new = repos.put(UP_OLD), repos.put(UP_NEW)
    repos.write(old + ".sig", gpg_home.sign(repos.ours / old, SIGNER))
    repos.add(DB, old)
    ours = run_tool([OUR_REPO_ADD, "-R", DB, new, old], repos.ours, repos.env)
    assert ours.returncode == 0, str(ours)
    assert repos.our_entries() == {UP_OLD}
    assert_every_listed_file_exists(repos.ours)
    assert (repos.ours / (old + ".sig")).is_file()


def test_remove_old_never_deletes_the_package_just_added(repos: Repos) -> None:
    # a new version written over the old file's name: that name is the new package now
    for d in repos.dirs:
        shutil.copyfile(repos.packages[UP_OLD], d / "rt-upgrade.pkg.tar")
    repos.add(DB, "rt-upgrade.pkg.tar")
    shutil.copyfile(repos.packages[UP_NEW], repos.ours / "rt-upgrade.pkg.tar")
    ours = run_tool([OUR_REPO_ADD, "-R", DB, "rt-upgrade.pkg.tar"], repos.ours, repos.env)
    assert ours.returncode == 0, str(ours)
    assert repos.our_entries() == {UP_NEW}
    assert_every_listed_file_exists(repos.ours)


# --- names that are prefixes of others -----------------------------------------------------


def test_prefix_names_do_not_touch_each_other(repos: Repos) -> None:
    foo, foo_bar = repos.put(FOO), repos.put(FOO_BAR)
    repos.add(DB, foo_bar, foo)
    repos.assert_same()
    assert repos.our_entries() == {FOO, FOO_BAR}
    repos.add(DB, foo)  # re-adding rt-foo leaves rt-foo-bar alone
    repos.assert_same()
    assert repos.our_entries() == {FOO, FOO_BAR}
    repos.remove(DB, "rt-foo")
    repos.assert_same()
    assert repos.our_entries() == {FOO_BAR}
    repos.add(DB, foo)
    repos.remove(DB, "rt-foo-bar")
    repos.assert_same()
    assert repos.our_entries() == {FOO}
    repos.remove(DB, "rt-foo-b", expect=1)  # a prefix of a name is not that name
    repos.assert_same()


# --- removing ------------------------------------------------------------------------------


@pytest.fixture
def populated(repos: Repos) -> Repos:
    repos.add(DB, *(repos.put(k) for k in (FOO, FOO_BAR, SPLIT_A, SPLIT_B, UP_NEW, LINKS)))
    return repos


def test_remove_one(populated: Repos) -> None:
    populated.remove(DB, "rt-upgrade")
    populated.assert_same()
    assert populated.our_entries() == {FOO, FOO_BAR, SPLIT_A, SPLIT_B, LINKS}


def test_remove_several(populated: Repos) -> None:
    populated.remove(DB, "rt-split-a", "rt-links", "rt-foo-bar")
    populated.assert_same()
    assert populated.our_entries() == {FOO, SPLIT_B, UP_NEW}


def test_remove_a_missing_name_writes_nothing(populated: Repos) -> None:
    before = raw_state(populated.ours)
    _ref, ours = populated.remove(DB, "rt-foo", "rt-not-there", expect=1)
    populated.assert_same()
    assert raw_state(populated.ours) == before
    assert "rt-not-there" in ours.stderr


def test_remove_the_last_package_leaves_a_valid_empty_database(repos: Repos) -> None:
    repos.add(DB, repos.put(FOO))
    _ref, ours = repos.remove(DB, "rt-foo")
    repos.assert_same()
    assert "No packages remain" in ours.stderr
    assert repos.our_db().members == {} and repos.our_db().filters[0] == "gzip"
    repos.add(DB, repos.put(FOO_BAR))  # and both can add to it again
    repos.assert_same()
    assert repos.our_entries() == {FOO_BAR}


def test_remove_from_a_missing_database(repos: Repos) -> None:
    _ref, ours = repos.remove(DB, "rt-foo", expect=1)
    repos.assert_same()
    assert raw_state(repos.ours) == {}
    assert DB in ours.stderr


# --- package signatures --------------------------------------------------------------------


def test_package_signature_is_embedded(repos: Repos, gpg_home: GpgHome) -> None:
    pkg = repos.put(FOO)
    sig = gpg_home.sign(repos.ours / pkg, SIGNER)
    repos.write(pkg + ".sig", sig)
    repos.add(DB, pkg)
    repos.assert_same()
    assert repos.our_desc(FOO)["PGPSIG"] == [base64.b64encode(sig).decode()]


def test_two_concatenated_signatures_are_embedded(repos: Repos, gpg_home: GpgHome) -> None:
    pkg = repos.put(UNICODE)
    sig = gpg_home.sign(repos.ours / pkg, SIGNER) + gpg_home.sign(repos.ours / pkg, OTHER_SIGNER)
    repos.write(pkg + ".sig", sig)
    repos.add(DB, pkg)
    repos.assert_same()
    assert base64.b64decode(repos.our_desc(UNICODE)["PGPSIG"][0]) == sig


def test_armored_signature_is_refused(repos: Repos, gpg_home: GpgHome) -> None:
    pkg = repos.put(FOO)
    repos.write(pkg + ".sig", gpg_home.armored_sign(repos.ours / pkg, SIGNER))
    before = raw_state(repos.ours)
    _ref, ours = repos.add(DB, pkg, expect=1)
    repos.assert_same()
    assert raw_state(repos.ours) == before
    assert pkg + ".sig" in ours.stderr


@pytest.mark.parametrize(("size", "expect"), [(16384, 0), (16385, 1)])
def test_signature_size_limit(repos: Repos, gpg_home: GpgHome, size: int, expect: int) -> None:
    # repo-add embeds any non-armored file up to 16384 bytes; ours too, when it is OpenPGP
    # signatures (two good ones here, padded in their unhashed areas to the size)
    pkg = repos.put(FOO)
    sig = padded_signature_file(gpg_home.sign(repos.ours / pkg, SIGNER), size)
    repos.write(pkg + ".sig", sig)
    _ref, ours = repos.add(DB, pkg, expect=expect)
    repos.assert_same()
    if expect == 0:
        assert base64.b64decode(repos.our_desc(FOO)["PGPSIG"][0]) == sig
    else:
        assert not (repos.ours / DB).exists()
        assert pkg + ".sig" in ours.stderr


# --- bad input -----------------------------------------------------------------------------


def test_missing_package_file(repos: Repos) -> None:
    _ref, ours = repos.add(DB, repos.put(FOO), "rt-missing-1.0-1-any.pkg.tar.zst", expect=1)
    repos.assert_same()
    assert not (repos.ours / DB).exists()
    assert "rt-missing-1.0-1-any.pkg.tar.zst" in ours.stderr


@pytest.mark.parametrize("kind", ["text", "tar-without-pkginfo", "empty"])
def test_not_a_package_file(repos: Repos, tmp_path: Path, kind: str) -> None:
    name = "rt-bogus-1.0-1-any.pkg.tar.gz"
    if kind == "text":
        repos.write(name, b"this is not a package\n")
    elif kind == "empty":
        repos.write(name, b"")
    else:
        src = tmp_path / "src"
        (src / "usr/bin").mkdir(parents=True)
        (src / "usr/bin/tool").write_text("#!/bin/sh\n")
        subprocess.run(["bsdtar", "-czf", str(tmp_path / name), "-C", str(src), "usr"], check=True)
        repos.write(name, (tmp_path / name).read_bytes())
    repos.add(DB, repos.put(FOO_BAR))
    good = repos.put(FOO)
    before = raw_state(repos.ours)
    _ref, ours = repos.add(DB, good, name, expect=1)  # one bad package: nothing is written
    repos.assert_same()
    assert raw_state(repos.ours) == before
    assert name in ours.stderr


@pytest.mark.parametrize("db", ["test.db", "test.tar.gz", "test.db.tar.rar", "test.db.zip"])
def test_invalid_database_name(repos: Repos, db: str) -> None:
    pkg = repos.put(FOO)
    _ref, ours = repos.add(db, pkg, expect=1)
    repos.assert_same()
    assert raw_state(repos.ours) == {pkg: raw_state(repos.ours)[pkg]}
    assert db in ours.stderr


def test_database_directory_does_not_exist(repos: Repos) -> None:
    pkg = repos.put(FOO)
    _ref, ours = repos.add("missing/test.db.tar.gz", pkg, expect=1)
    repos.assert_same()
    assert not (repos.ours / "missing").exists()
    assert "missing" in ours.stderr


def test_lock_held(repos: Repos) -> None:
    pkg = repos.put(FOO)
    repos.add(DB, pkg)
    repos.write(DB + ".lck", b"12345\n")
    before = raw_state(repos.ours)
    _ref, ours = repos.add(DB, repos.put(FOO_BAR), expect=1)
    repos.assert_same()
    assert {k: v for k, v in raw_state(repos.ours).items() if "foo-bar" not in k} == before
    assert "12345" in ours.stderr


# Packages crafted member by member (names makepkg never writes, as a hostile or broken tool may).

PKGINFO = b"pkgname = rt-crafted\npkgver = 1-1\nbuilddate = 1700000000\nsize = 10\narch = any\n"


def _crafted(tmp_path: Path, names: Sequence[bytes], pax: bool = False) -> bytes:
    """A zstd ``.pkg.tar`` holding ``.PKGINFO`` then the members ``names`` (a trailing ``/``: a
    directory), each name stored as these very bytes (GNU format), or as a pax ``path`` record
    (UTF-8, as bsdtar and makepkg write non-ASCII names)."""
    import io
    import tarfile

    raw = tmp_path / "crafted.tar"
    form = tarfile.PAX_FORMAT if pax else tarfile.GNU_FORMAT
    with tarfile.open(raw, "w", format=form, encoding="utf-8", errors="surrogateescape") as t:
        info = tarfile.TarInfo(".PKGINFO")
        info.size = len(PKGINFO)
        t.addfile(info, io.BytesIO(PKGINFO))
        for name in names:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            if name.endswith(b"/"):
                info.type = tarfile.DIRTYPE
            t.addfile(info, io.BytesIO(b"") if info.isfile() else None)
    return subprocess.run(["zstd", "-q", "-c", str(raw)], capture_output=True, check=True).stdout


@pytest.mark.parametrize(
    "names",
    [
        # libarchive's pattern matching skips a leading ./ before --exclude='^.*' looks at a name
        [b"./", b"./.", b"./usr/", b"./usr/bin/", b"./usr/bin/x", b"././usr/y", b".//usr/z", b"./.hidden"],
        [b"usr/", b"usr/x", b""],  # bsdtar skips a member with an empty name
        # glibc decodes these as "characters" above U+10FFFF, which Python cannot hold
        [b"usr/", b"usr/share/", b"usr/share/\xf4\x90\x80\x80", b"usr/share/\xf8\x88\x80\x80\x80"],
        # UTF-8 for surrogates (one in Python's surrogateescape range), broken and overlong UTF-8
        [b"usr/", b"usr/\xed\xb2\x80", b"usr/\xed\xa0\x80x", b"usr/\xffy", b"usr/\xc0\x80z", b"usr/\xe2\x82"],
    ],
    ids=["dot-slash", "empty-name", "beyond-unicode", "surrogates-and-broken-utf8"],
)
def test_crafted_member_names(repos: Repos, tmp_path: Path, names: list[bytes]) -> None:
    pkg = repos.write("rt-crafted-1-1-any.pkg.tar.zst", _crafted(tmp_path, names))
    repos.add(DB, pkg)
    repos.assert_same()


@pytest.mark.parametrize("pax", [False, True], ids=["gnu", "pax"])
def test_the_files_database_does_not_depend_on_the_locale(repos: Repos, tmp_path: Path, pax: bool) -> None:
    """pacman run in a UTF-8 locale, ours in the C locale (cron, systemd units without LANG)."""
    tag, nfd = "usr/share/\U000e0001tag", "usr/share/cafe\u0301x"
    names = [b"usr/", b"usr/share/", tag.encode(), nfd.encode(), "usr/share/\u00e9t\u00e9".encode()]
    pkg = repos.write("rt-crafted-1-1-any.pkg.tar.zst", _crafted(tmp_path, names, pax))
    assert run_tool([REF_REPO_ADD, DB, pkg], repos.ref, repos.env).returncode == 0
    ours = run_tool([OUR_REPO_ADD, DB, pkg], repos.ours, {**repos.env, "LC_ALL": "C", "LANG": "C"})
    assert ours.returncode == 0, ours
    repos.assert_same()


# An existing file where the database should be.


def _tar(tmp_path: Path, name: str, files: dict[str, bytes], compress: str = "-z") -> bytes:
    src = tmp_path / ("tar-" + name)
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    out = tmp_path / name
    members = sorted({rel.split("/")[0] for rel in files})
    subprocess.run(["bsdtar", "-c", compress, "-f", str(out), "-C", str(src), *members] if members
                   else ["bsdtar", "-c", compress, "-f", str(out), "-T", "/dev/null"], check=True)
    return out.read_bytes()


@pytest.mark.parametrize("kind", ["foreign-tar", "gzipped-text", "empty-tar", "empty-file"])
def test_existing_file_that_is_not_a_database(repos: Repos, tmp_path: Path, kind: str) -> None:
    if kind == "foreign-tar":
        data = _tar(tmp_path, kind, {"README": b"hello\n", "etc/foo/bar.conf": b"x=1\n"})
    elif kind == "gzipped-text":
        data = subprocess.run(["gzip", "-c"], input=b"hello\n", capture_output=True, check=True).stdout
    elif kind == "empty-tar":
        data = _tar(tmp_path, kind, {})
    else:
        data = b""
    repos.write(DB, data)
    expect = 1 if kind in ("foreign-tar", "gzipped-text") else 0  # an empty one is an empty database
    before = raw_state(repos.ours)
    _ref, ours = repos.add(DB, repos.put(FOO), expect=expect)
    repos.assert_same()
    if expect:
        assert {k: v for k, v in raw_state(repos.ours).items() if k != repos.packages[FOO].name} == before
        assert DB in ours.stderr
    else:
        assert repos.our_entries() == {FOO}


# --- database signatures: -s, -k, -v -------------------------------------------------------


def test_sign_the_database(signing_repos: Repos, gpg_home: GpgHome) -> None:
    repos = signing_repos
    repos.add("-s", DB, repos.put(FOO))
    repos.add("--sign", "--key", gpg_home.fingerprints[OTHER_SIGNER], DB, repos.put(FOO_BAR))
    repos.assert_same()
    for d in repos.dirs:
        for name in (DB, FILES):
            assert gpg_home.verify(d / (name + ".sig"), d / name), f"{d / name}.sig does not verify"
            assert os.readlink(d / (name.split(".tar")[0] + ".sig")) == name + ".sig"
        assert gpg_home.verify(d / (DB + ".old.sig"), d / (DB + ".old"))


def test_sign_with_a_key_that_is_not_there(signing_repos: Repos) -> None:
    repos = signing_repos
    key = "0123456789ABCDEF0123456789ABCDEF01234567"
    _ref, ours = repos.add("-s", "-k", key, DB, repos.put(FOO), expect=1)
    repos.assert_same()
    assert not (repos.ours / DB).exists()
    assert key in ours.stderr


def test_verify_a_good_signature_then_update(signing_repos: Repos) -> None:
    repos = signing_repos
    repos.add("-s", DB, repos.put(FOO))
    repos.add("-v", "-s", DB, repos.put(FOO_BAR))
    repos.assert_same()
    assert repos.our_entries() == {FOO, FOO_BAR}


def test_verify_refuses_a_bad_signature(signing_repos: Repos, gpg_home: GpgHome) -> None:
    repos = signing_repos
    repos.add(DB, repos.put(FOO))
    for d in repos.dirs:  # a signature, by a trusted key, of other data
        (d / (DB + ".sig")).write_bytes(gpg_home.sign(d / FILES, SIGNER))
    before = raw_state(repos.ours)
    _ref, ours = repos.add("-v", DB, repos.put(FOO_BAR), expect=1)
    repos.assert_same()
    assert {k: v for k, v in raw_state(repos.ours).items() if "foo-bar" not in k} == before
    assert "NOT valid" in ours.stderr and DB in ours.stderr


# --- intended differences: our behaviour, asserted on its own ------------------------------


def test_ours_removes_a_stale_signature_when_writing_unsigned(signing_repos: Repos) -> None:
    # pacman 6.0.2 leaves the old .sig beside the new, unsigned database: a signature that no
    # longer matches. We remove it (and the .db.sig link) and say so.
    repos = signing_repos
    repos.add("-s", DB, repos.put(FOO))
    ours = run_tool([OUR_REPO_ADD, DB, repos.put(FOO_BAR)], repos.ours, repos.env)
    assert ours.returncode == 0, str(ours)
    for name in (DB + ".sig", FILES + ".sig", "test.db.sig", "test.files.sig"):
        assert not os.path.lexists(repos.ours / name), name
    assert "WARNING" in ours.stderr and DB + ".sig" in ours.stderr
    # the previous database keeps its (valid) signature as .old.sig
    assert (repos.ours / (DB + ".old.sig")).exists()


def test_ours_deletes_old_packages_only_after_a_successful_write(repos: Repos) -> None:
    # pacman deletes the old file for -R as soon as the new package is processed, even if a
    # later argument fails and no database is written. We delete nothing unless we wrote.
    old = repos.put(UP_OLD)
    repos.add(DB, old)
    before = raw_state(repos.ours)
    ours = run_tool([OUR_REPO_ADD, "-R", DB, repos.put(UP_NEW), "rt-missing-1-1-any.pkg.tar.zst"], repos.ours, repos.env)
    assert ours.returncode == 1, str(ours)
    after = raw_state(repos.ours)
    assert after.pop(repos.packages[UP_NEW].name)
    assert after == before
    assert "rt-missing-1-1-any.pkg.tar.zst" in ours.stderr


def test_ours_refuses_an_unreadable_database(repos: Repos) -> None:
    # pacman 6.0.2 cannot list or extract a database of random bytes, ignores that failure and
    # replaces the file with a new database holding only the new packages. We refuse.
    repos.write(DB, random.Random(7).randbytes(4096))
    pkg = repos.put(FOO)
    before = raw_state(repos.ours)
    ours = run_tool([OUR_REPO_ADD, DB, pkg], repos.ours, repos.env)
    assert ours.returncode == 1, str(ours)
    assert raw_state(repos.ours) == before
    assert DB in ours.stderr


def test_ours_refuses_a_database_with_foreign_members(repos: Repos, tmp_path: Path) -> None:
    # pacman accepts any archive holding one */desc and carries every other member along into
    # the new database. We accept only pacman's layout: entry directories holding files.
    repos.write(DB, _tar(tmp_path, "mixed", {
        "rt-old-1-1/desc": b"%NAME%\nrt-old\n\n%VERSION%\n1-1\n\n",
        "unrelated/dir/file": b"x\n",
    }))
    pkg = repos.put(FOO)
    before = raw_state(repos.ours)
    ours = run_tool([OUR_REPO_ADD, DB, pkg], repos.ours, repos.env)
    assert ours.returncode == 1, str(ours)
    assert raw_state(repos.ours) == before
    assert DB in ours.stderr


def test_ours_refuses_an_empty_signature_file(repos: Repos) -> None:
    # pacman embeds nothing for an empty .sig and adds the package as unsigned; an empty .sig
    # is a failed signing, so we refuse the package and name the file.
    pkg = repos.put(FOO)
    repos.write(pkg + ".sig", b"")
    ours = run_tool([OUR_REPO_ADD, DB, pkg], repos.ours, repos.env)
    assert ours.returncode == 1, str(ours)
    assert not (repos.ours / DB).exists()
    assert pkg + ".sig" in ours.stderr


@pytest.mark.parametrize(
    "content",
    [b"root:$y$j9T$salt$hash:19000:0:99999:7:::\n", b"\x89PNG\r\n\x1a\n" + bytes(64), "good+junk"],
    ids=["a-secret", "a-picture", "junk-after-a-good-signature"],
)
def test_ours_refuses_a_signature_file_that_is_not_openpgp_signatures(
    repos: Repos, gpg_home: GpgHome, content: bytes | str
) -> None:
    # pacman embeds whatever the .sig holds (a link to /etc/shadow, say) in the database that
    # everybody downloads; ours refuses anything but OpenPGP signature packets, keyring or not
    pkg = repos.put(FOO)
    data = gpg_home.sign(repos.ours / pkg, SIGNER) + b"junk" if content == "good+junk" else content
    assert isinstance(data, bytes)
    repos.write(pkg + ".sig", data)
    ref = run_tool([REF_REPO_ADD, DB, pkg], repos.ref, repos.env)
    assert ref.returncode == 0, str(ref)
    assert base64.b64decode(read_desc(repos.ref / DB, FOO)["PGPSIG"][0]) == data
    ours = run_tool([OUR_REPO_ADD, DB, pkg], repos.ours, repos.env)
    assert ours.returncode == 1, str(ours)
    assert not (repos.ours / DB).exists()
    assert f"==> ERROR: Invalid package signature file '{pkg}.sig': " in ours.stderr


def test_ours_verify_without_packages_checks_the_signature(signing_repos: Repos, gpg_home: GpgHome) -> None:
    # pacman 6.0.2's `repo-add -v db` with no package checks nothing (it looks in the wrong
    # directory) and exits 0. Ours verifies both databases.
    repos = signing_repos
    repos.add("-s", DB, repos.put(FOO))
    ok = run_tool([OUR_REPO_ADD, "-v", DB], repos.ours, repos.env)
    assert ok.returncode == 0, str(ok)
    (repos.ours / (DB + ".sig")).unlink()
    (repos.ours / (DB + ".sig")).write_bytes(gpg_home.sign(repos.ours / FILES, SIGNER))
    bad = run_tool([OUR_REPO_ADD, "-v", DB], repos.ours, repos.env)
    assert bad.returncode == 1, str(bad)
    assert DB in bad.stderr


# --- messages ------------------------------------------------------------------------------

ARMORED = b"-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all\n-----END PGP SIGNATURE-----\n"


def run_merged(argv: Sequence[str], cwd: str | os.PathLike[str], env: dict[str, str]) -> ToolResult:
    """``run_tool`` with standard error in standard output's pipe (``stderr`` is then empty)."""
    proc = subprocess.run(
        list(argv), check=False, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=300,
    )
    return ToolResult(tuple(argv), proc.returncode, proc.stdout, "")


def _pacman_only(line: str) -> bool:
    # pacman's "Extracting" lines (repotools reads the database in memory), and its "Removing old
    # package file ''" (-R, for a package with no older entry: a pacman bug, which also deletes
    # .sig in the current directory)
    return (line.startswith("==> Extracting ") and line.endswith(" to a temporary location...")) or (
        line == "  -> Removing old package file ''"
    )


def _comparable(line: str) -> str:
    return "==> ERROR:" if line.startswith("==> ERROR: ") else line


def messages(result: ToolResult, merged: bool = False) -> tuple[list[str], list[str]]:
    """A run's own messages, for comparison (every run of both tools is compared):

    - standard output whole, but for the lines only pacman prints (``_pacman_only``);
    - on standard error, the scripts' own lines (``==> ``) only, not what gpg, bsdtar or
      lrzip print there; errors by their prefix alone (repotools' name the cause too), and
      not repotools' warning that package signatures are embedded unchecked (no keyring:
      pacman never checks them).

    With both streams in one pipe (``run_merged``), every line is taken as a line of standard
    error is, ``  -> `` lines included, so the order of messages and errors is compared too.
    """
    out = [line for line in result.stdout.splitlines() if not _pacman_only(line)]
    err = result.stderr.splitlines()
    if merged:
        err, out = out, []
    err = [
        _comparable(line)
        for line in err
        if line.startswith(("==> ", "  -> ")) and not line.startswith("==> WARNING: No package keyring ")
    ]
    return out, err


def assert_same_messages(results: tuple[ToolResult, ToolResult], merged: bool = False) -> None:
    ref, ours = results
    assert messages(ours, merged) == messages(ref, merged), f"pacman's and our messages differ:\n{ref}\n\n{ours}"


def test_messages_of_an_addition(repos: Repos) -> None:
    repos.add(DB, repos.put(UP_OLD), merged=True)
    repos.add(DB, repos.put(UP_NEW), repos.put(FOO), merged=True)
    repos.add(DB, repos.put(UP_OLD), merged=True)  # a downgrade: its warning among the messages


def test_an_armored_signature_is_refused_after_adding_package_is_said(repos: Repos) -> None:
    pkg = repos.put(FOO)
    repos.write(pkg + ".sig", ARMORED)
    repos.add(DB, pkg, expect=1, merged=True)  # "Adding package", then the error
    repos.assert_same()


@pytest.mark.parametrize("option", ["-n", "-p"])
def test_a_skipped_package_s_bad_signature_file_does_not_fail_the_run(repos: Repos, option: str) -> None:
    # repo-add skips it (-n: the entry exists, -p: a newer version does) before it looks at the .sig
    first, again = (UP_OLD, UP_OLD) if option == "-n" else (UP_NEW, UP_OLD)
    repos.add(DB, repos.put(first))
    pkg = repos.put(again)
    repos.write(pkg + ".sig", ARMORED)
    repos.add(option, DB, pkg, merged=True)
    repos.assert_same()


def test_a_pkginfo_without_pkgver_is_refused_after_adding_package_is_said(repos: Repos, tmp_path: Path) -> None:
    name = "rt-nover-1.0-1-any.pkg.tar.gz"
    repos.write(name, _tar(tmp_path, name, {".PKGINFO": b"pkgname = rt-nover\n", "usr/share/x": b"x\n"}))
    repos.add(DB, name, expect=1, merged=True)  # "Adding package", then the error
    repos.assert_same()


def test_removing_the_last_package_warns_once_for_each_archive(repos: Repos) -> None:
    repos.add(DB, repos.put(FOO))
    results = repos.remove(DB, "rt-foo")
    assert results[1].stderr.count("No packages remain, creating empty database.") == 2


def test_each_archive_s_warning_comes_before_its_signature(signing_repos: Repos) -> None:
    signing_repos.add("-s", DB, signing_repos.put(FOO))
    _ref, ours = signing_repos.remove("-s", DB, "rt-foo", merged=True)
    assert ours.stdout.count("No packages remain") == 2


@pytest.mark.parametrize("content", [b"12345\n", b""], ids=["a pid", "empty"])
def test_a_held_lock_is_two_errors(repos: Repos, content: bytes) -> None:
    repos.write(DB + ".lck", content)
    _ref, ours = repos.add(DB, repos.put(FOO), expect=1)
    assert ours.stderr.count("==> ERROR: ") == 2, ours
