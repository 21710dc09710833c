"""pacman's version comparison (libalpm ``alpm_pkg_vercmp``), byte for byte.

A version is ``[epoch:]version[-release]``. Epochs compare first (missing means 0),
then the version, then the release if both sides have one. Each part is compared
segment by segment: runs of ASCII digits compare as numbers (leading zeros
ignored), runs of ASCII letters compare as strings, a numeric segment is newer
than an alphabetic one, and the length of the separator run before a segment
matters. Non-ASCII bytes are separators, as in C's ``isalnum`` under the C locale.
"""

from __future__ import annotations

__all__ = ["split_evr", "vercmp"]


def _isdigit(c: int) -> bool:
    return 48 <= c <= 57


def _isalpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122


def _isalnum(c: int) -> bool:
    return _isdigit(c) or _isalpha(c)


def _segments_compare(a: bytes, b: bytes) -> int:
    """rpmvercmp: compare one part (epoch, version or release)."""
    if a == b:
        return 0
    one = ptr1 = 0
    two = ptr2 = 0
    la, lb = len(a), len(b)
    while one < la and two < lb:
        while one < la and not _isalnum(a[one]):
            one += 1
        while two < lb and not _isalnum(b[two]):
            two += 1
        if not (one < la and two < lb):
            break
        # separator runs of different lengths decide
        if (one - ptr1) != (two - ptr2):
            return -1 if (one - ptr1) < (two - ptr2) else 1
        ptr1, ptr2 = one, two
        if _isdigit(a[ptr1]):
            while ptr1 < la and _isdigit(a[ptr1]):
                ptr1 += 1
            while ptr2 < lb and _isdigit(b[ptr2]):
                ptr2 += 1
            isnum = True
        else:
            while ptr1 < la and _isalpha(a[ptr1]):
                ptr1 += 1
            while ptr2 < lb and _isalpha(b[ptr2]):
                ptr2 += 1
            isnum = False
        seg1, seg2 = a[one:ptr1], b[two:ptr2]
        if not seg2:
            # segments of different types: numeric is newer than alpha
            return 1 if isnum else -1
        if isnum:
            seg1 = seg1.lstrip(b"0")
            seg2 = seg2.lstrip(b"0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return -1 if seg1 < seg2 else 1
        one, two = ptr1, ptr2
    rest1, rest2 = one < la, two < lb
    if not rest1 and not rest2:
        return 0
    # a remaining alpha string never beats an empty one
    if (not rest1 and not _isalpha(b[two])) or (rest1 and _isalpha(a[one])):
        return -1
    return 1


def split_evr(version: bytes) -> tuple[bytes, bytes, bytes | None]:
    """Split ``[epoch:]version[-release]`` as libalpm's parseEVR does."""
    s = 0
    while s < len(version) and _isdigit(version[s]):
        s += 1
    dash = version.rfind(b"-", s)
    if s < len(version) and version[s : s + 1] == b":":
        epoch = version[:s] or b"0"
        start = s + 1
    else:
        epoch = b"0"
        start = 0
    if dash >= 0:
        return epoch, version[start:dash], version[dash + 1 :]
    return epoch, version[start:], None


def vercmp(a: str | bytes, b: str | bytes) -> int:
    """Return -1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``."""
    ab = a.encode() if isinstance(a, str) else a
    bb = b.encode() if isinstance(b, str) else b
    if ab == bb:
        return 0
    e1, v1, r1 = split_evr(ab)
    e2, v2, r2 = split_evr(bb)
    ret = _segments_compare(e1, e2)
    if ret == 0:
        ret = _segments_compare(v1, v2)
        if ret == 0 and r1 is not None and r2 is not None:
            ret = _segments_compare(r1, r2)
    return ret
