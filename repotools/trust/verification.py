"""A package's signatures checked over the very bytes that were hashed into its database entry.

``verify_package`` is what the scan runs beside each signed package (in the worker that
read it): every signature of the ``.sig`` gets a verdict (``trust.signatures``), and the
file is proved unchanged since the scan. The policy is applied later, in order, by the
signature gate (``update.gate``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import MalformedSignature, PackageChanged, PackageError, SignatureFileError
from ..fs.files import file_identity

if TYPE_CHECKING:
    from .keyring import Keyring
    from .signatures import SignatureCheck

__all__ = ["Verification", "Verifier", "verify_package"]


@dataclass(frozen=True)
class Verification:
    """The verdicts on a package's signatures, or why they could not be checked (picklable)."""

    checks: tuple[SignatureCheck, ...] = ()
    error: PackageError | None = None


# (path, signature file, identity of the bytes scanned, those bytes when the scan kept them)
Verifier = Callable[[str, bytes, tuple[int, ...], bytes | None], Verification]


def verify_package(
    keyring: Keyring, path: str, sig: bytes, identity: tuple[int, ...], content: bytes | None = None
) -> Verification:
    """Check every signature of ``sig`` over the package at ``path``, the very bytes that were scanned.

    ``content``, the bytes the scan read and hashed, are verified as they are. Without
    them, the file is opened once and checked against ``identity`` (``fs.files.file_identity``
    of the bytes that were hashed) before and after verifying through that descriptor.
    """
    from .signatures import check_signatures

    def check(data_path: str) -> tuple[SignatureCheck, ...]:
        try:
            return check_signatures(data_path, sig, keyring, content=content)
        except MalformedSignature as e:
            raise SignatureFileError(f"Invalid package signature file '{path}.sig': {e}.") from None

    try:
        if content is not None:
            return Verification(check(path))
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise PackageChanged(path) from e
        try:
            if identity and file_identity(os.fstat(fd)) != identity:
                raise PackageChanged(path)
            checks = check(f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else path)
            if identity and file_identity(os.fstat(fd)) != identity:
                raise PackageChanged(path)
        finally:
            os.close(fd)
    except PackageError as e:
        return Verification(error=e)
    return Verification(checks)
