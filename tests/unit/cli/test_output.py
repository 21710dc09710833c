"""Messages as pacman's scripts print them, each on one line whatever a name holds."""

from __future__ import annotations

import io

from repotools.cli.output import Printer, one_line
from repotools.events import Event, Level


def test_control_characters_are_escaped_and_other_text_is_kept() -> None:
    assert one_line("a\nb\x1b[31mred\tq\r\x7f\x9b é 日本") == "a\\nb\\x1b[31mred\\tq\\r\\x7f\\x9b é 日本"
    assert one_line("plain 'text' é") == "plain 'text' é"


def test_a_message_is_one_line_on_its_stream() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = Printer(color=False, out=out, err=err)
    printer(Event(Level.MSG, "Adding package 'x.pkg.tar.zst\n==> Forged line'"))
    printer(Event(Level.ERROR, "bad\x1b]0;title\x07"))
    assert out.getvalue() == "==> Adding package 'x.pkg.tar.zst\\n==> Forged line'\n"
    assert err.getvalue() == "==> ERROR: bad\\x1b]0;title\\x07\n"
