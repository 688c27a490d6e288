"""Holm step-down correction of a family of p-values.

>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import numpy as np

from .errors import StatsError

__all__ = ["holm"]


def holm(p) -> np.ndarray:
    """Holm-adjusted p-values; p (m,) -> (m,). NaN entries are not tested: they
    stay NaN and do not count towards the family size."""
    a = np.asarray(p, dtype=float)
    if a.ndim != 1:
        raise StatsError(f"p must be a 1-D array of p-values; got shape {a.shape}")
    ok = np.isfinite(a)
    if np.any((a[ok] < 0) | (a[ok] > 1)):
        raise StatsError(
            f"p-values must lie in [0, 1]; got {float(a[ok][(a[ok] < 0) | (a[ok] > 1)][0])!r}"
        )
    out = np.full(a.shape, np.nan)
    idx = np.flatnonzero(ok)
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(a[idx], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * a[order]))
    out[order] = adj
    return out
