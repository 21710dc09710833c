"""repotools.formats.vercmp against pacman's own /usr/bin/vercmp (libalpm's alpm_pkg_vercmp).

The reference is the real tool: every expectation below is also checked against
/usr/bin/vercmp, so a wrong table entry fails as loudly as a wrong implementation.
"""

from __future__ import annotations

import random
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repotools.formats.vercmp import split_evr, vercmp

VERCMP = "/usr/bin/vercmp"

# One bash reads NUL-separated pairs and runs vercmp once per pair: no Python
# process start per comparison.
_LOOP = f'while IFS= read -r -d "" a && IFS= read -r -d "" b; do {VERCMP} "$a" "$b" || exit 1; done'


def pacman_vercmp(pairs: list[tuple[str, str]]) -> list[int]:
    """What pacman's vercmp says for each pair, in one bash process."""
    data = b"".join(a.encode() + b"\0" + b.encode() + b"\0" for a, b in pairs)
    out = subprocess.run(["bash", "-c", _LOOP], input=data, capture_output=True, check=True).stdout
    results = [int(x) for x in out.split()]
    assert len(results) == len(pairs)
    return results


def assert_agrees_with_pacman(pairs: list[tuple[str, str]]) -> None:
    expected = pacman_vercmp(pairs)
    ours = [vercmp(a, b) for a, b in pairs]
    mismatches = [(a, b, e, o) for (a, b), e, o in zip(pairs, expected, ours) if e != o]
    assert not mismatches, f"(a, b, pacman, ours): {mismatches[:10]}"


# (older-or-equal, newer-or-equal, expected) -- the classic cases of pacman's own test suite and man page.
CLASSIC = [
    # plain versions
    ("1.0", "1.0", 0),
    ("1.0", "1.0.1", -1),
    ("1.0.1", "1.0", 1),
    ("1.0", "2.0", -1),
    ("1.2", "1.10", -1),  # numeric, not lexical
    # letters are older than nothing, and older than digits
    ("1.0a", "1.0", -1),
    ("1.0alpha", "1.0", -1),
    ("1.0a", "1.0b", -1),
    ("1.0b", "1.0beta", -1),
    ("1.0", "1.0.a", -1),  # letters after a separator are newer than nothing (unlike 1.0a)
    ("1.0a", "1.01", -1),
    ("1.0pre", "1.0rc", -1),
    ("a", "1", -1),
    ("1.0~rc1", "1.0", 1),  # no dpkg-style tilde in pacman
    # epochs beat everything
    ("1:1.0", "2.0", 1),
    ("2.0", "1:0.1", -1),
    ("1:1.0", "2:0.1", -1),
    ("0:1.0", "1.0", 0),
    ("1:1.0-1", "1:1.0-2", -1),
    # releases compare only when both sides have one
    ("1.0-1", "1.0-2", -1),
    ("1.0-2", "1.0-10", -1),
    ("1.0-1", "1.0", 0),
    ("1.0", "1.0-5", 0),
    ("1.0-1", "1.0.1-1", -1),
    ("1.0-1.1", "1.0-1", 1),
    # leading zeros do not count
    ("01", "1", 0),
    ("1.001", "1.1", 0),
    ("1.010", "1.10", 0),
    ("1.010", "1.1", 1),
    ("000", "0", 0),
    # separators: which, does not matter; how many, does
    ("1.0", "1_0", 0),
    ("1.0", "1+0", 0),
    ("1..0", "1.0", 1),
    ("1.0", "1...0", -1),
    ("1.0", "1.0.", -1),  # a trailing separator is not nothing
    ("1._0", "1.0", 1),
    ("1.0", "10", -1),
    ("2.0", "2", 1),
    # alphanumeric boundaries
    ("1.5b", "1.5", -1),
    ("1.5", "1.5b", 1),
    ("1.5b", "1.5.1", -1),
    ("1a2", "1a3", -1),
    ("1a2", "1b1", -1),
    ("abc", "abd", -1),
    ("", "", 0),
    ("", "1", -1),
]


@pytest.fixture(scope="module")
def pacman_on_classic() -> list[int]:
    return pacman_vercmp([(a, b) for a, b, _ in CLASSIC])


