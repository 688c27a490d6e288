"""Ridge probes with the regulariser chosen by K-fold cross-validation on the training split.

Features are standardised with training statistics; the intercept is not penalised.
Shapes: X (N, K) features, Y (N, T) targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Regularisers tried, as multiples of the number of training rows.
ALPHAS = np.logspace(-6, 1, 8)


@dataclass(frozen=True)
class RidgeFit:
    """A fitted probe: predict with ``(X - mean) / scale @ coef + intercept``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    alpha: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept


def _solve(U, s, Vt, Y_centered, alpha):
    """Ridge coefficients from a thin SVD of the standardised design."""
    d = s / (s * s + alpha)
    return Vt.T @ (d[:, None] * (U.T @ Y_centered))


def _standardise(X):
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return mean, scale


def fit_ridge_cv(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, folds: int = 5,
                 alphas: np.ndarray = ALPHAS) -> RidgeFit:
    """Fit ridge on (X, Y), choosing alpha by ``folds``-fold CV on these rows only."""
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64).reshape(len(X), -1)
    n = len(X)
    fold_of = rng.permutation(n) % folds
    errors = np.zeros(len(alphas))
    for f in range(folds):
        tr, va = fold_of != f, fold_of == f
        mean, scale = _standardise(X[tr])
        Xt = (X[tr] - mean) / scale
        ym = Y[tr].mean(axis=0)
        U, s, Vt = np.linalg.svd(Xt, full_matrices=False)
        Xv = (X[va] - mean) / scale
        for i, a in enumerate(alphas):
            coef = _solve(U, s, Vt, Y[tr] - ym, a * tr.sum())
            errors[i] += ((Xv @ coef + ym - Y[va]) ** 2).sum()
    best = float(alphas[int(np.argmin(errors))])
    mean, scale = _standardise(X)
    ym = Y.mean(axis=0)
    U, s, Vt = np.linalg.svd((X - mean) / scale, full_matrices=False)
    return RidgeFit(mean, scale, _solve(U, s, Vt, Y - ym, best * n), ym, best)


def r2_score(Y: np.ndarray, P: np.ndarray) -> float:
    """Coefficient of determination pooled over target columns: 1 - SSE / SST.

    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    Y = np.asarray(Y, np.float64).reshape(len(Y), -1)
    P = np.asarray(P, np.float64).reshape(len(Y), -1)
    sst = ((Y - Y.mean(axis=0)) ** 2).sum()
    return float(1.0 - ((Y - P) ** 2).sum() / sst) if sst > 0 else 0.0


def r2_replicates(Y: np.ndarray, P: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """R^2 of each bootstrap replicate, given row counts (R, N) of the resamples: (R,).

    Every sum is linear in the counts, so no resampled copy of Y is ever built.
    """
    Y = np.asarray(Y, np.float64).reshape(len(Y), -1)
    P = np.asarray(P, np.float64).reshape(len(Y), -1)
    n = counts.sum(axis=1)
    sse = counts @ ((Y - P) ** 2).sum(axis=1)
    ybar = (counts @ Y) / n[:, None]
    sst = counts @ (Y ** 2).sum(axis=1) - n * (ybar ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / sst, 0.0)
