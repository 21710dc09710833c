"""OpenPGP and trust, and the only importer of pysequoia and python-gnupg: keyrings and their web of
trust, signature verdicts, SigLevel, the accept/warn/abort situations, the user's own gpg. May import
``repotools.errors``, ``limits`` and ``fs``."""
