"""A frozen layer of your own: random Fourier features of the observation.

Use it without touching rosetta's source (from the repository root, or with this folder's
parent on PYTHONPATH):

    rosetta analyze --layers examples.my_layer:make_layer,structured_mid
    rosetta train --layers examples.my_layer:make_layer,identity --seeds 0,1

The layer keeps the frozen-layer protocol: ``input_dim``, ``output_dim``,
``forward(x)`` (..., input_dim) -> (..., output_dim) and ``backward(x, grad_out)``, the
gradient with respect to ``x``. Its weights never change.
"""

import numpy as np


class FourierLayer:
    """``y = cos(x W + b)``: W drawn N(0, scale^2), b uniform in [0, 2 pi)."""

    def __init__(self, input_dim: int, rng: np.random.Generator, output_dim: int = 32,
                 scale: float = 0.5) -> None:
        self.input_dim, self.output_dim, self.scale = input_dim, output_dim, scale
        self.weight = rng.normal(0.0, scale, (input_dim, output_dim)).astype(np.float32)
        self.bias = rng.uniform(0.0, 2 * np.pi, output_dim).astype(np.float32)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.cos(x @ self.weight + self.bias)

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return (-np.sin(x @ self.weight + self.bias) * grad_out) @ self.weight.T

    def describe(self) -> dict:
        """What the run id records: change a setting, get new runs."""
        return {"kind": "fourier", "output_dim": self.output_dim, "scale": self.scale}


def make_layer(input_dim: int, rng: np.random.Generator) -> FourierLayer:
    """The factory rosetta calls: it names ``input_dim`` (the observations' size) and
    ``rng`` (a generator fixed per factory), so it builds a frozen layer."""
    return FourierLayer(input_dim, rng)
