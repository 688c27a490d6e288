"""A numpy layer trained by the torch learner (``NAME@torch``): the control that shows the
torch and numpy learners agree on one layer."""

from __future__ import annotations

import numpy as np
import torch

from ...layers.base import NumpyLayer
from .devices import resolve_device
from .readout import Readout
from .settings import VideoSettings


class TorchTrained(NumpyLayer):
    """A numpy layer whose DQN is the torch learner (``agent/torch_learner.py``), named
    ``NAME@torch``.

    Same features as the layer (``forward`` / ``backward`` delegate), frozen input adapter:
    the control that compares the two learners on one layer.
    """

    def __init__(self, layer, device: str = VideoSettings.device) -> None:
        self.layer, self.name = layer, f"{layer.name}@torch"
        self.input_dim, self.output_dim = layer.input_dim, layer.output_dim
        self.device = resolve_device(device)
        self.param_dtype = torch.float32
        self.readout = Readout("none", 1, layer.output_dim)
        self.feature_norm = "none"

    #: Which learner trains this layer (``agent/learner.make_learner``).
    trains_with = "torch"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.layer.forward(x)

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return self.layer.backward(x, grad_out)

    def encode(self, obs: np.ndarray) -> np.ndarray:
        """The layer's features (M, K) float32 of observations (M, D), one row at a time."""
        rows = np.asarray(obs, np.float32).reshape(-1, self.input_dim)
        return np.stack([np.asarray(self.layer.forward(r[None]), np.float32)[0] for r in rows])

    def to_device(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, self.param_dtype)

    def describe(self) -> dict:
        return {**super().describe(), "learner": "TorchLearner", "layer": self.layer.describe()}
