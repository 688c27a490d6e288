"""``rosetta study``: the layer question asked of one backbone on several tasks, end to end.

For each task the study runs the analysis (scores of every frozen layer) and RL on every
(layer, seed) with one budget in env steps, then the statistics that answer: does a
pretrained block beat its random twin? does the best pretrained block beat the other
layers? did the analysis pick it? (:mod:`rl_rosetta_layer.report.study`).

The default layers hold the controls that make a null result mean something: the bypass
(the video path's adapters with no block, which must learn), ``random_wide@torch`` (the
torch learner on a numpy layer, which must agree with the numpy learner), and the stacks of
blocks 0..k (is one isolated block the right unit?). Every run's health is checked
(:mod:`rl_rosetta_layer.agent.health`) and flagged runs are reported, never averaged in.

Files under ``out_dir`` (default ``outputs/tiny-video``):

    study_plan.json            what was run: tasks, layers, seeds, DQN config, video settings
    study_run.json             when it ran, for how long, on which machine, runs trained
    tasks.csv                  random, one-frame and reference returns per task (they turn
                               returns into a fraction of the achievable)
    <task>/                    what ``rosetta run`` writes for that task alone: analysis,
                               runs/<run_id>/ (a rerun trains only what is missing; all
                               tasks' runs train in one worker pool), experiment_returns.csv,
                               summary, comparisons, score validity, figures
                               (``rosetta report --output-dir OUT/<task>`` redoes them)
    study_*.csv, study.md      the study's statistics and its paper section
    figures/study_*.png
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..agent.acting import ActingProbes
from ..agent.config import DQNConfig
from ..analysis.acting import ActingSettings
from ..analysis.run import run_analysis
from ..analysis.score import N_BOOTSTRAP, check_selection_metric
from ..envs.playback import play, summary
from ..envs.reference import POLICIES, POLICY_METHODS
from ..envs.registry import env_attribute, names_with
from ..errors import ConfigError, CorruptFileError, MissingInputError, RosettaError
from ..io import write_csv, write_json
from ..layers.registry import BANK_NAMES, expand_layer_names
from ..video.candidates.settings import VideoSettings
from ..video.family import is_video_layer, needs_torch
from .outputs import write_experiment_outputs
from .pools import worker_pool
from .spec import EnvSpec
from .study_defaults import (  # noqa: F401 - the study's defaults, also read as study.NAME
    DEFAULT_BACKBONE,
    DEFAULT_DATASET_STEPS,
    DEFAULT_ENVS,
    DEFAULT_LAYERS,
    DEFAULT_SEEDS,
    DEFAULT_SELECT_BY,
    STUDY_CONFIG,
    STUDY_VIDEO,
    TASK_BUDGETS,
    TASK_EPISODES,
)
from .train import SUMMARY_SEED, Outcome, execute_runs, plan_runs
from .units import default_workers

TASK_COPIES = 100
TASK_SEED = 10_000
TASK_COLUMNS = ("env", "policy", "episodes", "mean_return", "ci_low", "ci_high",
                "success_rate", "mean_length", "mean_optimal_return")


@dataclass(frozen=True)
class StudyPlan:
    """Everything a study runs; saved as ``study_plan.json``."""

    out_dir: Path
    envs: tuple[EnvSpec, ...] = tuple(EnvSpec(name) for name in DEFAULT_ENVS)
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    layers: str = DEFAULT_LAYERS
    config: DQNConfig = STUDY_CONFIG
    backbone: str = DEFAULT_BACKBONE
    video: VideoSettings = STUDY_VIDEO
    dataset_steps: int = DEFAULT_DATASET_STEPS
    n_bootstrap: int = N_BOOTSTRAP
    task_episodes: int = TASK_EPISODES
    budgets: tuple[int, ...] = ()
    """Env steps per run on each task of ``envs``, in order; empty: each task's
    :data:`TASK_BUDGETS` (the budget rule's), else ``config.env_steps``."""
    select_by: str = DEFAULT_SELECT_BY
    """The analysis score that selects each task's layer (docs/selection-rule.md)."""

    def __post_init__(self) -> None:
        if not self.envs:
            raise ConfigError("a study needs at least one task (--envs)")
        names = [e.name for e in self.envs]
        if len(set(names)) != len(names):
            raise ConfigError(f"--envs lists a task twice: {','.join(names)}")
        off = [n for n in names if not has_reference_policies(n)]
        if off:
            accepted = ", ".join(names_with(has_reference_policies))
            raise ConfigError(f"study tasks must be grid-format tasks ({accepted}) "
                              f"so returns can be read against a reference policy; got "
                              f"{', '.join(off)}")
        self.layer_names()
        if len(self.seeds) < 2:
            raise ConfigError(f"a study needs at least 2 seeds for paired statistics, got "
                              f"{list(self.seeds)}")
        if self.task_episodes < TASK_COPIES or self.task_episodes % TASK_COPIES:
            raise ConfigError(f"task_episodes must be a positive multiple of {TASK_COPIES}, "
                              f"got {self.task_episodes}")
        if self.budgets and len(self.budgets) != len(self.envs):
            raise ConfigError(f"a study needs one budget per task: {len(self.envs)} tasks, "
                              f"{len(self.budgets)} budgets")
        for env in self.envs:
            self.config_for(env)          # each task's config is valid (checkpoints fit)
        check_selection_metric(self.select_by)

    def budget(self, env: EnvSpec) -> int:
        """Env steps per run on task ``env``."""
        if self.budgets:
            return self.budgets[self.envs.index(env)]
        return TASK_BUDGETS.get(env.name, self.config.env_steps)

    def config_for(self, env: EnvSpec) -> DQNConfig:
        """The study's DQN with task ``env``'s budget."""
        return replace(self.config, env_steps=self.budget(env))

    def layer_names(self) -> list[str]:
        """The study's layers (checked: known names, and none that depends on a task's
        analysis, so every task runs the same layers)."""
        parts = {p.strip() for p in self.layers.split(",")}
        names = expand_layer_names(self.layers, "identity", backbone=self.backbone,
                                   weights=self.video.weights)
        if "selected" in parts or any(n in BANK_NAMES for n in names):
            raise ConfigError(f"--layers {self.layers!r}: a study runs the same layers on "
                              f"every task, so 'selected' and the random bank (in 'bank', "
                              f"'baselines', 'all') are not accepted; name layers or use the "
                              f"groups blocks, twins, candidates")
        return names

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "envs": [e.__dict__ for e in self.envs],
                "seeds": list(self.seeds), "layers": self.layers,
                "config": self.config.to_dict(), "backbone": self.backbone,
                "video": self.video.to_dict(), "dataset_steps": self.dataset_steps,
                "n_bootstrap": self.n_bootstrap, "task_episodes": self.task_episodes,
                "budgets": {e.name: self.budget(e) for e in self.envs},
                "select_by": self.select_by}


