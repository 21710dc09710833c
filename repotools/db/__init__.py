"""The pure repository model: the database in memory, repo-add's and repo-remove's rules, and the chunk
plan of an archive. Opens no file; may import ``repotools.formats``, ``errors``, ``events`` and ``limits``."""
