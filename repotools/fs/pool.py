"""A function mapped over items in forked worker processes, results in order as they come.

Threads do not help the callers here: hashing releases the GIL, but libarchive's
many short calls from Python then wait on it (measured slower than one thread).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .signals import Mask, child_signals, die_with_parent, signals_held

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = ["fork_map", "usable_cpus"]

T = TypeVar("T")
R = TypeVar("R")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, a container's limit), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# the function of a worker process, set by its initializer (inherited through fork, never pickled)
_worker_function: Callable[[Any], Any] | None = None


def _init_worker(function: Callable[[Any], Any], mask: Mask, parent: int) -> None:
    global _worker_function
    _worker_function = function
    die_with_parent(parent)
    child_signals(mask)


def _call_in_worker(item: Any) -> Any:
    assert _worker_function is not None
    return _worker_function(item)


def fork_map(
    function: Callable[[T], R], items: Sequence[T], jobs: int, min_items: int
) -> Generator[R, None, None]:
    """``function`` of each item, in order; in ``jobs`` forked workers (0: one a CPU) when there are
    at least ``min_items`` items, else in this process, the stop signals held around each call.

    Each result is yielded as soon as it is ready. ``function`` reaches the workers through
    fork and is never pickled; items and results are. Closing the generator early (a
    failure, an interrupt) cancels what has not started and does not wait for the rest:
    the workers finish the items they hold and exit.
    """
    jobs = min(jobs or usable_cpus(), len(items))
    if jobs <= 1 or len(items) < min_items or not hasattr(os, "fork"):
        for item in items:
            with signals_held():  # a large package is read through Python callbacks
                result = function(item)
            yield result
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(64, len(items) // (jobs * 4)))
    context = multiprocessing.get_context("fork")
    pool: ProcessPoolExecutor | None = None
    try:
        # the workers fork in map() (it submits every chunk) with the stop signals held;
        # each one restores the mask in _init_worker
        with signals_held() as mask:
            pool = ProcessPoolExecutor(
                jobs, mp_context=context, initializer=_init_worker, initargs=(function, mask, os.getpid())
            )
            results = pool.map(_call_in_worker, items, chunksize=chunk)
        yield from results
    except BaseException:
        if pool is not None:
            _shutdown_now(pool)
        raise
    pool.shutdown()


def _shutdown_now(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and return: the workers finish the items they hold
    and exit on their own (the interpreter waits for them at exit)."""
    from concurrent.futures import process

    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)  # wakes the pool's manager thread up
    # Python's exit hook would wake it up again, and in 3.11 that races with the thread
    # closing its wake-up pipe as it ends ("Bad file descriptor" on the way out); it is
    # still joined at exit as every other thread
    wakeups = getattr(process, "_threads_wakeups", None)
    if manager is not None and wakeups is not None:
        wakeups.pop(manager, None)
