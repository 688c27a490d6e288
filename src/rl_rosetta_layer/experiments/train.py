"""The training step: expand runs, skip those already finished, train the rest, write outputs.

Both ``rosetta train`` (the seed's Run Order) and ``rosetta sweep`` go through
:func:`execute_runs`: every run is looked up in the run store (``runs/<run_id>/``) first, so
running the same command again after a crash trains only what is missing, and the result
files are always built from the stored runs, so they are byte for byte the same whether
the runs were trained now, earlier, by another executor or by another number of workers.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..agent.config import DQNConfig
from ..agent.result import RunResult
from ..analysis.run import read_selected
from ..errors import ConfigError, MissingInputError, RunsFailedError
from ..io import write_csv, write_json
from ..layers.registry import BANK_NAMES, expand_layer_names
from ..video.candidates.settings import VideoSettings
from .outputs import LAST, RETURNS_COLUMNS, final_return, returns_rows, write_experiment_outputs
from .runner import preflight, run_all
from .spec import EnvSpec, RunSpec
from .store import FAILED_DIR, RunStore, run_metrics
from .sweep import Sweep
from .tensorboard import FOLDER as TENSORBOARD_FOLDER
from .tensorboard import check_available, write_run_log
from .timeouts import check_run_timeout, layer_time_limit

#: Seed of the generator behind the summary's bootstrap CIs (fixed: same outputs each time).
SUMMARY_SEED = 20_240_601
#: Exit status of a command some of whose runs raised (2 is bad input).
EXIT_FAILED = 3
#: Exit status of a command none of whose runs raised but some diverged.
EXIT_DIVERGED = 4


def plan_runs(out_dir: Path, env_spec: EnvSpec, config: DQNConfig, seeds: list[int],
              layers: str, *, backbone: str | None = None,
              video: VideoSettings | None = None,
              run_timeout: float | None = None) -> list[RunSpec]:
    """Every (layer, seed) run of a comparison, all with the same budget and config.

    ``backbone`` gives the ``blocks`` / ``twins`` groups their meaning; ``video`` says how
    video blocks are loaded and run. A layer of your own is built and checked for its run
    id, within ``run_timeout`` seconds (:func:`~.timeouts.layer_time_limit`)."""
    needs_selection = any(p.strip() in ("selected", "bank", "baselines", "all")
                          or p.strip() in BANK_NAMES for p in str(layers).split(","))
    selected = read_selected(out_dir) if needs_selection else None
    names = expand_layer_names(layers, selected, env_spec.unavailable_layers,
                               backbone=backbone, weights=video.weights if video else None)
    specs = []
    for name in names:
        with layer_time_limit(run_timeout, name):
            specs += [RunSpec(env_spec, name, seed, config, selected, video) for seed in seeds]
    return specs


@dataclass
class Outcome:
    """What :func:`execute_runs` did. ``results`` follow the order of ``specs``."""

    specs: list[RunSpec]
    results: list[RunResult]
    skipped: list[str] = field(default_factory=list)
    """Run ids found finished in the store and not trained again."""
    trained: list[str] = field(default_factory=list)
    failed: list[RunResult] = field(default_factory=list)
    """Runs that raised: not stored as finished, so the next invocation retries them."""

    @property
    def diverged(self) -> list[RunResult]:
        """Runs stopped by a NaN or an overflow (stored: a divergence is a result)."""
        return [r for r in self.results if r.status == "diverged"]

    @property
    def exit_status(self) -> int:
        """0 when every run finished, :data:`EXIT_FAILED` when some raised,
        :data:`EXIT_DIVERGED` when none raised but some diverged."""
        return EXIT_FAILED if self.failed else EXIT_DIVERGED if self.diverged else 0

    def check_any_result(self, where: Path) -> None:
        """Raise :class:`RunsFailedError` when every run raised, before any table is
        written over: the tables already in ``where`` stay as they were."""
        if self.results and all(r.status == "failed" for r in self.results):
            first = self.failed[0] if self.failed else self.results[0]
            raise RunsFailedError(
                f"all {len(self.results)} runs failed, e.g. {first.extra.get('run_id', '')}: "
                f"{first.error}; the errors are in {Path(where) / 'runs' / FAILED_DIR}, the "
                f"tables in {where} were left as they were")


def execute_runs(out_dir: Path, specs: Sequence[RunSpec], *, workers: int | None = None,
                 lockstep: int | None = None, executor: str = "local",
                 ray_address: str | None = None,
                 quiet: bool = False, desc: str = "training",
                 folder_of: Callable[[RunSpec], Path] | None = None,
                 tensorboard: bool = False, run_timeout: float | None = None) -> Outcome:
    """Train the runs of ``specs`` not yet in ``out_dir/runs``; return every run's result.

    Each run is written to the store the moment it finishes. Results of finished runs are
    read back from the store, so what follows depends only on the runs' content.
    ``folder_of(spec)`` puts a run's store under another folder than ``out_dir`` (a study
    keeps each task's runs in the task's folder and trains them in one pool).
    ``tensorboard`` also writes each trained run's TensorBoard log (:mod:`.tensorboard`):
    as it trains with the local executor, when it is saved with Ray.
    ``run_timeout`` (seconds) stops and fails a run still training after that long, and
    refuses a layer whose check before training takes that long (:mod:`.timeouts`).
    """
    check_run_timeout(run_timeout)
    stores: dict[Path, RunStore] = {}

    def store_of(spec: RunSpec) -> RunStore:
        folder = Path(out_dir if folder_of is None else folder_of(spec))
        if folder not in stores:
            stores[folder] = RunStore(folder / "runs")
            stores[folder].clean_stale()
        return stores[folder]

    def log_dir(spec: RunSpec) -> Path:
        return store_of(spec).root.parent / TENSORBOARD_FOLDER / spec.run_id

    finished = {s.run_id: store_of(s).load(s) for s in specs
                if store_of(s).is_finished(s.run_id)}
    todo = [s for s in specs if s.run_id not in finished]
    by_id = {s.run_id: s for s in specs}
    failures: dict[str, RunResult] = {}

    def save(r: RunResult) -> None:
        spec = by_id[r.extra["run_id"]]
        if r.status == "failed":
            store_of(spec).write_failure(spec, r, executor)
            failures[spec.run_id] = r
        else:
            store_of(spec).write(spec, r, executor)
            if tensorboard and not log_dir(spec).is_dir():   # none written as it trained
                write_run_log(store_of(spec).root.parent, spec.run_id, r)

    if tensorboard:
        check_available()
    if todo:                     # a Ray cluster's nodes may have other devices than this one
        preflight(todo, devices=executor == "local", run_timeout=run_timeout)
    if finished and not quiet:
        where = ", ".join(str(s.root) for s in stores.values())
        print(f"{len(finished)} of {len(specs)} runs already finished in {where}; "
              f"training the other {len(todo)}", file=sys.stderr)
    run_all(todo, workers=workers, lockstep=lockstep, quiet=quiet, executor=executor,
            ray_address=ray_address, on_result=save, desc=desc, run_timeout=run_timeout,
            log_dir=log_dir if tensorboard and executor == "local" else None)
    results = [failures[s.run_id] if s.run_id in failures else
               finished.get(s.run_id) or store_of(s).load(s) for s in specs]
    return Outcome(specs=list(specs), results=results, skipped=list(finished),
                   trained=[s.run_id for s in todo if s.run_id not in failures],
                   failed=[failures[s.run_id] for s in todo if s.run_id in failures])


def run_experiments(out_dir: Path, env_spec: EnvSpec, config: DQNConfig, seeds: list[int], *,
                    layers: str = "candidates", workers: int | None = None,
                    lockstep: int | None = None,
                    quiet: bool = False, executor: str = "local",
                    ray_address: str | None = None, backbone: str | None = None,
                    video: VideoSettings | None = None, tensorboard: bool = False,
                    run_timeout: float | None = None) -> tuple[list[dict], Outcome]:
    """Train all runs not yet finished, save each as it finishes (with its TensorBoard log
    when ``tensorboard``), then write the seed's CSVs; ``run_timeout`` as for
    :func:`execute_runs`.

    Returns the summary and what was done; raises :class:`RunsFailedError` (writing no
    table) when every run raised."""
    if not seeds:
        raise ConfigError("--seeds must name at least one seed")
    out_dir = Path(out_dir)
    specs = plan_runs(out_dir, env_spec, config, seeds, layers, backbone=backbone, video=video,
                      run_timeout=run_timeout)
    outcome = execute_runs(out_dir, specs, workers=workers, lockstep=lockstep,
                           executor=executor, ray_address=ray_address, quiet=quiet,
                           tensorboard=tensorboard, run_timeout=run_timeout)
    outcome.check_any_result(out_dir)
    return write_experiment_outputs(out_dir, outcome.results,
                                    np.random.default_rng(SUMMARY_SEED)), outcome


# ---- sweeps
RUNS_COLUMNS = ("run_id", "layer", "seed", "status", "episodes", "env_steps", "mean_last_50",
                "mean_auc", "success_last_50", "error", "flags")


def sweep_dir(out_dir: Path, sweep: Sweep) -> Path:
    return Path(out_dir) / "sweeps" / sweep.name


#: A sweep's summary by setting (in ``sweeps/<name>/``), and its columns after the varied
#: settings.
SWEEP_SUMMARY_FILE = "summary.csv"
SWEEP_SUMMARY_COLUMNS = ("layer", "runs", "runs_ok", "runs_failed", "runs_diverged",
                         "runs_flagged", "mean_last_50", "std_last_50", "mean_auc",
                         "success_last_50")


def sweep_summary_rows(sweep: Sweep, results: Sequence[RunResult]) -> list[dict]:
    """One row per (point of ``sweep.varied``, layer) over ``results`` (in the order of
    ``sweep.specs``): the settings (``{"dqn.lr": 0.001, ...}``), then ``runs``,
    ``runs_ok``, ``runs_failed``, ``runs_diverged``, ``runs_flagged`` (finished runs whose
    health check raised a flag), and the return numbers over the ``ok`` runs (NaN when
    none finished ``ok``)."""
    groups: dict[tuple, list[RunResult]] = {}
    for spec, r in zip(sweep.specs, results):
        groups.setdefault((tuple(sweep.point(spec).items()), spec.layer), []).append(r)
    rows, nan = [], math.nan
    for (point, layer), runs in groups.items():
        ok = [r for r in runs if r.status == "ok"]
        finals = np.array([final_return(r) for r in ok])
        rows.append({
            **dict(point), "layer": layer, "runs": len(runs), "runs_ok": len(ok),
            "runs_failed": sum(r.status == "failed" for r in runs),
            "runs_diverged": sum(r.status == "diverged" for r in runs),
            "runs_flagged": sum(bool(r.flags) for r in ok),
            "mean_last_50": float(finals.mean()) if ok else nan,
            "std_last_50": float(finals.std()) if ok else nan,
            "mean_auc": float(np.mean([r.returns.mean() for r in ok])) if ok else nan,
            "success_last_50": (float(np.mean([r.successes[-LAST:].mean() for r in ok]))
                                if ok else nan)})
    return rows


def sweep_summary_columns(sweep: Sweep) -> tuple[str, ...]:
    """The columns of :func:`sweep_summary_rows`: the varied settings, then
    :data:`SWEEP_SUMMARY_COLUMNS`."""
    return tuple(sweep.varied) + SWEEP_SUMMARY_COLUMNS


def explain_sweep_folder(folder: Path) -> None:
    """Raise MissingInputError saying what to do when ``folder`` has no
    ``experiment_summary.csv`` (what ``rosetta report`` reads) because it is the folder of
    a sweep whose settings vary, or an output folder that holds only sweeps. Otherwise
    return (the report's own checks follow)."""
    folder = Path(folder)
    if (folder / "experiment_summary.csv").exists():
        return
    if (folder / "sweep.json").is_file():
        try:
            varied = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))["varied"]
        except (OSError, ValueError, KeyError, TypeError):
            varied = []
        what = f" whose runs vary {', '.join(map(str, varied))}" if varied else ""
        raise MissingInputError(
            f"{folder} is the folder of a sweep{what}: rosetta report compares layers "
            f"under one setting, so it reports a sweep with one value of each; this sweep's "
            f"summary by setting is {folder / SWEEP_SUMMARY_FILE} (and runs.csv); for a full "
            f"report of one setting run rosetta sweep (or rosetta train) with that value into "
            f"its own --output-dir")
    sweeps = sorted(p.parent for p in folder.glob("sweeps/*/sweep.json"))
    if sweeps:
        raise MissingInputError(
            f"{folder} has no experiment_summary.csv (rosetta train writes it) but holds "
            f"the sweep(s) {', '.join(p.name for p in sweeps)}: report one with rosetta "
            f"report --output-dir {sweeps[0]}")


