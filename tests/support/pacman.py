"""pacman 6.0.2 itself, as the client of a repository: ``Pacman.create(where, repo, gpgdir)`` is
pacman with a scratch root, database, cache, log, hook directory and keyring (``gpgdir``),
syncing from ``repo`` (``Server = file://...``) with ``SigLevel = Required DatabaseRequired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .snapshots import parse_desc
from .tools import ToolResult, run_tool, tool_env

__all__ = ["Pacman", "info_fields"]


@dataclass
class Pacman:
    """pacman with a scratch root, database, cache, log, hook directory and keyring."""

    root: Path
    config: Path

    @classmethod
    def create(cls, where: Path, repo: Path, gpgdir: Path) -> Pacman:
        root = where / "root"
        for sub in ("var/lib/pacman", "var/cache/pacman/pkg", "etc/pacman.d/hooks"):
            (root / sub).mkdir(parents=True)
        config = where / "pacman.conf"
        config.write_text(
            "[options]\n"
            f"RootDir = {root}\n"
            f"DBPath = {root}/var/lib/pacman/\n"
            f"CacheDir = {root}/var/cache/pacman/pkg/\n"
            f"LogFile = {where}/pacman.log\n"
            f"GPGDir = {gpgdir}/\n"
            f"HookDir = {root}/etc/pacman.d/hooks/\n"
            "Architecture = auto\n"
            "SigLevel = Required DatabaseRequired\n"
            "LocalFileSigLevel = Required\n"
            "\n"
            "[rt]\n"
            "SigLevel = Required DatabaseRequired\n"
            f"Server = file://{repo}\n"
        )
        return cls(root, config)

    def __call__(self, *args: str) -> ToolResult:
        argv = ["pacman", "--config", str(self.config), "--noconfirm", "--color", "never", *args]
        return run_tool(argv, self.root.parent, tool_env())

    def ok(self, *args: str) -> ToolResult:
        result = self(*args)
        assert result.returncode == 0, str(result)
        return result

    def installed(self) -> dict[str, str]:
        """name -> version of what pacman's local database records as installed."""
        local = self.root / "var/lib/pacman/local"
        found = {}
        for desc in local.glob("*/desc"):
            fields = parse_desc(desc.read_bytes())
            found[fields["NAME"][0]] = fields["VERSION"][0]
        query = self("-Q")  # and pacman agrees (it fails when a sync database is refused)
        if query.returncode == 0:
            assert dict(line.split(" ", 1) for line in query.stdout.splitlines()) == found
        return found


def info_fields(output: str) -> dict[str, str]:
    """``pacman -Si``/``-Qi`` output as field -> value (continuation lines joined)."""
    fields: dict[str, str] = {}
    last = ""
    for line in output.splitlines():
        if " : " in line and not line.startswith(" "):
            key, _, value = line.partition(" : ")
            last = key.strip()
            fields[last] = value.strip()
        elif line.strip() and last:
            fields[last] += "  " + line.strip()
    return fields
