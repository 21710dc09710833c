"""What the tests share (one copy of each; test modules import from here, never from each other).

* ``builds``: real packages, built once a session with makepkg from ``tests/pkgbuilds``.
* ``packages``: synthetic packages written with libarchive (``build_package``, ``write_archive``).
* ``snapshots``: what a directory or an archive holds (``snapshot``, ``listing``, ``member``,
  ``read_archive``, ``compare_dirs``).
* ``tools``: running our commands and pacman's (``cli``, ``run_tool``), an update in-process
  (``run_update``), Python as another user (``readable_python``).
* ``gpg``: GnuPG homes with signing keys (``GpgHome``, ``UserKeys``).
* ``keyfactory``: real keys and a pacman-key-style package keyring (``KeyFactory``).
* ``pacman``: pacman 6.0.2 as a client, with a scratch root (``Pacman``).

``tests/conftest.py`` puts ``tests/`` on ``sys.path``: ``from support.tools import cli``.
"""
