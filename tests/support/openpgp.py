"""OpenPGP packets made by hand from real signatures: to give a good signature an unhashed
subpacket area of a chosen size (it is not signed: the signature stays good), or a signature
file an exact size."""

from __future__ import annotations

__all__ = ["FRAMED_SIGNATURE", "body_of", "packet", "padded_signature_file", "with_unhashed"]


# A signature packet as GnuPG would parse it (version 4, binary document, EdDSA, SHA-256, empty
# subpacket areas, a one-byte value), but signed by no one: for runs that check no signature,
# where only the framing of a .sig is looked at
FRAMED_SIGNATURE = bytes([0x88, 13, 4, 0x00, 22, 8, 0, 0, 0, 0, 0xAB, 0xCD, 0, 8, 0xFF])


def body_of(sig: bytes) -> bytes:
    """The body of a one-packet signature file (old- or new-format header)."""
    first = sig[0]
    if first & 0x40:
        octet = sig[1]
        if octet < 192:
            return sig[2 : 2 + octet]
        if octet < 224:
            return sig[3 : 3 + ((octet - 192) << 8) + sig[2] + 192]
        return sig[6 : 6 + int.from_bytes(sig[2:6], "big")]
    size = (1, 2, 4)[first & 3]
    return sig[1 + size : 1 + size + int.from_bytes(sig[1 : 1 + size], "big")]


def packet(body: bytes, tag: int = 2) -> bytes:
    """A new-format packet with a five-byte length."""
    return bytes([0xC0 | tag, 0xFF]) + len(body).to_bytes(4, "big") + body


def with_unhashed(sig: bytes, total: int) -> bytes:
    """``sig`` (one v4 signature packet) with its unhashed subpacket area grown to ``total`` bytes
    by a private subpacket (type 101, not critical), as a new-format packet."""
    body = body_of(sig)
    hashed = int.from_bytes(body[4:6], "big")
    at = 6 + hashed
    unhashed_len = int.from_bytes(body[at : at + 2], "big")
    unhashed, rest = body[at + 2 : at + 2 + unhashed_len], body[at + 2 + unhashed_len :]
    size = total - unhashed_len - 6  # five length octets and the type
    extra = b"\xff" + (size + 1).to_bytes(4, "big") + b"\x65" + b"x" * size
    grown = unhashed + extra
    return packet(body[:at] + len(grown).to_bytes(2, "big") + grown + rest)


def padded_signature_file(sig: bytes, size: int) -> bytes:
    """A signature file of exactly ``size`` bytes: two copies of ``sig``, each padded in its
    unhashed area (at most GnuPG's 10,000 bytes each: ``size`` up to about 20 KB)."""
    body = body_of(sig)
    unhashed_at = 6 + int.from_bytes(body[4:6], "big")
    unhashed = int.from_bytes(body[unhashed_at : unhashed_at + 2], "big")
    overhead = 6 + len(body) - unhashed  # a packet's size beyond its unhashed area
    half = size // 2
    out = with_unhashed(sig, half - overhead) + with_unhashed(sig, size - half - overhead)
    assert len(out) == size
    return out
