"""Train many (layer, seed) runs: in this process or in worker processes, same numbers.

Each worker limits BLAS to one thread (two BLAS threads collapse when a core is shared);
cores are used by running runs side by side. Seeds of one layer can also train in lockstep
inside one worker, which saves call overhead but not arithmetic.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..agent.dqn import train_lockstep
from ..agent.result import RunResult
from ..errors import ConfigError
from ..layers.registry import build_layers
from .spec import RunSpec

_progress_queue = None


def _init_worker(progress_queue) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    threadpool_limits(1)


def train_unit(specs: Sequence[RunSpec], progress: Callable[[int], None] | None = None
               ) -> list[RunResult]:
    """Train runs that differ only by seed, in lockstep, in this process."""
    first = specs[0]
    if any((s.env, s.layer, s.config, s.selected) != (first.env, first.layer, first.config,
                                                       first.selected) for s in specs):
        raise ConfigError("runs trained in lockstep must share env, layer and config")
    layer = build_layers([first.layer], first.env.grid_config(), first.selected)[first.layer]
    env = first.env.make(len(specs))
    results = train_lockstep(env, layer, [s.seed for s in specs], first.config,
                             progress=progress)
    for spec, result in zip(specs, results):
        result.extra["run_id"] = spec.run_id
    return results


def _worker_unit(specs: Sequence[RunSpec]) -> list[RunResult]:
    put = None
    if _progress_queue is not None:
        put = _progress_queue.put
    return train_unit(specs, put)


def failed_results(unit: Sequence[RunSpec], exc: BaseException) -> list[RunResult]:
    """Empty results that carry the error of a unit that raised."""
    import numpy as np

    message = f"{type(exc).__name__}: {exc}"
    return [RunResult(layer=s.layer, seed=s.seed, returns=np.zeros(0), lengths=np.zeros(0, int),
                      successes=np.zeros(0, bool), error=message, extra={"run_id": s.run_id})
            for s in unit]


def _result_or_failure(future: Future, unit: Sequence[RunSpec]) -> list[RunResult]:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        return failed_results(unit, exc)


def group_units(specs: Sequence[RunSpec], lockstep: int) -> list[list[RunSpec]]:
    """Split runs into units of at most ``lockstep`` seeds sharing env, layer and config."""
    if lockstep < 1:
        raise ConfigError(f"lockstep must be a positive integer, got {lockstep!r}")
    groups: dict[tuple, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault((s.env, s.layer, s.config, s.selected), []).append(s)
    units = []
    for runs in groups.values():
        units += [runs[i:i + lockstep] for i in range(0, len(runs), lockstep)]
    return units


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def run_all(specs: Sequence[RunSpec], *, workers: int | None = None, lockstep: int = 1,
            on_result: Callable[[RunResult], None] | None = None, quiet: bool = False
            ) -> list[RunResult]:
    """Train every run; results come back in the order of ``specs``.

    ``on_result`` is called in this process as each run finishes (to save it at once).
    A progress bar counts episodes over all runs, with an ETA.
    """
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    units = group_units(specs, lockstep)
    total = sum(s.config.episodes for s in specs)
    bar = tqdm(total=total, unit="ep", desc="training", disable=quiet, smoothing=0.05)
    by_id: dict[str, RunResult] = {}

    def collect(results: list[RunResult]) -> None:
        for r in results:
            by_id[r.extra["run_id"]] = r
            if on_result is not None:
                on_result(r)

    try:
        if workers == 1 or len(units) == 1:
            with threadpool_limits(1):
                for unit in units:
                    try:
                        collect(train_unit(unit, bar.update))
                    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                        collect(failed_results(unit, exc))
        else:
            ctx = mp.get_context("spawn")
            progress_queue = ctx.Queue()
            stop = threading.Event()

            def pump() -> None:
                while not stop.is_set():
                    try:
                        bar.update(progress_queue.get(timeout=0.1))
                    except queue.Empty:
                        continue

            thread = threading.Thread(target=pump, daemon=True)
            thread.start()
            try:
                with ProcessPoolExecutor(min(workers, len(units)), mp_context=ctx,
                                         initializer=_init_worker,
                                         initargs=(progress_queue,)) as pool:
                    futures = {pool.submit(_worker_unit, u): u for u in units}
                    for f in as_completed(futures):
                        collect(_result_or_failure(f, futures[f]))
            finally:
                stop.set()
                thread.join()
    finally:
        bar.close()
    return [by_id[s.run_id] for s in specs]
