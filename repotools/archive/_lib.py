"""libarchive, loaded once and the one way: its library found without ldconfig, member names in a
UTF-8 locale, its warnings kept off standard error, and the version that writes our archives."""

from __future__ import annotations

import ctypes
import locale
import logging
import os
import sys
from typing import Any

__all__ = ["BLOCK", "WRITER", "ArchiveError", "archive_message", "ffi", "libarchive", "read_data"]

BLOCK = 1 << 17  # bytes a read asks libarchive for


def _locate_libarchive() -> None:
    # ctypes.util.find_library spawns ldconfig, which costs tens of milliseconds
    # on every run; look where Debian and Arch put the library first.
    if os.environ.get("LIBARCHIVE"):
        return
    multiarch = getattr(sys.implementation, "_multiarch", "")
    dirs = [f"/usr/lib/{multiarch}", f"/lib/{multiarch}"] if multiarch else []
    dirs += ["/usr/lib", "/usr/lib64", "/usr/local/lib"]
    for d in dirs:  # the soname libarchive 3 has always had first, then any other (listing /usr/lib costs ~1 ms)
        if os.path.exists(os.path.join(d, "libarchive.so.13")):
            os.environ["LIBARCHIVE"] = os.path.join(d, "libarchive.so.13")
            return
    for d in dirs:
        try:
            hits = sorted(n for n in os.listdir(d) if n.startswith("libarchive.so.1"))
        except OSError:
            continue
        if hits:
            os.environ["LIBARCHIVE"] = os.path.join(d, hits[0])
            return


_locate_libarchive()

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

# Member names are read as libarchive converts them in a UTF-8 locale, whatever the caller's
# locale, as the files database promises (desc.bsdtar_list_name): under LC_ALL=C the conversion
# drops some characters (U+E0000-E007F) and does not compose decomposed names, as bsdtar does in
# UTF-8. Process-wide, but only LC_CTYPE, which nothing else here depends on after start-up.
for _name in ("C.UTF-8", "C.utf8", "en_US.UTF-8"):
    try:
        locale.setlocale(locale.LC_CTYPE, _name)
        break
    except locale.Error:
        continue

# libarchive-c logs libarchive's warnings ("Using external lzop program...") and Python's
# last-resort handler would print them on stderr, -q or not: our errors say what matters
ffi.logger.addHandler(logging.NullHandler())


def _writer() -> str:
    details = ffi.libarchive.archive_version_details
    details.argtypes, details.restype = [], ctypes.c_char_p
    return str(details().decode("utf-8", "replace"))


# libarchive and the compression libraries it writes with: chunks they wrote are copied only
# into archives written by the same ones (other versions may compress the same bytes otherwise)
WRITER = _writer()


def archive_message(e: ArchiveError) -> str:
    msg = getattr(e, "msg", None) or str(e)
    return msg.split(" (errno=")[0]


def read_data(a: Any, size: int, buf: Any) -> bytes:
    """The data of the current member, ``size`` bytes at most, through ``buf`` (large enough)."""
    got = 0
    while got < size:
        n = ffi.read_data(a, ctypes.byref(buf, got), size - got)
        if n <= 0:
            break
        got += n
    # string_at copies the ``got`` bytes alone: ``buf.raw[:got]`` copied all of ``buf`` first (a
    # buffer grown for one large member, copied whole again for every small one after it)
    return ctypes.string_at(buf, got)
