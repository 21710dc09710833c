"""Running the tools: our console scripts and pacman 6.0.2's, an update in-process, and Python as
another user.

* ``cli`` runs one of our commands (``REPO_ADD``, ``REPO_REMOVE``, ``TOOL_ADD``, ``TOOL_REMOVE``)
  as a user runs it, under ``base_env()``, and returns a ``Result`` (``rc``, ``out``, ``err``).
* ``run_tool`` runs pacman's scripts (``REF_REPO_ADD``/``REF_REPO_REMOVE``) or ours
  (``OUR_REPO_ADD``/``OUR_REPO_REMOVE``) under ``tool_env()`` (``LC_ALL=C.UTF-8``, no stray
  GnuPG, no colour) and returns a ``ToolResult``: what the differential and client tests compare.
* ``run_update`` runs one ``repo-add`` (or, ``remove=True``, ``repo-remove``) in this process and
  returns its outcome and the messages it gave; ``add_in_process`` sets a repository up with it.
* ``readable_python`` copies repotools and what it imports into a directory another user can
  read, for the tests that run it as that user.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import repotools
from repotools.db.model import Outcome
from repotools.events import Level
from repotools.update.request import AddRequest, RemoveRequest
from repotools.update.transaction import update

from .packages import SDE

__all__ = [
    "ADDERS",
    "BIN",
    "EVERY_COMMAND",
    "OUR_REPO_ADD",
    "OUR_REPO_REMOVE",
    "PATH",
    "REF_REPO_ADD",
    "REF_REPO_REMOVE",
    "REMOVERS",
    "REPO_ADD",
    "REPO_REMOVE",
    "TOOL_ADD",
    "TOOL_REMOVE",
    "Result",
    "ToolResult",
    "add_in_process",
    "base_env",
    "cli",
    "readable_python",
    "run_tool",
    "run_update",
    "tool_env",
    "world_readable_tmpdir",
]

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# the console scripts of the environment running the tests (the project's .venv)
BIN = Path(sys.executable).parent
REPO_ADD = [str(BIN / "repo-add")]
REPO_REMOVE = [str(BIN / "repo-remove")]
TOOL_ADD = [str(BIN / "repotools"), "add"]
TOOL_REMOVE = [str(BIN / "repotools"), "remove"]
ADDERS = {"repo-add": REPO_ADD, "repotools add": TOOL_ADD}
REMOVERS = {"repo-remove": REPO_REMOVE, "repotools remove": TOOL_REMOVE}
EVERY_COMMAND = {**ADDERS, **REMOVERS}

REF_REPO_ADD = "/usr/bin/repo-add"
REF_REPO_REMOVE = "/usr/bin/repo-remove"
OUR_REPO_ADD = REPO_ADD[0]
OUR_REPO_REMOVE = REPO_REMOVE[0]


# --- our commands, as a user runs them ------------------------------------------------------


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment in a UTF-8 locale with ``SOURCE_DATE_EPOCH`` set; no colour
    settings, no ``GPGKEY``."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "SOURCE_DATE_EPOCH", "GPGKEY")}
    env.update(LC_ALL="C.UTF-8", SOURCE_DATE_EPOCH=str(SDE))
    env.update(extra)
    return env


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[bytes]) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout.decode("utf-8", "surrogateescape")
        self.err = proc.stderr.decode("utf-8", "surrogateescape")

    def __repr__(self) -> str:
        return f"rc={self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def cli(
    command: Sequence[str],
    *args: object,
    cwd: Path,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Result:
    proc = subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env or base_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        preexec_fn=preexec_fn,
        check=False,
    )
    return Result(proc)


# --- pacman's scripts and ours, side by side ---------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\n[exit {self.returncode}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def tool_env(gnupghome: str | os.PathLike[str] | None = None, **extra: str) -> dict[str, str]:
    """The environment both implementations run in: a UTF-8 locale, no colour, no stray GnuPG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "GNUPG", "GPG", "SOURCE_DATE"))}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", PATH=env.get("PATH") or PATH, NO_COLOR="1")
    env.pop("TERM", None)
    if gnupghome is not None:
        env["GNUPGHOME"] = str(gnupghome)
    env.update(extra)
    return env


