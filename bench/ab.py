#!/usr/bin/env python3
"""Two installs of repotools side by side on bench.py's cases b and c, runs interleaved.

    .venv/bin/python bench/ab.py OLD_BIN NEW_BIN [--runs 16] [--workdir /tmp/repotools-bench]

For a change that must not cost speed (a refactoring): the machine's speed drifts by a third
within minutes, so two bench.py runs, one after the other, cannot tell a few milliseconds
apart; here each pair of runs alternates which install goes first. OLD_BIN and NEW_BIN are
the ``bin`` directories of two virtual environments (``scripts/install.sh`` with
``REPOTOOLS_VENV`` makes one for another checkout, a ``git worktree`` say). Uses bench.py's
work directory as bench.py left it (its pool, its 5,000-entry base databases and their
layouts): run bench.py once first. Prints the median and the minimum wall time of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old_bin")
    ap.add_argument("new_bin")
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--workdir", default="/tmp/repotools-bench")
    args = ap.parse_args()
    pool = json.load(open(os.path.join(args.workdir, "pool", "manifest.json")))
    base = os.path.join(args.workdir, "base-5000.tar.gz")
    layouts = os.path.join(args.workdir, "layouts.tar.gz")
    bins = {"old": args.old_bin, "new": args.new_bin}
    cases = {
        "b": lambda b: [os.path.join(b, "repo-add"), "-q", "repo.db.tar.gz", pool["upgrade"]],
        "c": lambda b: [os.path.join(b, "repo-remove"), "-q", "repo.db.tar.gz", pool["removed_name"]],
    }
    times: dict[tuple[str, str], list[float]] = {(c, k): [] for c in cases for k in bins}
    env = dict(os.environ, REPOTOOLS_CACHE_DIR=layouts)
    for i in range(args.runs):
        order = list(bins.items()) if i % 2 else list(reversed(bins.items()))
        for name, argv_of in cases.items():
            for which, b in order:
                d = tempfile.mkdtemp(prefix="repotools-ab-")
                try:
                    for n in os.listdir(base):
                        shutil.copy2(os.path.join(base, n), d, follow_symlinks=False)
                    argv = argv_of(b)
                    start = time.perf_counter()
                    done = subprocess.run(argv, cwd=d, env=env, capture_output=True, check=False)
                    times[(name, which)].append(time.perf_counter() - start)
                    if done.returncode != 0:
                        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
                finally:
                    shutil.rmtree(d)
    for name in cases:
        old, new = times[(name, "old")], times[(name, "new")]
        print(
            f"{name}: old median {statistics.median(old) * 1e3:.1f} ms (min {min(old) * 1e3:.1f}), "
            f"new median {statistics.median(new) * 1e3:.1f} ms (min {min(new) * 1e3:.1f}), "
            f"new/old {statistics.median(new) / statistics.median(old):.3f}"
        )


if __name__ == "__main__":
    main()
