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
    * ``package_members``, ``package_names_bytes``: the members of one package (a count), and the
      bytes of their names together. The largest packages hold some 10^5 files; a few hundred
      bytes of archive can claim millions of empty members, each a name kept in memory until the
      database is written (about 100 bytes a member).
    * ``pkginfo_bytes``: the ``.PKGINFO`` a package may claim (makepkg writes a few KB);
      a larger claim is refused before any memory is spent on it.
    * ``db_member_bytes``: one ``desc`` or ``files`` member of a database archive (the ``files``
      of a package of 150,000 files is about 10 MB).
    * ``db_bytes``, ``db_members``: all the members of one database archive read into memory (the
      bytes of their contents, and a count): what a small, highly compressed archive can claim.
      An update holds a database's members about three times over at its peak (read, the tar
      stream of a chunk, its compressed copy), so ``db_bytes`` bounds it to some 3 GiB.
    * ``whole_read_bytes``: a package up to this size is read into memory whole, hashed and
      parsed there (faster); a larger one is streamed. A speed bound, not a refusal.
    * ``layouts_kept``: layouts the layout cache keeps (a count); the least recently used
      go first.
    """

    signature_bytes: int = 16384
    signature_packets: int = 64
    package_members: int = 1_000_000
    package_names_bytes: int = 128 << 20
    pkginfo_bytes: int = 16 << 20
    db_member_bytes: int = 64 << 20
    db_bytes: int = 1 << 30
    db_members: int = 4_000_000
    whole_read_bytes: int = 8 << 20
    layouts_kept: int = 64


DEFAULT_LIMITS = Limits()
