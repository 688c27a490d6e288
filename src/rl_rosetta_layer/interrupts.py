"""SIGTERM and SIGHUP end a command the way Ctrl-C (SIGINT) does.

Inside :func:`interrupt_on_signals` (the ``rosetta`` command runs every subcommand in it)
either signal raises :class:`Interrupted`, a ``KeyboardInterrupt``, in the main thread, so
the code that a Ctrl-C runs runs: worker processes are ended
(:mod:`.experiments.pools`), temporary files and folders removed, finished runs kept. The
command then prints one line and exits with 128 plus the signal's number, as a shell
reports a process the signal killed: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Signals that interrupt a command as SIGINT does (those this platform has).
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A command stopped by the signal ``signum`` (a ``KeyboardInterrupt``, so every
    clean-up that a Ctrl-C runs runs)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def exit_status(exc: KeyboardInterrupt) -> int:
    """128 plus the number of the signal that stopped the command: 130 for a plain
    ``KeyboardInterrupt`` (SIGINT), 143 for SIGTERM, 129 for SIGHUP.

    >>> exit_status(KeyboardInterrupt()), exit_status(Interrupted(signal.SIGTERM))
    (130, 143)
    """
    return 128 + getattr(exc, "signum", int(signal.SIGINT))


def message(exc: KeyboardInterrupt) -> str:
    """The line the command prints: ``interrupted``, or ``interrupted by SIGTERM``.

    >>> message(KeyboardInterrupt()), message(Interrupted(signal.SIGHUP))
    ('interrupted', 'interrupted by SIGHUP')
    """
    signum = getattr(exc, "signum", None)
    return "interrupted" if signum is None else f"interrupted by {signal.Signals(signum).name}"


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread;
    a second one while the first is being handled is ignored, so the clean-up finishes.
    The handlers in place before are restored after. Off the main thread nothing changes
    (only the main thread may handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)
