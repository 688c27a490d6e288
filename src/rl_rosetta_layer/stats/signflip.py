"""Paired permutation (sign-flip) test of the mean paired difference.

Under H0 (differences symmetric about 0) every sign pattern of the paired
differences ``d`` (seeds,) is equally likely. The two-sided p-value is the
share of the 2**n patterns whose ``|sum(sign * |d|)|`` is at least the
observed ``|sum(d)|``; one-sided ('greater': H1 mean > 0), the share whose
``sum(sign * |d|)`` is at least ``sum(d)``. Up to ``max_exact`` (30) seeds all
patterns are enumerated exactly (no randomness); above that
``scipy.stats.permutation_test`` draws ``n_resamples`` random patterns with
``rng``.

>>> sign_flip_test([1.0, 2.0, 3.0])
0.25
>>> sign_flip_test([1.0, -2.0, 3.0])
0.75
>>> sign_flip_test([1.0, 2.0, 3.0], alternative="greater")
0.125
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from ._validate import as_vector, check_n_resamples, check_rng
from .errors import StatsError

__all__ = ["sign_flip_test", "equivalence_test", "MAX_EXACT", "ALTERNATIVES"]

MAX_EXACT = 30
ALTERNATIVES = ("two-sided", "greater", "less")


def _signed_sums(v: np.ndarray) -> np.ndarray:
    sums = np.zeros(1)
    for x in v:
        sums = np.concatenate([sums + x, sums - x])
    return sums


def _exact(d: np.ndarray, alternative: str = "two-sided") -> float:
    # Meet in the middle: every pattern sum is a + b with a, b the signed sums
    # of the two halves; count pairs with a + b beyond the observed sum by bisection.
    total = float(np.sum(d))
    tol = 1e-9 * float(np.sum(np.abs(d)))
    half = d.size // 2
    a = _signed_sums(np.abs(d[:half]))
    b = np.sort(_signed_sums(np.abs(d[half:])))
    n = a.size * b.size
    if alternative == "greater":  # a + b >= total
        return float((b.size - np.searchsorted(b, total - tol - a, side="left")).sum() / n)
    if alternative == "less":  # a + b <= total
        return float(np.searchsorted(b, total + tol - a, side="right").sum() / n)
    obs = abs(total)
    if obs <= tol:
        return 1.0
    hi = b.size - np.searchsorted(b, obs - tol - a, side="left")  # a + b >= obs
    lo = np.searchsorted(b, -obs + tol - a, side="right")  # a + b <= -obs
    return float((hi.sum() + lo.sum()) / n)


def _mean(x, axis):
    return np.mean(x, axis=axis)


def sign_flip_test(
    d,
    rng: np.random.Generator | None = None,
    *,
    max_exact: int = MAX_EXACT,
    n_resamples: int = 20000,
    alternative: str = "two-sided",
) -> float:
    """Sign-flip p-value for paired differences d (seeds,): two-sided, or one-sided
    ('greater': H1 mean > 0; 'less': H1 mean < 0).

    Exact for n <= max_exact (rng unused); Monte Carlo via
    ``scipy.stats.permutation_test`` otherwise (rng required).
    """
    a = as_vector(d, "d", min_len=1)
    if alternative not in ALTERNATIVES:
        raise StatsError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got "
                         f"{alternative!r}")
    if a.size <= max_exact:
        return _exact(a, alternative)
    check_rng(rng)
    n_resamples = check_n_resamples(n_resamples)
    res = _st.permutation_test(
        (a,), _mean, permutation_type="samples", vectorized=True, n_resamples=n_resamples,
        rng=rng, alternative=alternative,
    )
    return float(res.pvalue)


def equivalence_test(d, margin: float, rng: np.random.Generator | None = None, **kw) -> float:
    """Two one-sided sign-flip tests (TOST) of ``-margin < mean(d) < margin``: the larger
    of the one-sided p-values of ``d + margin`` > 0 and ``d - margin`` < 0. A small p says
    the paired difference lies within the margin.

    >>> equivalence_test([0.01, -0.02, 0.0, 0.015, -0.01, 0.005], margin=0.1)
    0.015625
    """
    a = as_vector(d, "d", min_len=1)
    if not (isinstance(margin, (int, float, np.floating)) and np.isfinite(margin)
            and margin > 0):
        raise StatsError(f"margin must be a positive finite number, got {margin!r}")
    return max(sign_flip_test(a + margin, rng, alternative="greater", **kw),
               sign_flip_test(a - margin, rng, alternative="less", **kw))
