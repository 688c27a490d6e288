"""What a network of S seeds keeps: trainable parameters in one flat (S, P) float32
buffer, and the running statistics of its head's input or of its codes.

Each named parameter is a view into the buffer with shape (S, *shape), so the optimizer and
gradient clipping treat all parameters of a seed as one row: a handful of array calls per
update instead of a handful per parameter.

Running standardisation of the head's input (``--feature-norm running``,
:class:`RunningFeatureNorm`): each seed standardises the values the head reads, per feature:
``(z - mean) / sqrt(var + NORM_EPS)``. Its mean and variance are set from its first update
batch and then moved by ``NORM_MOMENTUM`` towards each update batch's (the online
network's values for the batch's observations, after the step); no gradient flows through
them, and online and target networks share them. A parked seed's statistics are zeroed.
With ``--feature-norm tokens`` (the numpy learner only) the same statistics standardise the
codes, the block's fixed LayerNormed tokens, before the trainable read-out instead
(``agent/network.py``: ``norm_input``).

Written once for both learners against the array API (:func:`.optim.namespace`): the numpy
learner keeps (S, K) numpy arrays, the torch learner (S, K) tensors on its device; every
quantity is per row, so a seed's statistics never depend on another seed's.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .optim import namespace


class FlatParams:
    """Named views ``(S, *shape)`` into one ``(S, P)`` buffer."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], n_seeds: int,
                 data: np.ndarray | None = None) -> None:
        self.shapes = dict(shapes)
        self.size = sum(math.prod(s) for s in self.shapes.values())
        self.n_seeds = n_seeds
        self.data = np.zeros((n_seeds, self.size), dtype=np.float32) if data is None else data
        self.views: dict[str, np.ndarray] = {}
        self._columns: dict[str, slice] = {}
        offset = 0
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            self._columns[name] = slice(offset, offset + n)
            self.views[name] = self.data[:, offset:offset + n].reshape((n_seeds, *shape))
            offset += n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def columns(self, name: str) -> slice:
        """The columns of ``data`` that hold parameter ``name``."""
        return self._columns[name]

    def zeros_like(self) -> FlatParams:
        return FlatParams(self.shapes, self.n_seeds)

    def copy(self) -> FlatParams:
        return FlatParams(self.shapes, self.n_seeds, self.data.copy())

    def copy_from(self, other: FlatParams) -> None:
        np.copyto(self.data, other.data)

def check_network(params: dict[str, np.ndarray], shapes: dict[str, tuple]) -> None:
    """ConfigError unless ``params`` has exactly the parameters ``shapes`` names, in those
    shapes (a saved network of another layer or configuration)."""
    got = {k: tuple(np.shape(v)) for k, v in params.items()}
    want = {k: tuple(s) for k, s in shapes.items()}
    if got != want:
        raise ConfigError(f"the saved network has parameters {got}, the layer and "
                          f"configuration need {want}")


#: Weight of each update batch in the running statistics.
NORM_MOMENTUM = 0.01
NORM_EPS = 1e-5

#: Names of the statistics in a saved network (``network.safetensors``), shape (K,).
STAT_NAMES = ("feature_mean", "feature_var")


class RunningFeatureNorm:
    """Mean and variance (S, K) of each seed's head input; ``mean``/``var`` are the arrays
    (numpy or torch, as ``like``), ``ready`` (S,) says which seeds have been set. ``rows``
    below is a list of seed indices; every update is elementwise per row."""

    def __init__(self, like, n_seeds: int, width: int) -> None:
        if isinstance(like, np.ndarray):
            self.mean = np.zeros((n_seeds, width), like.dtype)
        else:                       # a torch tensor: on its device, in its dtype
            self.mean = like.new_zeros((n_seeds, width))
        self.var = self.mean + 1.0
        self.ready = np.zeros(n_seeds, bool)

    def apply(self, z, rows=None):
        """Standardised values of z (S', N, K) for seeds ``rows`` (all seeds when None)."""
        mean, var = (self.mean, self.var) if rows is None else (self.mean[rows], self.var[rows])
        if isinstance(z, np.ndarray):
            # In place after the subtraction: one temporary of z's size, the same numbers
            # as (z - mean) / sqrt(var + eps).
            out = z - mean[:, None, :]
            out /= np.sqrt(var + NORM_EPS)[:, None, :]
            return out
        # torch: rsqrt, the torch learner's formula since its first stored runs
        return (z - mean[:, None, :]) * (var[:, None, :] + NORM_EPS).rsqrt()

    def scale(self):
        """1 / sqrt(var + eps) (S, 1, K): the factor a gradient through :meth:`apply` gets."""
        return 1.0 / namespace(self.var).sqrt(self.var[:, None, :] + NORM_EPS)

    def first(self, rows, z) -> None:
        """Set the seeds ``rows`` not set yet from their batch values z (S', B, K)."""
        todo = [k for k, i in enumerate(rows) if not self.ready[i]]
        if todo:
            mean, var = _moments(z[todo])
            seeds = [rows[k] for k in todo]
            self.mean[seeds], self.var[seeds] = mean, var
            self.ready[seeds] = True

    def track(self, rows, z) -> None:
        """Move seeds ``rows``' statistics towards those of their batch values z (S', B, K)."""
        mean, var = _moments(z)
        self.mean[rows] = (1.0 - NORM_MOMENTUM) * self.mean[rows] + NORM_MOMENTUM * mean
        self.var[rows] = (1.0 - NORM_MOMENTUM) * self.var[rows] + NORM_MOMENTUM * var

    def park(self, rows) -> None:
        """Zero seeds ``rows``' statistics (a parked seed)."""
        self.mean[rows] = 0.0
        self.var[rows] = 0.0

    def stats(self, seed: int) -> dict[str, np.ndarray]:
        """Seed ``seed``'s statistics by :data:`STAT_NAMES`, float32 numpy (K,)."""
        return {name: _host(a[seed]) for name, a in zip(STAT_NAMES, (self.mean, self.var))}

    def load(self, seed: int, stats: dict) -> None:
        """Set seed ``seed``'s statistics from saved ones (by :data:`STAT_NAMES`)."""
        for name, a in zip(STAT_NAMES, (self.mean, self.var)):
            value = np.asarray(stats[name], np.float32)
            a[seed] = value if isinstance(a, np.ndarray) else a.new_tensor(value)
        self.ready[seed] = True


def stored_shapes(shapes: dict[str, tuple], norm: RunningFeatureNorm | None,
                  width: int) -> dict[str, tuple]:
    """Shapes of a saved network: the parameters' ``shapes``, then the statistics (width,)
    when ``norm`` is kept."""
    return shapes if norm is None else shapes | {name: (width,) for name in STAT_NAMES}


def _moments(z):
    """Mean and biased variance over the batch axis of z (S', B, K): each (S', K)."""
    xp = namespace(z)
    return xp.mean(z, axis=1), xp.var(z, axis=1)


def _host(a) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a.astype(np.float32)
    return a.detach().float().cpu().numpy()
