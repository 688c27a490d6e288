"""Bootstrap confidence intervals over seeds, optionally stratified by environment.

``x`` has shape (seeds, layers); every layer column gets its own interval
``(low[j], high[j])``. Seeds (rows) are resampled with replacement. With
``strata`` (one integer environment label per row) rows are resampled within
each environment, and the statistic is computed over all resampled rows
pooled, as rliable does for runs x tasks.

Methods (``method=``):

* ``'percentile'``: plain percentile interval.
* ``'bca'``: bias-corrected and accelerated (jackknife acceleration).
* ``'expanded'`` (default): the expanded percentile interval of Hesterberg
  (2015, The American Statistician 69(4), "What teachers should know about
  the bootstrap"). The percentile interval is read at the tail level
  ``alpha' / 2 = Phi(-sqrt(n / (n - 1)) * t_{alpha/2, n-1})`` instead of
  ``alpha / 2``, which undoes the known narrowness of the percentile and BCa
  intervals at small n. Measured with bench/stats_calibration.py: at 10 seeds
  the 95 % percentile and BCa intervals of the mean cover ~90 %, the expanded
  one ~94 % (normal data). With strata, n is the smallest stratum size and
  the t degrees of freedom are ``seeds - n_strata``.

Unstratified intervals are computed by ``scipy.stats.bootstrap`` (vectorised
over layers); stratified ones by the small resampler here, which draws the
same kind of index matrix per stratum. A column that is constant over seeds
gets the zero-width interval ``(v, v)``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as _st

from ._validate import as_matrix, check_confidence, check_n_resamples, check_rng, strata_groups
from .aggregate import STATISTICS
from .errors import StatsError

__all__ = ["bootstrap_ci", "resample_indices", "expanded_level", "METHODS", "DEFAULT_METHOD"]

METHODS = ("expanded", "bca", "percentile")
DEFAULT_METHOD = "expanded"
DEFAULT_N_RESAMPLES = 5000


def expanded_level(confidence: float, n_eff: int, df: int) -> float:
    """Nominal level of the percentile interval that the expanded method reads.

    >>> round(expanded_level(0.95, 10, 9), 4)
    0.9829
    """
    alpha = 1.0 - confidence
    tq = _st.t.ppf(1.0 - alpha / 2.0, df)
    tail = _st.norm.cdf(-np.sqrt(n_eff / (n_eff - 1.0)) * tq)
    return float(1.0 - 2.0 * max(tail, 1e-12))


def resample_indices(
    rng: np.random.Generator, groups: list[np.ndarray], n_resamples: int
) -> np.ndarray:
    """Row indices of shape (n_resamples, seeds), resampled within each group."""
    parts = [rows[rng.integers(0, rows.size, size=(n_resamples, rows.size))] for rows in groups]
    return np.concatenate(parts, axis=1)


def _check_method(method: str) -> str:
    m = str(method).lower()
    if m not in METHODS:
        raise StatsError(f"method must be one of {METHODS}; got {method!r}")
    return m


def _check_statistic(statistic: str):
    if statistic not in STATISTICS:
        raise StatsError(f"statistic must be one of {tuple(STATISTICS)}; got {statistic!r}")
    return STATISTICS[statistic]


def _scipy_ci(w, f, rng, level, base, n_resamples):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _st.DegenerateDataWarning)
        res = _st.bootstrap(
            (w,),
            f,
            n_resamples=n_resamples,
            vectorized=True,
            axis=0,
            confidence_level=level,
            method="BCa" if base == "bca" else "percentile",
            rng=rng,
        )
    return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)


def _stratified_ci(w, f, rng, level, base, n_resamples, groups):
    theta_b = f(w[resample_indices(rng, groups, n_resamples)], 1)  # (B, m)
    alpha = 1.0 - level
    if base == "percentile":
        lo, hi = np.quantile(theta_b, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        return lo, hi
    n, m = w.shape
    theta_hat = f(w, 0)
    share = ((theta_b < theta_hat).mean(0) + (theta_b <= theta_hat).mean(0)) / 2.0
    z0 = _st.norm.ppf(share)
    leave_one_out = np.array([np.delete(np.arange(n), i) for i in range(n)])
    theta_i = f(w[leave_one_out], 1)  # (n, m)
    d = theta_i.mean(0) - theta_i
    den = 6.0 * np.sum(d**2, axis=0) ** 1.5
    acc = np.divide(np.sum(d**3, axis=0), den, out=np.zeros(m), where=den > 0)
    lo, hi = np.empty(m), np.empty(m)
    for j in range(m):
        z = _st.norm.ppf([alpha / 2.0, 1.0 - alpha / 2.0])
        q = _st.norm.cdf(z0[j] + (z0[j] + z) / (1.0 - acc[j] * (z0[j] + z)))
        if not np.all(np.isfinite(q)):
            lo[j] = hi[j] = np.nan
            continue
        lo[j], hi[j] = np.quantile(theta_b[:, j], q)
    return lo, hi


def bootstrap_ci(
    x,
    statistic: str = "iqm",
    rng: np.random.Generator | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    method: str = DEFAULT_METHOD,
    strata=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap CI of ``statistic`` over seeds; x (seeds, layers) -> (low, high), each (layers,).

    statistic: 'iqm' | 'mean' | 'median'. rng: numpy Generator (required).
    strata: optional (seeds,) integer environment labels; rows are then
    resampled within each environment (each needs >= 2 rows).
    Needs >= 2 seeds; raises StatsError on NaN, one seed, or bad options.
    """
    f = _check_statistic(statistic)
    check_rng(rng)
    level = check_confidence(confidence)
    n_resamples = check_n_resamples(n_resamples)
    m = _check_method(method)
    a = as_matrix(x, min_seeds=2)
    n = a.shape[0]
    groups = strata_groups(strata, n)
    base = "bca" if m == "bca" else "percentile"
    if m == "expanded":
        level = expanded_level(level, min(g.size for g in groups), n - len(groups))

    const = np.ptp(a, axis=0) == 0
    lo, hi = a[0].copy(), a[0].copy()
    work = np.flatnonzero(~const)
    if work.size:
        w = a[:, work]
        if strata is None:
            wl, wh = _scipy_ci(w, f, rng, level, base, n_resamples)
        else:
            wl, wh = _stratified_ci(w, f, rng, level, base, n_resamples, groups)
        bad = ~(np.isfinite(wl) & np.isfinite(wh))
        if bad.any():
            raise StatsError(
                f"{m} interval not computable for layer column {int(work[np.flatnonzero(bad)[0]])} "
                "(degenerate bootstrap distribution); use method='percentile' or 'expanded'"
            )
        lo[work], hi[work] = wl, wh
    return lo, hi
