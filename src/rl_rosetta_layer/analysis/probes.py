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


class _Gram:
    """Eigen-decomposition of the standardised Gram matrix of X's rows ``rows``.

    Ridge solutions for every alpha then cost a product each, shared by every target fitted
    on the same features. With more features K than rows n (a video block's tokens) the
    decomposition is of the (n, n) kernel Z Z^T instead of the (K, K) Z^T Z: the same
    solutions, by (Z^T Z + l I)^-1 Z^T = Z^T (Z Z^T + l I)^-1.
    """

    def __init__(self, X: np.ndarray, rows: np.ndarray | slice) -> None:
        Xr = X[rows]
        self.mean, self.scale = _standardise(Xr)
        self.Z = (Xr - self.mean) / self.scale
        self.n = len(Xr)
        self.dual = self.Z.shape[1] > self.n
        gram = self.Z @ self.Z.T if self.dual else self.Z.T @ self.Z
        self.evals, self.evecs = np.linalg.eigh(gram)
        np.maximum(self.evals, 0.0, out=self.evals)

    def _targets(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred targets (n, T) in the eigenbasis, and their means (T,)."""
        ym = Y.mean(axis=0)
        Yc = Y - ym
        return (self.evecs.T @ Yc if self.dual else self.evecs.T @ (self.Z.T @ Yc)), ym

    def _weights(self, alpha: float) -> np.ndarray:
        return 1.0 / (self.evals + alpha * self.n)

    def solve(self, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients (K, T) and intercept (T,) for targets ``Y`` (n, T) of these rows."""
        B, ym = self._targets(Y)
        inner = self.evecs @ (B * self._weights(alpha)[:, None])
        return (self.Z.T @ inner if self.dual else inner), ym

    def errors(self, X: np.ndarray, Y: np.ndarray, Y_fit: np.ndarray,
               alphas: np.ndarray) -> np.ndarray:
        """Summed squared errors (len(alphas),) on rows X (m, K) with targets Y (m, T) of
        the probes fitted to ``Y_fit`` (n, T) at each alpha."""
        B, ym = self._targets(Y_fit)
        Xs = (X - self.mean) / self.scale
        A = (Xs @ self.Z.T) @ self.evecs if self.dual else Xs @ self.evecs
        return np.array([(((A @ (B * self._weights(a)[:, None])) + ym - Y) ** 2).sum()
                         for a in alphas])


def _standardise(X):
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return mean, scale


def fit_ridge_cv_many(X: np.ndarray, targets: dict[str, np.ndarray], rng: np.random.Generator,
                      folds: int = 5, alphas: np.ndarray = ALPHAS) -> dict[str, RidgeFit]:
    """Fit one ridge probe per target on the same features X (N, K), each target (N, T)
    with its own alpha chosen by ``folds``-fold CV on these rows only."""
    X = np.asarray(X, np.float64)
    Ys = {k: np.asarray(v, np.float64).reshape(len(X), -1) for k, v in targets.items()}
    fold_of = rng.permutation(len(X)) % folds
    errors = {k: np.zeros(len(alphas)) for k in Ys}
    for f in range(folds):
        tr, va = fold_of != f, fold_of == f
        gram = _Gram(X, tr)
        for k, Y in Ys.items():
            errors[k] += gram.errors(X[va], Y[va], Y[tr], alphas)
    gram = _Gram(X, slice(None))
    fits = {}
    for k, Y in Ys.items():
        best = float(alphas[int(np.argmin(errors[k]))])
        coef, ym = gram.solve(Y, best)
        fits[k] = RidgeFit(gram.mean, gram.scale, coef, ym, best)
    return fits


def fit_ridge_cv(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, folds: int = 5,
                 alphas: np.ndarray = ALPHAS) -> RidgeFit:
    """Fit ridge on (X, Y), choosing alpha by ``folds``-fold CV on these rows only."""
    return fit_ridge_cv_many(X, {"y": Y}, rng, folds, alphas)["y"]


def _constant(sst, sum_sq):
    """True where the total sum of squares is rounding noise: the target's spread is at most
    sqrt(eps) (1.5e-8) of its magnitude, so it is constant up to float precision."""
    return sst <= np.finfo(np.float64).eps * sum_sq


def r2_score(Y: np.ndarray, P: np.ndarray) -> float:
    """Coefficient of determination pooled over target columns: 1 - SSE / SST.

    A target that is constant (up to rounding: see :func:`_constant`) has no variance to
    explain and scores 0.0.

    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    >>> r2_score(np.array([0.1, 0.1, 0.1]), np.array([0.1, 0.2, 0.3]))
    0.0
    """
    Y = np.asarray(Y, np.float64).reshape(len(Y), -1)
    P = np.asarray(P, np.float64).reshape(len(Y), -1)
    sst = ((Y - Y.mean(axis=0)) ** 2).sum()
    if _constant(sst, (Y ** 2).sum()):
        return 0.0
    return float(1.0 - ((Y - P) ** 2).sum() / sst)


def r2_replicates(Y: np.ndarray, P: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """R^2 of each bootstrap replicate, given row counts (R, N) of the resamples: (R,).

    Every sum is linear in the counts, so no resampled copy of Y is ever built. A replicate
    whose target is constant (up to rounding) scores 0.0, as in :func:`r2_score`.
    """
    Y = np.asarray(Y, np.float64).reshape(len(Y), -1)
    P = np.asarray(P, np.float64).reshape(len(Y), -1)
    n = counts.sum(axis=1)
    sse = counts @ ((Y - P) ** 2).sum(axis=1)
    Yc = Y - Y.mean(axis=0)          # SST is shift-invariant; centring avoids cancellation
    ybar = (counts @ Yc) / n[:, None]
    sst = counts @ (Yc ** 2).sum(axis=1) - n * (ybar ** 2).sum(axis=1)
    constant = _constant(sst, counts @ (Y ** 2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(constant, 0.0, 1.0 - sse / sst)
