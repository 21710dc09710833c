"""A package's signatures checked over the very bytes that were hashed into its entry
(``repotools.trust.verification.verify_package``), with real keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.keyfactory import KeyFactory
from support.packages import signed

from repotools.archive.package import scan_package
from repotools.errors import PackageChanged, SignatureFileError
from repotools.trust.keyring import load_keyring
from repotools.trust.verification import verify_package


def test_the_scan_checks_the_signature_over_the_very_bytes_it_hashed(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    s = scan_package(str(pkg))
    assert s.content is not None and hashlib.sha256(s.content).hexdigest() == s.sha256sum
    sig = Path(f"{pkg}.sig").read_bytes()
    pkg.write_bytes(b"replaced after the scan")  # not read again: the bytes hashed are the bytes checked
    found = verify_package(load_keyring(str(keys.keyring_home)), str(pkg), sig, s.identity, s.content)
    assert found.error is None and [c.verdict.value for c in found.checks] == ["good"]
    found = verify_package(load_keyring(str(keys.keyring_home)), str(pkg), sig, s.identity)
    assert isinstance(found.error, PackageChanged)  # without them, the file is read, and it changed
    found = verify_package(load_keyring(str(keys.keyring_home)), str(pkg), b"not a signature", s.identity, s.content)
    assert isinstance(found.error, SignatureFileError)
