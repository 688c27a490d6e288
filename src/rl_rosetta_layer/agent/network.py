"""The Q-network: input adapter -> frozen layer -> output adapter, for S seeds at once.

Shapes: observations ``x`` (S, N, D); adapter output ``h`` (S, N, D); layer features ``z``
(S, N, K); Q-values (S, N, A). Only adapter parameters (and a TrainableBody's) are trained.
Gradients are written into a :class:`FlatParams` of the same layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.baselines import TrainableBody
from .params import FlatParams


class QNetwork:
    """Forward and backward passes of the adapter-layer-adapter network."""

    def __init__(self, obs_dim: int, layer: Any, n_actions: int, *, adapter: str = "dense",
                 rank: int = 16, init_noise: float = 0.01, head: str = "linear",
                 head_hidden: int = 64) -> None:
        if layer.input_dim != obs_dim:
            raise ValueError(f"layer {layer.name!r} takes {layer.input_dim} inputs, "
                             f"observations have {obs_dim}")
        self.obs_dim, self.layer, self.n_actions = obs_dim, layer, n_actions
        self.adapter, self.rank, self.init_noise = adapter, rank, init_noise
        self.head, self.head_hidden = head, head_hidden
        self.trainable_body = isinstance(layer, TrainableBody)
        d, k = obs_dim, layer.output_dim
        shapes: dict[str, tuple[int, ...]] = {}
        if adapter == "dense":
            shapes.update(A=(d, d), c=(d,))
        elif adapter == "lowrank":
            shapes.update(U=(d, rank), V=(rank, d))
        if self.trainable_body:
            shapes.update(W1=(d, k), b1=(k,))
        if head == "mlp":
            shapes.update(W2=(k, head_hidden), b2=(head_hidden,))
            k = head_hidden
        shapes.update(Wo=(k, n_actions), bo=(n_actions,))
        self.shapes = shapes

    ADAPTER_PARAMS = ("A", "c", "U", "V")

    def n_adapter_params(self) -> int:
        """Leading entries of each seed's flat row that belong to the input adapter."""
        return FlatParams({k: v for k, v in self.shapes.items() if k in self.ADAPTER_PARAMS},
                          1).size

    def n_params(self) -> int:
        """Trainable parameters per seed."""
        return FlatParams(self.shapes, 1).size

    def init(self, rngs: list[np.random.Generator]) -> FlatParams:
        """Initial parameters, seed ``i`` drawn from ``rngs[i]`` alone."""
        p = FlatParams(self.shapes, len(rngs))
        d, k = self.obs_dim, self.layer.output_dim
        for i, rng in enumerate(rngs):
            if self.adapter == "dense":
                p["A"][i] = np.eye(d) + rng.normal(0.0, self.init_noise, (d, d))
            elif self.adapter == "lowrank":
                p["U"][i] = rng.normal(0.0, 1.0 / np.sqrt(d), (d, self.rank))
            if self.trainable_body:
                p["W1"][i] = rng.normal(0.0, self.layer.scale, (d, k))
                p["b1"][i] = rng.normal(0.0, self.layer.scale, k)
            if self.head == "mlp":
                p["W2"][i] = rng.normal(0.0, 1.0 / np.sqrt(k), (k, self.head_hidden))
                k_out = self.head_hidden
            else:
                k_out = k
            p["Wo"][i] = rng.normal(0.0, 1.0 / np.sqrt(k_out), (k_out, self.n_actions))
        return p

    # ------------------------------------------------------------------------------ forward
    def forward(self, p: FlatParams, x: np.ndarray, *, train: bool = False,
                keep: int | None = None):
        """Q-values (S, N, A) of observations ``x`` (S, N, D); with ``train`` also a cache.

        ``keep`` limits the cache to the first ``keep`` rows, so one pass can serve both a
        gradient (those rows) and plain evaluation (the rest).
        """
        t = None
        if self.adapter == "dense":
            h = x @ p["A"]
            h += p["c"][:, None, :]
            np.tanh(h, out=h)
        elif self.adapter == "lowrank":
            t = np.tanh(x @ p["U"])
            h = t @ p["V"]
            h += x
        else:
            h = x
        if self.trainable_body:
            z = h @ p["W1"]
            z += p["b1"][:, None, :]
            np.tanh(z, out=z)
            ctx = z
        elif train:
            z, ctx = self.layer.forward_train(h)
        else:
            z, ctx = self.layer.forward(h), None
        u = None
        if self.head == "mlp":
            u = z @ p["W2"]
            u += p["b2"][:, None, :]
            np.tanh(u, out=u)
        q = (z if u is None else u) @ p["Wo"]
        q += p["bo"][:, None, :]
        if not train:
            return q
        cache = (x, t, h, z, ctx, u)
        if keep is not None:
            cache = tuple(None if a is None else a[:, :keep] for a in cache)
        return q, cache

    # ----------------------------------------------------------------------------- backward
    def backward(self, p: FlatParams, cache, dq: np.ndarray, grad: FlatParams) -> None:
        """Write dL/dparams into ``grad`` given dL/dq (S, N, A) and the forward cache."""
        x, t, h, z, ctx, u = cache
        np.matmul((z if u is None else u).transpose(0, 2, 1), dq, out=grad["Wo"])
        dq.sum(axis=1, out=grad["bo"])
        dz = dq @ p["Wo"].transpose(0, 2, 1)
        if u is not None:
            dz *= 1.0 - u * u
            np.matmul(z.transpose(0, 2, 1), dz, out=grad["W2"])
            dz.sum(axis=1, out=grad["b2"])
            dz = dz @ p["W2"].transpose(0, 2, 1)
        if self.trainable_body:
            dz *= 1.0 - z * z
            np.matmul(h.transpose(0, 2, 1), dz, out=grad["W1"])
            dz.sum(axis=1, out=grad["b1"])
        if self.adapter == "none":
            return    # nothing before the layer trains: no input gradient needed
        if self.trainable_body:
            dh = dz @ p["W1"].transpose(0, 2, 1)
        else:
            dh = self.layer.backward_from(ctx, dz)
        xt = x.transpose(0, 2, 1)
        if self.adapter == "dense":
            dh *= 1.0 - h * h
            np.matmul(xt, dh, out=grad["A"])
            dh.sum(axis=1, out=grad["c"])
        elif self.adapter == "lowrank":
            np.matmul(t.transpose(0, 2, 1), dh, out=grad["V"])
            dt = dh @ p["V"].transpose(0, 2, 1)
            dt *= 1.0 - t * t
            np.matmul(xt, dt, out=grad["U"])
