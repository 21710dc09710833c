"""File-system and process mechanics with no policy: atomic replacement, directory fsync, the lock file,
holding the stop signals, the fork pool. May import ``repotools.errors`` and ``repotools.events`` only."""
