"""The configuration file: keys, types, errors naming the file, options on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from repotools.config import Config, load_config, parse_config
from repotools.errors import ConfigError
from repotools.trust.siglevel import Mode, parse_siglevel
from repotools.trust.situations import Action, Situation


def test_every_key() -> None:
    cfg = parse_config(
        b'pkg-keyring = "/srv/keyring"\nsiglevel = "Required:2 TrustAll"\nSigNoSignature = "abort"\n'
        b'SigDatabaseUnsigned = "warn"\nSigHashed = "abort"\nSigPreviouslySigned = "accept"\n',
        "/etc/x.conf",
    )
    assert cfg.source == "/etc/x.conf"
    assert cfg.pkg_keyring == "/srv/keyring"
    assert cfg.siglevel == parse_siglevel("Required:2 TrustAll")
    assert cfg.situations.action(Situation.NO_SIGNATURE) is Action.ABORT
    assert cfg.situations.action(Situation.DATABASE_UNSIGNED) is Action.WARN
    assert cfg.situations.action(Situation.HASHED) is Action.ABORT
    assert cfg.situations.action(Situation.PREVIOUSLY_SIGNED) is Action.ACCEPT


def test_empty_file_is_the_defaults() -> None:
    cfg = parse_config(b"", "f")
    assert cfg.pkg_keyring is None and cfg.siglevel is None
    assert cfg.situations.action(Situation.NO_SIGNATURE) is Action.WARN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'pkg_keyring = "/x"\n', r"^/c\.conf: unknown key 'pkg_keyring' \(known keys: pkg-keyring, siglevel, "),
        (b"siglevel = 2\n", r"^/c\.conf: 'siglevel' must be a string, not int\.$"),
        (b"pkg-keyring = true\n", r"'pkg-keyring' must be a string, not bool"),
        (b'pkg-keyring = ""\n', r"'pkg-keyring' is empty"),
        (b'siglevel = "Requird"\n', r"^/c\.conf: 'siglevel': Invalid signature level word 'Requird'"),
        (b'SigHashed = "maybe"\n', r"'SigHashed' must be accept, warn or abort, not 'maybe'"),
        (b"[table]\nx = 1\n", r"unknown key 'table'"),
        (b"siglevel = \n", r"^/c\.conf: not valid TOML"),
        (b"\xff\xfe", r"^/c\.conf: not UTF-8 text"),
    ],
)
def test_errors_name_the_file(text: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "/c.conf")


def test_options_override_the_file() -> None:
    cfg = parse_config(b'pkg-keyring = "/a"\nsiglevel = "Never"\n', "f").with_options(
        pkg_keyring="/b", siglevel="Required:2"
    )
    assert cfg.pkg_keyring == "/b"
    assert cfg.siglevel is not None and cfg.siglevel.package.count == 2
    same = cfg.with_options()
    assert same == cfg


def test_load_from_environment(tmp_path: Path) -> None:
    conf = tmp_path / "r.conf"
    conf.write_text('siglevel = "PackageNever"\n')
    cfg = load_config({"REPOTOOLS_CONFIG": str(conf)})
    assert cfg.source == str(conf)
    assert cfg.siglevel is not None and cfg.siglevel.package.mode is Mode.NEVER


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found \(REPOTOOLS_CONFIG\)"):
        load_config({"REPOTOOLS_CONFIG": str(tmp_path / "nope.conf")})


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    conf = tmp_path / "dir.conf"
    conf.mkdir()
    with pytest.raises(ConfigError, match=r"cannot read the configuration file"):
        load_config({"REPOTOOLS_CONFIG": str(conf)})


def test_default_path_missing_is_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("repotools.config.DEFAULT_PATH", str(tmp_path / "absent.conf"))
    assert load_config({}) == Config()


def test_a_relative_keyring_is_relative_to_the_configuration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not to the directory repo-add runs in, where a directory of that name may be anything."""
    monkeypatch.chdir(tmp_path)
    conf = tmp_path / "etc" / "repotools.conf"
    assert parse_config(b'pkg-keyring = "keys/gnupg"\n', str(conf)).pkg_keyring == str(tmp_path / "etc/keys/gnupg")
    assert parse_config(b'pkg-keyring = "/srv/k"\n', str(conf)).pkg_keyring == "/srv/k"
