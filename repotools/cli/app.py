"""The command line: ``repo-add``, ``repo-remove`` and ``repotools {add,remove}``.

A thin layer: it builds a request from the options, runs it and is the one place
that turns exceptions into messages and exit codes (0 success, 1 any error, a
usage error included, as pacman 6.0.2's scripts).
"""

# no `from __future__ import annotations` here: typer would then evaluate every option's annotation
# string at each start (about 3 ms), where compiled annotations cost nothing more

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from typer.main import get_command

from .. import __version__
from ..db.model import AddOptions, Outcome, RunFailed
from ..errors import RepoToolsError
from ..events import Event
from ..update.request import AddRequest, RemoveRequest, VerifyRequest
from .failures import SIGNAL_MESSAGES, Interrupted, exit_status, report_lines
from .output import Printer

if TYPE_CHECKING:
    from ..update.gate import SignatureGate

CONTEXT = {"help_option_names": ["-h", "--help"], "allow_interspersed_args": True}

Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Minimize output: only warnings and errors.")]
NoColor = Annotated[bool, typer.Option("--nocolor", help="Turn off color in output.")]
Sign = Annotated[bool, typer.Option("-s", "--sign", help="Sign the database with GnuPG after the update.")]
Key = Annotated[
    str | None,
    typer.Option("-k", "--key", envvar="GPGKEY", metavar="<key>", help="Use this key to sign the database."),
]
Verify = Annotated[bool, typer.Option("-v", "--verify", help="Verify the database's signature before the update.")]
Wait = Annotated[bool, typer.Option("-w", "--wait-for-lock", help="Wait for the lock instead of failing.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check and report what would change; write nothing.")]
Json = Annotated[
    bool, typer.Option("--json", help="Print a JSON report on standard output (messages: only warnings and errors).")
]


def _stop(signum: int, _frame: object) -> None:
    # as pacman's trap_exit: the traps are unhooked first, so that a second signal cannot
    # break off the cleaning up of the first
    for other in SIGNAL_MESSAGES:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(SIGNAL_MESSAGES[signal.Signals(signum)])


def _trap_signals() -> None:
    for signum in SIGNAL_MESSAGES:
        # one ignored on entry stays ignored (nohup, a background job), as bash's traps
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _stop)


def _version(value: bool) -> None:
    if value:
        prog = os.path.basename(sys.argv[0]) or "repotools"
        typer.echo(f"{prog} (repotools) {__version__}")
        raise typer.Exit(0)


VersionOpt = Annotated[
    bool,
    typer.Option("-V", "--version", callback=_version, is_eager=True, help="Show the version and exit."),
]


Request = AddRequest | RemoveRequest | VerifyRequest


def _run(
    build: Callable[[], AddRequest | RemoveRequest],
    *,
    command: str,
    db: str,
    targets: Sequence[str],
    verify: bool,
    key: str | None,
    dry_run: bool,
    quiet: bool,
    nocolor: bool,
    json_out: bool,
) -> None:
    """Build the request (the signature gate reads the configuration: that may fail too), run it,
    say how it ended; exit with the status the failure table gives. ``-v`` with nothing to add or
    remove only verifies the database, as repo-add's ``-v`` alone."""
    from ..update.transaction import update, verify_only

    printer = Printer(quiet=quiet or json_out, color=not nocolor)
    events: list[Event] = []

    def report(event: Event) -> None:
        events.append(event)
        printer(event)

    req: Request | None = None
    outcome: Outcome | None = None
    error: str | None = None
    status = 0
    try:
        req = VerifyRequest(db_path=db, key=key) if verify and not targets and not dry_run else build()
        if isinstance(req, VerifyRequest):
            verify_only(req, report)
        else:
            outcome = update(req, report)
    except (RepoToolsError, Interrupted) as e:
        if isinstance(e, RunFailed):
            outcome = e.outcome
        elif isinstance(e, Interrupted) and not json_out:
            _end_line()
        error, status = str(e), exit_status(e)
        for event in report_lines(e):  # a held lock is two errors, as pacman prints it
            report(event)
    if json_out:
        from ..update.gate import SignatureGate
        from .report import run_report

        gate = req.gate if isinstance(req, AddRequest) else None

        doc = run_report(
            command=command,
            database=db,
            dry_run=dry_run,
            targets=targets,
            outcome=outcome,
            error=error,
            events=events,
            packages=gate.report(targets) if isinstance(gate, SignatureGate) else [],
        )
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
    if error is not None:
        raise typer.Exit(status)


