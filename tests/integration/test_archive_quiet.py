"""What libarchive itself says stays out of repo-add's output: its warnings are not messages
of ours (a text file, which libarchive reads as an mtree, once printed "Missing type keyword in
mtree specification" before our error)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.packages import build_package
from support.snapshots import snapshot
from support.tools import REPO_ADD, base_env, cli


def test_a_text_file_is_not_a_package_and_libarchive_says_nothing_more(tmp_path: Path) -> None:
    (tmp_path / "x.pkg.tar.zst").write_text("hello\n")  # libarchive's mtree reader takes it, and warns
    before = snapshot(tmp_path)
    r = cli(REPO_ADD, "-q", "r.db.tar.gz", "x.pkg.tar.zst", cwd=tmp_path, env=base_env())
    assert r.rc == 1
    assert r.err == "==> ERROR: 'x.pkg.tar.zst' is not a package file (no .PKGINFO in it).\n"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("ext", "program"), [(".lzo", "lzop"), (".lz4", "lz4")])
def test_quiet_means_quiet_with_compressions_libarchive_runs_a_program_for(
    tmp_path: Path, ext: str, program: str
) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed; scripts/install.sh installs it")
    pkg = build_package(tmp_path, "foo", "1.0-1")
    r = cli(REPO_ADD, "-q", f"r.db.tar{ext}", pkg.name, cwd=tmp_path, env=base_env())
    assert r.rc == 0, r
    assert (r.out, r.err) == ("", "")
