"""Printing events the way pacman's scripts do: ``==>``, ``  ->``, ``==> WARNING:``, ``==> ERROR:``.

Messages go to standard output, warnings and errors to standard error. Colour
(through rich) only when standard error is a terminal, and neither ``--nocolor``
nor ``NO_COLOR`` says otherwise; rich is imported only then.

Every message is one line: a control character in it (a newline in a file name, an
escape sequence meant for the terminal) is printed as its escape (``\\n``, ``\\x1b``),
so that no name can forge a message line or drive the terminal.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ..events import Event, Level

__all__ = ["Printer", "one_line"]

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (see above)."""
    return text.translate(_ESCAPES) if not text.isprintable() else text

_PREFIX = {
    Level.MSG: ("==>", "bold green"),
    Level.MSG2: ("  ->", "bold blue"),
    Level.WARNING: ("==> WARNING:", "bold yellow"),
    Level.ERROR: ("==> ERROR:", "bold red"),
}


class Printer:
    def __init__(
        self, quiet: bool = False, color: bool = True, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._consoles = None
        if color and not os.environ.get("NO_COLOR") and self.err.isatty():
            from rich.console import Console

            self._consoles = (
                Console(file=self.out, highlight=False, soft_wrap=True),
                Console(file=self.err, highlight=False, soft_wrap=True),
            )

    def __call__(self, event: Event) -> None:
        if self.quiet and event.level in (Level.MSG, Level.MSG2):
            return
        text = one_line(event.text)
        to_err = event.level in (Level.WARNING, Level.ERROR)
        prefix, style = _PREFIX[event.level]
        if self._consoles is not None:
            from rich.text import Text

            line = Text(prefix, style=style)
            line.append(" " + text, style="bold")
            self._consoles[1 if to_err else 0].print(line)
        else:
            stream = self.err if to_err else self.out
            stream.write(f"{prefix} {text}\n")
            stream.flush()

    def error(self, text: str) -> None:
        self(Event(Level.ERROR, text))
