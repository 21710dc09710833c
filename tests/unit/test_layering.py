"""The layering of the package, pinned: which layer may import which, and what the pure layers and
``repo-add``'s start-up load.

Two checks: every ``repotools`` import in the source (read with ``ast``, lazy imports inside
functions included) is one its subpackage's docstring allows; and fresh interpreters show
which third-party modules importing a layer, or running ``repo-add``, really loads.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import repotools

PACKAGE = Path(repotools.__file__).resolve().parent

# what each layer may import of repotools (itself always); "cli" is imported by nothing
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "events": set(),
    "limits": set(),
    "config": {"errors", "trust"},
    "formats": {"errors", "limits"},
    "db": {"formats", "errors", "events", "limits"},
    "fs": {"errors", "events"},
    "archive": {"db", "fs", "errors", "limits"},
    "trust": {"errors", "limits", "fs"},
    "update": {"formats", "db", "archive", "trust", "fs", "errors", "events", "limits"},
    "cli": {"formats", "db", "archive", "trust", "fs", "update", "errors", "events", "limits", "config", "version"},
}

LIBARCHIVE = ("libarchive",)
UI = ("typer", "rich", "click")
NETWORK = ("http.client", "urllib.request", "ssl", "requests", "httpx", "urllib3", "aiohttp", "h11", "h2")


def _layer(module: str) -> str:
    """``repotools.db.model`` -> ``db``; ``repotools`` itself (its ``__version__``) -> ``version``."""
    parts = module.split(".")
    if len(parts) < 2 or not (PACKAGE / parts[1]).is_dir() and not (PACKAGE / f"{parts[1]}.py").is_file():
        return "version"
    return parts[1]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


def _imports(module: str, path: Path) -> list[tuple[str, bool]]:
    """The repotools modules ``module`` imports, each with whether it is for typing only."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for child in node.body for n in ast.walk(child))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out += [(n, id(node) in typing_only) for n in names if n == "repotools" or n.startswith("repotools.")]
    return out


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for sub in ("formats", "db", "archive", "trust", "fs", "update", "cli"):
        doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
        assert doc and "import" in doc, f"repotools/{sub}/__init__.py must say what it may import"


def test_each_layer_imports_only_what_it_may() -> None:
    wrong = []
    for module, path in _modules():
        own = _layer(module)
        if own in ("__main__", "version"):  # python -m repotools, and the package's own __init__
            continue
        for target, typing_only in _imports(module, path):
            other = _layer(target)
            if other == own:
                continue
            if other == "cli":
                wrong.append(f"{module} imports {target}: nothing imports cli")
            elif other not in ALLOWED[own]:
                wrong.append(f"{module} imports {target}" + (" (for typing)" if typing_only else ""))
    assert wrong == []


def test_the_layering_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a relative import that climbs out of formats into archive is found."""
    fake = tmp_path / "repotools" / "formats" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..archive.database import read_database\nfrom .desc import parse_desc\n")
    assert _imports("repotools.formats.bad", fake) == [
        ("repotools.archive.database", False),
        ("repotools.formats.desc", False),
    ]


def _loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd="/", timeout=60
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _hits(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("layer", ["formats", "db", "trust"])
def test_pure_layers_load_no_libarchive_ui_or_network_module(layer: str) -> None:
    subs = [m for m, _ in _modules() if m == f"repotools.{layer}" or m.startswith(f"repotools.{layer}.")]
    modules = _loaded_after("\n".join(f"import {m}" for m in subs))
    assert set(subs) <= set(modules)
    assert _hits(modules, LIBARCHIVE + UI + NETWORK) == []


def test_the_check_sees_a_module_that_loads_libarchive() -> None:
    """The probe itself: importing the archive layer is seen to load libarchive."""
    assert _hits(_loaded_after("import repotools.archive.database"), LIBARCHIVE)


def test_repo_add_starts_without_audit_signer_or_network_modules(tmp_path: Path) -> None:
    """A whole repo-add run (an empty database created) loads neither the auditor nor the signer."""
    db = tmp_path / "start.db.tar.gz"
    code = (
        "import sys\n"
        f"sys.argv = ['repo-add', '-q', {str(db)!r}]\n"
        "from repotools.cli.launch import repo_add\n"
        "try:\n    repo_add()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
    )
    env = dict(os.environ, REPOTOOLS_CACHE_DIR="")
    script = code + "import json\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert db.is_file()
    assert "repotools.update.transaction" in modules  # the run really ran
    assert _hits(modules, ("repotools.audit", "repotools.signer") + NETWORK) == []
