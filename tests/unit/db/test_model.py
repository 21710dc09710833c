"""The database in memory (``repotools.db.model``): entry names and the name index."""

from __future__ import annotations

import pytest

from repotools.db.model import Database, entry_package_name


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("foo-1.0-1", "foo"),
        ("foo-bar-1.0-1", "foo-bar"),
        ("foo-1:1.0-1", "foo"),
        ("lib32-foo-bar-2.0.r3.gabc-10", "lib32-foo-bar"),
        ("nodashes", "nodashes"),
        ("one-dash", "one-dash"),
    ],
)
def test_entry_package_name_strips_pkgver_and_pkgrel(entry: str, name: str) -> None:
    assert entry_package_name(entry) == name


def test_name_lookups_agree_before_and_after_the_index_is_built() -> None:
    db = Database(db={d: {"desc": b""} for d in ["foo-1.0-1", "foo-bar-2-1", "foo-2.0-1", "foobar-1-1", "bar-1-1"]})
    names = ["foo", "foo-bar", "foobar", "bar", "fo", "foo-1.0", "nothing"]
    expected = {
        "foo": ["foo-1.0-1", "foo-2.0-1"],
        "foo-bar": ["foo-bar-2-1"],
        "foobar": ["foobar-1-1"],
        "bar": ["bar-1-1"],
    }
    scans = [db.entries_of(n) for n in names]  # the first lookups scan the names
    assert db._index is None
    indexed = [db.entries_of(n) for n in names]  # later ones build the index once
    assert db._index is not None
    assert scans == indexed == [expected.get(n, []) for n in names]
    db.put("foo-3.0-1", b"", b"")
    db.drop("foo-bar", [])
    assert db.entries_of("foo") == ["foo-1.0-1", "foo-2.0-1", "foo-3.0-1"] and db.entries_of("foo-bar") == []
