"""Adam, SGD and per-seed gradient clipping over a flat (S, P) array, updated in place.

Written once for every learner: the arrays may be numpy arrays (``NumpyLearner``) or torch
tensors (``TorchLearner``); only in-place arithmetic and :func:`namespace`'s functions
(with numpy's and torch's ``out=``) are used, so the same lines give the same formula on
both. Every quantity is per row, so seed ``i``'s update never depends on another seed.
"""

from __future__ import annotations

import math

import numpy as np


def namespace(a):
    """The array-API namespace of ``a``: numpy itself for numpy arrays (no wrapper, no
    overhead), array-api-compat's for the others (torch tensors)."""
    if isinstance(a, np.ndarray):
        return np
    from array_api_compat import array_namespace

    return array_namespace(a)


class Adam:
    """Adam (Kingma & Ba) on a (S, P) array, with preallocated moments and one scratch
    buffer (no allocation per step: numpy's and torch's ``out=`` take it)."""

    def __init__(self, params, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-6) -> None:
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        xp = namespace(params)
        self.m = xp.zeros_like(params)
        self.v = xp.zeros_like(params)
        self._tmp = xp.zeros_like(params)
        self.t = 0

    def step(self, grad) -> None:
        """Apply one update with gradients ``grad`` (S, P), in place."""
        self.t += 1
        b1, b2, tmp, xp = self.beta1, self.beta2, self._tmp, namespace(grad)
        # A python float: numpy and torch both multiply float32 arrays by it in float32
        # (a numpy float64 scalar would make numpy widen every entry to float64 and back).
        step = self.lr * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        self.m *= b1
        xp.multiply(grad, 1.0 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        xp.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        self.v += tmp
        xp.sqrt(self.v, out=tmp)
        tmp += self.eps
        xp.divide(self.m, tmp, out=tmp)
        tmp *= step
        self.params -= tmp

    def reset_rows(self, rows: list[int]) -> None:
        """Zero the moments of seeds ``rows`` (used when a seed is stopped)."""
        self.m[rows] = 0.0
        self.v[rows] = 0.0


class SGD:
    """Plain gradient descent on a (S, P) array, in place.

    The input adapter uses it: it is wide, and Adam's per-entry normalisation would move
    every entry at the full rate, a drift that layers summing over many inputs amplify.
    """

    def __init__(self, params, lr: float) -> None:
        self.params, self.lr = params, lr
        self._tmp = namespace(params).zeros_like(params)

    def step(self, grad) -> None:
        namespace(grad).multiply(grad, self.lr, out=self._tmp)
        self.params -= self._tmp

    def reset_rows(self, rows: list[int]) -> None:
        """Nothing to reset: plain SGD keeps no state."""


def clip_by_norm(grad, max_norm: float):
    """Scale each row of ``grad`` (S, P) in place to norm <= max_norm; return the norms (S,).

    A non-finite norm is returned as is and its row is left alone (the caller marks that
    seed diverged).
    """
    xp = namespace(grad)
    # A seed's norm must not depend on how many seeds train beside it: one einsum over
    # (S, P) sums a row differently for S = 1 than for S > 1, in numpy as in torch.
    if xp is np:
        norms = np.sqrt(np.concatenate([np.einsum("sp,sp->s", grad[i:i + 1], grad[i:i + 1])
                                        for i in range(len(grad))]))
    else:
        norms = xp.linalg.vector_norm(grad, axis=1)
    if max_norm > 0:
        over = (norms > max_norm) & xp.isfinite(norms)
        if bool(xp.any(over)):
            scale = xp.where(over, max_norm / xp.where(over, norms, 1.0), 1.0)
            grad *= scale[:, None]        # float32 (S,): a python float stays weak
    return norms
