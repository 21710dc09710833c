"""repo-add checking package signatures, run as a user runs it, with real keys.

Pinned: the three ways to run (no keyring, a keyring and no level, a level), every
example of the issue through the command, the exact messages, all or nothing,
``--dry-run`` and ``--json``, the configuration file. The gate in-process is pinned in
unit/update/test_gate.py.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from support.keyfactory import KeyFactory
from support.packages import build_package, signed
from support.snapshots import desc_of, snapshot
from support.tools import REPO_ADD, TOOL_ADD, Result, base_env, cli

from repotools.trust.siglevel import parse_siglevel

DB = "repo.db.tar.gz"
UNCHECKED = (
    "==> WARNING: No package keyring (--pkg-keyring, pkg-keyring in the configuration, or /etc/pacman.d/gnupg): "
    "package signatures are embedded unchecked.\n"
)


def env(**extra: str) -> dict[str, str]:
    """No configuration file from the machine: REPOTOOLS_CONFIG points at an empty one."""
    conf = Path(os.environ.get("PYTEST_TMP_CONF", "/tmp")) / f"repotools-empty-{os.getpid()}.conf"
    conf.write_text("")
    return base_env(REPOTOOLS_CONFIG=str(conf), **extra)


def add(repo: Path, *args: object, command: list[str] = REPO_ADD, **extra: str) -> Result:
    return cli(command, *args, cwd=repo, env=env(**extra))


def keyring_args(keys: KeyFactory, level: str | None = None) -> list[str]:
    return ["--pkg-keyring", str(keys.keyring_home)] + (["--siglevel", level] if level else [])


def fpr(keys: KeyFactory, name: str) -> str:
    return keys[name].fingerprint


# --- no keyring: pacman's behaviour, one warning ---------------------------------------


def test_without_a_keyring_signatures_are_embedded_unchecked_with_one_warning(repo: Path, keys: KeyFactory) -> None:
    a = signed(repo, keys, "a", "alice")
    b = signed(repo, keys, "b", "stranger")
    r = add(repo, DB, a.name, b.name)
    assert r.rc == 0, r
    assert r.err == UNCHECKED
    assert f"%PGPSIG%\n{base64.b64encode(Path(str(b) + '.sig').read_bytes()).decode()}\n" in desc_of(
        repo / DB, "b-1.0-1"
    )


def test_without_a_keyring_unsigned_packages_get_no_warning(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, DB, signed(repo, keys, "a").name)
    assert r.rc == 0 and r.err == "", r


def test_a_level_without_a_keyring_is_an_error(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    before = snapshot(repo)
    r = add(repo, "--siglevel", "Required", DB, pkg.name)
    assert r.rc == 1
    assert r.err.startswith("==> ERROR: Signature level 'Required TrustedOnly' needs a package keyring: give --pkg-keyring")
    assert snapshot(repo) == before


def test_never_without_a_keyring_checks_nothing_and_does_not_warn(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, "--siglevel", "Never", DB, signed(repo, keys, "a", "stranger").name)
    assert r.rc == 0 and r.err == "", r


def test_a_missing_keyring_directory_is_an_error(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, "--pkg-keyring", str(repo / "nope"), DB, signed(repo, keys, "a", "alice").name)
    assert r.rc == 1
    assert r.err == f"==> ERROR: Package keyring '{repo / 'nope'}' is not a directory.\n"
    assert not (repo / DB).exists()


# --- a keyring, no level: pacman's behaviour, but never a forgery ---------------------


def test_keyring_no_level_trusted_signature(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, *keyring_args(keys), DB, signed(repo, keys, "a", "alice").name)
    assert r.rc == 0, r
    assert r.err == ""
    assert f"  -> Signature 1 by {fpr(keys, 'alice')} (Alice Packager <alice@example.org>): good, trusted\n" in r.out


def test_keyring_no_level_unsigned_package_is_added_as_pacman_adds_it(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, *keyring_args(keys), DB, signed(repo, keys, "a").name)
    assert r.rc == 0 and r.err == "", r
    assert "%PGPSIG%" not in desc_of(repo / DB, "a-1.0-1")


@pytest.mark.parametrize(
    ("signer", "verdict"),
    [
        ("stranger", "unknown key"),
        ("carol", "good, known but not trusted (validity unknown)"),
        ("expired", "expired key (made before the key expired)"),
    ],
)
def test_keyring_no_level_adds_with_a_warning_that_clients_will_refuse(
    repo: Path, keys: KeyFactory, signer: str, verdict: str
) -> None:
    pkg = signed(repo, keys, "a", signer)
    r = add(repo, *keyring_args(keys), DB, pkg.name)
    assert r.rc == 0, r
    who = f"key {keys[signer].signing_fingerprint}" if signer == "stranger" else f"{fpr(keys, signer)} ({keys[signer].uid})"
    assert r.err == (
        f"==> WARNING: pacman clients with TrustedOnly will refuse '{pkg.name}' (every signature must be good by a "
        f"fully trusted key): signature 1 by {who}: {verdict}\n"
    )
    assert "%PGPSIG%" in desc_of(repo / DB, "a-1.0-1")


def test_keyring_no_level_expired_signature_is_added_with_a_warning(repo: Path, keys: KeyFactory) -> None:
    pkg = build_package(repo, "a")
    keys.sign_expiring(pkg, "alice")
    r = add(repo, *keyring_args(keys), DB, pkg.name)
    assert r.rc == 0, r
    assert "will refuse" in r.err and ": expired signature (expired " in r.err


@pytest.mark.parametrize("level", [None, "Required", "Optional TrustAll", "Required:All"])
def test_a_bad_signature_is_refused_and_nothing_is_written(repo: Path, keys: KeyFactory, level: str | None) -> None:
    good = signed(repo, keys, "good", "alice")
    pkg = signed(repo, keys, "a", "alice")
    info = b"pkgname = a\npkgver = 1.0-1\npkgdesc = altered after signing\narch = x86_64\n"
    assert build_package(repo, "a", pkginfo=info) == pkg  # a valid package, other bytes, the old .sig
    before = snapshot(repo)
    r = add(repo, *keyring_args(keys, level), DB, good.name, pkg.name)
    assert r.rc == 1, r
    shown = level and str(parse_siglevel(level).package) or "no signature level set"
    assert (
        f"==> ERROR: Package '{pkg.name}' refused ({shown}): a signature does not match the package: "
        f"signature 1 by {fpr(keys, 'alice')} (Alice Packager <alice@example.org>): bad (it does not match the package).\n"
    ) in r.err
    assert r.out.endswith("==> No packages modified, nothing to do.\n")
    assert snapshot(repo) == before


def test_a_revoked_key_is_refused(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice", "revoked")
    r = add(repo, *keyring_args(keys), DB, pkg.name)
    assert r.rc == 1
    assert "refused (no signature level set): a signature was made by a revoked key: " in r.err
    assert f"signature 2 by {fpr(keys, 'revoked')} (Rex Revoked <revoked@example.org>): revoked key." in r.err
    assert not (repo / DB).exists()


def test_a_key_disabled_in_the_keyring_is_refused_under_every_level(repo: Path, keys: KeyFactory) -> None:
    home = keys.clone_keyring()
    keys.gpg(home, "--edit-key", fpr(keys, "alice"), "disable", "quit")
    pkg = signed(repo, keys, "a", "alice")
    for level in (None, "Required TrustAll", "Optional TrustAll"):
        r = add(repo, "--pkg-keyring", home, *(["--siglevel", level] if level else []), DB, pkg.name)
        assert r.rc == 1, r
        assert "a signature was made by a key disabled in the keyring: " in r.err
        assert f"signature 1 by {fpr(keys, 'alice')} (Alice Packager <alice@example.org>): disabled key" in r.err
        assert not (repo / DB).exists()


def test_an_outdated_trust_database_is_reported_and_left_as_it_is(repo: Path, keys: KeyFactory) -> None:
    home = keys.clone_keyring()
    keys.gpg(home, "--no-auto-check-trustdb", "--quick-lsign-key", fpr(keys, "carol"))
    trustdb = (home / "trustdb.gpg").read_bytes()
    pkg = signed(repo, keys, "a", "alice")
    r = add(repo, "-q", "--pkg-keyring", home, DB, pkg.name)
    assert r.rc == 0, r
    assert r.err == (
        f"==> WARNING: The trust database of package keyring '{home}' is out of date (GnuPG asks for "
        "--check-trustdb): key validities may be stale. Update it with 'pacman-key --updatedb'; repotools "
        "does not write to the keyring.\n"
    )
    assert (home / "trustdb.gpg").read_bytes() == trustdb


def test_a_malformed_signature_file_is_refused(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a")
    Path(str(pkg) + ".sig").write_bytes(b"\x88\x01not really")
    r = add(repo, *keyring_args(keys), DB, pkg.name)
    assert r.rc == 1
    assert (
        f"==> ERROR: Invalid package signature file '{pkg.name}.sig': packet 1 is a signature of version 110, "
        "which GnuPG 2.2 cannot read.\n"
    ) in r.err


def test_an_armored_signature_is_refused_before_any_check(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a")
    keys.sign(pkg, "alice", armor=True)
    r = add(repo, *keyring_args(keys, "Required"), DB, pkg.name)
    assert r.rc == 1
    assert f"==> ERROR: Cannot use armored signatures for packages: {pkg.name}.sig\n" in r.err


def test_an_oversized_signature_is_refused(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a")
    one = keys.sign(pkg, "alice")
    Path(str(pkg) + ".sig").write_bytes(one * (16384 // len(one) + 1))
    r = add(repo, *keyring_args(keys, "Required"), DB, pkg.name)
    assert r.rc == 1
    assert "larger than 16384 bytes" in r.err


# --- a level: enforced exactly (the examples, through repo-add) ---------------


@pytest.mark.parametrize(
    ("level", "signers", "accepted", "reason"),
    [
        ("Required:2 TrustedOnly", ("alice", "carol"), False, "1 good signature from distinct counted keys, 2 required"),
        ("Required:2 TrustAll", ("alice", "carol"), True, None),
        ("Required:3 TrustedOnly:1", ("alice", "carol", "dave"), True, None),
        ("Required:3 TrustedOnly:1", ("carol", "dave", "bob"), True, None),
        ("Required:2", ("alice", "alice"), False, "1 good signature from distinct counted keys, 2 required"),
        ("Required:2", ("alice", "bob"), True, None),
        ("Required:2", ("alice", "subkeyed"), True, None),
        ("Required:1", ("alice", "stranger"), True, None),
        ("Required:All", ("alice", "stranger"), False, "Required:All, and signature 2 is not good by a counted key"),
        ("Required:All", ("alice", "bob"), True, None),
        ("Required", ("carol",), False, "0 good signatures from distinct counted keys, 1 required"),
        ("Required", ("expired",), False, "0 good signatures"),
        ("Required", (), False, "it is not signed"),
        ("Optional", (), True, None),
        ("Optional", ("carol",), False, "0 good signatures"),
        ("Never", ("stranger",), True, None),
    ],
)
def test_levels_through_repo_add(
    repo: Path, keys: KeyFactory, level: str, signers: tuple[str, ...], accepted: bool, reason: str | None
) -> None:
    pkg = signed(repo, keys, "a", *signers)
    r = add(repo, *keyring_args(keys, level), DB, pkg.name)
    if accepted:
        assert r.rc == 0, r
        assert (repo / DB).exists()
    else:
        assert r.rc == 1, r
        assert f"==> ERROR: Package '{pkg.name}' refused ({parse_siglevel(level).package}): {reason}" in r.err
        assert not (repo / DB).exists()
        for s in signers:
            assert fpr(keys, s) in r.err or keys[s].signing_fingerprint in r.err


def test_every_signature_is_embedded(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice", "carol", "stranger")
    r = add(repo, *keyring_args(keys, "Required:1"), DB, pkg.name)
    assert r.rc == 0, r
    sig = Path(str(pkg) + ".sig").read_bytes()
    assert f"%PGPSIG%\n{base64.b64encode(sig).decode()}\n" in desc_of(repo / DB, "a-1.0-1")
    assert "will refuse" in r.err and "signature 2 by" in r.err and "signature 3 by" in r.err
    assert "signature 1 by" not in r.err.split("will refuse", 1)[1]


def test_one_refused_package_fails_the_run_and_the_database_is_untouched(repo: Path, keys: KeyFactory) -> None:
    assert add(repo, DB, signed(repo, keys, "old").name).rc == 0
    ok = signed(repo, keys, "a", "alice")
    refused = signed(repo, keys, "b", "carol")
    before = snapshot(repo)
    r = add(repo, *keyring_args(keys, "Required"), DB, ok.name, refused.name)
    assert r.rc == 1
    assert snapshot(repo) == before
    assert not (repo / f"{DB}.lck").exists()


def test_repotools_add_has_the_same_options(repo: Path, keys: KeyFactory) -> None:
    r = add(repo, *keyring_args(keys, "Required:2"), DB, signed(repo, keys, "a", "alice").name, command=TOOL_ADD)
    assert r.rc == 1 and "refused (Required:2 TrustedOnly)" in r.err


@pytest.mark.parametrize("bad", ["Requird", "Required:0", "TrustAll:3"])
def test_an_invalid_level_is_an_error(repo: Path, keys: KeyFactory, bad: str) -> None:
    r = add(repo, *keyring_args(keys, bad), DB, signed(repo, keys, "a", "alice").name)
    assert r.rc == 1
    assert r.err.startswith("==> ERROR: Invalid signature level")
    assert r.err.count("\n") == 1


# --- configuration file -----------------------------------------------------------------


def test_keyring_and_level_from_the_configuration_file(repo: Path, keys: KeyFactory, tmp_path: Path) -> None:
    conf = tmp_path / "repotools.conf"
    conf.write_text(f'pkg-keyring = "{keys.keyring_home}"\nsiglevel = "Required:2"\n')
    pkg = signed(repo, keys, "a", "alice")
    r = cli(REPO_ADD, DB, pkg.name, cwd=repo, env=base_env(REPOTOOLS_CONFIG=str(conf)))
    assert r.rc == 1 and "refused (Required:2 TrustedOnly)" in r.err
    # the command line wins over the file
    r = cli(REPO_ADD, "--siglevel", "Required", DB, pkg.name, cwd=repo, env=base_env(REPOTOOLS_CONFIG=str(conf)))
    assert r.rc == 0, r


def test_an_unknown_configuration_key_is_an_error_naming_the_file(repo: Path, keys: KeyFactory, tmp_path: Path) -> None:
    conf = tmp_path / "repotools.conf"
    conf.write_text('keyring = "/x"\n')
    r = cli(REPO_ADD, DB, signed(repo, keys, "a").name, cwd=repo, env=base_env(REPOTOOLS_CONFIG=str(conf)))
    assert r.rc == 1
    assert r.err.startswith(f"==> ERROR: {conf}: unknown key 'keyring' (known keys: pkg-keyring, siglevel,")
    assert not (repo / DB).exists()


# --- dry run and JSON -----------------------------------------------------------------------


def test_dry_run_checks_and_writes_nothing(repo: Path, keys: KeyFactory) -> None:
    assert add(repo, DB, signed(repo, keys, "a", version="0.9-1").name).rc == 0
    pkg = signed(repo, keys, "a", "alice")
    before = snapshot(repo)
    r = add(repo, *keyring_args(keys, "Required"), "--dry-run", "-R", DB, pkg.name)
    assert r.rc == 0, r
    assert snapshot(repo) == before
    assert "  -> Removing existing entry 'a-0.9-1'...\n" in r.out
    assert r.out.endswith(f"==> Dry run: '{DB}' was not written.\n")


def test_json_report_of_a_dry_run(repo: Path, keys: KeyFactory) -> None:
    assert add(repo, DB, signed(repo, keys, "a", version="0.9-1").name).rc == 0
    pkg = signed(repo, keys, "a", "alice", "stranger")
    r = add(repo, *keyring_args(keys, "Required"), "--dry-run", "--json", "-R", DB, pkg.name)
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["format"] == 1 and doc["command"] == "add" and doc["dry_run"] is True and doc["ok"] is True
    assert doc["added"] == ["a-1.0-1"]
    assert doc["replaced"] == ["a-0.9-1"]
    assert doc["removed_files"] == ["a-0.9-1-x86_64.pkg.tar.zst"]
    (report,) = doc["packages"]
    assert report["path"] == pkg.name and report["checked"] is True and report["accepted"] is True
    first, second = report["signatures"]
    assert first["verdict"] == "good" and first["trusted"] is True and first["fingerprint"] == fpr(keys, "alice")
    assert first["user_id"] == keys["alice"].uid and first["validity"] == "full"
    assert second["verdict"] == "unknown key" and second["fingerprint"] is None
    assert second["issuer"] == keys["stranger"].signing_fingerprint
    assert any(m["level"] == "warning" and "will refuse" in m["text"] for m in doc["messages"])
    assert "WARNING: pacman clients with TrustedOnly will refuse" in r.err  # warnings still reach stderr
    assert (repo / "a-0.9-1-x86_64.pkg.tar.zst").exists()


def test_json_report_of_a_refusal(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "carol")
    r = add(repo, *keyring_args(keys, "Required"), "--json", DB, pkg.name)
    assert r.rc == 1
    doc = json.loads(r.out)
    assert doc["ok"] is False and doc["error"] == "No packages modified, nothing to do."
    assert doc["added"] == [] and doc["dry_run"] is False
    (report,) = doc["packages"]
    assert report["accepted"] is False and report["error"].startswith(f"Package '{pkg.name}' refused (Required")
    assert report["signatures"][0]["verdict"] == "good" and report["signatures"][0]["trusted"] is False
    assert not (repo / DB).exists()


def test_json_report_of_a_failed_dry_run_lists_nothing_as_added(repo: Path, keys: KeyFactory) -> None:
    good = signed(repo, keys, "a", "alice")
    bad = signed(repo, keys, "b", "carol")
    r = add(repo, *keyring_args(keys, "Required"), "--dry-run", "--json", DB, good.name, bad.name)
    assert r.rc == 1
    doc = json.loads(r.out)
    assert doc["ok"] is False and doc["added"] == [] and doc["replaced"] == [] and doc["removed_files"] == []
    (refusal,) = doc["errors"]
    assert refusal.startswith(f"Package '{bad.name}' refused (Required")
    assert refusal == doc["packages"][1]["error"]
    assert doc["error"] == "No packages modified, nothing to do."


def test_json_report_of_a_real_run_and_of_repo_remove(repo: Path, keys: KeyFactory) -> None:
    pkg = signed(repo, keys, "a", "alice")
    r = add(repo, *keyring_args(keys), "--json", DB, pkg.name)
    assert r.rc == 0, r
    assert json.loads(r.out)["added"] == ["a-1.0-1"]
    assert (repo / DB).exists()
    r = cli([str(Path(REPO_ADD[0]).with_name("repo-remove"))], "--json", "--dry-run", DB, "a", cwd=repo, env=env())
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["command"] == "remove" and doc["removed"] == ["a"] and doc["dry_run"] is True
    assert (repo / DB).exists() and "a-1.0-1" in desc_of(repo / DB, "a-1.0-1")


# --- signatures are checked beside the scan, in the worker processes ------------------------------


def test_many_packages_are_checked_in_the_scan_workers_and_one_forgery_refuses_the_run(
    repo: Path, keys: KeyFactory
) -> None:
    # more packages than repotools scans in-process, so the parallel path runs
    pkgs = [signed(repo, keys, f"p{i}", "alice") for i in range(12)]
    info = b"pkgname = p7\npkgver = 1.0-1\npkgdesc = altered after signing\narch = x86_64\n"
    assert build_package(repo, "p7", pkginfo=info) == pkgs[7]  # a valid package, other bytes, the old .sig
    before = snapshot(repo)
    r = add(repo, *keyring_args(keys, "Required"), "-j", "2", DB, *(p.name for p in pkgs))
    assert r.rc == 1
    assert r.err.count("==> ERROR:") == 1, r
    assert f"==> ERROR: Package '{pkgs[7].name}' refused (Required TrustedOnly): a signature does not match" in r.err
    assert snapshot(repo) == before
    pkgs[7].unlink()
    r = add(repo, *keyring_args(keys, "Required"), "-j", "2", "--json", DB, *(p.name for p in pkgs if p.exists()))
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert len(doc["added"]) == 11
    assert all(p["checked"] and [s["verdict"] for s in p["signatures"]] == ["good"] for p in doc["packages"])
