"""OpenPGP packet framing (RFC 4880 section 4; RFC 9580 section 4), read without a cryptographic library.

A package's ``.sig`` is checked to be what it claims, binary OpenPGP signature packets and
nothing else, whether or not a keyring then verifies it: so a ``.sig`` that is a link to a
secret file, a text file, junk after a signature or a truncated packet is refused before it
is embedded in a database (``%PGPSIG%``) that everybody downloads. Pure: bytes in, the
packets' bytes out, or ``MalformedSignature`` saying what is wrong.
"""

from __future__ import annotations

from ..errors import MalformedSignature

__all__ = ["SIGNATURE_TAG", "signature_packets"]

SIGNATURE_TAG = 2
_TAG_NAMES = {
    1: "public-key encrypted session key",
    2: "signature",
    3: "symmetric-key encrypted session key",
    4: "one-pass signature",
    5: "secret key",
    6: "public key",
    7: "secret subkey",
    8: "compressed data",
    9: "symmetrically encrypted data",
    10: "marker",
    11: "literal data",
    12: "trust",
    13: "user ID",
    14: "public subkey",
    17: "user attribute",
    18: "encrypted and integrity protected data",
    19: "modification detection code",
    20: "AEAD encrypted data",
    21: "padding",
}


def _header(data: bytes, i: int) -> tuple[int, int, int]:
    """The packet at ``data[i]``: its tag, where its body starts and its body length."""
    first = data[i]
    if not first & 0x80:
        raise MalformedSignature(f"byte {i} (0x{first:02x}) does not begin an OpenPGP packet")
    if first & 0x40:  # the new format: the tag in 6 bits, then a length of 1, 2 or 5 bytes
        tag, at = first & 0x3F, i + 1
        if at >= len(data):
            raise MalformedSignature(f"the packet at byte {i} is cut short in its header")
        octet = data[at]
        if octet < 192:
            return tag, at + 1, octet
        if octet < 224:
            if at + 2 > len(data):
                raise MalformedSignature(f"the packet at byte {i} is cut short in its header")
            return tag, at + 2, ((octet - 192) << 8) + data[at + 1] + 192
        if octet == 255:
            if at + 5 > len(data):
                raise MalformedSignature(f"the packet at byte {i} is cut short in its header")
            return tag, at + 5, int.from_bytes(data[at + 1 : at + 5], "big")
        raise MalformedSignature(f"the packet at byte {i} has a partial body length, which no signature has")
    tag, kind = (first >> 2) & 0x0F, first & 0x03  # the old format: the tag in 4 bits, a length of 1, 2 or 4
    if kind == 3:
        raise MalformedSignature(f"the packet at byte {i} has an indeterminate length, which no signature has")
    size = (1, 2, 4)[kind]
    if i + 1 + size > len(data):
        raise MalformedSignature(f"the packet at byte {i} is cut short in its header")
    return tag, i + 1 + size, int.from_bytes(data[i + 1 : i + 1 + size], "big")


# GnuPG (parse-packet.c, parse_signature) refuses a signature whose hashed or unhashed
# subpacket area is longer than this; so then does pacman, through gpgme
MAX_SUBPACKET_AREA = 10000


def _check_signature_body(body: bytes, number: int) -> None:
    """A version 4 signature packet's body, as GnuPG 2.2 (Debian 12's, pacman's) parses it: version,
    type, algorithms, two subpacket areas within bounds, the hash's first bytes, then key material.
    Version 3 signatures are checked for their fixed fields only; other versions are refused
    (GnuPG 2.2 reads neither version 5 nor 6)."""
    where = f"packet {number}"
    if not body:
        raise MalformedSignature(f"{where} is an empty signature")
    version = body[0]
    if version == 3:
        if len(body) < 19 or body[1] != 5:
            raise MalformedSignature(f"{where} is a version 3 signature cut short")
        return
    if version != 4:
        raise MalformedSignature(f"{where} is a signature of version {version}, which GnuPG 2.2 cannot read")
    at = 4  # version, type, public-key algorithm, hash algorithm
    for area in ("hashed", "unhashed"):
        if at + 2 > len(body):
            raise MalformedSignature(f"{where} is cut short before its {area} subpackets")
        size = int.from_bytes(body[at : at + 2], "big")
        if size > MAX_SUBPACKET_AREA:
            raise MalformedSignature(
                f"{where} has {size} bytes of {area} subpackets, more than the {MAX_SUBPACKET_AREA} GnuPG reads"
            )
        at += 2 + size
    if at + 2 >= len(body):  # the hash's first two bytes, then at least a byte of key material
        raise MalformedSignature(f"{where} is cut short before its key material")


def signature_packets(data: bytes, max_packets: int) -> list[bytes]:
    """The packets of a binary detached signature file, each whole (header included).

    Refused: no packet, a packet that is not a signature, a header or body cut short, more
    than ``max_packets`` packets, a signature that GnuPG 2.2 would not parse.
    """
    packets: list[bytes] = []
    i = 0
    while i < len(data):
        tag, body, length = _header(data, i)
        if tag != SIGNATURE_TAG:
            name = _TAG_NAMES.get(tag, "unknown")
            raise MalformedSignature(f"packet {len(packets) + 1} is a {name} packet (tag {tag}), not a signature")
        end = body + length
        if end > len(data):
            raise MalformedSignature(f"packet {len(packets) + 1} is cut short: {end - len(data)} bytes missing")
        _check_signature_body(data[body:end], len(packets) + 1)
        packets.append(data[i:end])
        if len(packets) > max_packets:
            raise MalformedSignature(f"it holds more than {max_packets} signatures")
        i = end
    if not packets:
        raise MalformedSignature("it holds no signature")
    return packets