def _signature_gate(pkg_keyring: str | None, siglevel: str | None) -> "SignatureGate":
    """The package signature gate from the configuration file and the options."""
    from ..config import load_config
    from ..trust.keyring import find_default_keyring
    from ..update.gate import SignatureGate

    config = load_config().with_options(pkg_keyring=pkg_keyring, siglevel=siglevel)
    home = config.pkg_keyring or find_default_keyring()
    return SignatureGate.build(home, config.siglevel.package if config.siglevel else None)


def _usage(ctx: typer.Context, json_out: bool) -> NoReturn:
    """No database path (none, or an empty one): pacman's scripts print the usage and exit 1.
    With --json, standard output is the report's alone: an error line instead."""
    if json_out:
        Printer(color=False).error("Missing argument '<path-to-db>'.")
    else:
        typer.echo(ctx.get_help(), color=ctx.color)
    raise typer.Exit(1)


def add(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Argument(metavar="<path-to-db>", help="The database, e.g. repo.db.tar.gz.")] = None,
    packages: Annotated[list[str] | None, typer.Argument(metavar="<package> ...", help="Package files to add.")] = None,
    new: Annotated[
        bool, typer.Option("-n", "--new", help="Only add packages that are not already in the database.")
    ] = False,
    remove: Annotated[
        bool, typer.Option("-R", "--remove", help="Remove the old package file after updating the database.")
    ] = False,
    prevent_downgrade: Annotated[
        bool, typer.Option("-p", "--prevent-downgrade", help="Do not add a package if a newer version is present.")
    ] = False,
    include_sigs: Annotated[
        bool, typer.Option("--include-sigs", help="Embed package signatures (always done; accepted for pacman 7).")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j", "--jobs", min=1, metavar="N", help="Read N packages in parallel (default: the number of CPUs)."
        ),
    ] = None,
    quiet: Quiet = False,
    nocolor: NoColor = False,
    sign: Sign = False,
    key: Key = None,
    verify: Verify = False,
    wait_for_lock: Wait = False,
    pkg_keyring: Annotated[
        str | None,
        typer.Option(
            "--pkg-keyring",
            metavar="DIR",
            help="Check package signatures against this GnuPG home (default: pkg-keyring in the configuration, else /etc/pacman.d/gnupg).",
        ),
    ] = None,
    siglevel: Annotated[
        str | None,
        typer.Option(
            "--siglevel", metavar="SPEC", help="Signature level packages must meet, e.g. 'Required:2 TrustedOnly'."
        ),
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
    version: VersionOpt = False,
) -> None:
    """Add package files to a pacman repository database (and its files database)."""
    if not db:
        _usage(ctx, json_out)
    targets = packages or []

    def build() -> AddRequest:
        return AddRequest(
            db_path=db,
            packages=targets,
            options=AddOptions(only_new=new, remove_old=remove, prevent_downgrade=prevent_downgrade),
            sign=sign,
            key=key,
            verify=verify,
            wait_for_lock=wait_for_lock,
            jobs=jobs or 0,
            dry_run=dry_run,
            gate=_signature_gate(pkg_keyring, siglevel),
        )

    _run(
        build,
        command="add",
        db=db,
        targets=targets,
        verify=verify,
        key=key,
        dry_run=dry_run,
        quiet=quiet,
        nocolor=nocolor,
        json_out=json_out,
    )


