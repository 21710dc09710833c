""".PKGINFO parsing and package name/version checks.

References are the real tools: bash's ``IFS=' =' read -r var val`` for one line,
repo-add's own read loop (copied from /usr/bin/repo-add) for a whole .PKGINFO,
and makepkg's lint functions (/usr/share/makepkg/lint_pkgbuild) for names and
versions.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repotools.db.rules import build_record
from repotools.errors import InvalidPackage
from repotools.formats.desc import parse_desc, render_desc
from repotools.formats.pkginfo import PkgInfo, check_name, check_version, parse_pkginfo, split_line

BASH_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}

# .PKGINFO key -> PkgInfo attribute: the variables repo-add's db_write_entry uses.
SCALAR_KEYS = {
    "pkgname": "name",
    "pkgbase": "base",
    "pkgver": "version",
    "pkgdesc": "desc",
    "url": "url",
    "builddate": "builddate",
    "packager": "packager",
    "size": "isize",
    "arch": "arch",
}
LIST_KEYS = {
    "group": "groups",
    "license": "licenses",
    "replaces": "replaces",
    "depend": "depends",
    "conflict": "conflicts",
    "provides": "provides",
    "optdepend": "optdepends",
    "makedepend": "makedepends",
    "checkdepend": "checkdepends",
}


def run_bash(script: str, data: bytes = b"", *args: str, env: dict[str, str] | None = None) -> bytes:
    return subprocess.run(
        ["bash", "-c", script, "bash", *args], input=data, capture_output=True, check=True, env=env or BASH_ENV
    ).stdout


# ---------------------------------------------------------------------------------------------
# split_line: one line, as `IFS=' =' read -r var val`

_READ_ONE_LINE = r"""
while IFS= read -r -d '' line; do
    IFS=' =' read -r var val < <(printf '%s\n' "$line")
    printf '%s\0%s\0' "$var" "$val"
done
"""


def bash_split(lines: list[str]) -> list[tuple[str, str]]:
    out = run_bash(_READ_ONE_LINE, b"".join(line.encode() + b"\0" for line in lines)).split(b"\0")[:-1]
    assert len(out) == 2 * len(lines)
    return [(out[i].decode(), out[i + 1].decode()) for i in range(0, len(out), 2)]


@pytest.mark.parametrize(
    ("line", "var", "val"),
    [
        ("pkgname = foo", "pkgname", "foo"),
        ("pkgname=foo", "pkgname", "foo"),
        ("  pkgname  =  foo  ", "pkgname", "foo"),
        ("pkgdesc = a = b", "pkgdesc", "a = b"),
        ("pkgdesc = a b =", "pkgdesc", "a b ="),
        ("pkgdesc = b =", "pkgdesc", "b"),  # bash drops a lone trailing delimiter after one word
        ("a==b", "a", "=b"),
        ("=a", "", "a"),
        ("pkgname", "pkgname", ""),
        ("pkgname\t= foo", "pkgname\t", "foo"),  # a tab is not in IFS
        ("", "", ""),
    ],
)
def test_split_line_named_cases(line: str, var: str, val: str) -> None:
    assert bash_split([line]) == [(var, val)], "the table itself disagrees with bash"
    assert split_line(line) == (var, val)


_LINE_ALPHABET = st.sampled_from(list(" ==\t#ab\\"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_LINE_ALPHABET, max_size=12), min_size=60, max_size=60))
def test_split_line_agrees_with_bash_read(lines: list[str]) -> None:
    assert [split_line(line) for line in lines] == bash_split(lines)


# ---------------------------------------------------------------------------------------------
# parse_pkginfo: a whole .PKGINFO, as repo-add's read loop

# The loop of repo-add's db_write_entry, verbatim but for `declare`: print what it would assign.
_REPO_ADD_LOOP = r"""
shopt -s extglob
for f in "$@"; do
    while read -r line; do
        [[ ${line:0:1} = '#' ]] && continue
        IFS=' =' read -r var val < <(printf '%s\n' "$line")
        printf '%s\0%s\0' "$var" "${val//+([[:space:]])/ }"
    done < "$f"
    printf '\1\0'
