"""Database names: the extensions repo-add accepts, the prefix and suffix it derives, the lock path."""

from __future__ import annotations

import os
import subprocess

import pytest

from repotools.errors import InvalidDatabaseName
from repotools.formats.dbname import parse_db_path

# repo-add's own check and derivation, with its own libmakepkg compress.sh
_REPO_ADD_NAMING = r"""
LIBRARY=/usr/share/makepkg
source "$LIBRARY/util/compress.sh"
REPO_DB_FILE=$1
if [[ $REPO_DB_FILE = *.db.tar* ]] && get_compression_command "$REPO_DB_FILE" junk; then
    REPO_DB_PREFIX=${REPO_DB_FILE##*/}
    REPO_DB_PREFIX=${REPO_DB_PREFIX%.db.*}
    REPO_DB_SUFFIX=${REPO_DB_FILE##*.db.}
    printf '%s\n%s\n' "$REPO_DB_PREFIX" "$REPO_DB_SUFFIX"
else
    exit 1
fi
"""


def repo_add_naming(path: str) -> tuple[str, str] | None:
    r = subprocess.run(["bash", "-c", _REPO_ADD_NAMING, "bash", path], capture_output=True, check=False)
    if r.returncode:
        return None
    prefix, suffix = r.stdout.decode().split("\n")[:2]
    return prefix, suffix


EXTENSIONS = ["", ".gz", ".bz2", ".xz", ".zst", ".lrz", ".lzo", ".Z", ".lz4", ".lz"]


@pytest.mark.parametrize("ext", EXTENSIONS, ids=[e or "tar" for e in EXTENSIONS])
def test_every_extension_repo_add_accepts(ext: str) -> None:
    name = f"core.db.tar{ext}"
    assert repo_add_naming(name) == ("core", f"tar{ext}")
    paths = parse_db_path(name, cwd="/srv/repo")
    assert (paths.prefix, paths.suffix, paths.compression_ext) == ("core", f"tar{ext}", ext)
    assert paths.archive("db") == f"/srv/repo/core.db.tar{ext}"
    assert paths.archive("files") == f"/srv/repo/core.files.tar{ext}"


@pytest.mark.parametrize(
    "name",
    [
        "core.db",
        "core.db.tar.gzip",
        "core.db.tar.z",
        "core.db.tar.GZ",
        "core.db.tar.gz.old",
        "core.db.tar.gz.sig",
        "core.DB.tar.gz",
        "core.tar.gz",
        "core.files.tar.gz",
        "core.db.tgz",
        "core",
        "",
    ],
)
def test_names_repo_add_refuses(name: str) -> None:
    assert repo_add_naming(name) is None
    with pytest.raises(InvalidDatabaseName) as e:
        parse_db_path(name, cwd="/srv/repo")
    assert str(e.value) == f"'{name}' does not have a valid database archive extension."


@pytest.mark.parametrize("name", [".db.tar.gz", "dir/.db.tar.gz"])
def test_an_empty_prefix_is_refused(name: str) -> None:
    """repo-add would accept these and write '.files.tar.gz', a hidden file; we refuse."""
    with pytest.raises(InvalidDatabaseName):
        parse_db_path(name, cwd="/srv/repo")


def test_a_compression_suffix_after_a_second_tar_is_refused() -> None:
    """repo-add takes 'x.db.tar.foo.tar.gz' (glob *.tar.gz) and names its files db 'x.files.tar.foo.tar.gz'."""
    with pytest.raises(InvalidDatabaseName):
        parse_db_path("x.db.tar.foo.tar.gz", cwd="/srv/repo")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("my.repo.db.tar.gz", "my.repo"),
        ("a.db.b.db.tar.zst", "a.db.b"),
        ("custom-repo_1.db.tar.xz", "custom-repo_1"),
        ("db.db.tar", "db"),
    ],
)
def test_prefix_is_everything_before_the_last_dot_db_dot(name: str, prefix: str) -> None:
    assert repo_add_naming(name) is not None
    assert repo_add_naming(name)[0] == prefix  # type: ignore[index]
    paths = parse_db_path(name, cwd="/srv/repo")
    assert paths.prefix == prefix
    assert paths.link("db") == f"/srv/repo/{prefix}.db"
    assert paths.link("files") == f"/srv/repo/{prefix}.files"


def test_a_relative_path_is_taken_from_the_working_directory() -> None:
    paths = parse_db_path("sub/dir/core.db.tar.gz", cwd="/srv/repo")
    assert paths.directory == "/srv/repo/sub/dir"
    assert paths.archive("db") == "/srv/repo/sub/dir/core.db.tar.gz"
    assert paths.lock == "/srv/repo/sub/dir/core.db.tar.gz.lck"


def test_an_absolute_path_ignores_the_working_directory() -> None:
    paths = parse_db_path("/data/x86_64/core.db.tar.zst", cwd="/srv/repo")
    assert paths.directory == "/data/x86_64"
    assert paths.lock == "/data/x86_64/core.db.tar.zst.lck"
    assert paths.archive("files") == "/data/x86_64/core.files.tar.zst"


def test_without_cwd_the_process_working_directory_is_used() -> None:
    assert parse_db_path("core.db.tar.gz").directory == os.getcwd()


def test_the_lock_is_the_path_as_given_plus_lck_like_repo_add() -> None:
    """repo-add: LOCKFILE=$PWD/$REPO_DB_FILE.lck -- not normalised."""
    assert parse_db_path("./core.db.tar.gz", cwd="/srv/repo").lock == "/srv/repo/./core.db.tar.gz.lck"


def test_the_directory_part_may_contain_dot_db_dot() -> None:
    paths = parse_db_path("/srv/x.db.tar.gz/core.db.tar.xz")
    assert (paths.directory, paths.prefix, paths.suffix) == ("/srv/x.db.tar.gz", "core", "tar.xz")


def test_dot_db_dot_tar_in_the_directory_does_not_make_a_name_valid() -> None:
    """repo-add globs the whole path: it takes '/srv/x.db.tar/core.tar.gz' with suffix 'tar/core.tar.gz'."""
    with pytest.raises(InvalidDatabaseName):
        parse_db_path("/srv/x.db.tar/core.tar.gz")
