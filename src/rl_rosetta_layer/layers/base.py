"""The frozen-layer protocol every candidate follows, numpy or torch.

A frozen layer maps ``(..., input_dim)`` float32 arrays to ``(..., output_dim)`` and can
return the gradient of a loss with respect to its *input*; its own weights never change.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrozenLayer(Protocol):
    """What the analysis and the agent need from a candidate layer."""

    name: str
    input_dim: int
    output_dim: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., input_dim) -> (..., output_dim)."""

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        """Gradient with respect to ``x``: (..., input_dim), given dL/dy (..., output_dim)."""


class NumpyLayer:
    """Base class with the protocol plus a cached pair the agent's hot loop uses.

    ``forward_train`` returns the output and whatever ``backward_from`` needs, so a layer
    can keep its activations instead of recomputing them. The defaults just keep ``x``.
    """

    name: str = "layer"
    input_dim: int
    output_dim: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_train(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return self.forward(x), x

    def backward_from(self, ctx: Any, grad_out: np.ndarray) -> np.ndarray:
        return self.backward(ctx, grad_out)

    def describe(self) -> dict:
        """JSON-ready description saved beside results."""
        return {"name": self.name, "kind": type(self).__name__,
                "input_dim": self.input_dim, "output_dim": self.output_dim}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.input_dim} -> {self.output_dim})"
