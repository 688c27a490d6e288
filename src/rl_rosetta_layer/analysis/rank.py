"""Effective rank of a feature matrix (Roy & Vetterli, 2007), normalised by its width."""

from __future__ import annotations

import numpy as np


def effective_rank_of_cov(cov: np.ndarray, width: int | None = None) -> float:
    """exp(entropy of the normalised singular values of ``cov``) / ``width`` (default: its
    side K), in (0, 1]. ``cov`` may be the (n, n) kernel form of a (K, K) covariance: the
    same nonzero singular values. ``cov`` is symmetric positive semi-definite, so its
    singular values are the absolute values of its eigenvalues."""
    s = np.abs(np.linalg.eigvalsh(cov))
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()) / (len(cov) if width is None else width))


def effective_rank(Z: np.ndarray) -> float:
    """Normalised effective rank of the covariance of features ``Z`` (N, K).

    >>> round(effective_rank(np.eye(4)), 3)   # rank 3 once centred, of width 4
    0.75
    """
    Z = np.asarray(Z, np.float64)
    return float(effective_rank_replicates(Z, np.ones((1, len(Z))), ddof=1)[0])


def effective_rank_replicates(Z: np.ndarray, counts: np.ndarray, ddof: int = 0) -> np.ndarray:
    """Effective rank of each bootstrap resample of the rows of Z (N, K), given counts
    (R, N): of the weighted covariance sum_i c_i (z_i - m)(z_i - m)^T / (n - ddof).

    With K > N (a video block's tokens) each covariance is taken in its (N, N) kernel form
    D^1/2 (Z - m)(Z - m)^T D^1/2, whose nonzero eigenvalues are the covariance's, built
    from one Gram matrix Z Z^T: no (K, K) matrix is formed.
    """
    Z = np.asarray(Z, np.float64)
    width = Z.shape[1]
    out = np.empty(len(counts))
    kernel = Z @ Z.T if width > len(Z) else None
    for r, c in enumerate(counts):
        n = c.sum()
        if kernel is None:
            mean = (c @ Z) / n
            cov = ((Z.T * c) @ Z - n * np.outer(mean, mean)) / (n - ddof)
        else:
            kc = kernel @ c / n                     # Z m
            centred = kernel - kc[:, None] - kc[None, :] + c @ kc / n
            root = np.sqrt(c)
            cov = root[:, None] * centred * root[None, :] / (n - ddof)
        out[r] = effective_rank_of_cov(cov, width)
    return out
