"""Effective rank of a feature matrix (Roy & Vetterli, 2007), normalised by its width."""

from __future__ import annotations

import numpy as np


def effective_rank_of_cov(cov: np.ndarray) -> float:
    """exp(entropy of the normalised singular values of ``cov`` (K, K)) / K, in (0, 1]."""
    s = np.linalg.svd(cov, compute_uv=False)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()) / len(cov))


def effective_rank(Z: np.ndarray) -> float:
    """Normalised effective rank of the covariance of features ``Z`` (N, K).

    >>> round(effective_rank(np.eye(4)), 3)   # rank 3 once centred, of width 4
    0.75
    """
    Z = np.asarray(Z, np.float64)
    return effective_rank_of_cov(np.cov(Z, rowvar=False).reshape(Z.shape[1], Z.shape[1]))


def effective_rank_replicates(Z: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Effective rank of each bootstrap resample of the rows of Z, given counts (R, N)."""
    Z = np.asarray(Z, np.float64)
    out = np.empty(len(counts))
    for r, c in enumerate(counts):
        n = c.sum()
        mean = (c @ Z) / n
        cov = (Z.T * c) @ Z / n - np.outer(mean, mean)
        out[r] = effective_rank_of_cov(cov)
    return out