done
"""


def repo_add_reads(texts: list[bytes]) -> list[dict[str, bytes | list[bytes]]]:
    """What repo-add's loop assigns to each variable it uses, for each .PKGINFO."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, text in enumerate(texts):
            paths.append(os.path.join(d, str(i)))
            with open(paths[-1], "wb") as f:
                f.write(text)
        out = run_bash(_REPO_ADD_LOOP, b"", *paths).split(b"\0")[:-1]
    results: list[dict[str, bytes | list[bytes]]] = []
    fields: dict[str, bytes | list[bytes]] = {}
    i = 0
    while i < len(out):
        if out[i] == b"\1":
            results.append(fields)
            fields = {}
            i += 1
            continue
        var, val = out[i].decode("utf-8", "surrogateescape"), out[i + 1]
        if var in SCALAR_KEYS:
            fields[SCALAR_KEYS[var]] = val
        elif var in LIST_KEYS:
            fields.setdefault(LIST_KEYS[var], []).append(val)  # type: ignore[union-attr]
        i += 2
    assert len(results) == len(texts)
    return results


def our_reading(text: bytes) -> dict[str, bytes | list[bytes]]:
    info = parse_pkginfo(text)

    def enc(s: str) -> bytes:
        return s.encode("utf-8", "surrogateescape")

    fields: dict[str, bytes | list[bytes]] = {}
    for attr in SCALAR_KEYS.values():
        if getattr(info, attr):
            fields[attr] = enc(getattr(info, attr))
    for attr in LIST_KEYS.values():
        if getattr(info, attr):
            fields[attr] = [enc(v) for v in getattr(info, attr)]
    return fields


def normalise(fields: dict[str, bytes | list[bytes]]) -> dict[str, bytes | list[bytes]]:
    # an empty scalar and an absent one are the same to repo-add (format_entry tests [[ $1 ]])
    return {k: v for k, v in fields.items() if v != b""}


_KEYS = list(SCALAR_KEYS) + list(LIST_KEYS) + ["pgpsig", "csize", "#", "#pkgname", "", "unknown"]
_SEPS = [b" = ", b"=", b" =", b"= ", b"  =  ", b" ", b"\t=\t", b" = = ", b"=="]
_VALUE_BYTES = [
    b"a",
    b"b",
    b"1",
    b" ",
    b"\t",
    b"=",
    b"#",
    b"\r",
    b"\x0b",
    b"\x0c",
    b"\xc3\xa9",
    b"\xff",
    b"\x00",
    b"\\",
]
_EDGE = [b"", b" ", b"\t", b" \t", b"\t "]


