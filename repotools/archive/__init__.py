"""Every archive read and write, and the only importer of libarchive: loading it (``_lib``), package
scans (``package``), database reads and writes (``database``). May import ``repotools.db``, ``fs``,
``errors`` and ``limits``."""
