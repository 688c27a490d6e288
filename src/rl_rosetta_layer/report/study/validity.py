"""Which analysis score tracks RL return? The Spearman correlation, across a task's
analysed layers, of every analysis score (the ridge probes, the composite, and the acting
probes when the analysis ran them) with the layers' final return (the mean over seeds of
each layer's final evaluation), with a 95 % bootstrap CI over layers and a permutation p.

A table, not a selection rule: with L layers the correlation rests on L points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _st

from ... import stats
from .data import StudyData

VALIDITY_COLUMNS = ("env", "score", "n_layers", "spearman", "ci_low", "ci_high", "p")
N_RESAMPLES = 5000
N_PERMUTATIONS = 9999


def spearman_over_layers(score, outcome, rng: np.random.Generator, *,
                         n_resamples: int = N_RESAMPLES, n_permutations: int = N_PERMUTATIONS,
                         confidence: float = 0.95) -> dict:
    """Spearman rho of ``score`` (L,) with ``outcome`` (L,), a percentile bootstrap CI that
    resamples layers (resamples where rho is undefined, a constant draw, are dropped) and a
    two-sided permutation p over pairings (``scipy.stats.permutation_test``: exact when
    L! <= ``n_permutations``). NaN everywhere with fewer than 3 layers or a constant
    vector.

    >>> r = spearman_over_layers([1, 2, 3, 4], [1, 2, 3, 4], np.random.default_rng(0))
    >>> r["spearman"], round(r["p"], 4)
    (1.0, 0.0833)
    """
    s, y = np.asarray(score, dtype=float), np.asarray(outcome, dtype=float)
    nan = {"n_layers": len(s), "spearman": math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "p": math.nan}
    if len(s) < 3 or np.ptp(s) == 0 or np.ptp(y) == 0:
        return nan
    rho = float(_st.spearmanr(s, y).statistic)
    ry = _st.rankdata(y)
    p = _st.permutation_test((_st.rankdata(s),),
                             lambda u, axis: stats.spearman_rho(u, ry, axis=axis),
                             vectorized=True, permutation_type="pairings",
                             n_resamples=n_permutations, rng=rng).pvalue
    idx = rng.integers(0, len(s), size=(n_resamples, len(s)))
    boot = stats.spearman_rho(s[idx], y[idx], axis=-1)
    boot = np.round(boot[np.isfinite(boot)], 12)     # 0.9999999999999999 is 1
    alpha = 1 - confidence
    lo, hi = (np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if boot.size
              else (math.nan, math.nan))
    return {"n_layers": len(s), "spearman": rho, "ci_low": float(lo), "ci_high": float(hi),
            "p": float(min(1.0, p))}


def validity_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Per task and analysis score (in ``layer_analysis.csv`` order): its Spearman
    correlation with the final return over the analysed layers whose score is finite."""
    rows = []
    for env in data.envs:
        scores = data.scores[env]
        names = [n for n in data.layers(env) if n in scores["composite_score"]]
        if not names:
            continue
        outcome = dict(zip(names, data.matrix(env, names).mean(axis=0)))
        for score, values in scores.items():
            kept = [n for n in names if math.isfinite(values.get(n, math.nan))]
            r = spearman_over_layers([values[n] for n in kept], [outcome[n] for n in kept],
                                     rng)
            rows.append({"env": env, "score": score, **r})
    return rows
