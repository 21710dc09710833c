"""Package files read from disk (``repotools.update.scan``): the ``.sig`` beside each one, checked as
repo-add checks it; what a package that cannot be added is reported as; the verifier run beside
the scan, over the bytes that were hashed; a scan closed early."""

from __future__ import annotations

import hashlib
import os
import tarfile
import time
from pathlib import Path

import pytest
from support.keyfactory import KeyFactory
from support.openpgp import FRAMED_SIGNATURE, padded_signature_file
from support.packages import build_package, signed, write_archive

from repotools.errors import SignatureFileError
from repotools.limits import DEFAULT_LIMITS, Limits
from repotools.trust.verification import Verification
from repotools.update.scan import read_signature, scan, scan_all

# ---------------------------------------------------------------------------------------------
# the package's .sig


def test_no_signature_file_means_no_signature(tmp_path: Path) -> None:
    assert read_signature(str(tmp_path / "foo.pkg.tar.zst")) is None


def test_a_signature_of_the_maximum_size_is_accepted(tmp_path: Path) -> None:
    sig = padded_signature_file(FRAMED_SIGNATURE, DEFAULT_LIMITS.signature_bytes)
    (tmp_path / "foo.pkg.tar.zst.sig").write_bytes(sig)
    assert read_signature(str(tmp_path / "foo.pkg.tar.zst")) == sig


def test_an_oversized_signature_is_refused(tmp_path: Path) -> None:
    sig = tmp_path / "foo.pkg.tar.zst.sig"
    sig.write_bytes(b"\x89" * (DEFAULT_LIMITS.signature_bytes + 1))
    with pytest.raises(SignatureFileError) as e:
        read_signature(str(tmp_path / "foo.pkg.tar.zst"))
    assert str(e.value) == f"Invalid package signature file '{sig}': larger than 16384 bytes."


def test_an_armored_signature_is_refused(tmp_path: Path) -> None:
    sig = tmp_path / "foo.pkg.tar.zst.sig"
    sig.write_bytes(b"-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n")
    with pytest.raises(SignatureFileError) as e:
        read_signature(str(tmp_path / "foo.pkg.tar.zst"))
    assert str(e.value) == f"Cannot use armored signatures for packages: {sig}"


def test_an_empty_signature_is_refused(tmp_path: Path) -> None:
    sig = tmp_path / "foo.pkg.tar.zst.sig"
    sig.write_bytes(b"")
    with pytest.raises(SignatureFileError) as e:
        read_signature(str(tmp_path / "foo.pkg.tar.zst"))
    assert str(e.value) == f"Invalid package signature file '{sig}': it is empty."


def test_a_bad_signature_file_fails_the_package_and_keeps_its_record(repo: Path) -> None:
    pkg = build_package(repo)
    Path(f"{pkg}.sig").write_bytes(b"")
    scanned = scan(str(pkg))
    assert isinstance(scanned.error, SignatureFileError)
    # with the record: repo-add checks the database's entries (-n, -p) before it reads the .sig
    assert scanned.record is not None and scanned.record.info.name == "foo"
    assert scanned.record.pgpsig is None and scanned.verification is None


def test_a_directory_is_not_a_package(repo: Path) -> None:
    (repo / "dir.pkg.tar.zst").mkdir()
    scanned = scan(str(repo / "dir.pkg.tar.zst"))
    assert str(scanned.error) == f"File '{repo / 'dir.pkg.tar.zst'}' not found."


def test_scan_reports_a_package_without_pkginfo(repo: Path) -> None:
    pkg = write_archive(repo / "x.pkg.tar.zst", [(b"usr/", 0o040000, b"")])
    assert str(scan(str(pkg)).error) == f"'{pkg}' is not a package file (no .PKGINFO in it)."


# --- sizes a package declares, and names pacman cannot read -------------------------------------


def test_a_package_claiming_a_huge_pkginfo_is_not_a_package(tmp_path: Path) -> None:
    info = tarfile.TarInfo(".PKGINFO")
    info.size = 2**44
    path = tmp_path / "big.pkg.tar"
    path.write_bytes(info.tobuf(format=tarfile.PAX_FORMAT) + b"pkgname = x\n".ljust(512, b"\0") + b"\0" * 1024)
    scanned = scan(str(path))
    assert str(scanned.error) == f"'{path}' is not a package file (its .PKGINFO claims {2**44} bytes)."


