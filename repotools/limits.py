"""Every bound repotools puts on what it reads or keeps, in one frozen object.

Owns the bounds and their defaults; imports nothing of repotools. A run builds one
``Limits`` (the defaults, today) and passes it down: the readers of packages,
signatures and databases and the layout cache take theirs as an argument, so a
test, or a later configuration, can change a bound in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The bounds, in bytes unless said otherwise.

    * ``signature_bytes``: a package's detached ``.sig``. 16 KiB, libalpm's own cap on a
      signature it downloads (``dload.c``); one more byte is refused.
    * ``signature_packets``: signatures in one ``.sig`` (a count). A package carries one, or a
      few from several packagers; more is refused, whether or not a keyring checks them.
    * ``pkginfo_bytes``: the ``.PKGINFO`` a package may claim (makepkg writes a few KB);
      a larger claim is refused before any memory is spent on it.
    * ``db_member_bytes``: one ``desc`` or ``files`` member of a database archive.
    * ``whole_read_bytes``: a package up to this size is read into memory whole, hashed and
      parsed there (faster); a larger one is streamed. A speed bound, not a refusal.
    * ``layouts_kept``: layouts the layout cache keeps (a count); the least recently used
      go first.
    """

    signature_bytes: int = 16384
    signature_packets: int = 64
    pkginfo_bytes: int = 16 << 20
    db_member_bytes: int = 256 << 20
    whole_read_bytes: int = 8 << 20
    layouts_kept: int = 64


DEFAULT_LIMITS = Limits()