def run_tool(argv: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> ToolResult:
    proc = subprocess.run(
        list(argv), check=False, cwd=cwd, env=dict(env) if env is not None else tool_env(),
        capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=300,
    )
    return ToolResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


# --- an update in this process ------------------------------------------------------------------


def run_update(
    db: str | os.PathLike[str], *targets: object, remove: bool = False, **fields: object
) -> tuple[Outcome, list[tuple[Level, str]]]:
    """One ``repo-add db targets...`` (``remove``: ``repo-remove db names...``) in this process, the
    request's other fields as given; its outcome and every message, as (level, text)."""
    events: list[tuple[Level, str]] = []
    req: AddRequest | RemoveRequest
    if remove:
        req = RemoveRequest(db_path=str(db), names=[str(t) for t in targets], **fields)  # type: ignore[arg-type]
    else:
        req = AddRequest(db_path=str(db), packages=[str(t) for t in targets], **fields)  # type: ignore[arg-type]
    outcome = update(req, lambda e: events.append((e.level, e.text)))
    return outcome, events


def add_in_process(repo: Path, *packages: Path) -> None:
    """Set a repository up quickly, without a process per step (the CLI is what is under test)."""
    run_update(repo / "repo.db.tar.gz", *packages)


# --- another user --------------------------------------------------------------------------------


@contextmanager
def world_readable_tmpdir() -> Iterator[Path]:
    """A new directory every user can read, removed on the way out: in /tmp itself when we are
    root (``TMPDIR``, and pytest's own temporary directories, may be private to us)."""
    d = Path(tempfile.mkdtemp(prefix="rt-ro-", dir="/tmp" if os.geteuid() == 0 else None))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _readable_by_others(path: Path, executable: bool = False) -> bool:
    """``path`` and every directory above it can be reached (and read) by any user."""
    mode = path.stat().st_mode
    if not mode & (stat.S_IXOTH if executable or path.is_dir() else stat.S_IROTH):
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def _distributions(name: str, seen: dict[str, metadata.Distribution]) -> None:
    """``name``'s installed distribution and, recursively, those it requires (extras left out)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return  # a requirement of another platform (colorama on Windows, say): not installed here
    key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    if key in seen:
        return
    seen[key] = dist
    for requirement in dist.requires or ():
        if "extra ==" in requirement.partition(";")[2]:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            _distributions(match.group(), seen)


def _copy_readable(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def readable_python(directory: Path) -> tuple[str, dict[str, str]]:
    """The interpreter, and the environment, that run repotools as another user.

    That user may not reach this checkout or its virtual environment (a clone under /root,
    mode 0700): repotools and every distribution it requires are copied into
    ``directory/site`` (world-readable), and the environment's base interpreter runs with
    ``PYTHONPATH`` pointing there. The interpreter and its standard library must be readable
    by every user (a system Python is).
    """
    python = Path(getattr(sys, "_base_executable", "") or sys.executable).resolve()
    stdlib = Path(os.__file__).resolve().parent
    for needed, executable in ((python, True), (stdlib, False)):
        if not _readable_by_others(needed, executable):
            raise AssertionError(f"{needed} is not readable by other users: run the tests with a system Python")
    site = directory / "site"
    site.mkdir(parents=True)
    _copy_readable(Path(repotools.__file__).resolve().parent, site / "repotools")
    found: dict[str, metadata.Distribution] = {}
    for requirement in metadata.distribution("repotools").requires or ():
        if "extra ==" not in requirement.partition(";")[2]:
            match = re.match(r"[A-Za-z0-9._-]+", requirement)
            if match:
                _distributions(match.group(), found)
    for dist in found.values():
        base = Path(str(dist.locate_file(""))).resolve()
        for file in dist.files or ():
            src = Path(str(dist.locate_file(file))).resolve()
            if src.is_file() and src.is_relative_to(base) and "__pycache__" not in src.parts:
                _copy_readable(src, site / src.relative_to(base))
    for root, dirs, files in os.walk(directory):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            os.chmod(path, 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644)
    env = {"PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return str(python), env
