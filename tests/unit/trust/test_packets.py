"""The framing check of a package's ``.sig``: binary OpenPGP signature packets and nothing else, each
one a signature GnuPG 2.2 (and so pacman) would parse; GnuPG itself is the reference where it matters."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.openpgp import body_of, packet, padded_signature_file, with_unhashed

from repotools.errors import MalformedSignature
from repotools.trust.packets import MAX_SUBPACKET_AREA, signature_packets


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path, bytes]]:
    """A throw-away GnuPG home, a file and its detached ed25519 signature."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    gpg = ["gpg", "--batch", "--quiet"]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "t <t@example.invalid>", "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    data = home / "data"
    data.write_bytes(b"package bytes")
    subprocess.run([*gpg, "--detach-sign", str(data)], env=env, check=True, capture_output=True)
    yield env, data, (home / "data.sig").read_bytes()
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)


def gpg_verifies(env: dict[str, str], data: Path, sig: bytes) -> bool:
    (data.parent / "try.sig").write_bytes(sig)
    done = subprocess.run(["gpg", "--batch", "--verify", str(data.parent / "try.sig"), str(data)],
                          env=env, capture_output=True, check=False)  # fmt: skip
    return done.returncode == 0


def test_a_signature_and_two_are_split_into_their_packets(signed: tuple[dict[str, str], Path, bytes]) -> None:
    _env, _data, sig = signed
    assert signature_packets(sig, 8) == [sig]
    assert signature_packets(sig + packet(body_of(sig)), 8) == [sig, packet(body_of(sig))]


@pytest.mark.parametrize("size", [MAX_SUBPACKET_AREA, MAX_SUBPACKET_AREA + 1])
def test_the_unhashed_area_bound_is_gnupgs(signed: tuple[dict[str, str], Path, bytes], size: int) -> None:
    env, data, sig = signed
    grown = with_unhashed(sig, size)
    gpg_good = gpg_verifies(env, data, grown)
    assert gpg_good is (size <= MAX_SUBPACKET_AREA)
    if gpg_good:
        assert signature_packets(grown, 8) == [grown]
    else:
        with pytest.raises(MalformedSignature, match=f"{size} bytes of unhashed subpackets"):
            signature_packets(grown, 8)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"junk", "byte {end} (0x6a) does not begin an OpenPGP packet"),
        (packet(b"\x01\x02", tag=11), "packet 2 is a literal data packet (tag 11), not a signature"),
        (b"\xc2", "the packet at byte {end} is cut short in its header"),
        (b"\xc2\x05\x04", "packet 2 is cut short: 4 bytes missing"),
        (b"\xc2\xe1" + b"x" * 2, "the packet at byte {end} has a partial body length, which no signature has"),
        (b"\x8b", "the packet at byte {end} has an indeterminate length, which no signature has"),
        (packet(b"\x05" + b"x" * 40), "packet 2 is a signature of version 5, which GnuPG 2.2 cannot read"),
        (packet(b"\x04\x00\x16\x08\x00\x00\x00\x00"), "packet 2 is cut short before its key material"),
    ],
    ids=["garbage", "literal-data", "cut-header", "cut-body", "partial-length", "indeterminate", "v5", "no-mpi"],
)
def test_anything_after_a_good_signature_is_refused(
    signed: tuple[dict[str, str], Path, bytes], tail: bytes, message: str
) -> None:
    _env, _data, sig = signed
    with pytest.raises(MalformedSignature) as e:
        signature_packets(sig + tail, 8)
    assert str(e.value) == message.format(end=len(sig))  # where the good signature ends


@pytest.mark.parametrize("size", [16384, 16385])
def test_a_padded_signature_file_is_two_good_signatures(signed: tuple[dict[str, str], Path, bytes], size: int) -> None:
    env, data, sig = signed
    padded = padded_signature_file(sig, size)
    assert len(padded) == size and len(signature_packets(padded, 8)) == 2
    assert gpg_verifies(env, data, padded)


def test_a_secret_file_is_not_a_signature() -> None:
    with pytest.raises(MalformedSignature, match="does not begin an OpenPGP packet"):
        signature_packets(b"root:$y$j9T$salt$hash:19000:0:99999:7:::\n", 8)


def test_more_signatures_than_the_bound_are_refused(signed: tuple[dict[str, str], Path, bytes]) -> None:
    _env, _data, sig = signed
    assert len(signature_packets(sig * 8, 8)) == 8
    with pytest.raises(MalformedSignature, match="it holds more than 8 signatures"):
        signature_packets(sig * 9, 8)


def test_nothing_is_no_signature() -> None:
    with pytest.raises(MalformedSignature, match="it holds no signature"):
        signature_packets(b"", 8)


@given(st.binary(max_size=300))
def test_any_bytes_are_split_or_refused_never_crash(data: bytes) -> None:
    try:
        packets = signature_packets(data, 64)
    except MalformedSignature:
        return
    assert b"".join(packets) == data