@pytest.mark.parametrize(("index", "case"), list(enumerate(CLASSIC)), ids=[f"{a}_vs_{b}" for a, b, _ in CLASSIC])
def test_classic_case(index: int, case: tuple[str, str, int], pacman_on_classic: list[int]) -> None:
    a, b, expected = case
    assert pacman_on_classic[index] == expected, "the table itself disagrees with pacman"
    assert vercmp(a, b) == expected
    assert vercmp(b, a) == -expected


def test_accepts_bytes_and_str_alike() -> None:
    assert vercmp(b"1.0", b"1.0.1") == vercmp("1.0", "1.0.1") == -1
    assert vercmp(b"1.0\xc3\xa91", "1.0.1") == vercmp("1.0\u00e91", "1.0.1") == 1


def test_non_ascii_bytes_are_separators_like_in_c() -> None:
    pairs = [("1.0\u00e91", "1.0.1"), ("1\u00e90", "1.0"), ("1.0\u00e9a", "1.0.a"), ("1\u00e9\u00e90", "1.0")]
    assert_agrees_with_pacman(pairs)


@pytest.mark.parametrize(
    ("version", "parts"),
    [
        (b"1.0", (b"0", b"1.0", None)),
        (b"1.0-1", (b"0", b"1.0", b"1")),
        (b"2:1.0-1", (b"2", b"1.0", b"1")),
        (b":1.0", (b"0", b"1.0", None)),
        (b"a:1.0", (b"0", b"a:1.0", None)),
        (b"1.0-1-2", (b"0", b"1.0-1", b"2")),
        (b"1:2:3", (b"1", b"2:3", None)),
    ],
)
def test_split_evr_like_libalpm(version: bytes, parts: tuple[bytes, bytes, bytes | None]) -> None:
    assert split_evr(version) == parts


# ---------------------------------------------------------------------------------------------
# generated pairs

_ALPHABET = "0123456789abz._+~:-\u00e9"
_WORDS = ["0", "00", "01", "1", "2", "9", "10", "100", "a", "b", "z", "alpha", "rc", "pre", "git"]
_SEPS = ["", ".", ".", "..", "_", "+", "~", "-", ":", "._"]


@st.composite
def versions(draw: st.DrawFn) -> str:
    """Mostly well-formed ``[epoch:]ver[-rel]`` made of a few short words, sometimes raw text."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(alphabet=_ALPHABET, max_size=10))
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4))
    seps = draw(st.lists(st.sampled_from(_SEPS), min_size=len(words), max_size=len(words)))
    ver = "".join(w + s for w, s in zip(words, seps))
    epoch = draw(st.sampled_from(["", "", "", "0:", "1:", "2:", "01:", ":"]))
    rel = draw(st.sampled_from(["", "", "-1", "-2", "-10", "-1.1", "-a", "-"]))
    return epoch + ver + rel


@st.composite
def close_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two versions that often share a prefix, so the interesting comparisons happen."""
    a = draw(versions())
    if draw(st.booleans()):
        return a, draw(versions())
    cut = draw(st.integers(0, len(a)))
    return a, a[:cut] + draw(st.text(alphabet=_ALPHABET, max_size=4))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(close_pairs(), min_size=40, max_size=40))
def test_generated_pairs_agree_with_pacman(pairs: list[tuple[str, str]]) -> None:
    assert_agrees_with_pacman(pairs)


def test_seeded_random_pairs_agree_with_pacman() -> None:
    rng = random.Random(20240917)
    pairs = []
    for _ in range(300):
        a = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8)))
        b = a[: rng.randint(0, len(a))] + "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 4)))
        pairs.append((a, b) if rng.random() < 0.5 else (b, a))
    assert_agrees_with_pacman(pairs)


@settings(max_examples=500, deadline=None)
@given(versions(), versions())
def test_is_antisymmetric(a: str, b: str) -> None:
    assert vercmp(a, b) == -vercmp(b, a)


@settings(max_examples=200, deadline=None)
@given(versions())
def test_a_version_equals_itself(a: str) -> None:
    assert vercmp(a, a) == 0
