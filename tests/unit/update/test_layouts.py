"""The layout cache (``repotools.update.layouts``): a layout is returned only for the archive it was
stored for, the most recently used are kept, it lives where the environment says, and it is
trusted only from a directory and files no one else may write."""

from __future__ import annotations

import os
from pathlib import Path

from support.databases import sample_layout

from repotools.update.layouts import LayoutCache, default_cache


def test_the_cache_returns_a_layout_only_for_its_size_compression_and_writer(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path / "c"))
    cache.store("ab" * 32, sample_layout())
    cache.store("cd" * 32, sample_layout("ab" * 32))  # stored under another archive's name
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == sample_layout()
    assert cache.load("ab" * 32, "zstd", 30, "libarchive 1.0") is None
    assert cache.load("ab" * 32, "gzip", 31, "libarchive 1.0") is None
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.1") is None  # another libarchive or zlib
    assert cache.load("cd" * 32, "gzip", 30, "libarchive 1.0") is None
    (tmp_path / "c" / f"{'ef' * 32}.layout.json").write_text("{}")  # as the previous format was named
    cache.clear()
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    assert list((tmp_path / "c").iterdir()) == []


def test_the_cache_keeps_the_most_recently_used_layouts(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path))
    for i in range(cache.keep + 5):
        cache.store(f"{i:064x}", sample_layout(f"{i:064x}"))
        os.utime(tmp_path / f"{i:064x}.layout", (1000 + i, 1000 + i))
    (tmp_path / f"{'e' * 64}.layout.json").write_text("{}")  # as the previous format was named
    cache.store("f" * 64, sample_layout("f" * 64))
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == cache.keep
    assert f"{0:064x}.layout" not in kept and "f" * 64 + ".layout" in kept


def test_the_cache_directory_comes_from_the_environment(tmp_path: Path) -> None:
    assert default_cache({"REPOTOOLS_CACHE_DIR": ""}) is None
    assert default_cache({"REPOTOOLS_CACHE_DIR": "/x"}).directory == "/x"  # type: ignore[union-attr]
    assert default_cache({"XDG_CACHE_HOME": "/c", "HOME": "/h"}).directory == "/c/repotools"  # type: ignore[union-attr]
    assert default_cache({"HOME": "/h"}).directory == "/h/.cache/repotools"  # type: ignore[union-attr]
    assert default_cache({"XDG_CACHE_HOME": "rel", "HOME": "/h"}).directory == "/h/.cache/repotools"  # type: ignore[union-attr]


def test_a_layout_nested_beyond_what_json_can_read_is_ignored(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path))
    (tmp_path / f"{'ab' * 32}.layout").write_text("[" * 200_000)
    assert cache.load("ab" * 32, "gzip", 30, "x") is None


def test_layouts_are_trusted_only_from_a_directory_and_files_no_one_else_may_write(tmp_path: Path) -> None:
    cache = LayoutCache(str(tmp_path / "c"))
    cache.store("ab" * 32, sample_layout())
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == sample_layout()
    (tmp_path / "c").chmod(0o777)  # a shared directory: anyone could plant a layout
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    cache.store("cd" * 32, sample_layout("cd" * 32))
    assert not (tmp_path / "c" / f"{'cd' * 32}.layout").exists()
    (tmp_path / "c").chmod(0o700)
    (tmp_path / "c" / f"{'ab' * 32}.layout").chmod(0o666)
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") is None
    (tmp_path / "c" / f"{'ab' * 32}.layout").chmod(0o600)
    assert cache.load("ab" * 32, "gzip", 30, "libarchive 1.0") == sample_layout()
