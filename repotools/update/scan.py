"""Package files read from disk: each one's record, file list and signature file, and its signatures
checked beside the read, in worker processes when there are enough packages to pay for them."""

from __future__ import annotations

import os
import stat
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from ..archive.package import scan_package
from ..db.rules import build_record
from ..errors import MalformedSignature, PackageNotFound, RepoToolsError, SignatureFileError
from ..formats.desc import PackageRecord
from ..fs.pool import fork_map
from ..limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from ..trust.verification import Verification, Verifier

__all__ = ["PARALLEL_MIN", "ScannedPackage", "read_signature", "scan", "scan_all"]

PARALLEL_MIN = 8  # fewer packages than this are scanned in-process


@dataclass(frozen=True)
class ScannedPackage:
    """A package file as read from disk: its record and file list, or why it failed (both,
    when only its signature file failed). A ``db.model.Candidate``."""

    path: str
    record: PackageRecord | None = None
    files: tuple[bytes, ...] = ()
    error: RepoToolsError | None = None
    identity: tuple[int, ...] = ()  # fs.files.file_identity of the bytes that were read
    verification: Verification | None = None  # what the gate's verifier found beside the scan


def read_signature(path: str, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """The detached signature beside a package, checked as repo-add checks it, and more: a regular
    file (a link to one is followed, as a pool layout has them), at most ``limits.signature_bytes``,
    that holds binary OpenPGP signature packets and nothing else (``trust.packets``), whether or
    not a keyring then verifies it, so that nothing else is ever embedded as ``%PGPSIG%``."""
    sig_path = path + ".sig"
    if not os.path.lexists(sig_path):
        return None
    cap = limits.signature_bytes
    try:
        # the type first: a link to a device is never opened (opening some has effects); then the
        # file opened is checked to be the one looked at
        before = os.stat(sig_path)
        if not stat.S_ISREG(before.st_mode):
            raise SignatureFileError(f"Invalid package signature file '{sig_path}': not a regular file.")
        with open(os.open(sig_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as f:
            opened = os.fstat(f.fileno())
            if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
                raise SignatureFileError(f"Invalid package signature file '{sig_path}': it changed while it was read.")
            data = f.read(cap + 1)
    except OSError as e:
        raise SignatureFileError(f"Cannot read package signature file '{sig_path}': {e.strerror}.") from None
    if b"BEGIN PGP SIGNATURE" in data:
        raise SignatureFileError(f"Cannot use armored signatures for packages: {sig_path}")
    if len(data) > cap:
        raise SignatureFileError(f"Invalid package signature file '{sig_path}': larger than {cap} bytes.")
    if not data:
        raise SignatureFileError(f"Invalid package signature file '{sig_path}': it is empty.")
    from ..trust.packets import signature_packets  # only for a package that has a .sig

    try:
        signature_packets(data, limits.signature_packets)
    except MalformedSignature as e:
        raise SignatureFileError(f"Invalid package signature file '{sig_path}': {e}.") from None
    return data


def scan(path: str, verifier: Verifier | None = None, limits: Limits = DEFAULT_LIMITS) -> ScannedPackage:
    """Read one package file and its signature, and check the signature with ``verifier``.

    Errors are returned, not raised; a signature file that cannot be used is returned
    with the package's record, which repo-add checks against the database first.
    """
    try:
        if not os.path.isfile(path):
            raise PackageNotFound(path)
        s = scan_package(path, limits)
        sig_error: SignatureFileError | None = None
        try:
            sig = read_signature(path, limits)
        except SignatureFileError as e:  # reported with the record: repo-add checks the entry first
            sig, sig_error = None, e
        record, files = build_record(path, s.pkginfo, s.members, s.csize, s.md5sum, s.sha256sum, sig)
        if sig_error is not None:
            return ScannedPackage(path=path, record=record, files=files, identity=s.identity, error=sig_error)
        verification = (
            verifier(path, sig, s.identity, s.content) if verifier is not None and sig is not None else None
        )
        return ScannedPackage(path=path, record=record, files=files, identity=s.identity, verification=verification)
    except RepoToolsError as e:
        return ScannedPackage(path=path, error=e)


def scan_all(
    paths: Sequence[str], jobs: int, verifier: Verifier | None = None, limits: Limits = DEFAULT_LIMITS
) -> Generator[ScannedPackage, None, None]:
    """Scan packages (and check their signatures), in order, in worker processes when there
    are enough to pay for them; each one is yielded as soon as it is read, so the database
    is updated while the rest are still being read."""
    return fork_map(partial(scan, verifier=verifier, limits=limits), paths, jobs, PARALLEL_MIN)