def test_a_package_whose_pkginfo_is_named_dot_slash_is_refused_with_the_reason(tmp_path: Path) -> None:
    info = b"pkgname = dotted\npkgver = 1.0-1\narch = x86_64\n"
    path = write_archive(tmp_path / "dotted-1.0-1-x86_64.pkg.tar.zst", [(b"./.PKGINFO", 0o100000, info)])
    assert str(scan(str(path)).error) == (
        f"'{path}' is not a package file (its .PKGINFO is named './.PKGINFO', which pacman cannot read)."
    )


# --- signatures checked beside the scan ------------------------------------------------------------


@pytest.mark.parametrize("whole_read", [8 << 20, 0], ids=["whole", "streamed"])
def test_the_scan_hands_the_verifier_the_bytes_it_hashed(repo: Path, keys: KeyFactory, whole_read: int) -> None:
    pkg = signed(repo, keys, "a", "alice")
    seen: list[bytes | None] = []

    def verifier(path: str, sig: bytes, identity: tuple[int, ...], content: bytes | None) -> Verification:
        seen.append(content)
        return Verification()

    scanned = scan(str(pkg), verifier, Limits(whole_read_bytes=whole_read))
    assert scanned.record is not None and isinstance(scanned.verification, Verification)
    assert seen == [pkg.read_bytes() if whole_read else None]
    assert hashlib.sha256(pkg.read_bytes()).hexdigest() == scanned.record.sha256sum


def test_closing_the_scan_early_leaves_the_packages_not_yet_started(repo: Path) -> None:
    pkgs = [build_package(repo, f"p{i:03d}") for i in range(200)]
    for p in pkgs:
        Path(str(p) + ".sig").write_bytes(FRAMED_SIGNATURE)  # framed as one: the verifier runs on it
    marks = repo / "marks"
    marks.mkdir()

    def slow(path: str, sig: bytes, identity: tuple[int, ...], content: bytes | None) -> None:
        (marks / os.path.basename(path)).touch()
        time.sleep(0.02)

    scanned = scan_all([str(p) for p in pkgs], 2, slow)  # type: ignore[arg-type]
    assert next(scanned).path == str(pkgs[0])
    scanned.close()  # what add_packages' caller does when it fails
    seen = -1
    while seen != len(list(marks.iterdir())):  # the tasks already started run to their end
        seen = len(list(marks.iterdir()))
        time.sleep(0.5)
    assert 0 < seen < len(pkgs)


@pytest.mark.parametrize("kind", ["fifo", "link-to-a-device", "directory", "dangling-link"])
def test_a_signature_that_is_not_a_regular_file_is_refused_unopened(tmp_path: Path, kind: str) -> None:
    sig = tmp_path / "foo.pkg.tar.zst.sig"
    if kind == "fifo":
        os.mkfifo(sig)  # opened for reading, it would block the run
    elif kind == "link-to-a-device":
        sig.symlink_to("/dev/null")
    elif kind == "directory":
        sig.mkdir()
    else:
        sig.symlink_to(tmp_path / "gone")
    with pytest.raises(SignatureFileError) as e:
        read_signature(str(tmp_path / "foo.pkg.tar.zst"))
    if kind == "dangling-link":
        assert str(e.value) == f"Cannot read package signature file '{sig}': No such file or directory."
    else:
        assert str(e.value) == f"Invalid package signature file '{sig}': not a regular file."


def test_a_signature_that_is_a_link_to_a_signature_is_read(tmp_path: Path) -> None:
    """A pool layout: the repository's .sig is a link to the pool's."""
    (tmp_path / "pool.sig").write_bytes(FRAMED_SIGNATURE)
    (tmp_path / "foo.pkg.tar.zst.sig").symlink_to("pool.sig")
    assert read_signature(str(tmp_path / "foo.pkg.tar.zst")) == FRAMED_SIGNATURE