@st.composite
def pkginfo_texts(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        value = b"".join(draw(st.lists(st.sampled_from(_VALUE_BYTES), max_size=6)))
        lines.append(
            draw(st.sampled_from(_EDGE))
            + draw(st.sampled_from(_KEYS)).encode()
            + draw(st.sampled_from(_SEPS))
            + value
            + draw(st.sampled_from(_EDGE))
        )
    text = b"\n".join(lines)
    return text + draw(st.sampled_from([b"\n", b"", b"\npkgname = tail"]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pkginfo_texts(), min_size=20, max_size=20))
def test_parse_pkginfo_agrees_with_repo_add_loop(texts: list[bytes]) -> None:
    expected = [normalise(f) for f in repo_add_reads(texts)]
    assert [normalise(our_reading(t)) for t in texts] == expected


def test_a_tab_before_the_key_is_stripped_as_bash_read_strips_it() -> None:
    text = b"\tpkgname = foo\n \tpkgver = 1.0-1\n"
    assert repo_add_reads([text])[0] == {"name": b"foo", "version": b"1.0-1"}
    info = parse_pkginfo(text)
    assert (info.name, info.version) == ("foo", "1.0-1")


def test_a_trailing_tab_is_stripped_not_folded_into_a_space() -> None:
    text = b"pkgdesc = a\tb\t\n"
    assert repo_add_reads([text])[0] == {"desc": b"a b"}
    assert parse_pkginfo(text).desc == "a b"


def test_whitespace_runs_in_a_value_fold_to_one_space() -> None:
    info = parse_pkginfo(b"pkgdesc = a  \t\r\x0b\x0c b   c\n")
    assert info.desc == "a b c"


def test_comment_lines_are_skipped() -> None:
    info = parse_pkginfo(b"# pkgname = evil\n#pkgver=6.6.6-1\npkgname = good\n")
    assert info.name == "good"
    assert info.version == ""


def test_a_last_line_without_newline_is_ignored_like_while_read() -> None:
    info = parse_pkginfo(b"pkgname = foo\npkgver = 1.0-1")
    assert info.name == "foo"
    assert info.version == ""


def test_list_keys_collect_every_line_in_order() -> None:
    info = parse_pkginfo(b"depend = b\ndepend = a>=1\nlicense = MIT\ndepend = c\ngroup = g\n")
    assert info.depends == ("b", "a>=1", "c")
    assert info.licenses == ("MIT",)
    assert info.groups == ("g",)


def test_a_scalar_given_twice_keeps_the_last_value() -> None:
    assert parse_pkginfo(b"pkgname = first\npkgname = second\n").name == "second"


def test_unknown_keys_are_ignored() -> None:
    info = parse_pkginfo(b"pkgname = foo\npkgver = 1-1\npkgtype = pkg\nxdata = pkgtype=pkg\nbackup = etc/x\n")
    assert info == PkgInfo(name="foo", version="1-1")


def test_nul_bytes_vanish_as_bash_drops_them() -> None:
    text = b"pkgname = fo\x00o\npkgver = 1.0-1\n"
    assert repo_add_reads([text])[0]["name"] == b"foo"
    assert parse_pkginfo(text).name == "foo"


def test_entry_name_is_name_dash_version() -> None:
    assert PkgInfo(name="foo", version="1:2.0-3").entry_name == "foo-1:2.0-3"


_FORGED = (
    b"pkgname = foo\npkgver = 1.0-1\n"
    b"pgpsig = iQEzBAABCAAdFiEEforgedsignatureAAAA\n"
    b"csize = 1\n"
    b"md5sum = 00000000000000000000000000000000\n"
    b"sha256sum = 0000000000000000000000000000000000000000000000000000000000000000\n"
    b"filename = ../../evil.pkg.tar.zst\n"
    b"_groups = forged-group\n"
    b"_depends = forged-dep\n"
)


def test_pkginfo_cannot_forge_signature_size_or_checksums_in_the_desc() -> None:
    """In repo-add a .PKGINFO line is `declare`d, so `pgpsig = ...` leaks into %PGPSIG%; not here."""
    record, _ = build_record("/r/foo-1.0-1-any.pkg.tar.zst", _FORGED, [b".PKGINFO"], 4242, "a" * 32, "b" * 64, None)
    desc = parse_desc(render_desc(record))
    assert "PGPSIG" not in desc
    assert desc["CSIZE"] == ["4242"]
    assert desc["MD5SUM"] == ["a" * 32]
    assert desc["SHA256SUM"] == ["b" * 64]
    assert desc["FILENAME"] == ["foo-1.0-1-any.pkg.tar.zst"]
    assert "GROUPS" not in desc
    assert "DEPENDS" not in desc


# ---------------------------------------------------------------------------------------------
# check_name: makepkg's lint_one_pkgname

_LINT_NAMES = r"""
LIBRARY=/usr/share/makepkg
source "$LIBRARY/lint_pkgbuild/pkgname.sh"
while IFS= read -r -d '' n; do
    if lint_one_pkgname pkgname "$n" 2>/dev/null; then printf 0; else printf 1; fi
done
"""

_LINT_VERSION_PARTS = r"""
LIBRARY=/usr/share/makepkg
source "$LIBRARY/lint_pkgbuild/epoch.sh"
source "$LIBRARY/lint_pkgbuild/pkgver.sh"
source "$LIBRARY/lint_pkgbuild/pkgrel.sh"
shopt -s extglob
while IFS= read -r -d '' e && IFS= read -r -d '' v && IFS= read -r -d '' r; do
    if check_epoch "$e" 2>/dev/null && check_pkgver "$v" 2>/dev/null && check_pkgrel "$r" 2>/dev/null; then
        printf 0
    else
        printf 1
    fi
done
"""

_UTF8_ENV = {**BASH_ENV, "LC_ALL": "C.UTF-8"}


def makepkg_accepts_names(names: list[str]) -> list[bool]:
    out = run_bash(_LINT_NAMES, b"".join(n.encode() + b"\0" for n in names), env=_UTF8_ENV)
    assert len(out) == len(names)
    return [c == ord("0") for c in out]


def makepkg_accepts_versions(versions: list[str]) -> list[bool]:
    """A full version is valid if it splits into an epoch, pkgver and pkgrel makepkg's lint accepts."""
    data = b""
    no_rel = []
    for v in versions:
        epoch, rest = v.split(":", 1) if ":" in v else ("", v)
        ver, dash, rel = rest.rpartition("-")
        no_rel.append(not dash)
        data += b"\0".join(x.encode() for x in (epoch, ver, rel)) + b"\0"
    out = run_bash(_LINT_VERSION_PARTS, data, env=_UTF8_ENV)
    assert len(out) == len(versions)
    return [c == ord("0") and not missing for c, missing in zip(out, no_rel)]


@pytest.mark.parametrize(
    "name",
    [
        "foo",
        "foo-bar",
        "lib32-foo",
        "python-foo.bar",
        "gtk+",
        "foo_bar",
        "foo@2",
        "0ad",
        "a",
        "r8168-lts",
        "foo.",
        "a-",
    ],
)
def test_check_name_accepts(name: str) -> None:
    assert makepkg_accepts_names([name]) == [True]
    assert check_name(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "pkgname is empty"),
        ("-foo", "pkgname '-foo' starts with '-'"),
        (".foo", "pkgname '.foo' starts with '.'"),
        ("foo/bar", "pkgname 'foo/bar' contains characters other than letters, digits and +_.@-"),
    ],
)
def test_check_name_refuses_with_message(name: str, why: str) -> None:
    assert makepkg_accepts_names([name]) == [False]
    assert check_name(name) == why


