"""The one table from what failed to what the user sees: the level of its message and the exit status.

pacman 6.0.2's scripts exit 1 on every failure, a usage error included, so every row
says 1 today; the table is where a later status (pacman 7's 2 for a held lock, say)
would be decided, for every command at once. The first row matching an exception's
class, or its nearest base class, wins.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import NamedTuple

import typer

from ..db.model import RunFailed
from ..errors import RepoToolsError
from ..events import Event, Level

__all__ = ["FAILURES", "SIGNAL_MESSAGES", "Failure", "Interrupted", "exit_status", "failure_of", "report_lines"]


class Interrupted(BaseException):
    """A stop signal (HUP, QUIT, INT, TERM), raised where the run is, as pacman's traps.

    Not an Exception, so that nothing on the way catches it: it unwinds the run, whose
    ``finally`` blocks remove the lock and the temporary files, and ends it with exit 1.
    """


# pacman's messages (its traps in repo-add), for fs.signals.STOP_SIGNALS
SIGNAL_MESSAGES = {
    signal.SIGHUP: "HUP signal caught. Exiting...",
    signal.SIGQUIT: "QUIT signal caught. Exiting...",
    signal.SIGINT: "Aborted by user! Exiting...",
    signal.SIGTERM: "TERM signal caught. Exiting...",
}


class Failure(NamedTuple):
    level: Level | None  # how its message is printed; None: not at all
    status: int  # the exit status


FAILURES: Mapping[type[BaseException], Failure] = {
    RunFailed: Failure(Level.MSG, 1),  # "No packages modified, nothing to do.": pacman's msg, after the errors
    RepoToolsError: Failure(Level.ERROR, 1),  # a held lock is two error lines (LockHeld.lines)
    Interrupted: Failure(Level.ERROR, 1),  # pacman's trap message
    typer.Exit: Failure(None, 0),  # --help, --version, a failed run already reported: the status it carries
    typer.TyperException: Failure(Level.ERROR, 1),  # a usage error: pacman exits 1, not click's 2
    typer.Abort: Failure(Level.ERROR, 1),
    KeyboardInterrupt: Failure(Level.ERROR, 1),
    BrokenPipeError: Failure(None, 1),  # standard output closed: nothing more can be said
}


def failure_of(error: BaseException) -> Failure:
    """The row for ``error``: its class's, or its nearest base class's."""
    for cls in type(error).__mro__:
        row = FAILURES.get(cls)
        if row is not None:
            return row
    raise error  # not ours to turn into a message: a bug, shown as Python shows it


def exit_status(error: BaseException) -> int:
    """The exit status ``error`` ends the run with."""
    if isinstance(error, typer.Exit):
        return error.exit_code
    return failure_of(error).status


def report_lines(error: BaseException) -> list[Event]:
    """The messages that say ``error``, each as printed."""
    row = failure_of(error)
    if row.level is None:
        return []
    if isinstance(error, RepoToolsError):
        lines = error.lines()
    elif isinstance(error, typer.TyperException):
        lines = [error.format_message()]  # empty when the usage was printed instead (repotools, no command)
    elif isinstance(error, (typer.Abort, KeyboardInterrupt)):
        lines = [SIGNAL_MESSAGES[signal.SIGINT]]
    else:
        lines = [str(error)]
    return [Event(row.level, line) for line in lines if line]
