"""The console scripts' start-up (``repotools.cli.launch``): imports run with the cyclic
garbage collector off, the run with it on, and what lives at exit is frozen.

Each check runs in a fresh interpreter: the point is what happens to a whole process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata

from repotools import __version__


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True, timeout=60
    )


def test_the_installed_console_scripts_go_through_the_launcher() -> None:
    scripts = {ep.name: ep.value for ep in metadata.distribution("repotools").entry_points if ep.group == "console_scripts"}
    assert scripts == {
        "repo-add": "repotools.cli.launch:repo_add",
        "repo-remove": "repotools.cli.launch:repo_remove",
        "repotools": "repotools.cli.launch:main",
    }


# counts the collections that start while a function named _launch imports repotools.cli.app
WATCH = """
    import gc, sys
    during_import = []

    def watch(phase, info):
        cli = sys.modules.get("repotools.cli.app")
        if phase != "start" or (cli is not None and hasattr(cli, "main")):
            return
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "_launch":
            frame = frame.f_back
        if frame is not None:
            during_import.append(info["generation"])

    gc.callbacks.append(watch)
"""


def test_imports_run_with_the_collector_off() -> None:
    proc = python(
        WATCH
        + """
    from repotools.cli import launch
    sys.argv = ["repo-add", "-V"]
    try:
        launch.repo_add()
    except SystemExit as e:
        print("exit", e.code, "collections during import", len(during_import))
    """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"repo-add (repotools) {__version__}", "exit 0 collections during import 0"]


def test_the_same_imports_collect_without_the_launcher() -> None:
    """The control of the test above: left on, the collector does run during these imports."""
    proc = python(
        WATCH
        + """
    def _launch():
        import repotools.cli.app

    _launch()
    print(len(during_import))
    """
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 0


def test_the_run_collects_and_what_lives_at_exit_is_frozen() -> None:
    proc = python(
        """
    import gc, sys
    import repotools.cli.app as cli
    from repotools.cli import launch
    seen = {}

    def entry():
        seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
        seen["kept"] = [[i] for i in range(1000)]  # made during the run, alive at exit
        sys.exit(3)

    cli.repo_remove = entry
    try:
        launch.repo_remove()
    except SystemExit as e:
        print(e.code, seen["enabled"], seen["frozen"] > 1000, gc.get_freeze_count() >= seen["frozen"] + 1000)
    """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "True", "True", "True"]



def test_the_run_collects_with_its_own_thresholds_and_still_frees_cycles() -> None:
    proc = python(
        """
    import gc, sys, weakref
    import repotools.cli.app as cli
    from repotools.cli import launch
    seen = {}

    class Node:
        pass

    def entry():
        seen["threshold"] = gc.get_threshold()
        cycle = Node()
        cycle.me = cycle
        seen["ref"] = weakref.ref(cycle)
        del cycle
        seen["kept"] = [[i] for i in range(250_000)]  # allocations: young collections happen
        seen["freed"] = seen["ref"]() is None
        sys.exit(0)

    cli.repo_add = entry
    try:
        launch.repo_add()
    except SystemExit:
        print(seen["threshold"] == launch._RUN_THRESHOLDS, seen["freed"])
    """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