def write_sweep_outputs(out_dir: Path, sweep: Sweep, results: Sequence[RunResult]) -> Path:
    """Tables of one sweep under ``out_dir/sweeps/<name>/``; returns that folder.

    ``runs.csv`` has one row per run (its varied settings after ``seed``; ``flags`` are the
    run-health check's, ';'-joined; a run that is not ``ok`` has no return numbers),
    ``returns.csv`` one per episode, ``summary.csv`` one per (setting, layer)
    (:func:`sweep_summary_rows`). A sweep whose runs share env and config also gets the
    seed's ``experiment_returns.csv`` and ``experiment_summary.csv`` there (``rosetta report
    --output-dir`` that folder reads them).
    """
    folder = sweep_dir(out_dir, sweep)
    columns = RUNS_COLUMNS[:3] + sweep.varied + RUNS_COLUMNS[3:]
    rows = []
    for spec, r in zip(sweep.specs, results):
        m = {**run_metrics(r), "flags": ";".join(r.flags)}
        if r.status != "ok":          # a diverged run's returns before the NaN are no result
            m.update(mean_last_50=None, mean_auc=None, success_last_50=None)
        rows.append({"run_id": spec.run_id, "layer": spec.layer, "seed": spec.seed,
                     **sweep.point(spec),
                     **{k: ("" if m[k] is None else m[k]) for k in RUNS_COLUMNS[3:]}})
    write_csv(folder / "runs.csv", rows, columns)
    ids = {r.extra["run_id"]: spec.run_id for spec, r in zip(sweep.specs, results)}
    episode_rows = ({"run_id": ids[r.extra["run_id"]], **row}
                    for r in results for row in returns_rows([r]))
    write_csv(folder / "returns.csv", episode_rows, ("run_id",) + RETURNS_COLUMNS)
    write_csv(folder / SWEEP_SUMMARY_FILE, sweep_summary_rows(sweep, results),
              sweep_summary_columns(sweep))
    write_json(folder / "sweep.json", {"name": sweep.name, "varied": list(sweep.varied),
                                       "runs": sweep.run_ids})
    if sweep.single_point:
        write_experiment_outputs(folder, results, np.random.default_rng(SUMMARY_SEED))
    return folder


def run_sweep(out_dir: Path, sweep: Sweep, *, workers: int | None = None,
              lockstep: int | None = None,
              executor: str = "local", ray_address: str | None = None,
              quiet: bool = False, tensorboard: bool = False,
              run_timeout: float | None = None) -> tuple[Outcome, Path]:
    """Run a sweep (resuming: finished runs are skipped) and write its tables (none, and
    :class:`RunsFailedError`, when every run raised); ``tensorboard`` and ``run_timeout``
    as for :func:`execute_runs`."""
    outcome = execute_runs(out_dir, list(sweep.specs), workers=workers, lockstep=lockstep,
                           executor=executor, ray_address=ray_address, quiet=quiet,
                           desc=f"sweep {sweep.name}", tensorboard=tensorboard,
                           run_timeout=run_timeout)
    outcome.check_any_result(sweep_dir(out_dir, sweep))
    return outcome, write_sweep_outputs(out_dir, sweep, outcome.results)
