"""Trainable parameters of S seeds stored in one flat (S, P) float32 buffer.

Each named parameter is a view into the buffer with shape (S, *shape), so the optimizer and
gradient clipping treat all parameters of a seed as one row: a handful of array calls per
update instead of a handful per parameter.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError


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
