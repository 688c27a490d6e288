"""Worker-process pools that never outlive their command.

A Ctrl-C reaches every process of the terminal's process group (a closed terminal's SIGHUP
too), a SIGTERM only the process it is sent to. So the calling process alone decides: its
workers, and the resource tracker multiprocessing starts beside them, are spawned with
SIGINT and SIGHUP ignored (they print no traceback and no warning), and when anything
interrupts the block of :func:`worker_pool` (a ``KeyboardInterrupt``, a SIGTERM or SIGHUP
turned into one by :mod:`..interrupts`, an error) the workers are terminated at once
instead of being left to finish their tasks with no parent, and the pool is shut down
without waiting. The tracker exits by itself once no process is left to use it.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

#: Seconds a terminated worker has to exit before it is killed.
GRACE_SECONDS = 5.0
#: Signals that the calling process handles for its whole process group.
_GROUP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGHUP") if hasattr(signal, n))


@contextmanager
def _spawning() -> Iterator[None]:
    """SIGINT and SIGHUP ignored in the block (main thread only): a process spawned in it
    inherits that, so Python never turns them into an exception in it, not even while it
    starts up and imports. A spawn takes milliseconds; the handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _GROUP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """A worker's first act: leave SIGINT and SIGHUP to the calling process (again, for a
    worker spawned off the main thread), then ``initializer``."""
    for sig in _GROUP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


class _Pool(ProcessPoolExecutor):
    """A process pool whose workers are spawned by :func:`_spawning`: the executor
    spawns them as tasks are submitted."""

    def submit(self, *args, **kwargs):
        with _spawning():
            return super().submit(*args, **kwargs)


def event_queue():
    """A queue that the workers of :func:`worker_pool` can send on; made by
    :func:`_spawning`, since the resource tracker may start with it."""
    with _spawning():
        return mp.get_context("spawn").Queue()


def end_workers(pool: ProcessPoolExecutor, grace: float = GRACE_SECONDS) -> None:
    """Terminate ``pool``'s worker processes now (SIGTERM, then SIGKILL for any still
    alive after ``grace`` seconds) and shut the pool down without waiting for its tasks."""
    # The executor keeps its processes in _processes (pid -> Process) on every Python this
    # package supports; it has no public way to stop a running task before Python 3.14.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


@contextmanager
def worker_pool(workers: int, initializer: Callable | None = None,
                initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes, each started with ``initializer(*initargs)``
    and ignoring SIGINT and SIGHUP; shut down (waiting for its tasks) when the block ends,
    its workers ended at once (:func:`end_workers`) when an exception leaves the block."""
    with _spawning():
        pool = _Pool(workers, mp_context=mp.get_context("spawn"), initializer=_start_worker,
                     initargs=(initializer, initargs))
    try:
        yield pool
    except BaseException:
        end_workers(pool)
        raise
    pool.shutdown(wait=True)
