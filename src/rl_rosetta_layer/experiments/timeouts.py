"""The per-run time limit (``--run-timeout SECONDS``, off by default).

A run still training after that many seconds is stopped (its worker process killed) and
fails with :func:`timeout_error`, like a run that raised: its error goes to
``runs/_failed/``, the command exits with status 3, and the other runs are trained and
saved. Seeds trained together in lockstep share one worker and so one clock.

Before any training, each layer is built and its protocol checked in the calling process
(a layer of your own already to compute its run id); that may take as long, per layer
(:func:`layer_time_limit`): a layer whose check outlives it (a factory or a ``forward``
that never returns) is refused in one line, like a layer that breaks the protocol, since
no run of it can be identified, let alone trained.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..checks import is_int
from ..errors import ConfigError


def check_run_timeout(seconds: float | None) -> float | None:
    """``seconds`` when it is None (no limit) or a positive finite number; else a
    ConfigError naming it."""
    number = isinstance(seconds, float) or is_int(seconds)
    if seconds is not None and not (number and math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"run_timeout must be a positive number of seconds or None, got "
                          f"{seconds!r}")
    return seconds


def timeout_error(seconds: float, runs: int = 1) -> str:
    """The error of a run stopped by the limit (what ``runs/_failed/`` records).

    >>> timeout_error(5, 2)  # doctest: +ELLIPSIS
    'RunTimeout: still training after --run-timeout 5 s (2 seeds trained together); ...'
    """
    together = f" ({runs} seeds trained together)" if runs > 1 else ""
    return (f"RunTimeout: still training after --run-timeout {seconds:g} s{together}; "
            f"stopped, it runs again on the next invocation")


class RunTimeout(BaseException):
    """Raised in the main thread by :func:`time_limit`. A ``BaseException``, so that no
    ``except Exception`` of the code it stops (a user's layer, a factory) turns it into
    another error."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`RunTimeout` in the block when it runs longer than ``seconds`` (a
    SIGALRM timer). No limit when ``seconds`` is None or off the main thread (only the
    main thread may handle signals). Stops Python code, sleeps and waits; not a C
    extension that never returns to the interpreter."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise RunTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


@contextmanager
def layer_time_limit(seconds: float | None, layer: str) -> Iterator[None]:
    """:func:`time_limit` on building or checking ``layer`` before training; past it, a
    ConfigError naming the layer."""
    try:
        with time_limit(seconds):
            yield
    except RunTimeout:
        raise ConfigError(f"layer {layer!r}: building it and checking its protocol took "
                          f"longer than --run-timeout {seconds:g} s (a factory or forward "
                          f"that never returns?); fix the layer or give a longer "
                          f"--run-timeout") from None