def has_reference_policies(env_name: str) -> bool:
    """Whether the environment ``env_name`` has the reference and one-frame policies that
    ``tasks.csv`` measures (asked of the environment: :data:`.reference.POLICY_METHODS`)."""
    return all(callable(env_attribute(env_name, m)) for m in POLICY_METHODS)


def read_plan(out_dir: Path) -> dict:
    """The ``study_plan.json`` of a study folder (what its files were made with)."""
    import json

    path = Path(out_dir) / "study_plan.json"
    if not path.is_file():
        raise MissingInputError(f"{path} does not exist; run `rosetta study` first")
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
        names = [e["name"] for e in plan["envs"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path} is not a study plan written by `rosetta study` "
                               f"({exc})") from exc
    if not names:
        raise CorruptFileError(f"{path} lists no tasks")
    return plan


def task_rows(env: EnvSpec, episodes: int) -> list[dict]:
    """Random, one-frame and reference returns of ``env`` (rows of ``tasks.csv``); every
    policy plays the same episode starts (copies seeded TASK_SEED + i)."""
    rows = []
    for policy in POLICIES:
        result = play(env.make(TASK_COPIES), policy, episodes // TASK_COPIES, TASK_SEED)
        rows.append({"env": env.name, "policy": policy, **summary(result)})
    return rows


def env_dir(out_dir: Path, env: EnvSpec) -> Path:
    """The folder of one task's outputs."""
    return Path(out_dir) / env.name


def analyse_task(plan: StudyPlan, env: EnvSpec, quiet: bool = True) -> str:
    """The layer analysis of one task (``rosetta analyze`` into its folder) with the acting
    probes (:mod:`rl_rosetta_layer.agent.acting`: behaviour cloning, reference Q-values and
    the study's DQN on a fraction of its budget, on as many demonstration states as the
    analysis has random transitions), and how alike the twins' features are to their
    blocks' and the bypass's (:func:`task_similarity`); the selection."""
    with threadpool_limits(1):
        probe = ActingProbes(env.make, plan.config_for(env),
                             ActingSettings(demo_steps=max(20, plan.dataset_steps)),
                             n_bootstrap=plan.n_bootstrap)
        selected = run_analysis(env_dir(plan.out_dir, env), env,
                                dataset_steps=plan.dataset_steps, seed=0, layers=plan.layers,
                                n_bootstrap=plan.n_bootstrap, quiet=quiet,
                                backbone=plan.backbone, video=plan.video, probe=probe,
                                select_by=plan.select_by)
        task_similarity(plan, env)
        return selected


#: Random-policy observations per task on which the twins' features are compared.
SIMILARITY_STEPS = 1000
SIMILARITY_SEED = 31
SIMILARITY_FILE = "layer_similarity.csv"
SIMILARITY_COLUMNS = ("layer", "kind", "block", "cka_to_block", "cka_to_bypass")


def similarity_rows(names: list[str], features: dict[str, np.ndarray]) -> list[dict]:
    """What each twin removes, as linear CKA (:func:`~..analysis.similarity.linear_cka`)
    of features (N, C) on the same observations: every pretrained block and each of its
    twins (``:random``, ``:shuffled``) against the block and against the bypass (the same
    adapters with no block) of its backbone. ``names`` in study order; layers of other
    kinds are left out."""
    from ..analysis.similarity import linear_cka
    from ..video.backbones.catalog import BYPASS, parse_layer_name

    rows = []
    for name in names:
        try:
            parsed = parse_layer_name(name)
        except RosettaError:             # a torch block of your own: no backbone, no row
            continue
        if parsed.block == BYPASS or parsed.variant == "prefix":
            continue
        block = f"{parsed.backbone}:{parsed.block}"
        bypass = f"{parsed.backbone}:{BYPASS}"
        if block not in features:
            continue
        rows.append({"layer": name, "kind": parsed.variant or "pretrained", "block": block,
                     "cka_to_block": linear_cka(features[name], features[block]),
                     "cka_to_bypass": (linear_cka(features[name], features[bypass])
                                       if bypass in features else float("nan"))})
    return rows


def task_similarity(plan: StudyPlan, env: EnvSpec) -> list[dict]:
    """:func:`similarity_rows` of task ``env`` on ``SIMILARITY_STEPS`` random-policy
    observations (the same for every layer), written to ``layer_similarity.csv`` in the
    task's folder; the layers are built one at a time."""
    from ..analysis.dataset import collect_transitions
    from ..layers.registry import build_layers

    names = [n for n in plan.layer_names() if is_video_layer(n) and ":" in n]
    rng = np.random.default_rng(SIMILARITY_SEED)
    sim_env = env.make(16)
    sim_env.seed_with([np.random.default_rng([SIMILARITY_SEED, i]) for i in range(16)])
    obs = collect_transitions(sim_env, SIMILARITY_STEPS, rng).obs
    features = {}
    for name in names:
        layer = build_layers([name], env.observations(), None, plan.video)[name]
        features[name] = np.asarray(layer.forward(obs), np.float64)
        del layer
    rows = similarity_rows(names, features)
    write_csv(env_dir(plan.out_dir, env) / SIMILARITY_FILE, rows, SIMILARITY_COLUMNS)
    return rows


def analyse_tasks(plan: StudyPlan, *, workers: int | None = None,
                  quiet: bool = False) -> dict[str, str]:
    """Every task's analysis, the tasks side by side in worker processes (one each, up to
    ``workers``); the same files as one after the other. Returns task -> selected layer."""
    workers = min(len(plan.envs), workers or default_workers())
    if workers == 1:
        return {env.name: analyse_task(plan, env, quiet) for env in plan.envs}
    uses_torch = any(needs_torch(n) for n in plan.layer_names())
    start = time.perf_counter()
    with worker_pool(workers, _one_thread, (uses_torch,)) as pool:
        futures = {pool.submit(analyse_task, plan, env): env.name for env in plan.envs}
        selected = {}
        for future in as_completed(futures):
            selected[futures[future]] = future.result()
            if not quiet:
                print(f"[study] analysis on {futures[future]} done after "
                      f"{time.perf_counter() - start:.0f} s; selected "
                      f"{selected[futures[future]]}", file=sys.stderr)
    return {env.name: selected[env.name] for env in plan.envs}


def _one_thread(uses_torch: bool) -> None:
    """Worker start: one BLAS thread, and one torch thread when the study needs torch (the
    workers share the cores)."""
    threadpool_limits(1)
    if uses_torch:
        import torch

        torch.set_num_threads(1)


def run_cost_rank(layer: str) -> int:
    """Order in which runs start, longest first: stacks of blocks, blocks, other torch
    layers, numpy layers."""
    if layer.endswith(":prefix"):
        return 0
    return 1 if is_video_layer(layer) else 2 if needs_torch(layer) else 3


def plan_study_runs(plan: StudyPlan, run_timeout: float | None = None) -> list:
    """Every (task, layer, seed) run, the longest first (:func:`run_cost_rank`);
    ``run_timeout`` as for :func:`~.train.plan_runs`."""
    specs = []
    for env in plan.envs:
        specs += plan_runs(env_dir(plan.out_dir, env), env, plan.config_for(env),
                           list(plan.seeds),
                           plan.layers, backbone=plan.backbone, video=plan.video,
                           run_timeout=run_timeout)
    return sorted(specs, key=lambda s: run_cost_rank(s.layer))


#: What turns a study's files into its report: (study folder, plan as saved, task ->
#: selected layer) -> the answers (``report.study.write_study_reports``; passed in, so that
#: the pipeline never calls up into the report layer).
Reporter = Callable[[Path, dict, dict], dict]


def run_study(plan: StudyPlan, report: Reporter, *, workers: int | None = None,
              lockstep: int | None = None, quiet: bool = False, log=print,
              run_timeout: float | None = None) -> Outcome:
    """Run the study of ``plan``, write its files, then ``report`` them; returns what the
    runs did (its ``exit_status`` is the command's).

    ``lockstep``: seeds of one (task, layer) trained together in one worker (default: all
    of them; the numbers are the same as alone, only faster: one environment step, one
    replay and one cache of codes serve every seed). When every run raised, no table is
    written (:class:`RunsFailedError`). ``run_timeout``: seconds a run (its lockstep unit)
    may train before it is stopped and failed (:mod:`.timeouts`)."""
    out = Path(plan.out_dir)
    started, clock = _now(), time.perf_counter()
    tasks = []
    for env in plan.envs:
        tasks += task_rows(env, plan.task_episodes)
    write_csv(out / "tasks.csv", tasks, TASK_COLUMNS)
    write_json(out / "study_plan.json", plan.to_dict())
    log(f"[study] analysis on {', '.join(e.name for e in plan.envs)}")
    selected = analyse_tasks(plan, workers=workers, quiet=quiet)
    specs = plan_study_runs(plan, run_timeout)
    budgets = ", ".join(f"{e.name} {plan.budget(e):,}" for e in plan.envs)
    log(f"[study] RL: {len(specs)} runs ({len(plan.envs)} tasks x "
        f"{len(specs) // (len(plan.envs) * len(plan.seeds))} layers x {len(plan.seeds)} "
        f"seeds; env steps per run: {budgets})")
    outcome = execute_runs(out, specs, workers=workers, quiet=quiet, desc="study",
                           lockstep=lockstep or len(plan.seeds),
                           folder_of=lambda spec: env_dir(out, spec.env),
                           run_timeout=run_timeout)
    outcome.check_any_result(out)
    for env in plan.envs:
        results = [r for s, r in zip(outcome.specs, outcome.results) if s.env == env]
        write_experiment_outputs(env_dir(out, env), results,
                                 np.random.default_rng(SUMMARY_SEED))
    if outcome.failed:
        log(f"[study] {len(outcome.failed)} runs failed (they run again on the next "
            f"invocation); the statistics leave their layers out where seeds are missing")
    report(out, plan.to_dict(), selected)
    write_json(out / "study_run.json", {
        "started_at": started, "finished_at": _now(),
        "wall_seconds": round(time.perf_counter() - clock, 1), "runs": len(specs),
        "runs_trained": len(outcome.trained), "runs_failed": len(outcome.failed),
        "workers": workers or default_workers(), "lockstep": lockstep or len(plan.seeds),
        "cpus": os.cpu_count(),
        "host": platform.node(), "machine": platform.processor() or platform.machine()})
    return outcome


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def study_plan(out_dir: Path, *, envs: str, seeds: list[int], layers: str,
               config: DQNConfig | None, backbone: str, video: VideoSettings,
               dataset_steps: int, n_bootstrap: int, task_episodes: int, grid_size: int,
               history: int, env_steps: int | None = None,
               select_by: str = DEFAULT_SELECT_BY) -> StudyPlan:
    """A :class:`StudyPlan` from command-line values (``envs`` a comma list; ``env_steps``
    the budget of every task, None: each task's own)."""
    names = [n.strip() for n in str(envs).split(",") if n.strip()]
    specs = tuple(EnvSpec(n, grid_size, history) for n in names)
    budgets = tuple(env_steps for _ in specs) if env_steps is not None else ()
    return StudyPlan(Path(out_dir), specs, tuple(seeds), layers,
                     config or STUDY_CONFIG, backbone, video, dataset_steps, n_bootstrap,
                     task_episodes, budgets, select_by)

