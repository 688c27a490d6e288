"""How alike two layers' representations are: linear CKA on the same observations.

Linear centred kernel alignment (Kornblith et al., 2019) of features X (N, K1) and Y (N, K2)
of the same N observations: ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with Xc, Yc
the column-centred features. It is 1 for representations equal up to rotation and
isotropic scaling, near 0 for unrelated ones, and does not depend on the widths. The study
uses it to show what each twin of a block removes: a twin whose features have CKA near 1
with the bypass's is close to no block at all.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of features ``x`` (N, K1) and ``y`` (N, K2) of the same N rows, computed
    in float64; NaN when either is constant.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 4))
    >>> round(linear_cka(x, 3 * x @ np.linalg.qr(rng.normal(size=(4, 4)))[0]), 6)
    1.0
    """
    x, y = (np.asarray(a, np.float64) for a in (x, y))
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ConfigError(f"linear CKA needs features (N, K) of the same N >= 2 rows, got "
                          f"{x.shape} and {y.shape}")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    if x.shape[1] > x.shape[0] or y.shape[1] > y.shape[0]:
        # Wide features: the same number from the N x N Gram matrices.
        gx, gy = x @ x.T, y @ y.T
        num = float(np.sum(gx * gy))
        den = float(np.linalg.norm(gx) * np.linalg.norm(gy))
    else:
        num = float(np.linalg.norm(y.T @ x) ** 2)
        den = float(np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))
    return num / den if den > 0 else float("nan")
