"""The seed's synthetic candidates: random tanh layers and a 'structured' geometric layer."""

from __future__ import annotations

import numpy as np

from .base import NumpyLayer


class RandomTanhLayer(NumpyLayer):
    """``y = tanh(x W + b)`` with W (input_dim, output_dim) and b drawn N(0, scale^2)."""

    def __init__(self, name: str, input_dim: int, output_dim: int, scale: float,
                 rng: np.random.Generator) -> None:
        self.name, self.input_dim, self.output_dim, self.scale = name, input_dim, output_dim, scale
        self.weight = (rng.normal(0.0, scale, size=(input_dim, output_dim))).astype(np.float32)
        self.bias = (rng.normal(0.0, scale, size=output_dim)).astype(np.float32)
        self.weight.flags.writeable = False
        self.bias.flags.writeable = False

    def input_map(self) -> tuple[np.ndarray, np.ndarray]:
        return self.weight, self.bias

    def forward_pre(self, pre: np.ndarray):
        y = np.tanh(pre, out=pre)
        return y, y

    def backward_pre(self, y: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        g = y * y
        np.subtract(1.0, g, out=g)
        g *= grad_out
        return g

    def forward_train(self, x: np.ndarray):
        pre = x @ self.weight
        pre += self.bias
        return self.forward_pre(pre)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.forward_train(x)[0]

    def backward_from(self, y: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return self.backward_pre(y, grad_out) @ self.weight.T

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return self.backward_from(self.forward(x), grad_out)

    def describe(self) -> dict:
        return {**super().describe(), "scale": self.scale}


class StructuredLayer(NumpyLayer):
    """Geometric features of the newest frame: a layer that already 'understands' the scene.

    Reads the last ``2 * size * size`` inputs (agent map, goal map) and returns 8 features:
    ax, ay, gx, gy (map-weighted coordinates on a [-1, 1] lattice), dx = ax - gx,
    dy = ay - gy, dx^2 and dy^2. On one-hot maps the coordinates are exact.
    """

    output_dim = 8

    def __init__(self, name: str, grid_size: int, history: int) -> None:
        self.name, self.grid_size, self.history = name, grid_size, history
        cells = grid_size * grid_size
        self.frame_dim = 2 * cells
        self.input_dim = history * self.frame_dim
        lattice = np.linspace(-1.0, 1.0, grid_size, dtype=np.float32)
        cx = np.tile(lattice, grid_size)       # x of cell index y*size + x
        cy = np.repeat(lattice, grid_size)
        proj = np.zeros((self.frame_dim, 6), dtype=np.float32)
        proj[:cells, 0], proj[:cells, 1] = cx, cy
        proj[cells:, 2], proj[cells:, 3] = cx, cy
        proj[:, 4] = proj[:, 0] - proj[:, 2]
        proj[:, 5] = proj[:, 1] - proj[:, 3]
        proj.flags.writeable = False
        self.projection = proj
        self._input_map: tuple[np.ndarray, np.ndarray] | None = None

    def input_map(self) -> tuple[np.ndarray, np.ndarray]:
        """The projection as a map of the whole input (zero rows for the older frames)."""
        if self._input_map is None:
            w = np.zeros((self.input_dim, 6), np.float32)
            w[-self.frame_dim:] = self.projection
            b = np.zeros(6, np.float32)
            w.flags.writeable = b.flags.writeable = False
            self._input_map = (w, b)
        return self._input_map

    def forward_pre(self, base: np.ndarray):
        return np.concatenate([base, base[..., 4:6] ** 2], axis=-1), base

    def backward_pre(self, base: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        g = grad_out[..., :6].copy()
        g[..., 4:6] += 2.0 * base[..., 4:6] * grad_out[..., 6:8]
        return g

    def forward_train(self, x: np.ndarray):
        return self.forward_pre(x[..., -self.frame_dim:] @ self.projection)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.forward_train(x)[0]

    def backward_from(self, base: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        g = self.backward_pre(base, grad_out)
        grad_in = np.zeros(base.shape[:-1] + (self.input_dim,), dtype=np.result_type(g, base))
        grad_in[..., -self.frame_dim:] = g @ self.projection.T
        return grad_in

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return self.backward_from(self.forward_train(x)[1], grad_out)

    def describe(self) -> dict:
        return {**super().describe(), "grid_size": self.grid_size, "history": self.history}


class IdentityLayer(NumpyLayer):
    """The adapters-only baseline: passes its input through."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.input_dim, self.output_dim = name, dim, dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return grad_out
