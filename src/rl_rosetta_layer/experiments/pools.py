"""Worker-process pools that never outlive their command.

A Ctrl-C reaches every process of the terminal's process group (a closed terminal's SIGHUP
too), a SIGTERM only the process it is sent to. So the calling process alone decides: its
workers, and the resource tracker multiprocessing starts beside them, are spawned with
SIGINT and SIGHUP ignored (they print no traceback and no warning), and when anything
interrupts the block of :func:`worker_pool` (a ``KeyboardInterrupt``, a SIGTERM or SIGHUP
turned into one by :mod:`..interrupts`, an error) the workers are terminated at once
instead of being left to finish their tasks with no parent, and the pool is shut down
without waiting. The tracker exits by itself once no process is left to use it.

A spawned worker first imports the caller's main module again (as ``__mp_main__``), running
its top level: a script that starts training there, outside ``if __name__ ==
"__main__":``, would train again in every worker, whose own pool then fails.
:func:`unguarded_main` finds such a call before any worker starts (the runner trains in
this process instead), and :func:`worker_pool` refuses it in one line.
"""

from __future__ import annotations

import ast
import multiprocessing as mp
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError

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


GUARD = 'if __name__ == "__main__":'


@lru_cache(maxsize=16)
def _guarded_lines(path: str, mtime: float) -> tuple[tuple[int, int], ...]:
    """(first, last) line of each top-level ``if __name__ == "__main__":`` block of the
    Python file ``path`` (none when it cannot be read or parsed)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return ()
    spans = []
    for node in tree.body:
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Compare) and len(test.ops) == 1 \
                and isinstance(test.ops[0], ast.Eq):
            sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
            if sides in ({"__name__", "'__main__'"}, {"__name__", '"__main__"'}):
                spans.append((node.lineno, node.end_lineno or node.lineno))
    return tuple(spans)


def unguarded_main() -> tuple[str, int] | None:
    """(file, line) where the caller's main script starts this work from its top level
    outside ``if __name__ == "__main__":``, which a spawned worker would run again as it
    starts; None when nothing would (an interactive session, ``python -c``, a notebook, a
    guarded call, or a call from another module's import)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not Path(path).is_file():
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            line = frame.f_lineno
            spans = _guarded_lines(str(path), Path(path).stat().st_mtime)
            if any(first <= line <= last for first, last in spans):
                return None
            return str(path), line
        frame = frame.f_back
    return None


def unguarded_message(where: tuple[str, int], what: str) -> str:
    """The one line that says the script must guard its call: ``what`` needs worker
    processes, and each would run the script's line ``where`` again as it starts."""
    return (f"{what} needs worker processes, and each would run {where[0]}, line "
            f"{where[1]} again as it starts (spawned workers re-import the main script): "
            f"put the call under `{GUARD}`")


@contextmanager
def worker_pool(workers: int, initializer: Callable | None = None,
                initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes, each started with ``initializer(*initargs)``
    and ignoring SIGINT and SIGHUP; shut down (waiting for its tasks) when the block ends,
    its workers ended at once (:func:`end_workers`) when an exception leaves the block.
    A ConfigError, before any worker starts, when the main script calls this from its top
    level unguarded (:func:`unguarded_main`)."""
    where = unguarded_main()
    if where is not None:
        raise ConfigError(unguarded_message(where, f"training on {workers} workers"))
    with _spawning():
        pool = _Pool(workers, mp_context=mp.get_context("spawn"), initializer=_start_worker,
                     initargs=(initializer, initargs))
    try:
        yield pool
    except BaseException:
        end_workers(pool)
        raise
    pool.shutdown(wait=True)
