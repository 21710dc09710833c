"""What a run says as it goes: an ``Event`` of a ``Level``, given to a ``Report`` callback.

Owns the message model only; imports nothing of repotools. The CLI prints events
(``cli.output``) and collects them for ``--json``; every other layer only makes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Event", "Level", "Report"]


class Level(Enum):
    """How a message is shown: repo-add's msg, msg2, warning and error."""

    MSG = "msg"
    MSG2 = "msg2"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    level: Level
    text: str


Report = Callable[[Event], None]
