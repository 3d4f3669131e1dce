"""Run a pure function over two halves of a list at once, the second half in a forked
child, so a year's components use both cores.

Fork, not a process pool: the child already holds the problem (copy-on-write), so only
the answer crosses the pipe, and nothing is imported or pickled on the way in. It is
used only where forking is safe: a POSIX system, more than one core, and no other
thread in this process (a fork copies locks other threads may hold). If the child fails
in any way, the parent computes that half itself: the answer never depends on whether
the fork worked.
"""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available() -> bool:
    return hasattr(os, "fork") and (os.cpu_count() or 1) > 1 and threading.active_count() == 1


def split(items: Sequence[T], size: Callable[[T], int]) -> tuple[Sequence[T], Sequence[T]]:
    """Two runs of `items`, in order, of about equal total size."""
    total = sum(size(x) for x in items)
    acc = 0
    for k, x in enumerate(items):
        acc += size(x)
        if 2 * acc >= total:
            return items[: k + 1], items[k + 1 :]
    return items, items[:0]


def halves(fn: Callable[[Sequence[T]], R], first: Sequence[T], second: Sequence[T]) -> list[R]:
    """[fn(first), fn(second)], the second computed in a child process when possible."""
    if not second or not available():
        return [fn(first), fn(second)]
    read_end, write_end = os.pipe()
    # The heap as it is now is left out of collections on both sides: a collection walks
    # every object, and in the child each one touched copies its page (copy-on-write).
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running any cleanup
        gc.disable()
        os.close(read_end)
        status = 0
        try:
            data = pickle.dumps(fn(second), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        mine = fn(first)
    finally:
        gc.unfreeze()
        chunks = []
        with os.fdopen(read_end, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    if status == 0 and chunks:
        theirs: R = pickle.loads(b"".join(chunks))
    else:
        theirs = fn(second)
    return [mine, theirs]
