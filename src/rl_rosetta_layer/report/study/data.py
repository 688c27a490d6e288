"""What the study's statistics read: final returns, run health and tasks, and the rules.

Returns are compared within a task in the task's own units and across tasks as a fraction
of the achievable: ``(return - random) / (reference - random)`` with the random and
reference (optimal) policies' mean returns of ``tasks.csv`` (0 = random policy, 1 =
optimal). The statistical unit is a (task, seed) run; pooled rows resample seeds within
tasks (stratified bootstrap) and test by sign flips over those units.

A paired difference gets one verdict (:func:`verdict`):

- ``flagged``: a run of either layer was flagged by the run-health check (constant greedy
  policy, saturated head): the pipeline failed there, so the difference is not a result;
- ``better`` / ``worse``: the 95 % CI excludes 0 and the Holm-corrected sign-flip p < 0.05;
- ``equivalent``: the two one-sided tests against +-``MARGIN`` of the achievable pass
  (Holm-corrected p < 0.05) and the 95 % CI lies inside the margin, on a task where the
  positive control learned (at least ``LEARNED`` of the achievable; otherwise both could
  sit at the floor and "no difference" would mean nothing);
- ``inconclusive``: none of these: too noisy to tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ... import stats
from ...analysis.run import read_selected
from ...errors import MissingInputError, RosettaError
from ...io import read_csv
from ...layers.custom import custom_kind, parse_custom
from ...layers.families import TORCH_SUFFIX
from ...layers.registry import BANK_NAMES, BASELINES
from ..statistics import final_returns, load_scores, run_health

ALPHA = 0.05
#: Equivalence margin, as a fraction of the achievable (per task: times reference - random).
MARGIN = 0.1
#: A positive control "learned" a task when its IQM reaches this fraction of the achievable.
LEARNED = 0.5
KINDS = ("pretrained", "twin", "prefix", "control", "synthetic", "baseline")
POOLED = "all"
BYPASS_SUFFIX = ":bypass"


def layer_kind(name: str) -> str:
    """'pretrained' (BACKBONE:BLOCK, or a torch block of your own ``MODULE:FACTORY``), 'twin'
    (...:random), 'prefix' (...:prefix), 'control' (BACKBONE:bypass, NAME@torch),
    'baseline', or 'synthetic' (the seed's candidates and frozen layers of your own)."""
    if name.endswith(BYPASS_SUFFIX) or name.endswith(TORCH_SUFFIX):
        return "control"
    if ":" in name:
        suffix = name.rsplit(":", 1)[1]
        if suffix in ("random", "prefix"):
            return {"random": "twin", "prefix": "prefix"}[suffix]
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


def twin_of(name: str) -> str:
    return f"{name}:random"


def prefix_of(name: str) -> str:
    return f"{name}:prefix"


def block_of(name: str) -> str:
    """``tiny-video:transformer_blocks.1[:random]`` -> ``transformer_blocks.1``."""
    return name.split(":")[1]


def verdict(lo: float, hi: float, p: float, p_equivalence: float = math.nan,
            margin: float = math.nan, *, flagged: bool = False, informative: bool = True,
            alpha: float = ALPHA) -> str:
    """The verdict of a paired difference (see the module docstring)."""
    if flagged:
        return "flagged"
    if math.isfinite(lo) and lo > 0 and p < alpha:
        return "better"
    if math.isfinite(hi) and hi < 0 and p < alpha:
        return "worse"
    if informative and p_equivalence < alpha and -margin < lo and hi < margin:
        return "equivalent"
    return "inconclusive"


class StudyData:
    """Final returns of one study: per task {layer: {seed: return}}, normalised too, with
    each run's health flags."""

    def __init__(self, out_dir: Path, envs: Sequence[str]) -> None:
        self.out_dir = Path(out_dir)
        self.envs = list(envs)
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
        self.final: dict[str, dict[str, dict[int, float]]] = {}
        self.dropped: dict[str, list[str]] = {}
        self.selected: dict[str, str] = {}
        self.scores: dict[str, dict] = {}
        self.replicates: dict[str, dict | None] = {}
        self.health: dict[str, list[dict] | None] = {}
        for env in self.envs:
            folder = self.out_dir / env
            final = final_returns(folder)
            n = max((len(v) for v in final.values()), default=0)
            self.final[env] = {k: v for k, v in final.items() if len(v) == n}
            self.dropped[env] = sorted(k for k, v in final.items() if len(v) < n)
            self.selected[env] = read_selected(folder)
            self.scores[env], self.replicates[env] = load_scores(folder)
            self.health[env] = run_health(folder)

    # ------------------------------------------------------------------------ returns
    def scale(self, env: str) -> float:
        """reference - random of a task: one 'achievable' in its own units."""
        return self.optimal[env] - self.random[env]

    def normalise(self, env: str, value):
        """Fraction of the achievable (float or array): 0 = random policy, 1 = reference
        (optimal)."""
        return (value - self.random[env]) / self.scale(env)

    def matrix(self, env: str, layers: Sequence[str], *, normalised: bool = False
               ) -> np.ndarray:
        """(seeds, layers) final returns of one task (or pooled: (tasks*seeds, layers),
        normalised, when env is 'all')."""
        if env == POOLED:
            return np.concatenate([self.matrix(e, layers, normalised=True) for e in self.envs])
        x, _, _ = stats.align_seeds({k: self.final[env][k] for k in layers})
        return self.normalise(env, x) if normalised else x

    def strata(self, env: str) -> np.ndarray | None:
        """(tasks*seeds,) task index of each pooled row, or None for one task."""
        if env != POOLED:
            return None
        return np.concatenate([[i] * len(next(iter(self.final[e].values())))
                               for i, e in enumerate(self.envs)])

    def task_envs(self, env: str) -> list[str]:
        """The tasks behind a row: itself, or every task for the pooled rows."""
        return self.envs if env == POOLED else [env]

    def layers(self, env: str) -> list[str]:
        """Layers with every seed, in a fixed order: kind, then name."""
        if env == POOLED:
            names = list(set.intersection(*(set(self.final[e]) for e in self.envs)))
        else:
            names = list(self.final[env])
        return sorted(names, key=lambda n: (KINDS.index(layer_kind(n)), n))

    def blocks(self, env: str) -> list[str]:
        """Pretrained blocks whose twin was run too."""
        names = self.layers(env)
        return [n for n in names if layer_kind(n) == "pretrained" and twin_of(n) in names]

    # ------------------------------------------------------------------------- health
    def runs(self, env: str, layer: str) -> list[dict]:
        """Rows of ``experiment_runs.csv`` of a layer in a task ([] when not recorded)."""
        return [r for r in self.health.get(env) or [] if r["layer"] == layer]

    def flagged(self, env: str, layers: Sequence[str]) -> bool:
        """Whether any run of ``layers`` in the task(s) of ``env`` was flagged."""
        return any(r["flags"] for e in self.task_envs(env) for n in layers
                   for r in self.runs(e, n))

    def positive_control(self, env: str) -> str | None:
        """The task's positive control: the bypass when it ran, else ``identity``."""
        names = self.layers(env)
        bypass = [n for n in names if n.endswith(BYPASS_SUFFIX)]
        return bypass[0] if bypass else ("identity" if "identity" in names else None)

    def control_learned(self, env: str) -> bool | None:
        """Whether the positive control reached ``LEARNED`` of the achievable (IQM) on
        every task of ``env``; None when no control was run."""
        out = []
        for e in self.task_envs(env):
            control = self.positive_control(e)
            if control is None:
                return None
            x = self.matrix(e, [control], normalised=True)[:, 0]
            out.append(float(stats.iqm(x)) >= LEARNED)
        return all(out)
