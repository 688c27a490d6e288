"""Adam and per-seed gradient clipping over a flat (S, P) buffer, updated in place."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma & Ba) on a (S, P) array, with preallocated moments and one scratch buffer.

    All seeds step together, but every quantity is per row, so seed ``i``'s update never
    depends on another seed.
    """

    def __init__(self, params: np.ndarray, lr: float, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-6) -> None:
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        shape = params.shape
        self.m = np.zeros(shape, np.float32)
        self.v = np.zeros(shape, np.float32)
        self._tmp = np.zeros(shape, np.float32)
        self.t = 0

    def step(self, grad: np.ndarray) -> None:
        """Apply one update with gradients ``grad`` (S, P), in place."""
        self.t += 1
        b1, b2, tmp = self.beta1, self.beta2, self._tmp
        step = self.lr * np.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        self.m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        self.v += tmp
        np.sqrt(self.v, out=tmp)
        tmp += self.eps
        np.divide(self.m, tmp, out=tmp)
        tmp *= step
        self.params -= tmp

    def reset_rows(self, rows: np.ndarray) -> None:
        """Zero the moments of seeds ``rows`` (used when a seed is stopped)."""
        self.m[rows] = 0.0
        self.v[rows] = 0.0


class SGD:
    """Plain gradient descent on a (S, P) array, in place.

    The input adapter uses it: it is wide, and Adam's per-entry normalisation would move
    every entry at the full rate, a drift that layers summing over many inputs amplify.
    """

    def __init__(self, params: np.ndarray, lr: float) -> None:
        self.params, self.lr = params, lr
        self._tmp = np.zeros(params.shape, np.float32)

    def step(self, grad: np.ndarray) -> None:
        np.multiply(grad, self.lr, out=self._tmp)
        self.params -= self._tmp

    def reset_rows(self, rows: np.ndarray) -> None:
        """Nothing to reset: plain SGD keeps no state."""


def clip_by_norm(grad: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale each row of ``grad`` (S, P) in place to norm <= max_norm; return the norms (S,).

    A non-finite norm is returned as is (the caller marks that seed diverged).
    """
    norms = np.sqrt(np.einsum("sp,sp->s", grad, grad))
    if max_norm > 0:
        over = norms > max_norm
        if over.any():
            scale = np.where(over, max_norm / np.where(over, norms, 1.0), 1.0)
            grad *= scale[:, None].astype(np.float32)
    return norms
