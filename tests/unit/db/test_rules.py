"""The pure core: repo-add's and repo-remove's rules (``repotools.db.rules``) on an in-memory database.

No file is opened here: packages are records built from .PKGINFO bytes. The files database is
what the changes an update recorded (``Outcome.files_changes``) make of an empty one
(``db.model.replay``), as the update's files-database writer applies them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest

from repotools.db.model import AddOptions, Database, Entries, FilesChange, replay
from repotools.db.rules import add_packages, build_record, remove_packages
from repotools.errors import InvalidPackage, PackageNotFound, RepoToolsError, SignatureFileError
from repotools.events import Event, Level
from repotools.formats.desc import parse_desc, render_desc
from repotools.update.scan import ScannedPackage

MSG, MSG2, WARNING, ERROR = Level.MSG, Level.MSG2, Level.WARNING, Level.ERROR
MEMBERS = (b".PKGINFO", b".MTREE", b"usr/", b"usr/bin/", b"usr/bin/tool")


def package(
    name: str = "foo",
    version: str = "1.0-1",
    directory: str = "/repo",
    filename: str | None = None,
    csize: int = 100,
    sig: bytes | None = None,
) -> ScannedPackage:
    pkginfo = f"pkgname = {name}\npkgbase = {name}\npkgver = {version}\narch = x86_64\n".encode()
    path = f"{directory}/{filename or f'{name}-{version}-x86_64.pkg.tar.zst'}"
    rec, files = build_record(path, pkginfo, MEMBERS, csize, "0" * 32, "1" * 64, sig)
    return ScannedPackage(path=path, record=rec, files=files)


def database_with(*packages: ScannedPackage) -> Database:
    db = Database()
    assert not add_packages(db, packages, AddOptions()).failed
    return db


def texts(events: list[Event]) -> list[tuple[Level, str]]:
    return [(e.level, e.text) for e in events]


def desc_of(db: Database, entry: str) -> dict[str, list[str]]:
    return parse_desc(db.db[entry]["desc"])


def files_of(changes: Sequence[FilesChange]) -> Entries:
    """The files database ``changes`` make of an empty one."""
    files: Entries = {}
    replay(files, changes)
    return files


# ---------------------------------------------------------------------------------------------
# adding


def test_adding_to_an_empty_database_writes_desc_and_files_entries() -> None:
    db = Database()
    pkg = package()
    out = add_packages(db, [pkg], AddOptions())
    assert not out.failed
    assert out.added == ["foo-1.0-1"]
    assert out.removed == out.skipped == out.obsolete_files == []
    assert pkg.record is not None
    desc = render_desc(pkg.record)
    assert db.db == {"foo-1.0-1": {"desc": desc}}
    assert files_of(out.files_changes) == {"foo-1.0-1": {"desc": desc, "files": b"%FILES%\nusr/\nusr/bin/\nusr/bin/tool\n"}}
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'"),
        (MSG2, "Computing checksums..."),
        (MSG2, "Creating 'desc' db entry..."),
        (MSG2, "Creating 'files' db entry..."),
    ]


def test_a_newer_version_replaces_the_old_entry_in_both_databases() -> None:
    db = database_with(package(version="1.0-1"))
    out = add_packages(db, [package(version="1.1-1")], AddOptions())
    assert sorted(db.db) == sorted(files_of(out.files_changes)) == ["foo-1.1-1"]
    assert out.removed == ["foo"]
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/foo-1.1-1-x86_64.pkg.tar.zst'"),
        (MSG2, "Computing checksums..."),
        (MSG2, "Removing existing entry 'foo-1.0-1'..."),
        (MSG2, "Creating 'desc' db entry..."),
        (MSG2, "Creating 'files' db entry..."),
    ]


def test_an_older_version_warns_and_still_replaces_by_default() -> None:
    db = database_with(package(version="2.0-1"))
    out = add_packages(db, [package(version="1.0-1")], AddOptions())
    assert (WARNING, "A newer version for 'foo' is already present in database") in texts(out.events)
    assert list(db.db) == ["foo-1.0-1"]


def test_prevent_downgrade_skips_an_older_version_and_changes_nothing() -> None:
    db = database_with(package(version="2.0-1"))
    before = copy.deepcopy(db)
    out = add_packages(db, [package(version="1.0-1")], AddOptions(prevent_downgrade=True))
    assert not out.failed
    assert (db.db, files_of(out.files_changes)) == (before.db, files_of(before.changes))
    assert out.skipped == ["foo-1.0-1"]
    assert out.added == []
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'"),
        (WARNING, "A newer version for 'foo' is already present in database"),
    ]


def test_prevent_downgrade_still_adds_a_newer_version() -> None:
    db = database_with(package(version="1.0-1"))
    out = add_packages(db, [package(version="1.0-2")], AddOptions(prevent_downgrade=True))
    assert out.added == ["foo-1.0-2"]
    assert list(db.db) == ["foo-1.0-2"]


def test_the_epoch_decides_which_version_is_newer() -> None:
    db = database_with(package(version="1:1.0-1"))
    out = add_packages(db, [package(version="2.0-1")], AddOptions(prevent_downgrade=True))
    assert out.skipped == ["foo-2.0-1"]
    assert list(db.db) == ["foo-1:1.0-1"]


def test_the_same_version_again_warns_and_replaces_the_entry() -> None:
    db = database_with(package(csize=100))
    out = add_packages(db, [package(csize=200)], AddOptions())
    assert texts(out.events)[:2] == [
        (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'"),
        (WARNING, "An entry for 'foo-1.0-1' already existed"),
    ]
    assert (MSG2, "Removing existing entry 'foo-1.0-1'...") in texts(out.events)
    assert desc_of(db, "foo-1.0-1")["CSIZE"] == ["200"]
    assert parse_desc(files_of(out.files_changes)["foo-1.0-1"]["desc"])["CSIZE"] == ["200"]


def test_only_new_skips_an_entry_that_already_exists() -> None:
    db = database_with(package(csize=100))
    before = copy.deepcopy(db)
    out = add_packages(db, [package(csize=200)], AddOptions(only_new=True))
    assert (db.db, files_of(out.files_changes)) == (before.db, files_of(before.changes))
    assert out.skipped == ["foo-1.0-1"]
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'"),
        (WARNING, "An entry for 'foo-1.0-1' already existed"),
    ]


def test_only_new_still_replaces_another_version() -> None:
    db = database_with(package(version="1.0-1"))
    out = add_packages(db, [package(version="1.0-2")], AddOptions(only_new=True))
    assert out.added == ["foo-1.0-2"]
    assert list(db.db) == ["foo-1.0-2"]


def test_a_later_package_in_the_same_run_wins() -> None:
    db = Database()
    add_packages(db, [package(version="1.0-1"), package(version="0.9-1")], AddOptions())
    assert list(db.db) == ["foo-0.9-1"]


def test_every_entry_of_the_name_is_replaced() -> None:
    db = database_with(package(version="1.0-1"))
    db.db["foo-0.5-1"] = {"desc": b"%NAME%\nfoo\n\n%VERSION%\n0.5-1\n\n"}  # a crafted duplicate
    out = add_packages(db, [package(version="2.0-1")], AddOptions())
    assert list(db.db) == ["foo-2.0-1"]
    removing = [t for lvl, t in texts(out.events) if t.startswith("Removing existing entry")]
    assert removing == ["Removing existing entry 'foo-0.5-1'...", "Removing existing entry 'foo-1.0-1'..."]


# ---------------------------------------------------------------------------------------------
# foo and foo-bar


def test_adding_foo_never_touches_foo_bar() -> None:
    db = database_with(package(name="foo-bar", version="1.0-1"), package(name="foo-bar-baz", version="3-1"))
    before = copy.deepcopy(db.db)
    out = add_packages(db, [package(name="foo", version="2.0-1")], AddOptions(prevent_downgrade=True))
    assert out.added == ["foo-2.0-1"]
    assert out.removed == []
    assert {k: v for k, v in db.db.items() if k != "foo-2.0-1"} == before
    assert not any(t.startswith("Removing") or lvl is WARNING for lvl, t in texts(out.events))


def test_removing_foo_does_not_match_foo_bar() -> None:
    db = database_with(package(name="foo-bar"))
    out = remove_packages(db, ["foo"])
    assert out.failed
    assert list(db.db) == ["foo-bar-1.0-1"]


def test_removing_foo_leaves_foo_bar() -> None:
    db = database_with(package(name="foo"), package(name="foo-bar"), package(name="bar-foo"))
    out = remove_packages(db, ["foo"])
    assert not out.failed
    assert sorted(db.db) == sorted(files_of(out.files_changes)) == ["bar-foo-1.0-1", "foo-bar-1.0-1"]


# ---------------------------------------------------------------------------------------------
# -R: the old package file


def test_remove_old_names_the_old_file_and_its_signature_beside_the_new_package() -> None:
    db = database_with(package(version="1.0-1", directory="/elsewhere"))
    out = add_packages(db, [package(version="1.0-2", directory="/incoming")], AddOptions(remove_old=True))
    assert out.obsolete_files == [
        "/incoming/foo-1.0-1-x86_64.pkg.tar.zst",
        "/incoming/foo-1.0-1-x86_64.pkg.tar.zst.sig",
    ]
    assert texts(out.events)[-1] == (MSG2, "Removing old package file 'foo-1.0-1-x86_64.pkg.tar.zst'")


def test_remove_old_does_not_remove_the_file_just_added() -> None:
    db = database_with(package(version="1.0-1", filename="foo.pkg.tar.zst"))
    out = add_packages(db, [package(version="1.0-2", filename="foo.pkg.tar.zst")], AddOptions(remove_old=True))
    assert out.obsolete_files == []


def test_remove_old_with_no_previous_entry_removes_nothing() -> None:
    out = add_packages(Database(), [package()], AddOptions(remove_old=True))
    assert out.obsolete_files == []
    assert not any(t.startswith("Removing old package file") for _, t in texts(out.events))


def test_remove_old_does_nothing_for_a_skipped_downgrade() -> None:
    db = database_with(package(version="2.0-1"))
    out = add_packages(db, [package(version="1.0-1")], AddOptions(remove_old=True, prevent_downgrade=True))
    assert out.obsolete_files == []


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "sub/foo.pkg.tar.zst", "..", "."])
def test_remove_old_refuses_a_crafted_filename_from_the_database(filename: str) -> None:
    """Attack: a database whose %FILENAME% points outside the package directory."""
    db = Database(db={"foo-1.0-1": {"desc": f"%FILENAME%\n{filename}\n\n%NAME%\nfoo\n\n%VERSION%\n1.0-1\n\n".encode()}})
    out = add_packages(db, [package(version="1.0-2")], AddOptions(remove_old=True))
    assert out.obsolete_files == []
    assert list(db.db) == ["foo-1.0-2"]


# ---------------------------------------------------------------------------------------------
# failures and signatures


def test_a_package_that_failed_to_read_fails_the_run_and_the_rest_is_still_checked() -> None:
    bad = ScannedPackage(path="missing.pkg.tar.zst", error=PackageNotFound("missing.pkg.tar.zst"))
    out = add_packages(Database(), [bad, package()], AddOptions())
    assert out.failed
    assert texts(out.events)[0] == (ERROR, "File 'missing.pkg.tar.zst' not found.")
    assert (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'") in texts(out.events)


def test_an_invalid_package_is_refused_once_adding_it_is_said_as_repo_add_reads_pkginfo_then() -> None:
    bad = ScannedPackage(path="/repo/x.pkg.tar.zst", error=InvalidPackage("/repo/x.pkg.tar.zst", "no pkgver"))
    out = add_packages(Database(), [bad], AddOptions())
    assert out.failed
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/x.pkg.tar.zst'"),
        (ERROR, "Invalid package file '/repo/x.pkg.tar.zst': no pkgver."),
    ]


def _with_bad_signature_file(pkg: ScannedPackage) -> ScannedPackage:
    error = SignatureFileError(f"Cannot use armored signatures for packages: {pkg.path}.sig")
    return ScannedPackage(path=pkg.path, record=pkg.record, files=pkg.files, error=error)


def test_a_bad_signature_file_fails_after_the_entry_checks_as_in_repo_add() -> None:
    db = database_with(package(version="2.0-1"))
    out = add_packages(db, [_with_bad_signature_file(package())], AddOptions())
    assert out.failed and out.added == []
    assert texts(out.events) == [
        (MSG, "Adding package '/repo/foo-1.0-1-x86_64.pkg.tar.zst'"),
        (WARNING, "A newer version for 'foo' is already present in database"),
        (ERROR, "Cannot use armored signatures for packages: /repo/foo-1.0-1-x86_64.pkg.tar.zst.sig"),
    ]
    assert list(db.db) == ["foo-2.0-1"]


@pytest.mark.parametrize(
    ("existing", "options"),
    [("1.0-1", AddOptions(only_new=True)), ("2.0-1", AddOptions(prevent_downgrade=True))],
    ids=["only-new", "prevent-downgrade"],
)
def test_a_skipped_package_s_bad_signature_file_does_not_fail_the_run(existing: str, options: AddOptions) -> None:
    db = database_with(package(version=existing))
    out = add_packages(db, [_with_bad_signature_file(package())], options)
    assert not out.failed
    assert out.skipped == ["foo-1.0-1"] and out.added == []
    assert all(level != ERROR for level, _ in texts(out.events))


def test_an_embedded_signature_is_announced_before_the_checksums() -> None:
    out = add_packages(Database(), [package(sig=b"\x89sig")], AddOptions())
    assert texts(out.events)[1:3] == [(MSG2, "Adding package signature..."), (MSG2, "Computing checksums...")]


def test_a_signature_hook_that_refuses_fails_the_run_and_adds_nothing() -> None:
    def refuse(pkg: ScannedPackage) -> list[Event]:
        raise RepoToolsError(f"bad signature on {pkg.path}")

    db = Database()
    out = add_packages(db, [package()], AddOptions(), admit=refuse)
    assert out.failed
    assert db.db == {}
    assert texts(out.events)[-1] == (ERROR, "bad signature on /repo/foo-1.0-1-x86_64.pkg.tar.zst")


def test_a_signature_hook_that_accepts_reports_before_the_checksums() -> None:
    seen: list[str] = []

    def accept(pkg: ScannedPackage) -> list[Event]:
        seen.append(pkg.path)
        return [Event(MSG2, "signature good")]

    out = add_packages(Database(), [package()], AddOptions(), admit=accept)
    assert not out.failed
    assert seen == ["/repo/foo-1.0-1-x86_64.pkg.tar.zst"]
    assert texts(out.events)[1:3] == [(MSG2, "signature good"), (MSG2, "Computing checksums...")]


def test_the_signature_hook_is_not_asked_about_a_skipped_package() -> None:
    db = database_with(package())
    asked: list[str] = []

    def ask(pkg: ScannedPackage) -> list[Event]:
        asked.append(pkg.path)
        return []

    add_packages(db, [package()], AddOptions(only_new=True), admit=ask)
    assert asked == []


# ---------------------------------------------------------------------------------------------
# removing


def test_remove_drops_the_entry_from_both_databases() -> None:
    db = database_with(package(name="foo"), package(name="bar"))
    out = remove_packages(db, ["foo"])
    assert not out.failed
    assert out.removed == ["foo"]
    assert list(db.db) == list(files_of(out.files_changes)) == ["bar-1.0-1"]
    assert texts(out.events) == [
        (MSG, "Searching for package 'foo'..."),
        (MSG2, "Removing existing entry 'foo-1.0-1'..."),
    ]


def test_remove_of_a_missing_name_fails() -> None:
    db = database_with(package(name="foo"))
    out = remove_packages(db, ["nope"])
    assert out.failed
    assert texts(out.events) == [
        (MSG, "Searching for package 'nope'..."),
        (ERROR, "Package matching 'nope' not found."),
    ]


def test_remove_fails_if_any_name_is_missing() -> None:
    db = database_with(package(name="foo"), package(name="bar"))
    out = remove_packages(db, ["foo", "nope", "bar"])
    assert out.failed
    assert out.removed == ["foo", "bar"]


def test_remove_by_version_string_is_not_a_name() -> None:
    db = database_with(package(name="foo"))
    assert remove_packages(db, ["foo-1.0-1"]).failed


def test_remove_of_the_last_package_leaves_an_empty_database() -> None:
    db = database_with(package())
    out = remove_packages(db, ["foo"])
    assert not out.failed
    assert db.db == {} and files_of(out.files_changes) == {}


def test_remove_copes_with_an_entry_missing_from_the_files_database() -> None:
    db = database_with(package(name="foo"))
    files = files_of(db.changes)
    del files["foo-1.0-1"]  # the files database lacks the entry the db has
    done = len(db.changes)
    out = remove_packages(db, ["foo"])
    assert not out.failed
    replay(files, out.files_changes[done:])  # the removal, applied to that files database
    assert db.db == {} and files == {}
