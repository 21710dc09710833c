"""Real GnuPG keys and keyrings for testing package-signature verification.

``KeyFactory()`` builds, with the ``gpg`` binary (ed25519 keys, about a second), two throw-away
GnuPG homes under ``/tmp`` (short paths: gpg-agent's socket path is length-limited):

* ``signers_home``: the secret keys of every key below, so tests can sign with any of them. It
  holds no revocation and all its keys are ultimately trusted: never use it as a verifier.
* ``keyring_home``: a package keyring modelled on what ``pacman-key`` manages
  (``/etc/pacman.d/gnupg``): public keys only, plus one local master key with its secret
  (ultimate ownertrust) that locally certifies (``--quick-lsign-key``) the packager keys; the
  trust database is checked (``gpg --check-trustdb``) so validities are computed.
  Treat it as read-only; ``clone_keyring()`` gives a private, modifiable copy.

The keys (``KEY_NAMES``; ``factory[name]`` is a :class:`Key`) and their validity in the keyring:

=========== ============================================================= ========
name        what                                                          validity
=========== ============================================================= ========
master      the keyring's master key (secret in the keyring, ultimate)    ``u``
alice, bob  packager keys certified by master                             ``f``
carol, dave imported but not certified: known, validity unknown           ``-``
revoked     certified by master, then revoked (hard: reason "no reason")  ``r``
expired     certified; created ~2 years ago, expired ~1 year ago          ``e``
subkeyed    certify-only primary, separate signing subkey; certified      ``f``
stranger    not in the keyring at all (``NO_PUBKEY``)                     (none)
=========== ============================================================= ========

Time line (``--faked-system-time``): every key is created at ``created`` (``now`` minus 730
days), the subkey one minute later, the master's certifications two minutes later; the revoked
and expired keys make their data signatures at ``past_sign_time`` (``created`` + 1 day), while
they were valid (before the revocation, which is dated ``now``). Every other key signs at the
real current time. ``sign_expiring`` makes a signature at ``past_sign_time`` that expired one
day later.

What gpg reports for signatures verified against ``keyring_home`` (``--status-fd``):
master ``GOODSIG``+``VALIDSIG``+``TRUST_ULTIMATE``; alice, bob, subkeyed ``GOODSIG``+``VALIDSIG``
+``TRUST_FULLY``; carol, dave ``GOODSIG``+``VALIDSIG``+``TRUST_UNDEFINED``; stranger ``ERRSIG``
+``NO_PUBKEY``; revoked ``REVKEYSIG``; expired ``EXPKEYSIG``; ``sign_expiring`` ``EXPSIG``; data
changed after signing ``BADSIG``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = ["KEY_NAMES", "Key", "KeyFactory", "gpg_env"]

DAY = 86400
#: How long before "now" every key is created.
KEY_AGE = 730 * DAY
#: Lifetime of the ``expired`` key (it expired KEY_AGE - EXPIRED_LIFETIME seconds ago).
EXPIRED_LIFETIME = 365 * DAY


@dataclass(frozen=True)
class _Spec:
    name: str
    uid: str
    in_keyring: bool = True
    certified: bool = False
    revoked: bool = False
    lifetime: int | None = None
    subkey: bool = False
    validity: str | None = "-"


_SPECS: tuple[_Spec, ...] = (
    _Spec("master", "Pacman Keyring Master Key <pacman@localhost>", validity="u"),
    _Spec("alice", "Alice Packager <alice@example.org>", certified=True, validity="f"),
    _Spec("bob", "Bob Packager <bob@example.org>", certified=True, validity="f"),
    _Spec("carol", "Carol Untrusted <carol@example.org>"),
    _Spec("dave", "Dave Untrusted <dave@example.org>"),
    _Spec("revoked", "Rex Revoked <revoked@example.org>", certified=True, revoked=True, validity="r"),
    _Spec("expired", "Eve Expired <expired@example.org>", certified=True, lifetime=EXPIRED_LIFETIME, validity="e"),
    _Spec("subkeyed", "Sam Subkeyed <subkeyed@example.org>", certified=True, subkey=True, validity="f"),
    _Spec("stranger", "Stan Stranger <stranger@example.org>", in_keyring=False, validity=None),
)

#: Every key name, in build order.
KEY_NAMES: tuple[str, ...] = tuple(spec.name for spec in _SPECS)


@dataclass(frozen=True)
class Key:
    """One key of the factory.

    ``fingerprint`` is the primary key's, ``signing_fingerprint`` the (sub)key that makes data
    signatures (they differ only for ``subkeyed``); both 40 uppercase hex digits. ``validity`` is
    the colon-listing validity letter in the package keyring (None: not in it). ``sign_time`` is
    the epoch at which ``KeyFactory.sign`` makes this key's signatures (None: the current time).
    """

    name: str
    uid: str
    email: str
    fingerprint: str
    signing_fingerprint: str
    created: int
    expires: int | None
    in_keyring: bool
    certified: bool
    revoked: bool
    validity: str | None
    sign_time: int | None

    @property
    def keyid(self) -> str:
        """The primary key's long key ID (16 uppercase hex digits)."""
        return self.fingerprint[-16:]

    @property
    def signing_keyid(self) -> str:
        """The signing (sub)key's long key ID, as in ``GOODSIG``/``ERRSIG``/``NO_PUBKEY`` lines."""
        return self.signing_fingerprint[-16:]

    @property
    def trusted(self) -> bool:
        """Whether the package keyring considers the key valid (validity ``u`` or ``f``)."""
        return self.validity in ("u", "f")


