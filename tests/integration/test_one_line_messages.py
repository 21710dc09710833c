"""Every message a command prints is one line, whatever a file name holds: a newline or a terminal
escape sequence in a package's path is printed escaped, so it can neither forge a message line nor
drive the terminal."""

from __future__ import annotations

from pathlib import Path

from support.packages import build_package
from support.tools import REPO_ADD, cli


def test_a_package_name_with_a_newline_gives_one_error_line(tmp_path: Path) -> None:
    name = "x.pkg.tar.zst\n==> Forged\x1b[2J"
    build_package(tmp_path, "x", filename=name)
    r = cli(REPO_ADD, "r.db.tar.gz", name, cwd=tmp_path)
    assert r.rc == 1, r
    assert r.out == "==> Adding package 'x.pkg.tar.zst\\n==> Forged\\x1b[2J'\n==> No packages modified, nothing to do.\n"
    assert r.err == (
        "==> ERROR: Invalid package file 'x.pkg.tar.zst\\n==> Forged\\x1b[2J': its file name holds a newline, which "
        "would end the %FILENAME% field in the database.\n"
    )
    assert not (tmp_path / "r.db.tar.gz").exists()
