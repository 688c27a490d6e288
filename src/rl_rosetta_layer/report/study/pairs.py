"""The study's paired comparisons: pretrained block minus its random and its shuffled twin,
a stack of blocks minus its last block, the best block minus every other layer.

Every difference is a fraction of the achievable (``*_frac`` columns), paired by seed
within a task and by (task, seed) in the pooled rows. Each row goes through
:func:`pair_row` (difference, CI, sign-flip p, equivalence p), twice: once on every unit
and once with the units where a run of either layer was flagged left out (the
``*_unflagged`` columns); then Holm's correction within its family and its verdicts
(:func:`decide`), by the rules of :mod:`.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ... import stats
from .data import MARGIN, POOLED, TWINS, StudyData, layer_kind, prefix_of, twin_of, verdict

PAIR_COLUMNS = ("env", "family", "twin", "holm_family", "holm_size", "a", "b", "units",
                "n_units", "mean_a_frac", "mean_b_frac", "diff_frac", "diff_frac_ci_low",
                "diff_frac_ci_high", "diff_frac_sd", "p_sign_flip", "p_holm", "margin_frac",
                "p_equivalence", "p_equivalence_holm", "prob_improvement", "flagged",
                "verdict", "n_units_unflagged", "diff_frac_unflagged",
                "diff_frac_ci_low_unflagged", "diff_frac_ci_high_unflagged",
                "p_sign_flip_unflagged", "p_holm_unflagged", "p_equivalence_unflagged",
                "p_equivalence_holm_unflagged", "verdict_unflagged")
#: The columns :func:`pair_row` fills twice: on every unit, and without flagged units.
_TWICE = ("n_units", "diff_frac", "diff_frac_ci_low", "diff_frac_ci_high", "p_sign_flip",
          "p_equivalence")


def row_envs(data: StudyData) -> list[str]:
    """The tasks, then the pooled rows when two or more tasks can be pooled (those whose
    positive control learned)."""
    return data.envs + ([POOLED] if len(data.pooled_envs) > 1 else [])


def units_of(env: str) -> str:
    return "task x seed" if env == POOLED else "seed"


def paired_stats(x: np.ndarray, strata: np.ndarray | None, rng: np.random.Generator
                 ) -> dict:
    """a - b of the columns of ``x`` (units, 2), fractions of the achievable: mean with a
    95 % bootstrap CI (stratified by ``strata`` (units,) when given), its SD over units,
    exact sign-flip p, the equivalence p against +-``MARGIN`` and P(a > b); NaN where
    fewer than 2 units."""
    nan = math.nan
    d = x[:, 0] - x[:, 1]
    out = {"n_units": len(d), "mean_a_frac": float(x[:, 0].mean()) if len(d) else nan,
           "mean_b_frac": float(x[:, 1].mean()) if len(d) else nan,
           "diff_frac": float(d.mean()) if len(d) else nan,
           "diff_frac_sd": float(d.std(ddof=1)) if len(d) > 1 else nan,
           "diff_frac_ci_low": nan, "diff_frac_ci_high": nan, "p_sign_flip": nan,
           "p_equivalence": nan, "prob_improvement": nan}
    if len(d) < 2:
        return out
    r = stats.compare_to_selected(x, ["a", "b"], "a", rng, strata=strata)[0]
    out.update(diff_frac_ci_low=r["diff_ci_low"], diff_frac_ci_high=r["diff_ci_high"],
               p_sign_flip=r["p_sign_flip"], prob_improvement=r["prob_improvement"],
               p_equivalence=stats.equivalence_test(d, MARGIN, rng))
    return out


def _kept_strata(keep: np.ndarray, strata: np.ndarray | None) -> np.ndarray:
    """``keep`` (units,) less the units of a stratum with fewer than 2 kept units (a
    stratified bootstrap needs 2 per task)."""
    if strata is None:
        return keep
    keep = keep.copy()
    for g in np.unique(strata):
        if keep[strata == g].sum() < 2:
            keep[strata == g] = False
    return keep


def pair_row(data: StudyData, env: str, x: np.ndarray, a: str, b: str, family: str,
             layers: Sequence[str], rng: np.random.Generator, twin: str = "") -> dict:
    """Paired comparison of columns 0 (``a``) and 1 (``b``) of ``x`` (units, 2), fractions
    of the achievable: a - b. ``layers``: the layers behind them (their flags count)."""
    strata = data.strata(env)
    row = {"env": env, "family": family, "twin": twin, "holm_family": "", "holm_size": 0,
           "a": a, "b": b, "units": units_of(env), "margin_frac": MARGIN,
           "flagged": data.flagged(env, layers), "p_holm": math.nan,
           "p_equivalence_holm": math.nan, "verdict": "", **paired_stats(x, strata, rng)}
    bad = data.flagged_units(env, layers)
    if not bad.any():
        unflagged = {k: row[k] for k in _TWICE}
    else:
        keep = _kept_strata(~bad, strata)
        unflagged = paired_stats(x[keep], None if strata is None else strata[keep], rng)
    row.update({f"{k}_unflagged": unflagged[k] for k in _TWICE})
    row.update(p_holm_unflagged=math.nan, p_equivalence_holm_unflagged=math.nan,
               verdict_unflagged="")
    return row


def family_of(row: Mapping) -> str:
    """The Holm family of a twin or prefix row: 'random twin: block', 'prefix', ..."""
    return f"{row['twin']} twin: {row['family']}" if row["twin"] else row["family"]


def decide(data: StudyData, rows: list[dict], key=family_of) -> list[dict]:
    """Holm within each family (rows sharing ``key``, a name), for every unit and without
    flagged units, then each row's two verdicts."""
    families: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault(key(r), []).append(i)
    for fam, idx in families.items():
        for p_key, holm_key in (("p_sign_flip", "p_holm"),
                                ("p_equivalence", "p_equivalence_holm"),
                                ("p_sign_flip_unflagged", "p_holm_unflagged"),
                                ("p_equivalence_unflagged", "p_equivalence_holm_unflagged")):
            adjusted = stats.holm(np.array([rows[i][p_key] for i in idx]))
            for i, p in zip(idx, adjusted):
                rows[i][holm_key] = float(p)
        size = int(np.isfinite([rows[i]["p_sign_flip"] for i in idx]).sum())
        for i in idx:
            rows[i]["holm_family"] = fam
            rows[i]["holm_size"] = size
    for r in rows:
        informative = data.control_learned(r["env"]) is not False
        r["verdict"] = verdict(r["diff_frac_ci_low"], r["diff_frac_ci_high"], r["p_holm"],
                               r["p_equivalence_holm"], r["margin_frac"], flagged=r["flagged"],
                               informative=informative)
        r["verdict_unflagged"] = verdict(
            r["diff_frac_ci_low_unflagged"], r["diff_frac_ci_high_unflagged"],
            r["p_holm_unflagged"], r["p_equivalence_holm_unflagged"], r["margin_frac"],
            informative=informative)
    return rows


