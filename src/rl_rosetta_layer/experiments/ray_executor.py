"""Ray executor: each unit of runs is one Ray task with one CPU and one BLAS thread.

Without an address a local Ray instance is started with ``workers`` CPUs (default: all
cores) and shut down at the end; with ``address`` (``auto``, ``ray://host:10001`` or
``host:6379``) the runs go to that cluster. Tasks only train and return their results;
the calling process writes every file, so the output folder needs to exist only where the
sweep was started. Every node must have this package (and the same versions) installed.
Tasks' output and warnings are forwarded to the calling process (never silenced).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from ..agent.result import RunResult
from ..errors import ConfigError
from .spec import RunSpec
from .timeouts import timeout_error
from .units import Event, default_workers, failed_results, guarded_unit

#: Seconds between progress messages a task sends (one per episode would be chatty).
PROGRESS_EVERY = 0.5
#: Seconds a cluster's address has to answer (Ray itself retries without limit).
CONNECT_TIMEOUT = 10.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ConfigError unless ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``)
    is ``auto`` or answers a TCP connection within ``timeout`` seconds."""
    if address in ("auto", "local"):
        return                        # Ray finds these itself, and fails fast without one
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--ray-address must be auto, HOST:PORT or ray://HOST:PORT, "
                          f"got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, OverflowError) as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address!r} within {timeout:g} s "
                          f"({getattr(exc, 'strerror', None) or exc}); start one with `ray "
                          f"start --head` or give its address (auto, HOST:6379, "
                          f"ray://HOST:10001)") from exc


def import_ray():
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--executor ray needs Ray: install it with "
                          "pip install -e \".[ray]\" (or pip install \"ray[default]\")"
                          ) from exc
    return ray


class ProgressSink:
    """A Ray actor that buffers the tasks' progress messages until the driver drains them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def put(self, events: list[Event]) -> None:
        self.events.extend(events)

    def drain(self) -> list[Event]:
        out, self.events = self.events, []
        return out


def ray_unit(index: int, unit: Sequence[RunSpec], sink) -> list[RunResult]:
    """The body of one Ray task: one BLAS thread, progress sent at most every 0.5 s."""
    from threadpoolctl import threadpool_limits

    buffer: list[Event] = []
    last = [time.monotonic()]

    def report(ev: Event) -> None:
        buffer.append(ev)
        if ev[1] == "start" or time.monotonic() - last[0] >= PROGRESS_EVERY:
            sink.put.remote(list(buffer))
            buffer.clear()
            last[0] = time.monotonic()

    with threadpool_limits(1):
        results = guarded_unit(index, unit, report)
    if buffer:
        sink.put.remote(list(buffer))
    return results


@contextmanager
def ray_session(workers: int | None, address: str | None, quiet: bool = False):
    """Connect to Ray for the duration of the block (a local instance: started and stopped).

    Reuses a Ray connection the caller already made; with ``address`` joins that cluster,
    otherwise starts a local instance with ``workers`` CPUs (default: all cores).
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    level = logging.ERROR if quiet else logging.WARNING
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=True, logging_level=level)
        else:
            ray.init(num_cpus=workers or default_workers(), include_dashboard=False,
                     log_to_driver=True, logging_level=level)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise ConfigError(f"could not start or reach {where}: {type(exc).__name__}: "
                          f"{first}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def run_units_ray(units: Sequence[Sequence[RunSpec]], workers: int | None,
                  on_event: Callable[[Event], None],
                  collect: Callable[[int, list[RunResult]], None],
                  run_timeout: float | None = None) -> None:
    """Run every unit as a Ray task (inside :func:`ray_session`); at most ``workers`` at once
    when it is given, else as many as the cluster has CPUs for. A task still running
    ``run_timeout`` seconds after it started is cancelled (its worker killed) and its runs
    fail with :func:`~.timeouts.timeout_error`."""
    import ray

    sink = ray.remote(num_cpus=0)(ProgressSink).remote()
    task = ray.remote(num_cpus=1)(ray_unit)
    queued = list(range(len(units)))
    limit = workers if workers is not None else len(units)
    in_flight: dict = {}
    began: dict[int, float] = {}
    stopped: set[int] = set()
    while queued or in_flight:
        while queued and len(in_flight) < limit:
            i = queued.pop(0)
            in_flight[task.remote(i, units[i], sink)] = i
        ready, _ = ray.wait(list(in_flight), num_returns=len(in_flight), timeout=0.2)
        for ev in ray.get(sink.drain.remote()):
            if ev[1] == "start":
                began.setdefault(ev[0], time.monotonic())
            on_event(ev)
        for ref in ready:
            i = in_flight.pop(ref)
            try:
                results = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a lost node or worker: recorded
                first = (str(exc).strip().splitlines() or [""])[0]
                error = (timeout_error(run_timeout, len(units[i])) if i in stopped
                         else f"{type(exc).__name__}: {first}")
                results = failed_results(units[i], error)
            collect(i, results)
        if run_timeout is not None:
            now = time.monotonic()
            for ref, i in in_flight.items():
                if i in began and i not in stopped and now - began[i] > run_timeout:
                    stopped.add(i)
                    ray.cancel(ref, force=True)
    for ev in ray.get(sink.drain.remote()):
        on_event(ev)
