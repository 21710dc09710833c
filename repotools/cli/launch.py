"""How the console scripts start and stop: with Python's cyclic garbage collector kept away
from the objects that live as long as the process.

A ``repo-add`` run that updates a large database is short, and most of the objects it
makes are the modules, classes and functions its imports create (about 20,000): they
live until the process exits and are never garbage. Left alone, the collector
traverses them again and again: the imports set off some thirty collections, and the
interpreter's shutdown runs full collections over everything still alive. On the
machines of bench/ that cost about a fifth of a one-package update (measured: shutdown
alone 45 ms, 13 ms with its objects frozen). So:

- The imports run with the collector off (they make no garbage cycles worth finding).
- Their objects are then frozen (``gc.freeze``: moved to a permanent generation that
  collections skip) and the collector is turned back on: the run itself collects its
  own cycles, and forked workers inherit the frozen objects untouched.
- The run collects less often (``_RUN_THRESHOLDS``): a run that adds thousands of packages
  keeps every record it reads until the database is written, and with Python's default
  thresholds (a young collection every 700 allocations, old ones as the heap grows by a
  quarter) the collector went over them again and again. Measured on bench/'s (d), 5,000
  packages: 5 % of the run's CPU time. Garbage cycles are rare here (exceptions caught
  with their tracebacks): one found in a young collection is freed there; one that has
  survived into the older generations waits for an old collection, which a run of this
  size may never reach, and goes with the process, as the cycles alive at exit do.
- On the way out, whatever is still alive is frozen too. Nothing is skipped: ``finally``
  blocks, atexit handlers and the finalizers of objects freed by reference counting all
  run as before; only the cyclic garbage still alive at exit is left to the operating
  system, as it would be with ``os._exit``.
"""

from __future__ import annotations

import gc

__all__ = ["main", "repo_add", "repo_remove"]

# a young collection every 100,000 allocations, an old one after 50 of them, a full one after 100 of those
_RUN_THRESHOLDS = (100_000, 50, 100)


def _launch(entry: str) -> None:
    gc.disable()
    try:
        from . import app
    finally:
        gc.freeze()
        gc.set_threshold(*_RUN_THRESHOLDS)
        gc.enable()
    try:
        getattr(app, entry)()
    finally:
        gc.freeze()


def repo_add() -> None:
    _launch("repo_add")


def repo_remove() -> None:
    _launch("repo_remove")


def main() -> None:
    _launch("main")
