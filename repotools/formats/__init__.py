"""Pure formats: ``.PKGINFO``, ``desc``/``files`` entries, version comparison, database file names and the
compression table. Bytes and values in, bytes and values out; may import only ``repotools.errors`` and
``repotools.limits``."""
