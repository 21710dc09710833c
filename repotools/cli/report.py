"""The machine-readable report of a run (``--json``): a versioned document.

Format 1::

    {"format": 1, "command": "add" | "remove", "database": str, "dry_run": bool,
     "ok": bool, "error": str | null, "errors": [str],
     "added": [entry], "replaced": [entry], "removed": [name], "skipped": [entry],
     "removed_files": [path],
     "packages": [{"path", "checked", "accepted", "error", "signatures": [
         {"index", "verdict", "issuer", "fingerprint", "user_id", "validity",
          "trusted", "created", "detail"}]}],
     "messages": [{"level": "msg" | "msg2" | "warning" | "error", "text": str}]}

``added``/``replaced``/``removed_files`` say what would be done on a dry run. A run
that fails changes nothing, and they are empty; ``error`` is the run's last word
(pacman's ``No packages modified, nothing to do.``), ``errors`` every error message,
in order (each refused package, each bad file).
Keys are only ever added within a format number.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..db.model import Outcome
from ..events import Event, Level

__all__ = ["FORMAT", "run_report"]

FORMAT = 1


def run_report(
    *,
    command: str,
    database: str,
    dry_run: bool,
    targets: Sequence[str],
    outcome: Outcome | None,
    error: str | None,
    events: Sequence[Event],
    packages: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    out = Outcome() if outcome is None or error is not None else outcome
    return {
        "format": FORMAT,
        "command": command,
        "database": database,
        "dry_run": dry_run,
        "ok": error is None,
        "error": error,
        "errors": [e.text for e in events if e.level is Level.ERROR],
        "added": list(out.added),
        "replaced": list(out.replaced),
        "removed": list(out.removed) if command == "remove" else [],
        "skipped": list(out.skipped),
        # a dry run: the files -R would delete; a run: those it deleted
        "removed_files": [f for f in out.obsolete_files if os.path.lexists(f)] if dry_run else list(out.obsolete_files),
        "packages": list(packages),
        "messages": [{"level": e.level.value, "text": e.text} for e in events],
    }