@pytest.mark.parametrize(
    "name", ["../evil", "foo bar", "foo\nbar", "foo\tbar", "caf\u00e9", "foo:bar", "foo*", "foo$x", "\u0430bc", "a=b"]
)
def test_check_name_refuses(name: str) -> None:
    assert makepkg_accepts_names([name]) == [False]
    why = check_name(name)
    assert why is not None
    assert "\n" not in why


def test_check_name_refuses_nul() -> None:
    assert check_name("foo\0bar") is not None


_NAME_ALPHABET = st.sampled_from(list("aZ09+_.@-/ \n\t:*$\u00e9\u00df=~"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_NAME_ALPHABET, max_size=5), min_size=50, max_size=50))
def test_check_name_agrees_with_makepkg_lint(names: list[str]) -> None:
    assert [check_name(n) is None for n in names] == makepkg_accepts_names(names)


# ---------------------------------------------------------------------------------------------
# check_version: makepkg's check_epoch, check_pkgver and check_pkgrel on [epoch:]pkgver-pkgrel


@pytest.mark.parametrize(
    "version", ["1.0-1", "1:1.0-1", "20240101-1", "1.0.r12.gabc123-2", "1.0_rc1-1", "1.0+git-1", "2.0-1.1", "0.1~a-10"]
)
def test_check_version_accepts(version: str) -> None:
    assert makepkg_accepts_versions([version]) == [True]
    assert check_version(version) is None


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("", "pkgver is empty"),
        ("1.0", "pkgver '1.0' is not of the form [epoch:]pkgver-pkgrel in printable ASCII"),
        ("1.0/2-1", "pkgver '1.0/2' in '1.0/2-1' contains a colon, slash, hyphen or whitespace"),
        ("1.0-1/2", "pkgrel '1/2' in '1.0-1/2' contains a colon, slash, hyphen or whitespace"),
    ],
)
def test_check_version_refuses_with_message(version: str, why: str) -> None:
    assert makepkg_accepts_versions([version]) == [False]
    assert check_version(version) == why


@pytest.mark.parametrize(
    "version",
    [
        "1.0-",  # empty pkgrel
        "-1",  # empty pkgver
        "a:1.0-1",  # epoch not numeric
        "1a:1.0-1",
        "1:2:3-1",  # two colons
        "1.0-1-1",  # hyphen in pkgver
        "1.0 beta-1",
        "1.0\n-1",
        "1.0-1\n",
        "1.0\t-1",
        "1.\u00e9-1",  # non-ASCII
        "1.0-\u0661",  # a non-ASCII digit
        "../../x-1",
        "1.0-1:",
    ],
)
def test_check_version_refuses(version: str) -> None:
    assert makepkg_accepts_versions([version]) == [False]
    why = check_version(version)
    assert why is not None
    assert "\n" not in why


@pytest.mark.parametrize("version", ["1.0-abc", "1.0-1a", "1.0-1.2.3", "1.0-.1", "1.0-1."])
def test_pkgrel_must_be_integer_or_integer_dot_integer(version: str) -> None:
    """makepkg's check_pkgrel: pkgrel must match +([0-9])?(.+([0-9]))."""
    assert makepkg_accepts_versions([version]) == [False]
    assert check_version(version) is not None


def test_check_version_refuses_control_characters() -> None:
    for version in ("1.0\x01-1", "1.0-1\x7f", "1.0\x00-1"):
        assert check_version(version) is not None


_VERSION_ALPHABET = st.sampled_from(list("0129ab.._+~:--/ \t\u00e9"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_VERSION_ALPHABET, max_size=8), min_size=50, max_size=50))
def test_check_version_agrees_with_makepkg_lint(versions: list[str]) -> None:
    assert [check_version(v) is None for v in versions] == makepkg_accepts_versions(versions)


