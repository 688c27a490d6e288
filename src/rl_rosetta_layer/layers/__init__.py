"""Frozen candidate layers (one protocol) and the baselines beside them."""

from .base import FrozenLayer, NumpyLayer
from .baselines import TrainableBody, random_bank
from .registry import (
    BANK_NAMES,
    BASELINES,
    GROUPS,
    KNOWN,
    SEED_CANDIDATES,
    Observations,
    build_layers,
    expand_layer_names,
    seed_candidates,
)
from .synthetic import IdentityLayer, RandomTanhLayer, StructuredLayer

__all__ = ["BANK_NAMES", "BASELINES", "GROUPS", "KNOWN", "SEED_CANDIDATES", "FrozenLayer",
           "IdentityLayer", "NumpyLayer", "Observations", "RandomTanhLayer", "StructuredLayer",
           "TrainableBody", "build_layers", "expand_layer_names", "random_bank",
           "seed_candidates"]
