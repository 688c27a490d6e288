"""Paired permutation (sign-flip) test of the mean paired difference.

Under H0 (differences symmetric about 0) every sign pattern of the paired
differences ``d`` (seeds,) is equally likely. The two-sided p-value is the
share of the 2**n patterns whose ``|sum(sign * |d|)|`` is at least the
observed ``|sum(d)|``. Up to ``max_exact`` (30) seeds all patterns are
enumerated exactly (no randomness); above that ``scipy.stats.permutation_test``
draws ``n_resamples`` random patterns with ``rng``.

>>> sign_flip_test([1.0, 2.0, 3.0])
0.25
>>> sign_flip_test([1.0, -2.0, 3.0])
0.75
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from ._validate import as_vector, check_n_resamples, check_rng

__all__ = ["sign_flip_test", "MAX_EXACT"]

MAX_EXACT = 30


def _signed_sums(v: np.ndarray) -> np.ndarray:
    sums = np.zeros(1)
    for x in v:
        sums = np.concatenate([sums + x, sums - x])
    return sums


def _exact(d: np.ndarray) -> float:
    # Meet in the middle: every pattern sum is a + b with a, b the signed sums
    # of the two halves; count pairs with |a + b| >= |observed| by bisection.
    obs = abs(float(np.sum(d)))
    tol = 1e-9 * float(np.sum(np.abs(d)))
    if obs <= tol:
        return 1.0
    half = d.size // 2
    a = _signed_sums(np.abs(d[:half]))
    b = np.sort(_signed_sums(np.abs(d[half:])))
    hi = b.size - np.searchsorted(b, obs - tol - a, side="left")  # a + b >= obs
    lo = np.searchsorted(b, -obs + tol - a, side="right")  # a + b <= -obs
    return float((hi.sum() + lo.sum()) / (a.size * b.size))


def _mean(x, axis):
    return np.mean(x, axis=axis)


def sign_flip_test(
    d,
    rng: np.random.Generator | None = None,
    *,
    max_exact: int = MAX_EXACT,
    n_resamples: int = 20000,
) -> float:
    """Two-sided sign-flip p-value for paired differences d (seeds,).

    Exact for n <= max_exact (rng unused); Monte Carlo via
    ``scipy.stats.permutation_test`` otherwise (rng required).
    """
    a = as_vector(d, "d", min_len=1)
    if a.size <= max_exact:
        return _exact(a)
    check_rng(rng)
    n_resamples = check_n_resamples(n_resamples)
    res = _st.permutation_test(
        (a,), _mean, permutation_type="samples", vectorized=True, n_resamples=n_resamples, rng=rng
    )
    return float(res.pvalue)
