"""The situations (``repotools.trust.situations``): their default actions, and what each action does."""

from __future__ import annotations

import pytest

from repotools.errors import SituationAborted
from repotools.trust.situations import Action, Situation, SituationPolicy


def test_situation_defaults() -> None:
    p = SituationPolicy()
    assert p.action(Situation.NO_SIGNATURE) is Action.WARN
    assert p.action(Situation.DATABASE_UNSIGNED) is Action.ACCEPT
    assert p.action(Situation.HASHED) is Action.ACCEPT
    assert p.action(Situation.PREVIOUSLY_SIGNED) is Action.WARN


def test_situation_actions() -> None:
    p = SituationPolicy().with_action(Situation.HASHED, Action.ABORT)
    assert p.apply(Situation.DATABASE_UNSIGNED, "foo") is None
    assert p.apply(Situation.NO_SIGNATURE, "foo") == "foo: no signature anywhere (SigNoSignature = warn)."
    with pytest.raises(SituationAborted, match=r"foo: unsigned, trusted only through its SHA-256 .*SigHashed = abort"):
        p.apply(Situation.HASHED, "foo")
    assert SituationPolicy().action(Situation.HASHED) is Action.ACCEPT  # with_action made a new object
