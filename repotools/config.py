"""Configuration: one frozen object, built once from the file, the environment and the options.

The file is TOML, ``/etc/repotools.conf`` or the path in ``REPOTOOLS_CONFIG``::

    pkg-keyring = "/etc/pacman.d/gnupg"   # the package keyring (a GnuPG home)
    siglevel = "Required TrustedOnly"     # the signature level packages must meet
    SigNoSignature = "warn"               # accept | warn | abort, for each situation
    SigDatabaseUnsigned = "accept"
    SigHashed = "accept"
    SigPreviouslySigned = "warn"

A relative ``pkg-keyring`` is taken relative to the directory of the file.
A missing ``/etc/repotools.conf`` is an empty configuration; a missing file
named by ``REPOTOOLS_CONFIG``, an unknown key or a wrong type is an error naming
the file. Options given on the command line override the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, InvalidSigLevel

if TYPE_CHECKING:  # trust is imported when a file or an option needs it: not on every run
    from .trust.siglevel import SigLevel
    from .trust.situations import SituationPolicy

__all__ = ["DEFAULT_PATH", "ENV_VAR", "Config", "load_config", "parse_config"]

DEFAULT_PATH = "/etc/repotools.conf"
ENV_VAR = "REPOTOOLS_CONFIG"


@dataclass(frozen=True)
class Config:
    source: str | None = None  # the file read, if any
    pkg_keyring: str | None = None
    siglevel: SigLevel | None = None  # None: no level set anywhere
    siglevel_text: str | None = None
    situation_policy: SituationPolicy | None = None  # None: the defaults

    @property
    def situations(self) -> SituationPolicy:
        """The action for each situation a verifier meets."""
        if self.situation_policy is not None:
            return self.situation_policy
        from .trust.situations import SituationPolicy

        return SituationPolicy()

    def with_options(self, pkg_keyring: str | None = None, siglevel: str | None = None) -> Config:
        """This configuration with the command line's options on top."""
        new = self
        if pkg_keyring is not None:
            new = replace(new, pkg_keyring=pkg_keyring)
        if siglevel is not None:
            from .trust.siglevel import parse_siglevel

            new = replace(new, siglevel=parse_siglevel(siglevel), siglevel_text=siglevel)
        return new


def _string(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source}: '{key}' must be a string, not {type(value).__name__}.")
    return value


def parse_config(text: bytes, source: str) -> Config:
    """Build a Config from the bytes of a TOML file; errors name ``source``."""
    import tomllib

    from .trust.siglevel import parse_siglevel
    from .trust.situations import Action, Situation, SituationPolicy

    try:
        data: Mapping[str, Any] = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}.") from None
    config = Config(source=source)
    situations = SituationPolicy()
    names = {s.value: s for s in Situation}
    for key, value in data.items():
        if key == "pkg-keyring":
            path = _string(source, key, value)
            if not path:
                raise ConfigError(f"{source}: 'pkg-keyring' is empty.")
            # relative to the file, not to wherever repo-add happens to run
            config = replace(config, pkg_keyring=os.path.join(os.path.dirname(os.path.abspath(source)), path))
        elif key == "siglevel":
            spec = _string(source, key, value)
            try:
                config = replace(config, siglevel=parse_siglevel(spec), siglevel_text=spec)
            except InvalidSigLevel as e:
                raise ConfigError(f"{source}: 'siglevel': {e}") from None
        elif key in names:
            word = _string(source, key, value)
            try:
                action = Action(word)
            except ValueError:
                raise ConfigError(f"{source}: '{key}' must be accept, warn or abort, not '{word}'.") from None
            situations = situations.with_action(names[key], action)
        else:
            known = ", ".join(["pkg-keyring", "siglevel", *names])
            raise ConfigError(f"{source}: unknown key '{key}' (known keys: {known}).")
    return replace(config, situation_policy=situations)


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file: ``$REPOTOOLS_CONFIG``, else ``/etc/repotools.conf`` if present."""
    env = os.environ if environ is None else environ
    named = env.get(ENV_VAR)
    path = named or DEFAULT_PATH
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        if named:
            raise ConfigError(f"{path}: configuration file not found ({ENV_VAR}).") from None
        return Config()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the configuration file: {e.strerror}.") from None
    return parse_config(text, path)
