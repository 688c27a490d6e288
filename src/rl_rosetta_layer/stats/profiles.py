"""rliable's performance profiles and optimality gap over (runs, layers) arrays.

Both are means over runs, so rows may be seeds of one task or (task, seed) runs of
several tasks pooled, as rliable pools runs x tasks (Agarwal et al. 2021, "Deep RL at the
edge of the statistical precipice"):

* :func:`score_distribution`: the run-score distribution (rliable's performance profile,
  ``library.create_performance_profile`` with ``use_score_distribution=True``): for each
  threshold ``tau`` the fraction of runs whose score is above ``tau``;
* :func:`optimality_gap`: ``gamma`` minus the mean of the scores clipped at ``gamma``
  (rliable's ``metrics.aggregate_optimality_gap``): how far the runs fall short of the
  target ``gamma`` (e.g. the task's optimal return), on average; 0 when every run reaches
  it, and runs above it earn no credit;
* :func:`score_distribution_ci`: a percentile bootstrap band of the profile over runs
  (resampling kept apart from the metric: rows resampled, within ``strata`` when given).

>>> import numpy as np
>>> x = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 0.0], [1.5, 0.5]])
>>> score_distribution(x, [0.25, 0.75]).tolist()
[[0.75, 0.75], [0.5, 0.5]]
>>> optimality_gap(x, gamma=1.0).tolist()
[0.375, 0.375]
"""

from __future__ import annotations

import numpy as np

from ._validate import as_matrix, check_confidence, check_n_resamples, check_rng, strata_groups
from .bootstrap import resample_indices
from .errors import StatsError

__all__ = ["score_distribution", "optimality_gap", "score_distribution_ci"]


def _taus(taus) -> np.ndarray:
    t = np.asarray(taus, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise StatsError(f"taus must be a non-empty 1-D array of finite thresholds; got "
                         f"{np.asarray(taus).tolist()!r}")
    return t


def score_distribution(x, taus) -> np.ndarray:
    """Fraction of runs with a score strictly above each threshold: x (runs, layers),
    taus (T,) -> (T, layers), non-increasing in tau."""
    a = as_matrix(x)
    t = _taus(taus)
    return (a[None, :, :] > t[:, None, None]).mean(axis=1)


def optimality_gap(x, gamma: float = 1.0) -> np.ndarray:
    """``gamma - mean(min(x, gamma))`` over runs: x (runs, layers) -> (layers,), >= 0."""
    a = as_matrix(x)
    g = float(gamma)
    if not np.isfinite(g):
        raise StatsError(f"gamma must be a finite target score; got {gamma!r}")
    return g - np.minimum(a, g).mean(axis=0)


def score_distribution_ci(x, taus, rng: np.random.Generator, *, confidence: float = 0.95,
                          n_resamples: int = 2000, strata=None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap band (low, high) of :func:`score_distribution`, each (T, layers):
    runs (rows) resampled with replacement, within each stratum of ``strata`` (one label
    per row) when given. Needs at least 2 runs."""
    a = as_matrix(x, min_seeds=2)
    t = _taus(taus)
    rng = check_rng(rng)
    level = check_confidence(confidence)
    n_resamples = check_n_resamples(n_resamples)
    idx = resample_indices(rng, strata_groups(strata, a.shape[0]), n_resamples)   # (R, runs)
    above = a[None, :, :] > t[:, None, None]                                    # (T, runs, L)
    reps = above[:, idx, :].mean(axis=2)                                        # (T, R, L)
    tail = 100.0 * (1.0 - level) / 2.0
    return (np.percentile(reps, tail, axis=1), np.percentile(reps, 100.0 - tail, axis=1))
