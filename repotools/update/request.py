"""What one ``repo-add`` or ``repo-remove`` run is asked to do: frozen, keyword-only, typed.

Requests are never compared: ``eq=False`` spares every start-up the generated ``__eq__`` and
``__hash__`` (about 0.2 ms a class, measured; a one-package update takes about 130 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..db.model import AddOptions
from ..limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from .gate import PackageGate

__all__ = ["AddRequest", "RemoveRequest", "UpdateRequest", "VerifyRequest"]


@dataclass(frozen=True, kw_only=True, eq=False)
class _Common:
    db_path: str
    sign: bool = False  # -s
    key: str | None = None  # -k
    verify: bool = False  # -v: the existing database's signature, before the update
    wait_for_lock: bool = False  # -w
    dry_run: bool = False  # check and report, write nothing
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True, kw_only=True, eq=False)
class AddRequest(_Common):
    """``repo-add``: package files into the database."""

    packages: Sequence[str] = ()
    options: AddOptions = field(default_factory=AddOptions)
    jobs: int = 0  # worker processes reading packages; 0: one a CPU
    gate: PackageGate | None = None  # None: signatures embedded, nothing checked or said


@dataclass(frozen=True, kw_only=True, eq=False)
class RemoveRequest(_Common):
    """``repo-remove``: entries out of the database, by package name."""

    names: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True, eq=False)
class VerifyRequest:
    """``repo-add -v db`` with no package: check the database's signatures, change nothing."""

    db_path: str
    key: str | None = None


UpdateRequest = AddRequest | RemoveRequest
