"""Train many (layer, seed) runs: in this process, in worker processes or on Ray; same numbers.

Each worker limits BLAS to one thread (two BLAS threads collapse when a core is shared);
cores are used by running runs side by side. Seeds of one layer can also train in lockstep
inside one worker, which saves call overhead but not arithmetic.

Workers only train and return results; the calling process writes every file, so a worker
that dies (or is orphaned when the sweep is killed) can never leave a half-written run.
A unit that raises becomes failed results carrying the error; the others go on.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..agent.result import RunResult
from ..checks import is_int
from ..errors import ConfigError
from ..layers.registry import check_layer
from ..video.family import needs_torch
from .pools import event_queue, unguarded_main, unguarded_message, worker_pool
from .spec import RunSpec
from .timeouts import check_run_timeout, layer_time_limit, timeout_error
from .units import Event, default_workers, failed_results, guarded_unit

EXECUTORS = ("local", "ray")

_progress_queue = None


def _init_worker(progress_queue) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    threadpool_limits(1)


def _worker_unit(index: int, unit: Sequence[RunSpec],
                 logs: Sequence[str] | None = None) -> list[RunResult]:
    if _progress_queue is not None:       # which process trains the unit (for the time limit)
        _progress_queue.put((index, "pid", os.getpid()))
    return guarded_unit(index, unit, _progress_queue.put if _progress_queue is not None
                        else None, logs)


def _seed_groups(specs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """Runs that differ only by seed (same env, layer and config), in order."""
    groups: dict[tuple, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault((s.env, s.layer, s.config, s.selected, s.video), []).append(s)
    return list(groups.values())


def auto_lockstep(specs: Sequence[RunSpec], workers: int) -> int:
    """Seeds per unit when none is asked for: all seeds of a layer together, unless that
    leaves some of the ``workers`` idle; then each layer's seeds split into enough units
    to keep them busy. A seed's numbers are the same either way."""
    groups = _seed_groups(specs)
    if not groups:
        return 1
    splits = -(-workers // len(groups))                   # units per layer to fill workers
    return max(1, -(-max(len(g) for g in groups) // splits))


def group_units(specs: Sequence[RunSpec], lockstep: int) -> list[list[RunSpec]]:
    """Split runs into units of at most ``lockstep`` seeds sharing env, layer and config."""
    if not is_int(lockstep) or lockstep < 1:
        raise ConfigError(f"lockstep must be a positive integer, got {lockstep!r}")
    groups = _seed_groups(specs)
    units = []
    for runs in groups:
        units += [runs[i:i + lockstep] for i in range(0, len(runs), lockstep)]
    return units


def preflight(specs: Sequence[RunSpec], *, devices: bool = True,
              run_timeout: float | None = None) -> None:
    """Check, in this process and before any worker starts, what every run needs: its
    environment (built once: a bad name, size or Gymnasium id), its layer (numpy layers
    built once; a video block's checkpoint files checked, headers only) and, with
    ``devices`` (runs trained on this machine), that torch sees the device a video run asks
    for. Bad input then fails once, with one message, instead of in every worker.

    With ``run_timeout``, the check of one layer may take that many seconds, past which
    it is refused (:func:`~.timeouts.layer_time_limit`)."""
    observations = {env: env.check() for env in dict.fromkeys(s.env for s in specs)}
    for env, layer, selected, video in dict.fromkeys(
            (s.env, s.layer, s.selected, s.video) for s in specs):
        with layer_time_limit(run_timeout, layer):
            check_layer(layer, observations[env], selected, video)
    wanted = {s.video.device for s in specs if s.video is not None and needs_torch(s.layer)}
    if devices and wanted - {"cpu"}:
        from ..video.candidates.devices import resolve_device

        for device in sorted(wanted):
            resolve_device(device)


def budget_used(spec: RunSpec, result: RunResult) -> int:
    """Budget units (episodes, or env steps under an env-step budget) a run used."""
    if spec.config.env_steps is None:
        return len(result.returns)
    return spec.config.env_steps if result.status == "ok" else int(result.lengths.sum())


def _bar_unit(specs: Sequence[RunSpec]) -> str:
    units = {s.config.budget_unit for s in specs}
    return {"episodes": "ep", "env_steps": "step"}[units.pop()] if len(units) == 1 else "unit"


class SweepProgress:
    """One bar over every run's budget (episodes, or env steps under an env-step budget;
    with ETA) whose postfix counts runs done, failed, running.

    Failed runs are always reported on stderr with their error, even with ``quiet``.
    """

    def __init__(self, units: Sequence[Sequence[RunSpec]], *, quiet: bool, desc: str):
        self.units = units
        self.total_runs = sum(len(u) for u in units)
        self.bar = tqdm(total=sum(s.config.budget for u in units for s in u),
                        unit=_bar_unit([s for u in units for s in u]), desc=desc,
                        disable=quiet, smoothing=0.05, dynamic_ncols=True)
        self.reported = [0] * len(units)     # budget units counted so far, per unit
        self.started: set[int] = set()
        self.closed: set[int] = set()
        self.done = self.failed = 0
        self._post()

    @property
    def running(self) -> int:
        return sum(len(self.units[i]) for i in self.started - self.closed)

    def _post(self) -> None:
        self.bar.set_postfix_str(f"runs {self.done + self.failed}/{self.total_runs} "
                                 f"(failed {self.failed}, running {self.running})",
                                 refresh=False)

    def event(self, ev: Event) -> None:
        index, kind, n = ev
        if index in self.closed:
            return                          # a late message of a unit already counted
        if kind == "start":
            self.started.add(index)
            self._post()
        else:
            self.reported[index] += n
            self.bar.update(n)

    def finish(self, index: int, results: Sequence[RunResult]) -> None:
        """A unit came back: make its budget count exact, count and report its runs."""
        if index in self.closed:
            return
        self.closed.add(index)
        self.started.add(index)
        got = sum(budget_used(s, r) for s, r in zip(self.units[index], results))
        budget = sum(s.config.budget for s in self.units[index])
        if got < budget:                    # failed or diverged early: the ETA should know
            self.bar.total -= budget - got
        self.bar.update(got - self.reported[index])
        for r in results:
            if r.status == "failed":
                self.failed += 1
                tqdm.write(f"run {r.extra.get('run_id', r.layer)} failed: {r.error}",
                           file=sys.stderr)
            else:
                self.done += 1
        self._post()
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run_all(specs: Sequence[RunSpec], *, workers: int | None = None,
            lockstep: int | None = None,
            on_result: Callable[[RunResult], None] | None = None, quiet: bool = False,
            executor: str = "local", ray_address: str | None = None,
            desc: str = "training", run_timeout: float | None = None,
            log_dir: Callable[[RunSpec], Path] | None = None) -> list[RunResult]:
    """Train every run; results come back in the order of ``specs``.

    ``executor`` is ``"local"`` (this process when ``workers`` is 1, else that many worker
    processes; default one per core) or ``"ray"`` (a local Ray instance with ``workers``
    CPUs, or the cluster at ``ray_address``). ``on_result`` is called in this process as
    each run finishes (to save it at once). A progress bar counts the budget (episodes or
    env steps) over all runs, with an ETA, and shows how many runs are done, failed and
    running. ``lockstep`` seeds of a layer train together in one unit (default:
    :func:`auto_lockstep`). ``run_timeout`` (seconds; None: no limit) stops a unit still
    training after that long and fails its runs (:mod:`.timeouts`); with it, local runs
    always train in worker processes (one that hangs can only be stopped from outside).
    ``log_dir(spec)``, when given, is the folder where a local run's TensorBoard log is
    written as it trains (:class:`~.tensorboard.LiveLog`; Ray tasks write none).

    A script that calls this from its top level without ``if __name__ == "__main__":``
    (:func:`~.pools.unguarded_main`) trains in this process (a RuntimeWarning says so and
    what to add), since worker processes would run the script again; with ``run_timeout``
    that is a ConfigError at once.
    """
    check_run_timeout(run_timeout)
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if ray_address is not None and executor != "ray":
        raise ConfigError(f"--ray-address needs --executor ray, got --executor {executor}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if lockstep is None:
        lockstep = auto_lockstep(specs, default_workers() if workers is None else workers)
    units = group_units(specs, lockstep)
    if not units:
        return []
    if executor == "local":
        workers = default_workers() if workers is None else workers
        if (workers > 1 and len(units) > 1) or run_timeout is not None:
            workers = _workers_for_main(workers, run_timeout)
    by_id: dict[str, RunResult] = {}
    with ExitStack() as stack:
        if executor == "ray":
            from .ray_executor import ray_session, run_units_ray

            stack.enter_context(ray_session(workers, ray_address, quiet))
        progress = SweepProgress(units, quiet=quiet, desc=desc)
        stack.callback(progress.close)

        def collect(index: int, results: list[RunResult]) -> None:
            progress.finish(index, results)
            for r in results:
                by_id[r.extra["run_id"]] = r
                if on_result is not None:
                    on_result(r)

        logs = [[str(log_dir(s)) for s in unit] if log_dir else None for unit in units]
        if executor == "ray":
            run_units_ray(units, workers, progress.event, collect, run_timeout)
        else:
            if (workers == 1 or len(units) == 1) and run_timeout is None:
                with threadpool_limits(1):
                    for index, unit in enumerate(units):
                        collect(index, guarded_unit(index, unit, progress.event, logs[index]))
            else:
                _run_units_pool(units, workers, progress.event, collect, run_timeout, logs)
    return [by_id[s.run_id] for s in specs]


def _workers_for_main(workers: int, run_timeout: float | None) -> int:
    """``workers``, or 1 when the main script would start training again in each worker
    (:func:`~.pools.unguarded_main`); a ConfigError then when ``run_timeout`` needs them."""
    where = unguarded_main()
    if where is None:
        return workers
    if run_timeout is not None:
        raise ConfigError(unguarded_message(where, f"--run-timeout {run_timeout:g}"))
    warnings.warn_explicit(
        f"training in this process instead of on {workers} workers: "
        + unguarded_message(where, "training on workers"), RuntimeWarning, *where)
    return 1


def _run_units_pool(units: Sequence[Sequence[RunSpec]], workers: int,
                    on_event: Callable[[Event], None],
                    collect: Callable[[int, list[RunResult]], None],
                    run_timeout: float | None = None,
                    logs: Sequence[Sequence[str] | None] | None = None) -> None:
    """Local worker processes (spawned; ended at once on an interrupt, :mod:`.pools`). A
    worker that dies fails only the runs it held. A unit still training ``run_timeout``
    seconds after a worker took it is stopped (that worker killed) and fails with
    :func:`~.timeouts.timeout_error`; the units the kill took down with the pool start
    again in a new one."""
    pending = list(range(len(units)))
    logs = list(logs) if logs is not None else [None] * len(units)
    while pending:
        pending = _pool_round(units, pending, workers, on_event, collect, run_timeout, logs)


def _pool_round(units: Sequence[Sequence[RunSpec]], pending: list[int], workers: int,
                on_event: Callable[[Event], None],
                collect: Callable[[int, list[RunResult]], None],
                run_timeout: float | None,
                logs: Sequence[Sequence[str] | None]) -> list[int]:
    """One pool over the units ``pending``: collects each that ends (trained, failed, lost
    with its worker or stopped by the time limit); returns those to run again in a new
    pool (the pool broke before they started, or under them at a time-limit kill)."""
    events = event_queue()        # one per pool: a killed worker may hold its lock
    started: set[int] = set()
    clocks: dict[int, tuple[int, float]] = {}     # unit -> (its worker's pid, since)
    stopped: set[int] = set()                      # units killed for the time limit

    def drain() -> None:
        while True:
            try:
                index, kind, n = events.get_nowait()
            except queue.Empty:
                return
            if kind == "pid":         # worker n took the unit, so its earlier one is done
                for other in [u for u, (pid, _) in clocks.items() if pid == n]:
                    del clocks[other]
                clocks[index] = (n, time.monotonic())
                continue
            if kind == "start":
                started.add(index)
            on_event((index, kind, n))

    def enforce() -> None:
        now = time.monotonic()
        for index, (pid, since) in list(clocks.items()):
            if now - since > run_timeout and index not in stopped:
                stopped.add(index)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    retry: list[int] = []
    lost: list[int] = []
    with worker_pool(min(workers, len(pending)), _init_worker, (events,)) as pool:
        futures = {pool.submit(_worker_unit, i, units[i], logs[i]): i for i in pending}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for f in sorted(done, key=futures.get):
                i = futures[f]
                clocks.pop(i, None)
                try:
                    results = f.result()
                except BrokenProcessPool:
                    if i not in stopped:      # its worker died, or a time-limit kill broke
                        (lost if i in started and not stopped else retry).append(i)  # the pool
                        continue
                    results = failed_results(units[i],
                                             timeout_error(run_timeout, len(units[i])))
                except Exception as exc:  # noqa: BLE001 - e.g. a result that won't unpickle
                    results = failed_results(units[i], exc)
                collect(i, results)
            if run_timeout is not None:
                enforce()
    drain()
    events.close()
    if retry and not lost and not stopped:       # the pool broke before any of them started
        lost, retry = retry, []
    for i in lost:
        collect(i, failed_results(
            units[i], "WorkerDied: the worker process training this run exited "
                      "unexpectedly (killed or out of memory?); it runs again on resume"))
    return retry
