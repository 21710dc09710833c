"""The accept/warn/abort situations a verifier meets (``SigNoSignature`` and the others), and what the
configuration says to do in each. Pure: a situation and a subject in, a warning or ``SituationAborted`` out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from ..errors import SituationAborted

__all__ = ["DEFAULT_ACTIONS", "Action", "Situation", "SituationPolicy"]


class Action(Enum):
    ACCEPT = "accept"
    WARN = "warn"
    ABORT = "abort"


class Situation(Enum):
    """The situations a verifier meets, by their configuration names."""

    NO_SIGNATURE = "SigNoSignature"  # neither the package nor the database entry carries a signature
    DATABASE_UNSIGNED = "SigDatabaseUnsigned"  # packages are signed, the database is not
    HASHED = "SigHashed"  # the package is unsigned but listed by SHA-256 in a signed database
    PREVIOUSLY_SIGNED = "SigPreviouslySigned"  # an earlier version was signed, this one is not


_SITUATION_TEXT = {
    Situation.NO_SIGNATURE: "{subject}: no signature anywhere",
    Situation.DATABASE_UNSIGNED: "{subject}: the package is signed but the database is not",
    Situation.HASHED: "{subject}: unsigned, trusted only through its SHA-256 in the signed database",
    Situation.PREVIOUSLY_SIGNED: "{subject}: signed before, unsigned now",
}

DEFAULT_ACTIONS: Mapping[Situation, Action] = {
    Situation.NO_SIGNATURE: Action.WARN,
    Situation.DATABASE_UNSIGNED: Action.ACCEPT,
    Situation.HASHED: Action.ACCEPT,
    Situation.PREVIOUSLY_SIGNED: Action.WARN,
}


@dataclass(frozen=True)
class SituationPolicy:
    """The action configured for each situation (defaults: warn, accept, accept, warn)."""

    actions: Mapping[Situation, Action] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def action(self, situation: Situation) -> Action:
        return self.actions.get(situation, DEFAULT_ACTIONS[situation])

    def apply(self, situation: Situation, subject: str) -> str | None:
        """None to accept silently, a warning to show, or SituationAborted."""
        text = _SITUATION_TEXT[situation].format(subject=subject)
        action = self.action(situation)
        if action is Action.ABORT:
            raise SituationAborted(f"{text} ({situation.value} = abort).")
        if action is Action.WARN:
            return f"{text} ({situation.value} = warn)."
        return None

    def with_action(self, situation: Situation, action: Action) -> SituationPolicy:
        actions = dict(self.actions)
        actions[situation] = action
        return SituationPolicy(actions)
