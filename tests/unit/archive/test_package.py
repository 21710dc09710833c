"""Package files read once (``repotools.archive.package.scan_package``): whole or streamed, the same
members and checksums; a package written to while it is read is refused; a pipe is streamed."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import libarchive
import pytest
from support.packages import pkginfo_for, write_archive

import repotools.archive.package
from repotools.archive.package import scan_package
from repotools.errors import NotAPackage
from repotools.fs.files import file_identity
from repotools.limits import Limits

SKIPPABLE_FRAME = b"\x50\x2a\x4d\x18" + (504).to_bytes(4, "little") + bytes(504)  # zstd's, 512 bytes


def _big_package(directory: Path) -> Path:
    """A package of 600 KB that is not compressible, with 200 members: several stream blocks."""
    f, d = 0o100000, 0o040000
    members = [(b".PKGINFO", f, pkginfo_for("big", "1.0-1")), (b"usr/", d, b""), (b"usr/share/", d, b"")]
    members += [(b"usr/share/f%03d" % i, f, os.urandom(3000)) for i in range(200)]
    return write_archive(directory / "big-1.0-1-x86_64.pkg.tar.zst", members)


@pytest.mark.parametrize("whole_read", [8 << 20, 0], ids=["whole", "streamed"])
def test_a_package_reads_alike_whole_and_streamed(repo: Path, whole_read: int) -> None:
    pkg = _big_package(repo)
    s = scan_package(str(pkg), Limits(whole_read_bytes=whole_read))
    data = pkg.read_bytes()
    assert (s.csize, s.md5sum) == (len(data), hashlib.md5(data).hexdigest())
    assert s.sha256sum == hashlib.sha256(data).hexdigest()
    with libarchive.file_reader(str(pkg)) as a:
        assert s.members == [e.pathname.encode() for e in a]
    assert s.pkginfo == pkginfo_for("big", "1.0-1")
    assert s.identity == file_identity(os.stat(pkg))


@pytest.mark.parametrize("whole_read", [8 << 20, 0], ids=["whole", "streamed"])
@pytest.mark.parametrize("when", ["while read", "once read"])
def test_a_package_written_to_while_it_is_read_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch, whole_read: int, when: str
) -> None:
    pkg = _big_package(repo)
    real_fstat, calls = os.fstat, []

    def fstat_after_a_writer(fd: int) -> os.stat_result:
        calls.append(fd)
        result = real_fstat(fd)
        # makepkg (say) appends to the package: before it is read, or once it was read
        if len(calls) == (1 if when == "while read" else 2):
            with open(pkg, "ab") as w:
                w.write(SKIPPABLE_FRAME)  # zstd reads on over it: only the size check can tell
            if when == "once read":
                result = real_fstat(fd)
        return result

    monkeypatch.setattr(repotools.archive.package.os, "fstat", fstat_after_a_writer)
    with pytest.raises(NotAPackage, match="it changed while it was being read"):
        scan_package(str(pkg), Limits(whole_read_bytes=whole_read))


def test_a_package_that_is_not_a_regular_file_is_streamed(repo: Path) -> None:
    pkg = _big_package(repo)
    fifo = repo / "fifo.pkg.tar.zst"
    os.mkfifo(fifo)
    data = pkg.read_bytes()

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        s = scan_package(str(fifo))
    finally:
        writer.join()
    assert s.content is None  # not read whole: a pipe tells no size, and may never end
    assert (s.csize, s.sha256sum) == (len(data), hashlib.sha256(data).hexdigest())
    assert s.members == scan_package(str(pkg)).members


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        (Limits(package_members=10), "it holds more than 10 members"),
        (Limits(package_names_bytes=80), "the names of its members take more than 80 bytes"),
    ],
    ids=["members", "name-bytes"],
)
@pytest.mark.parametrize("whole_read", [8 << 20, 0], ids=["whole", "streamed"])
def test_a_member_bomb_is_refused_at_the_bound(repo: Path, limits: Limits, why: str, whole_read: int) -> None:
    members = [(b".PKGINFO", 0o100000, pkginfo_for("bomb", "1-1"))]
    members += [(f"usr/{i:04}".encode(), 0o100000, b"") for i in range(11)]
    path = write_archive(repo / "bomb-1-1-x86_64.pkg.tar.zst", members)
    bounded = Limits(
        package_members=limits.package_members,
        package_names_bytes=limits.package_names_bytes,
        whole_read_bytes=whole_read,
    )
    with pytest.raises(NotAPackage) as e:
        scan_package(str(path), bounded)
    assert str(e.value) == f"'{path}' is not a package file ({why})."
    assert len(scan_package(str(path)).members) == 12  # within the default bounds: read
