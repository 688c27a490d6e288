"""Can this pipeline learn each task, can the task tell layers apart, and do the learners
agree? Judged per task, each by a 95 % confidence interval, never by a point estimate and
never pooled over tasks (a task the pipeline learned pooled with one it failed says
nothing of either). Every value is a fraction of the achievable.

Rows of ``study_controls.csv`` (per task):

- ``positive control learned``: the bypass (else ``identity``) learned the task: the lower
  end of its IQM's CI (the layer table's) reaches ``LEARNED``; a task where it did not gives
  no answer (:mod:`.data`);
- ``bypass vs identity``: the bypass's paired difference from numpy ``identity`` has its
  CI inside +-``MARGIN``;
- ``torch vs numpy learner``: ``NAME@torch`` minus ``NAME``, the same;
- ``identity below ceiling``: the upper end of ``identity``'s IQM CI is at most
  ``CEILING``: there is room above the adapters alone;
- ``a layer beats identity``: the layer whose paired difference over ``identity`` has the
  highest CI lower end, and whether that end reaches ``ROOM``.

A task **tells layers apart** when the last two pass (:func:`tells_apart`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ... import stats
from .data import CEILING, LEARNED, MARGIN, ROOM, StudyData

CONTROL_COLUMNS = ("env", "control", "layer", "reference", "n_units", "value_frac",
                   "value_frac_ci_low", "value_frac_ci_high", "target", "passed", "note")
#: The controls that say whether the pipeline works (the others whether a task can tell
#: layers apart).
PIPELINE = ("positive control learned", "bypass vs identity", "torch vs numpy learner")
DISCRIMINATION = ("identity below ceiling", "a layer beats identity")


def _row(env, control, layer, reference, n, value, lo, hi, target, passed, note) -> dict:
    return {"env": env, "control": control, "layer": layer, "reference": reference,
            "n_units": n, "value_frac": float(value), "value_frac_ci_low": float(lo),
            "value_frac_ci_high": float(hi), "target": target, "passed": bool(passed),
            "note": note}


def paired_means(d: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Mean of each column of the paired differences ``d`` (seeds, k) with its 95 %
    bootstrap CI: three (k,) arrays (NaN CIs with fewer than 2 seeds)."""
    if d.shape[0] < 2:
        nan = np.full(d.shape[1], np.nan)
        return d.mean(axis=0), nan, nan
    lo, hi = stats.bootstrap_ci(d, "mean", rng)
    return d.mean(axis=0), np.asarray(lo), np.asarray(hi)


def control_rows(data: StudyData, layer_table: Sequence[Mapping],
                 rng: np.random.Generator) -> list[dict]:
    """The rows of ``study_controls.csv`` (see the module docstring), per task."""
    rows = []
    for env in data.envs:
        names = data.layers(env)
        table = {r["layer"]: r for r in layer_table if r["env"] == env}

        def norm(layers, env=env):
            return data.matrix(env, layers, normalised=True)

        control = data.positive_control(env)
        if control is not None:
            t = table[control]
            lo = t["final_iqm_frac_ci_low"]
            rows.append(_row(env, "positive control learned", control, "", t["n_seeds"],
                             t["final_iqm_frac"], lo, t["final_iqm_frac_ci_high"],
                             f"95% CI lower end >= {LEARNED}", lo >= LEARNED,
                             "IQM of the final return with its 95% CI"))
        pairs = [(control, "identity", "bypass vs identity")] if (
            control not in (None, "identity") and "identity" in names) else []
        pairs += [(n, n.removesuffix("@torch"), "torch vs numpy learner") for n in names
                  if n.endswith("@torch") and n.removesuffix("@torch") in names]
        for layer, reference, what in pairs:
            x = norm([layer, reference])
            mean, lo, hi = paired_means(x[:, :1] - x[:, 1:], rng)
            rows.append(_row(env, what, layer, reference, len(x), mean[0], lo[0], hi[0],
                             f"95% CI inside +-{MARGIN}", -MARGIN < lo[0] and hi[0] < MARGIN,
                             "mean paired difference (layer - reference) by seed"))
        if "identity" in names:
            rows += _discrimination(env, names, table["identity"], norm, rng)
    return rows


def _discrimination(env: str, names: Sequence[str], identity: Mapping, norm,
                    rng: np.random.Generator) -> list[dict]:
    """The two rows that say whether ``env`` can tell layers apart."""
    hi = identity["final_iqm_frac_ci_high"]
    rows = [_row(env, "identity below ceiling", "identity", "", identity["n_seeds"],
                 identity["final_iqm_frac"], identity["final_iqm_frac_ci_low"], hi,
                 f"95% CI upper end <= {CEILING}", hi <= CEILING,
                 "IQM of the final return with its 95% CI")]
    others = [n for n in names if n != "identity"]
    if others:
        x = norm(["identity"] + others)
        mean, lo, up = paired_means(x[:, 1:] - x[:, :1], rng)
        j = int(np.nanargmax(lo)) if np.isfinite(lo).any() else int(np.argmax(mean))
        rows.append(_row(env, "a layer beats identity", others[j], "identity", len(x),
                         mean[j], lo[j], up[j], f"95% CI lower end >= {ROOM}",
                         lo[j] >= ROOM, "the layer with the highest CI lower end of its "
                         "mean paired difference over identity"))
    return rows


def tells_apart(rows: Sequence[Mapping], env: str) -> bool | None:
    """Whether task ``env`` can tell layers apart (both discrimination rows pass); None
    when ``identity`` was not run."""
    mine = [r for r in rows if r["env"] == env and r["control"] in DISCRIMINATION]
    if len(mine) < len(DISCRIMINATION):
        return None
    return all(r["passed"] for r in mine)


def pipeline_passed(rows: Sequence[Mapping], env: str | None = None) -> bool:
    """Whether every pipeline control (of task ``env``, or of every task) passed."""
    return all(r["passed"] for r in rows if r["control"] in PIPELINE
               and (env is None or r["env"] == env))


def is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)
