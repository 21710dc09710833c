"""The signature gate (``repotools.update.gate``), in-process with real keys: the verdicts the scan
found beside each package, the check over the bytes that were hashed, when no verifier runs, and
a keyring that cannot be read. repo-add's behaviour through the command is pinned in
integration/test_repo_add_signatures.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.keyfactory import KeyFactory
from support.packages import signed
from support.tools import run_update

from repotools.db.model import AddOptions
from repotools.errors import KeyringError, PackageChanged
from repotools.trust.siglevel import parse_siglevel
from repotools.trust.verification import Verification
from repotools.update.gate import SignatureGate
from repotools.update.request import AddRequest
from repotools.update.scan import ScannedPackage, scan
from repotools.update.transaction import update

DB = "repo.db.tar.gz"


def test_a_package_changed_between_scan_and_check_is_refused(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    scanned: ScannedPackage = scan(str(pkg))
    assert scanned.record is not None and scanned.identity
    pkg.write_bytes(pkg.read_bytes())  # same bytes, but written again: another file for all we know
    gate = SignatureGate.build(str(keys.keyring_home), parse_siglevel("Required").package)
    with pytest.raises(PackageChanged, match="changed while it was being read"):
        gate.admit(scanned)
    gate.admit(scan(str(pkg)))  # scanned again, it passes


def test_the_scan_runs_the_verifier_and_the_gate_uses_its_verdicts(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    gate = SignatureGate.build(str(keys.keyring_home), parse_siglevel("Required").package)
    verifier = gate.verifier([str(pkg)])
    assert verifier is not None
    scanned = scan(str(pkg), verifier)
    assert isinstance(scanned.verification, Verification)
    assert [c.verdict.value for c in scanned.verification.checks] == ["good"]
    gate.admit(scanned)
    assert [c.verdict.value for c in gate.findings[str(pkg)].checks] == ["good"]


def test_no_verifier_when_nothing_is_checked(repo: Path, keys: KeyFactory) -> None:
    unsigned = signed(repo, keys, "a")
    gate = SignatureGate.build(str(keys.keyring_home), parse_siglevel("Required").package)
    assert gate.verifier([str(unsigned)]) is None  # no .sig: the keyring is not even read
    assert SignatureGate.build(str(keys.keyring_home), parse_siglevel("Never").package).verifier([str(unsigned)]) is None
    assert SignatureGate.build(None, None).verifier([str(signed(repo, keys, "b", "alice"))]) is None


def test_a_keyring_that_cannot_be_read_fails_only_the_packages_that_are_checked(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    db = repo / DB
    run_update(db, pkg)

    def unreadable(home: str) -> object:
        raise KeyringError(f"Cannot read package keyring '{home}': gpg --list-keys failed.")

    gate = SignatureGate.build(str(keys.keyring_home), parse_siglevel("Required").package, load=unreadable)  # type: ignore[arg-type]
    assert gate.verifier([str(pkg)]) is None
    # -n skips the package already there: its signature is never checked, so the keyring is not needed
    request = AddRequest(db_path=str(db), packages=[str(pkg)], options=AddOptions(only_new=True), gate=gate)
    outcome = update(request, lambda e: None)
    assert outcome.skipped == ["a-1.0-1"] and not outcome.failed
