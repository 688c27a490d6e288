"""One unit of runs (a layer's seeds that train together) trained in the current process,
its failure turned into results, and the cores a pool may use: what every executor (this
process, worker processes, Ray tasks) runs, so a failure carries the same message whichever
ran it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence

import numpy as np

from ..agent.dqn import train_lockstep
from ..agent.health import probe_observations
from ..agent.result import RunResult
from ..errors import ConfigError
from ..layers.registry import build_layers
from ..provenance import now_utc, versions
from ..video.family import needs_torch
from .spec import RunSpec

#: A worker's report to the calling process: (unit index, "start" or "episodes", count);
#: a local worker also sends (unit index, "pid", its process id) as it takes a unit.
Event = tuple[int, str, int]


def train_unit(specs: Sequence[RunSpec], progress: Callable[[int], None] | None = None,
               logs: Sequence[str] | None = None) -> list[RunResult]:
    """Train runs that differ only by seed, in lockstep, in this process; with ``logs``
    (one folder per run) write their TensorBoard logs as they train
    (:class:`~.tensorboard.LiveLog`)."""
    first = specs[0]
    if any((s.env, s.layer, s.config, s.selected, s.video)
           != (first.env, first.layer, first.config, first.selected, first.video)
           for s in specs):
        raise ConfigError("runs trained in lockstep must share env, layer and config")
    started = now_utc()
    if needs_torch(first.layer):
        import torch

        # threadpoolctl limits torch only when it was imported first: one thread per worker.
        torch.set_num_threads(1)
    layer = build_layers([first.layer], first.env.observations(), first.selected,
                         first.video)[first.layer]
    env = first.env.make(len(specs))
    probe = probe_observations(first.env.make(1))
    monitor = None
    if logs:
        from .tensorboard import LiveLog

        monitor = LiveLog(list(logs), first.config)
    results = None
    try:
        results = train_lockstep(env, layer, [s.seed for s in specs], first.config,
                                 progress=progress, probe=probe, eval_env=first.env.make,
                                 monitor=monitor)
    finally:
        if monitor is not None:
            monitor.close(results)
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": started,
             "finished_at": now_utc(), "versions": versions()}
    for spec, result in zip(specs, results):
        result.extra.update(where, run_id=spec.run_id)
    return results


def failed_results(unit: Sequence[RunSpec], exc: BaseException | str) -> list[RunResult]:
    """Empty results that carry the error of a unit that raised."""
    message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return [RunResult(layer=s.layer, seed=s.seed, returns=np.zeros(0), lengths=np.zeros(0, int),
                      successes=np.zeros(0, bool), error=message,
                      extra={"run_id": s.run_id, "host": socket.gethostname(),
                             "pid": os.getpid(), "finished_at": now_utc()})
            for s in unit]


def guarded_unit(index: int, unit: Sequence[RunSpec],
                 report: Callable[[Event], None] | None = None,
                 logs: Sequence[str] | None = None) -> list[RunResult]:
    """:func:`train_unit` that reports its start and episodes, and returns errors as results.

    The same function runs in this process, in a worker process and in a Ray task, so a
    failure carries the same message whichever executor ran it.
    """
    progress = None
    if report is not None:
        report((index, "start", len(unit)))

        def progress(n: int) -> None:
            report((index, "episodes", n))
    try:
        return train_unit(unit, progress, **({"logs": logs} if logs else {}))
    except Exception as exc:  # noqa: BLE001 - recorded as the run's error, the sweep goes on
        return failed_results(unit, exc)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))