def gpg_env() -> dict[str, str]:
    """The environment gpg runs in: C.UTF-8 locale, no stray GNUPGHOME/GPG_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "GNUPG", "GPG"))}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.pop("TERM", None)
    return env


def _mkhome() -> Path:
    path = Path(tempfile.mkdtemp(prefix="rtk", dir="/tmp"))
    os.chmod(path, 0o700)
    return path


def _kill_agent(home: Path) -> None:
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"],
        check=False, capture_output=True, env=gpg_env(), timeout=30,
    )


class KeyFactory:
    """Builds (in ``__init__``) and owns the two GnuPG homes and keys described in the module
    docstring; ``close()`` (or leaving a ``with`` block) kills the agents and deletes the homes.

    Attributes: ``signers_home``, ``keyring_home`` (Path); ``keys`` (dict name -> Key, also
    reachable as ``factory[name]``); ``now`` (real epoch at build), ``created`` (key creation
    epoch), ``past_sign_time`` (epoch of the revoked/expired/expiring signatures),
    ``revoked_at`` (epoch of the revocation); ``build_seconds`` (how long the build took).

    Methods: ``sign``, ``sign_bytes``, ``sign_expiring`` (signatures); ``verify_status`` and
    ``validities`` (gpg's own verdicts); ``export_public``, ``clone_keyring``, ``new_home``;
    ``gpg`` (run gpg in any home); ``close``.
    """

    def __init__(self) -> None:
        start = time.monotonic()
        self._homes: list[Path] = []
        self._counter = 0
        self.now = int(time.time())
        self.created = self.now - KEY_AGE
        self.past_sign_time = self.created + DAY
        self.keys: dict[str, Key] = {}
        try:
            self.signers_home = self.new_home()
            self.keyring_home = self.new_home()
            self._scratch = self.new_home()
            self._build()
        except BaseException:
            self.close()
            raise
        self.revoked_at = self._revocation_time()
        self.build_seconds = time.monotonic() - start

    # --- container protocol -----------------------------------------------------------------

    def __getitem__(self, name: str) -> Key:
        return self.keys[name]

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys.values())

    def __contains__(self, name: object) -> bool:
        return name in self.keys

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def names(self) -> tuple[str, ...]:
        """Every key name (``KEY_NAMES``)."""
        return tuple(self.keys)

    @property
    def master(self) -> Key:
        """The package keyring's master key."""
        return self.keys["master"]

    # --- running gpg ----------------------------------------------------------------------------

    def gpg(
        self, home: str | os.PathLike[str], *args: str, input: bytes | None = None,
        check: bool = True, faked_time: int | None = None, batch: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``gpg --homedir HOME --batch --yes --no-tty --pinentry-mode loopback --passphrase ''
        ARGS`` (``--faked-system-time`` when ``faked_time`` is given); stdout/stderr captured as
        bytes. Raises ``subprocess.CalledProcessError`` on failure when ``check``."""
        argv = ["gpg", "--homedir", str(home), "--no-tty", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
        if batch:
            argv.append("--batch")
        if faked_time is not None:
            argv += ["--faked-system-time", str(faked_time)]
        argv += args
        proc = subprocess.run(
            argv, input=input, capture_output=True, env=gpg_env(), check=False, timeout=120,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
        return proc

    def verify_status(
        self, signature: str | os.PathLike[str], data: str | os.PathLike[str],
        home: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """``gpg --status-fd 1 --verify SIGNATURE DATA`` against ``home`` (default: the package
        keyring): the status lines without their ``[GNUPG:] `` prefix, e.g. ``"GOODSIG <keyid>
        <uid>"``, ``"TRUST_FULLY 0 pgp"``. Never raises on a bad signature."""
        proc = self.gpg(
            home if home is not None else self.keyring_home,
            "--status-fd", "1", "--verify", str(signature), str(data), check=False,
        )
        prefix = "[GNUPG:] "
        lines = proc.stdout.decode("utf-8", "replace").splitlines()
        return [line[len(prefix):] for line in lines if line.startswith(prefix)]

    def validities(self, home: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """Primary fingerprint -> validity letter (field 2 of ``pub`` in ``gpg --with-colons
        --list-keys``) of every key in ``home`` (default: the package keyring)."""
        out = self.gpg(home if home is not None else self.keyring_home, "--with-colons", "--list-keys").stdout
        result: dict[str, str] = {}
        validity: str | None = None
        for line in out.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if fields[0] == "pub":
                validity = fields[1]
            elif fields[0] == "fpr" and validity is not None:
                result[fields[9]] = validity
                validity = None
            elif fields[0] == "sub":
                validity = None
        return result

    # --- signing --------------------------------------------------------------------------------

    def sign(
        self, data_path: str | os.PathLike[str], *key_names: str,
        out: str | os.PathLike[str] | None = None, armor: bool = False,
    ) -> bytes:
        """A detached signature of ``data_path`` holding one signature per key named, in that
        order, each made by exactly that key's ``signing_fingerprint`` (``-u FPR!``); binary
        unless ``armor``. Keys whose ``sign_time`` is set (revoked, expired) sign at that faked
        time, so their signatures were good when made. Writes ``out`` (default ``data_path +
        ".sig"``) and returns its bytes. Raises KeyError for an unknown name, ValueError for none.
        """
        if not key_names:
            raise ValueError("sign() needs at least one key name")
        keys = [self.keys[name] for name in key_names]
        times = {key.sign_time for key in keys}
        if len(times) == 1 and len(set(key_names)) == len(key_names):
            signature = self._detach_sign(data_path, keys, times.pop(), armor=armor)
        else:  # mixed times or repeated keys: one gpg run per key, concatenated (same packets)
            parts = [self._detach_sign(data_path, [key], key.sign_time) for key in keys]
            signature = b"".join(parts)
            if armor:
                signature = self._armor(signature)
        Path(out if out is not None else f"{os.fspath(data_path)}.sig").write_bytes(signature)
        return signature

    def sign_bytes(self, data: bytes, *key_names: str, armor: bool = False) -> bytes:
        """Like ``sign`` for data in memory: the signature bytes, no file left behind."""
        path = self._scratch_path("data")
        path.write_bytes(data)
        try:
            return self.sign(path, *key_names, out=self._scratch_path("sig"), armor=armor)
        finally:
            self._cleanup_scratch(path)

    def sign_expiring(
        self, data_path: str | os.PathLike[str], key_name: str = "alice",
        out: str | os.PathLike[str] | None = None,
    ) -> bytes:
        """A binary detached signature by ``key_name`` that has itself expired: made at
        ``past_sign_time`` with ``--default-sig-expire 1d`` (gpg reports ``EXPSIG`` for a key
        that is valid now, e.g. alice). Writes ``out`` (default ``data_path + ".sig"``) and
        returns its bytes."""
        key = self.keys[key_name]
        signature = self._detach_sign(data_path, [key], self.past_sign_time, extra=("--default-sig-expire", "1d"))
        Path(out if out is not None else f"{os.fspath(data_path)}.sig").write_bytes(signature)
        return signature

    def _detach_sign(
        self, data_path: str | os.PathLike[str], keys: Sequence[Key], when: int | None,
        armor: bool = False, extra: Sequence[str] = (),
    ) -> bytes:
        target = self._scratch_path("sig")
        users: list[str] = []
        for key in keys:
            users += ["--local-user", f"{key.signing_fingerprint}!"]
        self.gpg(
            self.signers_home, *users, *extra, "--armor" if armor else "--no-armor",
            "--output", str(target), "--detach-sign", os.fspath(data_path), faked_time=when,
        )
        try:
            return target.read_bytes()
        finally:
            self._cleanup_scratch(target)

    def _armor(self, binary: bytes) -> bytes:
        return self.gpg(self.signers_home, "--enarmor", input=binary).stdout.replace(
            b"ARMORED FILE", b"SIGNATURE"
        )

    # --- keys and keyrings ----------------------------------------------------------------------

    def export_public(self, *names: str | Iterable[str], armor: bool = False) -> bytes:
        """The public keys (with self-signatures, no certifications) of the keys named (names or
        iterables of names; none: every key), binary unless ``armor``."""
        flat: list[str] = []
        for item in names:
            flat += [item] if isinstance(item, str) else list(item)
        wanted = flat or list(self.keys)
        fprs = [self.keys[name].fingerprint for name in wanted]
        return self.gpg(self.signers_home, *(["--armor"] if armor else []), "--export", *fprs).stdout

    def clone_keyring(self) -> Path:
        """A private copy of the package keyring (new short directory under /tmp, deleted by
        ``close()``) for tests that change it."""
        home = self.new_home()
        shutil.copytree(
            self.keyring_home, home, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("S.*", "*.lock", ".#lk*", "*~"),
        )
        os.chmod(home, 0o700)
        return home

    def close(self) -> None:
        """Kill the gpg-agents and delete every home this factory made (idempotent)."""
        for home in self._homes:
            _kill_agent(home)
            shutil.rmtree(home, ignore_errors=True)
        self._homes.clear()

    # --- build ----------------------------------------------------------------------------------

    def new_home(self) -> Path:
        """A new, empty GNUPGHOME (short directory under /tmp, mode 0700), deleted by ``close()``."""
        home = _mkhome()
        self._homes.append(home)
        return home

    def _scratch_path(self, suffix: str) -> Path:
        self._counter += 1
        return self._scratch / f"{os.getpid()}-{self._counter}.{suffix}"

    @staticmethod
    def _cleanup_scratch(path: Path) -> None:
        path.unlink(missing_ok=True)

    def _build(self) -> None:
        signers, keyring = self.signers_home, self.keyring_home
        # 1. Every key in the signers home, created in the past.
        for spec in _SPECS:
            usage = "cert" if spec.subkey else "sign"
            expire = f"seconds={spec.lifetime}" if spec.lifetime else "never"
            self.gpg(signers, "--quick-gen-key", spec.uid, "ed25519", usage, expire, faked_time=self.created)
        by_uid = {entry.uid: entry for entry in self._list(signers)}
        for spec in _SPECS:
            if spec.subkey:
                fpr = by_uid[spec.uid].fpr
                self.gpg(signers, "--quick-add-key", fpr, "ed25519", "sign", "never", faked_time=self.created + 60)
        by_uid = {entry.uid: entry for entry in self._list(signers)}
        for spec in _SPECS:
            entry = by_uid[spec.uid]
            signing = [fpr for fpr, caps in entry.subs if "s" in caps]
            self.keys[spec.name] = Key(
                name=spec.name, uid=spec.uid, email=spec.uid.split("<", 1)[1].rstrip(">"),
                fingerprint=entry.fpr, signing_fingerprint=signing[0] if spec.subkey else entry.fpr,
                created=entry.created, expires=entry.expires,
                in_keyring=spec.in_keyring, certified=spec.certified, revoked=spec.revoked,
                validity=spec.validity,
                sign_time=self.past_sign_time if (spec.revoked or spec.lifetime) else None,
            )

        # 2. The package keyring: pacman-key's gpg.conf, the master key with its secret and
        #    ultimate ownertrust, every other key public only.
        (keyring / "gpg.conf").write_text("no-greeting\nno-permission-warning\n")
        master = self.keys["master"]
        secret = self.gpg(signers, "--export-secret-keys", master.fingerprint).stdout
        self.gpg(keyring, "--import", input=secret)
        self.gpg(keyring, "--import-ownertrust", input=f"{master.fingerprint}:6:\n".encode())
        public = [key.fingerprint for key in self if key.in_keyring and key.name != "master"]
        self.gpg(keyring, "--import", input=self.gpg(signers, "--export", *public).stdout)
        # 3. The master certifies the packager keys (locally, as pacman-key --lsign-key), while
        #    they are all valid (the expired key is no longer).
        for key in self:
            if key.certified:
                self.gpg(
                    keyring, "--default-key", master.fingerprint, "--quick-lsign-key", key.fingerprint,
                    faked_time=self.created + 120,
                )
        # 4. Revocations, made now (after the key's signatures), imported into the keyring only.
        for key in self:
            if key.revoked:
                certificate = self._revocation_certificate(key)
                self.gpg(keyring, "--import", input=certificate)
        self.gpg(keyring, "--check-trustdb")

    def _revocation_certificate(self, key: Key) -> bytes:
        """A hard revocation ("no reason specified") of ``key``, made now in the signers home
        (which does not import it)."""
        target = self._scratch_path("rev")
        self.gpg(
            self.signers_home, "--command-fd", "0", "--status-fd", "2", "--output", str(target),
            "--gen-revoke", key.fingerprint, input=b"y\n0\n\ny\n", batch=False,
        )
        try:
            return target.read_bytes()
        finally:
            self._cleanup_scratch(target)

    def _revocation_time(self) -> int | None:
        out = self.gpg(self.keyring_home, "--with-colons", "--list-sigs", self.keys["revoked"].fingerprint).stdout
        for line in out.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if fields[0] == "rev":
                return int(fields[5])
        return None

    def _list(self, home: Path) -> list[_Listed]:
        """The primary keys in ``home``, from ``gpg --with-colons --list-keys``."""
        out = self.gpg(home, "--with-colons", "--list-keys").stdout.decode("utf-8", "replace")
        entries: list[_Listed] = []
        pending: str | None = None  # "pub" or the sub's capabilities, awaiting its fpr line
        for line in out.splitlines():
            fields = line.split(":")
            if fields[0] == "pub":
                entries.append(_Listed(created=int(fields[5]), expires=int(fields[6]) if fields[6] else None))
                pending = "pub"
            elif fields[0] == "sub":
                pending = fields[11]
            elif fields[0] == "fpr" and entries and pending is not None:
                if pending == "pub":
                    entries[-1].fpr = fields[9]
                else:
                    entries[-1].subs.append((fields[9], pending))
                pending = None
            elif fields[0] == "uid" and entries and not entries[-1].uid:
                entries[-1].uid = _unescape(fields[9])
        return entries


@dataclass
class _Listed:
    created: int
    expires: int | None
    fpr: str = ""
    uid: str = ""
    subs: list[tuple[str, str]] = field(default_factory=list)

def _unescape(value: str) -> str:
    r"""Undo gpg's colon-listing escapes (``\x3a`` etc.)."""
    if "\\x" not in value:
        return value
    return value.encode("latin-1").decode("unicode_escape").encode("latin-1").decode("utf-8")
