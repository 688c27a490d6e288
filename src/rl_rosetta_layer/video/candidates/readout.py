"""Read-outs: how a block's output tokens (N, T, width) become the head's input (N, F).

A read-out has a fixed part and a trainable part. The fixed part (:meth:`Readout.codes`)
runs once per observation when the input adapter is frozen, and the replay stores its
result, the *codes* (N, C); the trainable part (:meth:`Readout.apply`) maps codes to the
head's input inside every update. Kinds (see ``docs/token-adapters.md`` for the measured
comparison):

=============  ==============================================  ==========  =============
kind           fixed part -> codes                             trainable   F
=============  ==============================================  ==========  =============
``project``    per-token LayerNorm, flattened (T * width)      R (width,   T * dim
               (the video model's own final norm does this)    dim), rb    (keeps where)
``attention``  per-token LayerNorm, flattened (T * width)      query       width
                                                               (width,)
``flatten``    per-token LayerNorm, flattened (T * width)      none        T * width
``mean``       mean over tokens (width), as first shipped      none        width
``none``       the features of a numpy layer as they are       none        K
=============  ==============================================  ==========  =============

``project`` applies one linear map per token (shared by all tokens) and concatenates the
results, so the head sees every position; ``attention`` pools the tokens with softmax
weights ``tokens @ query / sqrt(width)`` over T. LayerNorms have no affine parameters and
eps :data:`~rl_rosetta_layer.layers.norm.LN_EPS`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import ConfigError
from ...layers.norm import LN_EPS
from .settings import READOUTS


class Readout:
    """The read-out ``kind`` of T tokens of ``width`` values (``dim`` values per token for
    'project'); kind 'none' reads ``width`` plain features (T = 1)."""

    def __init__(self, kind: str, tokens: int, width: int, dim: int = 4) -> None:
        if kind not in READOUTS + ("none",):
            raise ConfigError(f"readout must be one of {', '.join(READOUTS)}, got {kind!r}")
        self.kind, self.tokens, self.width, self.dim = kind, int(tokens), int(width), int(dim)

    @property
    def normalises(self) -> bool:
        """Whether the fixed part LayerNorms each token."""
        return self.kind in ("project", "attention", "flatten")

    @property
    def code_dim(self) -> int:
        """C: values per observation in the codes."""
        if self.kind in ("mean", "none"):
            return self.width
        return self.tokens * self.width

    @property
    def out_dim(self) -> int:
        """F: values per observation given to the head."""
        if self.kind == "project":
            return self.tokens * self.dim
        return self.code_dim if self.kind == "flatten" else self.width

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Trainable parameters by name."""
        if self.kind == "project":
            return {"R": (self.width, self.dim), "rb": (self.dim,)}
        if self.kind == "attention":
            return {"query": (self.width,)}
        return {}

    def init(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameters (float32): R and query ~ N(0, 1/sqrt(width)), rb = 0."""
        out = {}
        if self.kind == "project":
            out["R"] = rng.normal(0.0, 1.0 / np.sqrt(self.width), (self.width, self.dim))
            out["rb"] = np.zeros(self.dim)
        elif self.kind == "attention":
            out["query"] = rng.normal(0.0, 1.0 / np.sqrt(self.width), self.width)
        return {k: v.astype(np.float32) for k, v in out.items()}

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        """The fixed part: tokens (N, T, width) -> codes (N, C)."""
        if self.kind == "mean":
            return tokens.mean(dim=1)
        if self.normalises:
            tokens = torch.nn.functional.layer_norm(tokens, (self.width,), eps=LN_EPS)
        return tokens.reshape(tokens.shape[0], -1)

    def apply(self, codes: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The trainable part: codes (N, C) -> head input (N, F)."""
        if self.kind == "project":
            tokens = codes.reshape(codes.shape[0], self.tokens, self.width)
            return (tokens @ params["R"] + params["rb"]).reshape(codes.shape[0], -1)
        if self.kind == "attention":
            tokens = codes.reshape(codes.shape[0], self.tokens, self.width)
            weights = torch.softmax(tokens @ params["query"] / math.sqrt(self.width), dim=1)
            return (weights[..., None] * tokens).sum(dim=1)
        return codes

    def describe(self) -> dict:
        return {"kind": self.kind, "dim": self.dim if self.kind == "project" else None,
                "code_dim": self.code_dim, "out_dim": self.out_dim,
                "params": sum(math.prod(s) for s in self.shapes().values())}