def twin_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Pretrained block minus its random twin and minus its shuffled twin: per task and
    block ('block' family), and the mean of all blocks minus the mean of their twins
    ('pooled' family); one Holm family per twin and family, across tasks."""
    rows = []
    for variant in TWINS:
        for env in row_envs(data):
            blocks = data.blocks(env, variant)
            if not blocks:
                continue
            for b in blocks:
                t = twin_of(b, variant)
                x = data.matrix(env, [b, t], normalised=True)
                rows.append(pair_row(data, env, x, b, t, "block", [b, t], rng, variant))
            twins = [twin_of(b, variant) for b in blocks]
            x = np.stack([data.matrix(env, blocks, normalised=True).mean(axis=1),
                          data.matrix(env, twins, normalised=True).mean(axis=1)], axis=1)
            rows.append(pair_row(data, env, x, f"all {len(blocks)} blocks (mean)",
                                 f"their {variant} twins (mean)", "pooled", blocks + twins,
                                 rng, variant))
    return decide(data, rows)


def prefix_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Blocks 0..k as one stack minus block k alone, per task and pooled ('prefix')."""
    rows = []
    for env in row_envs(data):
        names = data.layers(env)
        for b in (n for n in names if layer_kind(n) == "pretrained"):
            if prefix_of(b) in names:
                x = data.matrix(env, [prefix_of(b), b], normalised=True)
                rows.append(pair_row(data, env, x, prefix_of(b), b, "prefix",
                                     [prefix_of(b), b], rng))
    return decide(data, rows)


def best_block(layer_table: Sequence[Mapping], env: str) -> str | None:
    """The pretrained block with the highest IQM (fraction of the achievable) in ``env``."""
    rows = [r for r in layer_table if r["env"] == env and r["kind"] == "pretrained"]
    return max(rows, key=lambda r: r["final_iqm_frac"])["layer"] if rows else None


def best_rows(data: StudyData, layer_table: Sequence[Mapping], rng) -> list[dict]:
    """The best pretrained block of each task (and pooled) minus every other layer (Holm
    within the task). Picked on the same runs: its wins are optimistic."""
    rows = []
    for env in row_envs(data):
        best = best_block(layer_table, env)
        if best is None:
            continue
        for other in (n for n in data.layers(env) if n != best):
            x = data.matrix(env, [best, other], normalised=True)
            row = pair_row(data, env, x, best, other, "best", [best, other], rng)
            rows.append({**row, "other_kind": layer_kind(other)})
    return decide(data, rows, key=lambda r: f"best: {r['env']}")
