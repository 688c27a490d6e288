"""How flat observations become a block's tokens: the layout (shapes only) and the input
adapter's initial parameters (patch embedding and positions), shared by the analysis'
candidate and the learner."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

#: Standard deviation of the initial per-token positions (when the block brings none).
POS_STD = 0.02


@dataclass(frozen=True)
class TokenLayout:
    """How flat observations become tokens: shapes only, no parameters."""

    frames: int
    """F: frames per observation, oldest first."""
    channels: int
    """C: channels per frame."""
    rows: int
    """H: frame height in pixels."""
    cols: int
    """W: frame width in pixels."""
    patch: int
    """p: side of the square patch that becomes one token."""
    width: int
    """Token width (the block's hidden size)."""

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (F, h, w), h = ceil(H/p), w = ceil(W/p)."""
        p = self.patch
        return (self.frames, -(-self.rows // p), -(-self.cols // p))

    @property
    def tokens(self) -> int:
        return math.prod(self.grid)

    @property
    def patch_dim(self) -> int:
        """Values per patch, C*p*p, in (channel, row, column) order."""
        return self.channels * self.patch * self.patch

    @property
    def obs_dim(self) -> int:
        return self.frames * self.channels * self.rows * self.cols

    def adapter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Input-adapter parameters: patch map (C*p*p, width), its bias, positions."""
        return {"patch_w": (self.patch_dim, self.width), "patch_b": (self.width,),
                "pos": (self.tokens, self.width)}

    def patchify(self, obs: torch.Tensor) -> torch.Tensor:
        """(N, D) observations -> (N, T, C*p*p) patches, frames zero-padded."""
        f, c, p = self.frames, self.channels, self.patch
        _, h, w = self.grid
        n = obs.shape[0]
        x = obs.reshape(n, f, c, self.rows, self.cols)
        if (h * p, w * p) != (self.rows, self.cols):
            x = torch.nn.functional.pad(x, (0, w * p - self.cols, 0, h * p - self.rows))
        x = x.reshape(n, f, c, h, p, w, p).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(n, f * h * w, c * p * p)

    def embed(self, obs: torch.Tensor, adapter: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokens (N, T, width) of observations (N, D) under adapter parameters."""
        tokens = self.patchify(obs) @ adapter["patch_w"]
        return tokens + adapter["patch_b"] + adapter["pos"]


def init_adapter(layout: TokenLayout, rng: np.random.Generator, embed_init=None,
                 pos_init=None) -> dict[str, np.ndarray]:
    """Initial input adapter (float32 arrays of :meth:`TokenLayout.adapter_shapes`).

    Patch weights N(0, 1/sqrt(C*p*p)), bias 0, positions N(0, 0.02). Both random arrays are
    always drawn, in that order, so the stream does not depend on what the block brings;
    ``embed_init`` (weight (width, C', p, p), bias (width,)) then replaces the first
    min(C, C') channels and the bias, and ``pos_init`` (T, width) the positions.
    """
    c, p, width = layout.channels, layout.patch, layout.width
    weight = rng.normal(0.0, 1.0 / np.sqrt(c * p * p), (width, c, p, p))
    pos = rng.normal(0.0, POS_STD, (layout.tokens, width))
    bias = np.zeros(width)
    if embed_init is not None:
        w0, b0 = embed_init
        k = min(c, w0.shape[1])
        weight[:, :k] = w0[:, :k]
        bias = np.asarray(b0, np.float64)
    if pos_init is not None:
        pos = np.asarray(pos_init, np.float64)
    return {"patch_w": weight.reshape(width, layout.patch_dim).T.astype(np.float32),
            "patch_b": bias.astype(np.float32), "pos": pos.astype(np.float32)}
