"""LayerNorm without affine parameters, in numpy, and its epsilon (torch's default).

Shared by the numpy learner's 'mlp' head (:mod:`rl_rosetta_layer.agent.network`), the torch
learner's head and the video read-outs
(:mod:`rl_rosetta_layer.video.candidates.readout`), so all three normalise with the same
eps. Pure numpy: imports nothing of this package.
"""

from __future__ import annotations

import numpy as np

#: LayerNorm's epsilon (torch's default), here and in the torch learner.
LN_EPS = 1e-5


def layer_norm(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LayerNorm over the last axis, no affine: (normalised u, 1/sqrt(var + eps) (..., 1))."""
    c = u - u.mean(axis=-1, keepdims=True)
    inv = 1.0 / np.sqrt((c * c).mean(axis=-1, keepdims=True) + np.float32(LN_EPS))
    c *= inv
    return c, inv


def layer_norm_backward(n: np.ndarray, inv: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """dL/du from dL/dn for ``n, inv = layer_norm(u)``."""
    du = dn - dn.mean(axis=-1, keepdims=True)
    du -= n * (dn * n).mean(axis=-1, keepdims=True)
    du *= inv
    return du
