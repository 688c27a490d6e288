"""Point aggregates over seeds: mean, median, IQM.

All functions take ``x`` of shape (seeds, layers) and reduce over seeds
(``axis=0``), returning shape (layers,).

IQM is the interquartile mean, the 25 %-trimmed mean
``scipy.stats.trim_mean(x, 0.25)`` exactly as rliable's ``aggregate_iqm``:
it drops ``floor(0.25 * n)`` values at each end, so with fewer than 4 seeds
the IQM equals the mean, and with 4 or 5 seeds it is the mean of the middle
2 or 3 values.

>>> import numpy as np
>>> x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [100.0, 40.0]])
>>> iqm(x).tolist()
[2.5, 25.0]
>>> {k: v.tolist() for k, v in aggregate(x).items()}
{'mean': [26.5, 25.0], 'median': [2.5, 25.0], 'iqm': [2.5, 25.0]}
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from ._validate import as_matrix
from .errors import StatsError

__all__ = ["iqm", "mean", "median", "aggregate", "STATISTICS"]


def _iqm(x: np.ndarray, axis: int) -> np.ndarray:
    return _st.trim_mean(x, 0.25, axis=axis)


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x, axis=axis)


def _median(x: np.ndarray, axis: int) -> np.ndarray:
    return np.median(x, axis=axis)


#: Unchecked, vectorised statistics ``f(x, axis)`` used by the resamplers.
STATISTICS = {"iqm": _iqm, "mean": _mean, "median": _median}


def _checked(x, axis: int) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 2 and axis == 0:
        return as_matrix(a)
    if a.size == 0 or a.ndim == 0:
        raise StatsError(f"x must be a non-empty array; got shape {a.shape}")
    if a.shape[axis] == 0:
        raise StatsError(f"x has 0 values along axis {axis} (shape {a.shape}); need at least 1")
    if not np.isfinite(a).all():
        raise StatsError(
            f"x contains {int((~np.isfinite(a)).sum())} non-finite value(s); all values must be "
            f"finite"
        )
    return a


def iqm(x, axis: int = 0) -> np.ndarray:
    """Interquartile (25 %-trimmed) mean; x (seeds, layers) -> (layers,)."""
    return _iqm(_checked(x, axis), axis)


def mean(x, axis: int = 0) -> np.ndarray:
    """Mean over seeds; x (seeds, layers) -> (layers,)."""
    return _mean(_checked(x, axis), axis)


def median(x, axis: int = 0) -> np.ndarray:
    """Median over seeds; x (seeds, layers) -> (layers,)."""
    return _median(_checked(x, axis), axis)


def aggregate(x) -> dict[str, np.ndarray]:
    """``{'mean', 'median', 'iqm'}`` each of shape (layers,); x (seeds, layers)."""
    a = as_matrix(x)
    return {name: STATISTICS[name](a, 0) for name in ("mean", "median", "iqm")}
