"""Baselines on the candidate protocol: a random layer bank and the fully trainable MLP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic import RandomTanhLayer

BANK_SIZE = 8
BANK_SEED = 1000
BANK_SCALE = 0.30


def random_bank(input_dim: int, output_dim: int, size: int = BANK_SIZE,
                scale: float = BANK_SCALE, seed: int = BANK_SEED) -> list[RandomTanhLayer]:
    """``size`` frozen random tanh layers of one shape, drawn in order from one generator.

    Each is its own candidate (``random_bank_0`` ...); together their results show what an
    arbitrary layer of the selected layer's shape achieves.
    """
    rng = np.random.default_rng(seed)
    return [RandomTanhLayer(f"random_bank_{k}", input_dim, output_dim, scale, rng)
            for k in range(size)]


@dataclass(frozen=True)
class TrainableBody:
    """Stands where a frozen layer would, but the agent trains it: ``tanh(x W + b)``.

    ``mlp_full`` uses it so that the whole network (adapters and this layer) trains; its
    shape matches ``random_wide`` so the parameter counts are comparable.
    """

    name: str
    input_dim: int
    output_dim: int
    scale: float = 0.20
    trainable: bool = True

    def describe(self) -> dict:
        return {"name": self.name, "kind": "TrainableBody", "input_dim": self.input_dim,
                "output_dim": self.output_dim, "scale": self.scale}