# repo-add's own options, which repo-remove accepts and ignores: pacman's two scripts share one
# option parser. Hidden from --help, as from pacman's repo-remove usage; repo-remove(8) lists them.
_IGNORED = "Accepted for compatibility with repo-add; ignored."


def remove(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Argument(metavar="<path-to-db>", help="The database, e.g. repo.db.tar.gz.")] = None,
    names: Annotated[
        list[str] | None, typer.Argument(metavar="<packagename> ...", help="Package names to remove.")
    ] = None,
    _new: Annotated[bool, typer.Option("-n", "--new", hidden=True, help=_IGNORED)] = False,
    _remove: Annotated[bool, typer.Option("-R", "--remove", hidden=True, help=_IGNORED)] = False,
    _prevent_downgrade: Annotated[
        bool, typer.Option("-p", "--prevent-downgrade", hidden=True, help=_IGNORED)
    ] = False,
    _include_sigs: Annotated[bool, typer.Option("--include-sigs", hidden=True, help=_IGNORED)] = False,
    _jobs: Annotated[int | None, typer.Option("-j", "--jobs", min=1, metavar="N", hidden=True, help=_IGNORED)] = None,
    quiet: Quiet = False,
    nocolor: NoColor = False,
    sign: Sign = False,
    key: Key = None,
    verify: Verify = False,
    wait_for_lock: Wait = False,
    dry_run: DryRun = False,
    json_out: Json = False,
    version: VersionOpt = False,
) -> None:
    """Remove packages, by name, from a pacman repository database (and its files database)."""
    if not db:
        _usage(ctx, json_out)
    targets = names or []

    def build() -> RemoveRequest:
        return RemoveRequest(
            db_path=db,
            names=targets,
            sign=sign,
            key=key,
            verify=verify,
            wait_for_lock=wait_for_lock,
            dry_run=dry_run,
        )

    _run(
        build,
        command="remove",
        db=db,
        targets=targets,
        verify=verify,
        key=key,
        dry_run=dry_run,
        quiet=quiet,
        nocolor=nocolor,
        json_out=json_out,
    )


app = typer.Typer(
    name="repotools",
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("add", context_settings=CONTEXT)(add)
app.command("remove", context_settings=CONTEXT)(remove)

repo_add_app = typer.Typer(add_completion=False, context_settings=CONTEXT)
repo_add_app.command(context_settings=CONTEXT)(add)
repo_remove_app = typer.Typer(add_completion=False, context_settings=CONTEXT)
repo_remove_app.command(context_settings=CONTEXT)(remove)


def _end_line() -> None:
    # pacman's trap_exit echoes an empty line first (the terminal has echoed ^C on the current one)
    with suppress(OSError, ValueError):
        sys.stdout.write("\n")
        sys.stdout.flush()


def _invoke(app_: typer.Typer, prog: str, argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _trap_signals()
    try:
        code = get_command(app_).main(args=args, prog_name=prog, standalone_mode=False)
    except (typer.Exit, typer.TyperException, typer.Abort, KeyboardInterrupt, Interrupted, BrokenPipeError) as e:
        # outside a run, which reports its own failures: parsing the options, --help, ^C meanwhile
        if isinstance(e, Interrupted):
            _end_line()
        printer = Printer(color=False)
        for event in report_lines(e):
            printer(event)
        return exit_status(e)
    return code if isinstance(code, int) else 0


def _entry(app_: typer.Typer, prog: str) -> Callable[[Sequence[str] | None], None]:
    def run(argv: Sequence[str] | None = None) -> None:
        sys.exit(_invoke(app_, prog, argv))

    return run


repo_add = _entry(repo_add_app, "repo-add")
repo_remove = _entry(repo_remove_app, "repo-remove")
main = _entry(app, "repotools")
