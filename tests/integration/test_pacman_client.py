"""pacman 6.0.2 as the client of a repository written by our repo-add.

The repository is signed with ``repo-add -s`` and every package carries a detached signature
(embedded as %PGPSIG%). pacman runs with a scratch configuration: its own root, database,
cache, log and keyring (``pacman-key --init``, the test key imported and locally signed), and
``SigLevel = Required DatabaseRequired``: the database and every package must carry a valid
signature by a fully trusted key. pacman 6.0.2 has no download sandbox and no DownloadUser.
Installing into a root needs root (CI runs as root).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.builds import (
    EPOCH_2,
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
from support.packages import build_package
from support.pacman import Pacman, info_fields
from support.snapshots import read_archive
from support.tools import OUR_REPO_ADD, OUR_REPO_REMOVE, run_tool, tool_env

from repotools.archive._lib import WRITER
from repotools.update.layouts import LayoutCache

REPO_PACKAGES = (FOO, FOO_BAR, META, EPOCH_2, SPLIT_A, SPLIT_B, UNICODE, MANY, LINKS, MINIMAL, ODDNAMES, UP_OLD)
DB = "rt.db.tar.zst"


@pytest.fixture(scope="module")
def pacman_keyring(gpg_home: GpgHome) -> Iterator[Path]:
    """pacman's keyring: initialised, the SIGNER key imported and locally signed (fully
    trusted); the OTHER_SIGNER key imported but not signed (known, not trusted). A short path:
    gpg-agent's sockets live in it."""
    top = Path(tempfile.mkdtemp(prefix="rt-pacman-"))
    gpgdir = top / "gnupg"
    keys = top / "keys"
    keys.mkdir()
    env = tool_env()

    def pacman_key(*args: str) -> None:
        proc = subprocess.run(["pacman-key", "--gpgdir", str(gpgdir), *args], check=False, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"pacman-key {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"

    pacman_key("--init")
    try:
        for uid in (SIGNER, OTHER_SIGNER):
            (keys / "key.asc").write_bytes(gpg_home.export(uid))
            pacman_key("--add", str(keys / "key.asc"))
        pacman_key("--lsign-key", gpg_home.fingerprints[SIGNER])
        yield gpgdir
    finally:
        subprocess.run(["gpgconf", "--homedir", str(gpgdir), "--kill", "all"], check=False, env=env,
                       capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def make_repo(directory: Path, packages: dict[str, Path], keys: tuple[str, ...], gpg_home: GpgHome,
              signer: str = SIGNER) -> None:
    """A repository written by our repo-add -s, each package with a detached signature by ``signer``."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for key in keys:
        dest = directory / packages[key].name
        shutil.copyfile(packages[key], dest)
        (directory / (dest.name + ".sig")).write_bytes(gpg_home.sign(dest, signer))
        names.append(dest.name)
    add = run_tool([OUR_REPO_ADD, "-s", "-k", gpg_home.fingerprints[SIGNER], DB, *names], directory,
                   tool_env(gpg_home.path))
    assert add.returncode == 0, str(add)
    _spoil_package_signatures(directory, gpg_home)


def _spoil_package_signatures(directory: Path, gpg_home: GpgHome) -> None:
    """Replace the packages' .sig files by signatures of other data. pacman 6.0.2 downloads
    them but checks %PGPSIG% when the database has it: what it accepts, it accepted from ours."""
    other = directory / ".other-data"
    other.write_bytes(b"not a package\n")
    bad = gpg_home.sign(other, SIGNER)
    other.unlink()
    for sig in directory.glob("*.pkg.tar*.sig"):
        sig.write_bytes(bad)


@pytest.fixture(scope="module")
def signed_repo(tmp_path_factory: pytest.TempPathFactory, built_packages: dict[str, Path],
                gpg_home: GpgHome) -> Path:
    repo = tmp_path_factory.mktemp("signed-repo")
    make_repo(repo, built_packages, REPO_PACKAGES, gpg_home)
    return repo


@pytest.fixture
def pacman(tmp_path: Path, signed_repo: Path, pacman_keyring: Path) -> Pacman:
    return Pacman.create(tmp_path, signed_repo, pacman_keyring)


def test_pacman_installs_from_our_signed_repository(pacman: Pacman) -> None:
    pacman.ok("-Sy")
    pacman.ok("-S", "--noscriptlet", "--assume-installed", "sh", "rt-meta", "rt-split-a", "rt-links", "rt-minimal",
              "rt-unicode")
    # dependencies resolved through our database, the epoch one included
    assert pacman.installed() == {
        "rt-meta": "1.2.3.r4.g5678-2", "rt-foo": "1.0-1", "rt-epoch": "2:0.5-1", "rt-split-a": "3.1-4",
        "rt-split-b": "3.1-4", "rt-links": "2.0-1", "rt-minimal": "1-1", "rt-unicode": "0.9-1",
    }
    root = pacman.root
    assert (root / "usr/bin/rt-meta").read_text() == "#!/bin/sh\necho rt-meta\n"
    assert (root / "etc/rt-meta.conf").read_text() == "setting = 1\n"
    assert (root / "usr/share/rt-split/a").is_file() and (root / "usr/lib/rt-split/b.so").is_file()
    assert (root / "usr/share/rt-minimal/file").read_text() == "minimal\n"
    assert (root / "usr/share/rt-unicode/ファイル.txt").read_text() == "ファイル.txt\n"
    assert (root / "usr/share/rt-unicode/目录/文件").is_file()
    assert os.readlink(root / "usr/share/rt-links/relative-link") == "target"
    assert os.readlink(root / "usr/share/rt-links/dangling-link") == "does-not-exist"
    assert os.path.samefile(root / "usr/share/rt-links/hard-link", root / "usr/share/rt-links/target")
    # pacman checked each package's signature: the one in our %PGPSIG% (the .sig files are spoilt)
    for name in ("rt-meta", "rt-foo", "rt-minimal"):
        assert "Signature" in info_fields(pacman.ok("-Qi", name).stdout)["Validated By"]
    assert info_fields(pacman.ok("-Qi", "rt-meta").stdout)["Install Reason"] == "Explicitly installed"


def test_pacman_reads_every_desc_field(pacman: Pacman, built_packages: dict[str, Path]) -> None:
    pacman.ok("-Sy")
    info = info_fields(pacman.ok("-Si", "rt-meta").stdout)
    assert info["Repository"] == "rt"
    assert info["Version"] == "1.2.3.r4.g5678-2"
    assert info["Description"] == "A package with every metadata field = all of them"
    assert info["URL"] == "https://example.invalid/rt-meta?a=b&c=d"
    assert info["Licenses"] == "MIT  custom:Repotools Test"
    assert info["Groups"] == "rt-group  rt-other-group"
    assert info["Provides"] == "rt-meta-virtual=1.2  librtmeta.so=1-64"
    assert info["Depends On"] == "rt-foo>=1.0  rt-epoch=2:0.5-1  sh"
    assert info["Optional Deps"] == "rt-foo-bar: for the bar feature  rt-links"
    assert info["Conflicts With"] == "rt-meta-git  rt-old<1.0"
    assert info["Replaces"] == "rt-meta-legacy  rt-meta-older"
    assert info["Packager"] == "Repotools Tests <tests@example.invalid>"
    assert info["Validated By"] == "MD5 Sum  SHA-256 Sum  Signature"
    assert info["Download Size"] == f"{built_packages[META].stat().st_size:.2f} B"
    unicode_info = info_fields(pacman.ok("-Si", "rt-unicode").stdout)
    assert unicode_info["Description"] == "Ünïcödé pàckage — 日本語の説明 ✓ ελληνικά"
    assert info_fields(pacman.ok("-Si", "rt-split-b").stdout)["Groups"] == "rt-group"
    # groups and provisions resolve through the database
    assert set(pacman.ok("-Sgq", "rt-group").stdout.split()) == {"rt-meta", "rt-split-b"}
    assert pacman.ok("-Spdd", "--print-format", "%n %v", "rt-meta-virtual").stdout.strip() == "rt-meta 1.2.3.r4.g5678-2"


def test_pacman_reads_the_files_database(pacman: Pacman, built_packages: dict[str, Path]) -> None:
    pacman.ok("-Fy")
    for key, name in ((MANY, "rt-many"), (UNICODE, "rt-unicode"), (LINKS, "rt-links")):
        listed = pacman.ok("-Flq", name).stdout.splitlines()
        members = [m for m in read_archive(built_packages[key]).members if not str(m).startswith(".")]
        assert sorted(listed) == sorted(map(str, members)), name
    assert pacman.ok("-Fq", "usr/share/rt-unicode/目录/文件").stdout.strip() == "rt/rt-unicode"
    assert pacman.ok("-Fq", "/usr/share/rt-many/d39/f74").stdout.strip() == "rt/rt-many"


def test_pacman_upgrades_after_our_update(tmp_path: Path, built_packages: dict[str, Path],
                                          gpg_home: GpgHome, pacman_keyring: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, built_packages, (UP_OLD, FOO, FOO_BAR), gpg_home)
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    pacman.ok("-Sy", "rt-upgrade", "rt-foo-bar")
    assert pacman.installed() == {"rt-upgrade": "1.0-1", "rt-foo": "1.0-1", "rt-foo-bar": "0.1-3"}
    # the maintainer publishes 1.1 (deleting 1.0) and drops rt-foo-bar
    new = repo / built_packages[UP_NEW].name
    shutil.copyfile(built_packages[UP_NEW], new)
    (repo / (new.name + ".sig")).write_bytes(gpg_home.sign(new, SIGNER))
    env = tool_env(gpg_home.path)
    add = run_tool([OUR_REPO_ADD, "-R", "-s", "-k", gpg_home.fingerprints[SIGNER], DB, new.name], repo, env)
    assert add.returncode == 0, str(add)
    _spoil_package_signatures(repo, gpg_home)
    assert not (repo / built_packages[UP_OLD].name).exists()
    remove = run_tool([OUR_REPO_REMOVE, "-s", "-k", gpg_home.fingerprints[SIGNER], DB, "rt-foo-bar"], repo, env)
    assert remove.returncode == 0, str(remove)
    pacman.ok("-Syyu")  # -yy: the new database may carry the same mtime second as the first download
    assert pacman.installed()["rt-upgrade"] == "1.1-1"
    assert (pacman.root / "usr/share/rt-upgrade/NEWS").read_text() == "new in 1.1\n"
    assert pacman("-Si", "rt-foo-bar").returncode == 1
    assert [line for line in pacman.ok("-Qm").stdout.splitlines()] == ["rt-foo-bar 0.1-3"]  # foreign now


def test_pacman_refuses_a_tampered_database(tmp_path: Path, signed_repo: Path, pacman_keyring: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(signed_repo, repo, symlinks=True)
    db = repo / DB
    data = bytearray(db.read_bytes())
    data[len(data) // 2] ^= 0x01
    db.write_bytes(bytes(data))
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    result = pacman("-Sy")
    assert result.returncode == 1, str(result)
    assert "invalid or corrupted database (PGP signature)" in result.stderr
    # whatever pacman kept of the download, it will not use it
    install = pacman("-S", "rt-foo")
    assert install.returncode == 1, str(install)
    assert pacman.installed() == {}


def test_pacman_refuses_an_unsigned_database(tmp_path: Path, built_packages: dict[str, Path],
                                             gpg_home: GpgHome, pacman_keyring: Path) -> None:
    # an update without -s removes the old signature (it would not match): pacman must refuse
    repo = tmp_path / "repo"
    make_repo(repo, built_packages, (FOO,), gpg_home)
    add = run_tool([OUR_REPO_ADD, DB, built_packages[FOO].name], repo, tool_env(gpg_home.path))
    assert add.returncode == 0, str(add)
    assert not (repo / "rt.db.sig").exists()
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    result = pacman("-Sy")
    assert result.returncode == 1, str(result)
    assert "rt.db.sig" in result.stderr


def test_pacman_refuses_a_package_signed_by_an_untrusted_key(tmp_path: Path, built_packages: dict[str, Path],
                                                            gpg_home: GpgHome, pacman_keyring: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, built_packages, (FOO,), gpg_home, signer=OTHER_SIGNER)  # database: SIGNER
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    pacman.ok("-Sy")
    result = pacman("-S", "rt-foo")
    assert result.returncode == 1, str(result)
    assert "unknown trust" in result.stderr
    assert pacman.installed() == {}


def test_pacman_refuses_a_package_whose_signature_does_not_match(
    tmp_path: Path, built_packages: dict[str, Path], gpg_home: GpgHome, pacman_keyring: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    foo, foo_bar = (repo / built_packages[k].name for k in (FOO, FOO_BAR))
    shutil.copyfile(built_packages[FOO], foo)
    shutil.copyfile(built_packages[FOO_BAR], foo_bar)
    (repo / (foo.name + ".sig")).write_bytes(gpg_home.sign(foo_bar, SIGNER))  # a good signature of other data
    add = run_tool([OUR_REPO_ADD, "-s", DB, foo.name], repo, tool_env(gpg_home.path))
    assert add.returncode == 0, str(add)
    _spoil_package_signatures(repo, gpg_home)
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    pacman.ok("-Sy")
    result = pacman("-S", "rt-foo")
    assert result.returncode == 1, str(result)
    assert "invalid or corrupted package (PGP signature)" in result.stderr
    assert pacman.installed() == {}


def test_pacman_accepts_our_empty_database(tmp_path: Path, built_packages: dict[str, Path],
                                           gpg_home: GpgHome, pacman_keyring: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, built_packages, (FOO,), gpg_home)
    remove = run_tool([OUR_REPO_REMOVE, "-s", DB, "rt-foo"], repo, tool_env(gpg_home.path))
    assert remove.returncode == 0, str(remove)
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    pacman.ok("-Sy")
    pacman.ok("-Fy")
    assert pacman.ok("-Sl", "rt").stdout == ""
    assert pacman("-Si", "rt-foo").returncode == 1


@pytest.mark.parametrize("db_name", ["rt.db.tar.gz", "rt.db.tar.zst"])
def test_pacman_syncs_and_upgrades_from_a_database_updated_chunk_by_chunk(
    tmp_path: Path, built_packages: dict[str, Path], gpg_home: GpgHome, pacman_keyring: Path,
    layout_cache: Path, db_name: str,
) -> None:
    """repotools updates a large database by copying the unchanged chunks (gzip members, zstd
    frames) of the old one: pacman reads the result as one database, db and files alike."""
    repo = tmp_path / "repo"
    repo.mkdir()
    fillers = [build_package(repo, f"rt-fill{i:03d}") for i in range(300)]
    old_pkg = repo / built_packages[UP_OLD].name
    shutil.copyfile(built_packages[UP_OLD], old_pkg)
    (repo / (old_pkg.name + ".sig")).write_bytes(gpg_home.sign(old_pkg, SIGNER))
    env = tool_env(gpg_home.path)
    sign = ["-s", "-k", gpg_home.fingerprints[SIGNER]]
    add = run_tool([OUR_REPO_ADD, *sign, db_name, old_pkg.name, *(p.name for p in fillers)], repo, env)
    assert add.returncode == 0, str(add)
    pacman = Pacman.create(tmp_path / "client", repo, pacman_keyring)
    pacman.ok("-Sy", "rt-upgrade")
    assert len(pacman.ok("-Sl", "rt").stdout.splitlines()) == 301
    new = repo / built_packages[UP_NEW].name
    shutil.copyfile(built_packages[UP_NEW], new)
    (repo / (new.name + ".sig")).write_bytes(gpg_home.sign(new, SIGNER))
    add = run_tool([OUR_REPO_ADD, "-R", *sign, db_name, new.name], repo, env)
    assert add.returncode == 0, str(add)
    remove = run_tool([OUR_REPO_REMOVE, *sign, db_name, "rt-fill007"], repo, env)
    assert remove.returncode == 0, str(remove)
    # the last update copied most chunks of the database before it, byte for byte
    cache = LayoutCache(str(layout_cache))
    for kind in ("db", "files"):
        current = repo / db_name.replace(".db.", f".{kind}.")
        data = current.read_bytes()
        compression = "gzip" if db_name.endswith(".gz") else "zstd"
        layout = cache.load(hashlib.sha256(data).hexdigest(), compression, len(data), WRITER)
        assert layout is not None and len(layout.chunks) > 5, kind
        before = Path(str(current) + ".old").read_bytes()
        copied = [c for c in layout.chunks[:-1] if data[c.offset : c.offset + c.length] in before]
        assert len(copied) >= len(layout.chunks) - 4, kind
    pacman.ok("-Syyu")
    assert pacman.installed()["rt-upgrade"] == "1.1-1"
    listed = pacman.ok("-Sl", "rt").stdout.splitlines()
    assert len(listed) == 300 and "rt rt-fill007 1.0-1" not in listed and "rt rt-upgrade 1.1-1 [installed]" in listed
    pacman.ok("-Fy")
    assert "rt-upgrade usr/share/rt-upgrade/NEWS" in pacman.ok("-Fl", "rt-upgrade").stdout
    assert "rt-fill299 usr/bin/rt-fill299" in pacman.ok("-Fl", "rt-fill299").stdout