def test_build_record_refuses_a_pkginfo_without_name_or_version() -> None:
    for text in (b"pkgver = 1.0-1\n", b"pkgname = foo\n", b"pkgname = foo\npkgver = 1.0-1"):
        with pytest.raises(InvalidPackage) as e:
            build_record("p.pkg.tar.zst", text, [], 1, "", "", None)
        assert str(e.value) == "Invalid package file 'p.pkg.tar.zst': its .PKGINFO has no pkgname or no pkgver."


def test_build_record_refuses_an_invalid_name_with_the_reason() -> None:
    with pytest.raises(InvalidPackage) as e:
        build_record("p.pkg.tar.zst", b"pkgname = -foo\npkgver = 1.0-1\n", [], 1, "", "", None)
    assert str(e.value) == "Invalid package file 'p.pkg.tar.zst': pkgname '-foo' starts with '-'."


def test_build_record_refuses_an_invalid_version_with_the_reason() -> None:
    with pytest.raises(InvalidPackage) as e:
        build_record("p.pkg.tar.zst", b"pkgname = foo\npkgver = 1.0\n", [], 1, "", "", None)
    assert str(e.value) == (
        "Invalid package file 'p.pkg.tar.zst': pkgver '1.0' is not of the form [epoch:]pkgver-pkgrel in printable ASCII."
    )


@given(
    st.one_of(
        st.text(" =ab\t", max_size=12),
        st.builds(lambda k, v: f"{k} = {v}", st.text("ab=_", min_size=1, max_size=5), st.text(" =ab\t<>", max_size=8)),
    )
)
def test_the_fast_path_for_key_space_equals_space_value_gives_what_read_gives(line: str) -> None:
    from repotools.formats.pkginfo import _split_line_as_read

    assert split_line(line) == _split_line_as_read(line)


def _plain_reading(text: str) -> list[tuple[str, str]] | None:
    from repotools.formats.pkginfo import _plain_pairs

    return _plain_pairs(text)


_PLAIN_PIECES = ["a", "b", " ", "=", "#", "\t", "\r", "\x0b", "\x0c", "\xa0", "\udcff"]


@st.composite
def _near_plain_texts(draw: st.DrawFn) -> str:
    # lines of the shape makepkg writes, and lines one character away from it
    lines = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.sampled_from([True, True, True, False])):  # a line of makepkg's shape, but for one piece
            key, sep = "pkgname", " = "
            pieces = ["a", *draw(st.lists(st.sampled_from(["a", " "]), max_size=4)), "a"]
            pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(_PLAIN_PIECES)))
        else:
            key = draw(st.sampled_from(["a", "#a", "", " a", "a\t", "a b", "=", "\ta"]))
            sep = draw(st.sampled_from([" = ", "=", " =", "  = ", " = = "]))
            pieces = draw(st.lists(st.sampled_from(_PLAIN_PIECES), max_size=6))
        lines.append(key + sep + "".join(pieces))
    return "".join(line + "\n" for line in lines)


@settings(max_examples=500, deadline=None)
@given(_near_plain_texts())
def test_the_whole_text_fast_path_reads_what_the_line_loop_reads(text: str) -> None:
    from repotools.formats.pkginfo import _read_lines

    body = text[: text.rfind("\n") + 1]
    plain = _plain_reading(body)
    if plain is not None:
        assert plain == _read_lines(body)


def test_makepkg_s_pkginfo_takes_the_fast_path() -> None:
    text = (
        "# Generated by makepkg 6.0.2\n# using fakeroot version 1.31\npkgname = foo\npkgbase = foo\n"
        "pkgver = 1:2.0-3\npkgdesc = A  test = package\nurl = https://example.org/?a=b\nbuilddate = 1700000000\n"
        "size = 12345\narch = x86_64\nlicense = GPL\ndepend = glibc>=2.38\noptdepend = bar: for  baz\n\n"
    )
    assert _plain_reading(text) is None  # two spaces in a value: folded by the line loop
    text = text.replace("A  test", "A test").replace("for  baz", "for baz")
    assert _plain_reading(text) == [
        ("pkgname", "foo"),
        ("pkgbase", "foo"),
        ("pkgver", "1:2.0-3"),
        ("pkgdesc", "A test = package"),
        ("url", "https://example.org/?a=b"),
        ("builddate", "1700000000"),
        ("size", "12345"),
        ("arch", "x86_64"),
        ("license", "GPL"),
        ("depend", "glibc>=2.38"),
        ("optdepend", "bar: for baz"),
    ]
