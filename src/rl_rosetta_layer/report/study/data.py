"""What the study's statistics read: each run's returns, run health and tasks, and the rules.

A run's **final return** is its last greedy evaluation (``final_eval`` of
``experiment_runs.csv``: 50 episodes with epsilon 0.01 at the end of its budget) and its
**sample efficiency** the mean over its evaluation checkpoints (``auc_eval``). A study
made before evaluations existed has neither: its final return is then the mean return of
the last 50 training episodes (``mean_last_50``), and :attr:`StudyData.measure` says which
(one measure for the whole study; a study where some runs lack an evaluation uses the
training number for every run and says why in :attr:`StudyData.measure_note`).

Returns are compared as a fraction of the achievable: ``(return - random) / (reference -
random)`` with the random and reference (optimal) policies' mean returns of ``tasks.csv``
(0 = random policy, 1 = optimal). The statistical unit is a (task, seed) run; pooled rows
resample seeds within tasks (stratified bootstrap) and test by sign flips over those units.
Pooled rows pool only the tasks whose positive control learned (:meth:`set_learned`): a
task where the pipeline failed never enters an answer.

A paired difference gets one verdict (:func:`verdict`):

- ``control failed``: the positive control of the task (the bypass, else ``identity``)
  did not learn it: the lower end of its IQM's 95 % CI is below ``LEARNED`` of the
  achievable, so the task gives no answer;
- ``flagged``: a run of either layer was flagged by the run-health check (constant greedy
  policy, saturated head): the pipeline failed there, so the difference is not a result;
- ``better`` / ``worse``: the 95 % CI excludes 0 and the Holm-corrected sign-flip p < 0.05;
- ``equivalent``: the two one-sided tests against +-``MARGIN`` of the achievable pass
  (Holm-corrected p < 0.05) and the 95 % CI lies inside the margin;
- ``inconclusive``: none of these: too noisy to tell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ... import stats
from ...analysis.run import read_select_by, read_selected
from ...errors import MissingInputError, RosettaError
from ...io import read_csv
from ...layers.custom import custom_kind, parse_custom
from ...layers.families import TORCH_SUFFIX
from ...layers.registry import BANK_NAMES, BASELINES
from ..statistics import final_returns, load_scores, run_health

ALPHA = 0.05
#: Equivalence margin, as a fraction of the achievable.
MARGIN = 0.1
#: A positive control "learned" a task when the lower end of the 95 % CI of its IQM
#: reaches this fraction of the achievable.
LEARNED = 0.5
#: A task can tell layers apart when ``identity`` stays at most this fraction of the
#: achievable (the upper end of its IQM's 95 % CI) ...
CEILING = 0.85
#: ... and some layer beats ``identity`` by at least this much (the lower end of the 95 %
#: CI of their mean paired difference, fraction of the achievable).
ROOM = 0.1
KINDS = ("pretrained", "twin", "shuffled", "prefix", "control", "synthetic", "baseline")
#: The two twins of a pretrained block: the variant suffix and its layer kind.
TWINS = {"random": "twin", "shuffled": "shuffled"}
POOLED = "all"
BYPASS_SUFFIX = ":bypass"
#: The final-return measures, the evaluation first.
MEASURES = ("final_eval", "mean_last_50")
VERDICTS = ("better", "worse", "equivalent", "inconclusive", "flagged", "control failed")


def layer_kind(name: str) -> str:
    """'pretrained' (BACKBONE:BLOCK, or a torch block of your own ``MODULE:FACTORY``), 'twin'
    (...:random), 'shuffled' (...:shuffled), 'prefix' (...:prefix), 'control'
    (BACKBONE:bypass, NAME@torch), 'baseline', or 'synthetic' (the seed's candidates and
    frozen layers of your own)."""
    if name.endswith(BYPASS_SUFFIX) or name.endswith(TORCH_SUFFIX):
        return "control"
    if ":" in name:
        suffix = name.rsplit(":", 1)[1]
        if suffix in TWINS or suffix == "prefix":
            return TWINS.get(suffix, "prefix")
        return "synthetic" if _own_frozen_layer(name) else "pretrained"
    return "baseline" if name in BASELINES or name in BANK_NAMES else "synthetic"


def _own_frozen_layer(name: str) -> bool:
    """Whether ``name`` is a frozen numpy layer of your own (``MODULE:FACTORY``). Its module
    is imported to tell (as training did); one that cannot be imported here counts as a
    block."""
    if parse_custom(name) is None:
        return False
    try:
        return custom_kind(name) == "layer"
    except RosettaError:
        return False


def twin_of(name: str, variant: str = "random") -> str:
    """The ``variant`` twin ('random' or 'shuffled') of a pretrained block."""
    return f"{name}:{variant}"


def prefix_of(name: str) -> str:
    return f"{name}:prefix"


def block_of(name: str) -> str:
    """``tiny-video:transformer_blocks.1[:random]`` -> ``transformer_blocks.1``."""
    return name.split(":")[1]


def verdict(lo: float, hi: float, p: float, p_equivalence: float = math.nan,
            margin: float = math.nan, *, flagged: bool = False, informative: bool = True,
            alpha: float = ALPHA) -> str:
    """The verdict of a paired difference (see the module docstring); ``informative`` is
    False on a task whose positive control did not learn."""
    if not informative:
        return "control failed"
    if flagged:
        return "flagged"
    if math.isfinite(lo) and lo > 0 and p < alpha:
        return "better"
    if math.isfinite(hi) and hi < 0 and p < alpha:
        return "worse"
    if p_equivalence < alpha and -margin < lo and hi < margin:
        return "equivalent"
    return "inconclusive"


class StudyData:
    """Returns of one study: per task and measure {layer: {seed: return}} (normalised on
    request), each run's health flags, the analysis' scores and the tasks' policies.

    ``values[m][env]`` for m in 'final' (the final return: :attr:`measure`), 'auc' (the
    mean over evaluation checkpoints; empty when the runs have none) and 'train' (the
    last 50 training episodes' mean); every layer of ``values['final'][env]`` has every
    seed, layers with fewer are listed in ``dropped``."""

    def __init__(self, out_dir: Path, envs: Sequence[str]) -> None:
        self.out_dir = Path(out_dir)
        self.envs = list(envs)
        self._read_tasks()
        self.selected: dict[str, str] = {}
        #: Per task, the analysis score that selected its layer (its ``--select-by``).
        self.select_by: dict[str, str] = {}
        self.scores: dict[str, dict] = {}
        self.replicates: dict[str, dict | None] = {}
        self.health: dict[str, list[dict] | None] = {}
        train = {}
        for env in self.envs:
            folder = self.out_dir / env
            if not folder.is_dir():
                raise MissingInputError(
                    f"{folder} does not exist: a study's report needs each task's folder as "
                    f"`rosetta study` wrote it (a copy of the study tables alone, like "
                    f"docs/study-results, cannot be redone)")
            train[env] = final_returns(folder)
            self.selected[env] = read_selected(folder)
            self.select_by[env] = read_select_by(folder)
            self.scores[env], self.replicates[env] = load_scores(folder)
            self.health[env] = run_health(folder)
        evals = {env: _evaluations(self.health[env]) for env in self.envs}
        runs = sum(len(v) for env in self.envs for v in train[env].values())
        lacking = sum(s not in evals[env][0].get(layer, {}) for env in self.envs
                      for layer, seeds in train[env].items() for s in seeds)
        self.measure = "final_eval" if runs and not lacking else "mean_last_50"
        self.measure_note = ("" if self.measure == "final_eval" or lacking == runs else
                             f"{lacking} of {runs} finished runs have no greedy evaluation, "
                             f"so every run's final return is its last 50 training episodes'")
        self.values: dict[str, dict[str, dict]] = {"final": {}, "auc": {}, "train": {}}
        self.dropped: dict[str, list[str]] = {}
        for env in self.envs:
            final = evals[env][0] if self.measure == "final_eval" else train[env]
            n = max((len(v) for v in final.values()), default=0)
            kept = sorted(k for k, v in final.items() if len(v) == n)
            self.dropped[env] = sorted(k for k, v in final.items() if len(v) < n)
            self.values["final"][env] = {k: final[k] for k in kept}
            self.values["train"][env] = {k: train[env][k] for k in kept if k in train[env]}
            self.values["auc"][env] = ({k: evals[env][1][k] for k in kept}
                                       if self.measure == "final_eval" else {})
        self.learned: dict[str, bool | None] = {}

    def _read_tasks(self) -> None:
        tasks = read_csv(self.out_dir / "tasks.csv", ("env", "policy", "mean_return",
                                                      "mean_optimal_return"),
                         hint="rosetta study")
        self.random, self.optimal = {}, {}
        for row in tasks:
            if row["policy"] == "random":
                self.random[row["env"]] = float(row["mean_return"])
            if row["policy"] == "reference":
                self.optimal[row["env"]] = float(row["mean_optimal_return"])
        missing = [e for e in self.envs if e not in self.random or e not in self.optimal]
        if missing:
            raise MissingInputError(f"{self.out_dir / 'tasks.csv'} lacks the random or "
                                    f"reference returns of {', '.join(missing)}; run "
                                    f"`rosetta study` again")

    @property
    def final(self) -> dict[str, dict[str, dict[int, float]]]:
        """Per task {layer: {seed: final return}} (the study's :attr:`measure`)."""
        return self.values["final"]

    @property
    def has_auc(self) -> bool:
        """Whether the runs were evaluated at checkpoints (``auc_eval`` is known)."""
        return self.measure == "final_eval"

    # ------------------------------------------------------------------------ returns
    def scale(self, env: str) -> float:
        """reference - random of a task: one 'achievable' in its own units."""
        return self.optimal[env] - self.random[env]

    def normalise(self, env: str, value):
        """Fraction of the achievable (float or array): 0 = random policy, 1 = reference
        (optimal)."""
        return (value - self.random[env]) / self.scale(env)

    def matrix(self, env: str, layers: Sequence[str], *, normalised: bool = False,
               value: str = "final") -> np.ndarray:
        """(seeds, layers) returns of one task (``value``: 'final', 'auc' or 'train'), or
        pooled: (tasks*seeds, layers), normalised, over :attr:`pooled_envs` when env is
        'all'."""
        if env == POOLED:
            return np.concatenate([self.matrix(e, layers, normalised=True, value=value)
                                   for e in self.pooled_envs])
        x, _, _ = stats.align_seeds({k: self.values[value][env][k] for k in layers})
        return self.normalise(env, x) if normalised else x

    def units(self, env: str, layers: Sequence[str]) -> list[tuple[str, int]]:
        """(task, seed) of each row of :meth:`matrix` (same ``env`` and ``layers``)."""
        return [(e, s) for e in self.task_envs(env)
                for s in sorted(self.final[e][layers[0]])]

    def strata(self, env: str) -> np.ndarray | None:
        """(tasks*seeds,) task index of each pooled row, or None for one task."""
        if env != POOLED:
            return None
        return np.concatenate([[i] * len(next(iter(self.final[e].values())))
                               for i, e in enumerate(self.pooled_envs)])

    def task_envs(self, env: str) -> list[str]:
        """The tasks behind a row: itself, or every pooled task for the pooled rows."""
        return self.pooled_envs if env == POOLED else [env]

    @property
    def pooled_envs(self) -> list[str]:
        """The tasks the pooled ('all') rows pool: those whose positive control learned
        (every task until :meth:`set_learned`, and where no control was run)."""
        return [e for e in self.envs if self.learned.get(e) is not False]

    def layers(self, env: str) -> list[str]:
        """Layers with every seed, in a fixed order: kind, then name."""
        if env == POOLED:
            names = list(set.intersection(*(set(self.final[e]) for e in self.pooled_envs)))
        else:
            names = list(self.final[env])
        return sorted(names, key=lambda n: (KINDS.index(layer_kind(n)), n))

    def blocks(self, env: str, variant: str = "random") -> list[str]:
        """Pretrained blocks whose ``variant`` twin was run too."""
        names = self.layers(env)
        return [n for n in names
                if layer_kind(n) == "pretrained" and twin_of(n, variant) in names]

    # ------------------------------------------------------------------------- health
    def runs(self, env: str, layer: str) -> list[dict]:
        """Rows of ``experiment_runs.csv`` of a layer in a task ([] when not recorded)."""
        return [r for r in self.health.get(env) or [] if r["layer"] == layer]

    def flagged(self, env: str, layers: Sequence[str]) -> bool:
        """Whether any run of ``layers`` in the task(s) of ``env`` was flagged."""
        return any(r["flags"] for e in self.task_envs(env) for n in layers
                   for r in self.runs(e, n))

    def flagged_units(self, env: str, layers: Sequence[str]) -> np.ndarray:
        """(units,) bool: whether a run of ``layers`` at that row of :meth:`matrix` was
        flagged."""
        bad = {(e, r["seed"]) for e in self.task_envs(env) for n in layers
               for r in self.runs(e, n) if r["flags"]}
        return np.array([u in bad for u in self.units(env, layers)], dtype=bool)

    def positive_control(self, env: str) -> str | None:
        """The task's positive control: the bypass when it ran, else ``identity``."""
        names = self.layers(env)
        bypass = [n for n in names if n.endswith(BYPASS_SUFFIX)]
        return bypass[0] if bypass else ("identity" if "identity" in names else None)

    def set_learned(self, layer_rows: Sequence[Mapping]) -> dict[str, bool | None]:
        """Judge each task's positive control from its row of the layer table (the lower
        end of the 95 % CI of its IQM, fraction of the achievable, against ``LEARNED``;
        None when no control ran); the pooled rows then pool only the tasks it learned."""
        for env in self.envs:
            control = self.positive_control(env)
            row = next((r for r in layer_rows if r["env"] == env and r["layer"] == control),
                       None)
            self.learned[env] = (None if row is None
                                 else bool(row["final_iqm_frac_ci_low"] >= LEARNED))
        return dict(self.learned)

    def control_learned(self, env: str) -> bool | None:
        """Whether the positive control learned the task ``env`` (:meth:`set_learned`);
        pooled rows pool only tasks it learned, so they count as learned when there are
        any."""
        if env == POOLED:
            return True if self.pooled_envs else False
        return self.learned.get(env)


def _evaluations(rows: list[dict] | None) -> tuple[dict, dict]:
    """({layer: {seed: final_eval}}, {layer: {seed: auc_eval}}) of the finished runs of
    ``experiment_runs.csv`` rows that have an evaluation."""
    final: dict[str, dict[int, float]] = {}
    auc: dict[str, dict[int, float]] = {}
    for r in rows or []:
        if r["status"] == "ok" and math.isfinite(r["final_eval"]) and \
                math.isfinite(r["auc_eval"]):
            final.setdefault(r["layer"], {})[r["seed"]] = r["final_eval"]
            auc.setdefault(r["layer"], {})[r["seed"]] = r["auc_eval"]
    return final, auc
