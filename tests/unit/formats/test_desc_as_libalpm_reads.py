"""Every ``desc`` we write is read back by libalpm as written: no value can end its field early and
have the lines after it taken for fields of their own (a forged ``%SHA256SUM%`` or ``%PGPSIG%``).

``alpm_read`` follows libalpm 6.0.2's ``sync_db_read`` (``lib/libalpm/be_sync.c``): the outer loop
reads a line, drops its trailing newline, skips it when empty and otherwise matches it against the
field names; a scalar field takes the one next line, a list field the lines up to the first empty
one; a value ends at a NUL (``strdup``). Unknown ``%NAME%`` lines and stray values are ignored.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repotools.db.rules import build_record
from repotools.errors import InvalidPackage
from repotools.formats.desc import render_desc

SCALARS = {
    "FILENAME", "NAME", "BASE", "VERSION", "DESC", "URL", "ARCH", "BUILDDATE", "INSTALLDATE", "PACKAGER",
    "REASON", "SIZE", "ISIZE", "CSIZE", "MD5SUM", "SHA256SUM", "PGPSIG",
}  # fmt: skip
LISTS = {
    "GROUPS", "LICENSE", "VALIDATION", "REPLACES", "DEPENDS", "OPTDEPENDS", "MAKEDEPENDS", "CHECKDEPENDS",
    "CONFLICTS", "PROVIDES", "DELTAS", "FILES", "BACKUP", "XDATA",
}  # fmt: skip


def alpm_read(desc: bytes) -> dict[str, list[str]]:
    """The fields libalpm reads from ``desc``; a field seen twice keeps its last reading (as libalpm
    overwrites a scalar; for lists it appends, which only matters when a field is forged twice)."""
    lines = desc.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the last line's newline ends it; it does not begin another
    fields: dict[str, list[str]] = {}
    i = 0

    def value(line: bytes) -> str:
        return line.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        name = value(line)
        if len(name) > 2 and name[0] == name[-1] == "%" and name[1:-1] in SCALARS:
            if i < len(lines):
                fields[name[1:-1]] = [value(lines[i])]
                i += 1
        elif len(name) > 2 and name[0] == name[-1] == "%" and name[1:-1] in LISTS:
            values = fields.setdefault(name[1:-1], [])
            while i < len(lines) and lines[i]:
                values.append(value(lines[i]))
                i += 1
    return fields


def test_the_reader_sees_the_forgeries_it_guards_against() -> None:
    """The reference itself: an empty list value, or a newline in a scalar, forges a field."""
    forged_list = b"%DEPENDS%\na\n\n%SHA256SUM%\n000\n\n"
    assert alpm_read(forged_list) == {"DEPENDS": ["a"], "SHA256SUM": ["000"]}
    forged_name = b"%FILENAME%\nx.pkg.tar.zst\n\n%PGPSIG%\nAAAA\n\n%NAME%\nx\n\n"
    assert alpm_read(forged_name) == {"FILENAME": ["x.pkg.tar.zst"], "PGPSIG": ["AAAA"], "NAME": ["x"]}
    assert alpm_read(b"%DESC%\na\0b\n\n") == {"DESC": ["a"]}


LIST_KEYS = {
    "group": "GROUPS", "license": "LICENSE", "replaces": "REPLACES", "conflict": "CONFLICTS",
    "provides": "PROVIDES", "depend": "DEPENDS", "optdepend": "OPTDEPENDS", "makedepend": "MAKEDEPENDS",
    "checkdepend": "CHECKDEPENDS",
}  # fmt: skip
SCALAR_KEYS = {
    "pkgbase": "BASE", "pkgdesc": "DESC", "url": "URL", "builddate": "BUILDDATE", "packager": "PACKAGER",
    "size": "ISIZE", "arch": "ARCH",
}  # fmt: skip
FIELD_TEXT = [f"%{n}%" for n in sorted(SCALARS | LISTS)]

# values a crafted .PKGINFO may carry on one line: field names, empty ones, blanks, text
one_line_values = st.one_of(
    st.sampled_from(["", " ", *FIELD_TEXT, "0" * 64, "AAAA"]),
    st.text(alphabet=string.printable.replace("\n", "") + "é%", max_size=12),
)
file_names = st.one_of(
    st.just("foo-1.0-1-any.pkg.tar.zst"),
    st.builds(
        lambda a, b: f"{a}.pkg.tar.zst{b}",
        st.text(alphabet="ab\n%", max_size=4),
        st.sampled_from(["", "\n", "\n\n%PGPSIG%\nAAAA", "\n%SHA256SUM%\n" + "0" * 64]),
    ).filter(lambda n: "/" not in n),
)


@given(
    lines=st.lists(
        st.tuples(st.sampled_from(sorted(LIST_KEYS) + sorted(SCALAR_KEYS)), one_line_values), max_size=12
    ),
    filename=file_names,
)
def test_every_desc_written_reads_back_as_meant(lines: list[tuple[str, str]], filename: str) -> None:
    pkginfo = "pkgname = foo\npkgver = 1.0-1\n" + "".join(f"{k} = {v}\n" for k, v in lines)
    try:
        record, _ = build_record(f"/repo/{filename}", pkginfo.encode(), [], 1234, "m" * 32, "s" * 64, b"\x89sig")
    except InvalidPackage as e:
        assert "empty" in str(e) or "newline" in str(e) or "line break" in str(e)
        return
    read = alpm_read(render_desc(record))
    info = record.info
    meant: dict[str, list[str]] = {
        "FILENAME": [record.filename],
        "NAME": [info.name],
        "VERSION": [info.version],
        "CSIZE": ["1234"],
        "MD5SUM": ["m" * 32],
        "SHA256SUM": ["s" * 64],
        "PGPSIG": ["iXNpZw=="],
    }
    for key, field in SCALAR_KEYS.items():
        value = getattr(info, {"BASE": "base", "DESC": "desc", "URL": "url", "BUILDDATE": "builddate",
                               "PACKAGER": "packager", "ISIZE": "isize", "ARCH": "arch"}[field])  # fmt: skip
        if value:
            meant[field] = [value]
    for key, field in LIST_KEYS.items():
        values = [v for k, v in lines if k == key]
        if values:
            meant[field] = list(getattr(record.info, {"GROUPS": "groups", "LICENSE": "licenses"}.get(
                field, field.lower())))  # fmt: skip
    assert read == meant


@pytest.mark.parametrize(
    ("pkginfo", "why"),
    [
        (b"depend = \ndepend = %SHA256SUM%\ndepend = " + b"0" * 64 + b"\n", "an empty 'depend' value"),
        (b"provides = \nprovides = %PGPSIG%\nprovides = AAAA\n", "an empty 'provides' value"),
        (b"license = MIT\nlicense = \nlicense = %DESC%\n", "an empty 'license' value"),
    ],
    ids=["depend-forges-sha256sum", "provides-forges-pgpsig", "license-after-a-value"],
)
def test_an_empty_list_value_that_would_forge_a_field_is_refused(pkginfo: bytes, why: str) -> None:
    with pytest.raises(InvalidPackage) as e:
        build_record("/repo/foo.pkg.tar.zst", b"pkgname = foo\npkgver = 1-1\n" + pkginfo, [], 1, "m", "s", None)
    assert str(e.value) == (
        f"Invalid package file '/repo/foo.pkg.tar.zst': its .PKGINFO has {why}, which would end the list in the "
        "database (libalpm would read the values after it as fields of their own)."
    )


def test_a_file_name_with_a_newline_that_would_forge_a_signature_is_refused() -> None:
    path = "/repo/x.pkg.tar.zst\n\n%PGPSIG%\nAAAA"
    with pytest.raises(InvalidPackage) as e:
        build_record(path, b"pkgname = x\npkgver = 1-1\n", [], 1, "m", "s", None)
    assert str(e.value) == (
        f"Invalid package file '{path}': its file name holds a newline, which would end the %FILENAME% field "
        "in the database."
    )
