"""The Q-network: input adapter -> frozen layer -> output adapter, for S seeds at once.

Shapes: observations ``x`` (S, N, D); adapter output ``h`` (S, N, D); layer features ``z``
(S, N, K); the 'mlp' head's hidden pre-activations and activations (S, N, H); Q-values
(S, N, A). Only adapter parameters (and a TrainableBody's) are trained. Gradients are
written into a :class:`FlatParams` of the same layout.

The 'mlp' head is ``act(norm(z W2 + b2)) Wo + bo`` with ``act`` tanh or ReLU and ``norm``
the identity or a LayerNorm without affine parameters over the H hidden units
(:func:`layer_norm`; eps :data:`LN_EPS`, as torch's).

A video block's layer (``video/candidates/candidate.py``) gives codes of T tokens of
``width`` values (C = T * width); with its 'project' read-out the head reads
``z = [c_t R + rb for each token t]`` (S, N, T * dim), R (width, dim) and rb (dim,) trained
with the head (``video/candidates/readout.py`` is the same map for the torch learner;
'flatten' and 'mean' read-outs have nothing to train: the codes are the head's input).

The network reads *codes* (S, N, C) of observations, made once per observation by
:meth:`QNetwork.encode` (the agent's replay stores them), so nothing fixed is recomputed
per update (:attr:`QNetwork.fold`):

- ``"layer"``: no input adapter (and a frozen layer), so the code is the layer's output;
- ``"input_map"``: a low-rank adapter before a layer that is ``f(x W + b)`` (its
  ``input_map``), with ``M < D`` pre-activations. ``(x + t V) W = x W + t (V W)``, so the
  code is ``[x, x W + b]`` (C = D + M) and an update multiplies by ``V W`` (S, r, M)
  (:meth:`QNetwork.fold_weights`, computed once per parameter change by the learner)
  instead of (N, D) rows by W. The same function, fewer FLOPs; rounding differs from the
  unfolded order in the last bits;
- None: the code is the observation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ..layers.baselines import TrainableBody
from ..layers.norm import LN_EPS, layer_norm, layer_norm_backward  # noqa: F401 - re-exported
from .params import FlatParams


class QNetwork:
    """Forward and backward passes of the adapter-layer-adapter network."""

    def __init__(self, obs_dim: int, layer: Any, n_actions: int, *, adapter: str = "dense",
                 rank: int = 16, init_noise: float = 0.01, head: str = "linear",
                 head_hidden: int = 64, head_activation: str = "tanh",
                 head_norm: str = "none") -> None:
        if layer.input_dim != obs_dim:
            raise ValueError(f"layer {layer.name!r} takes {layer.input_dim} inputs, "
                             f"observations have {obs_dim}")
        self.obs_dim, self.layer, self.n_actions = obs_dim, layer, n_actions
        self.adapter, self.rank, self.init_noise = adapter, rank, init_noise
        self.head, self.head_hidden = head, head_hidden
        self.relu, self.head_ln = head_activation == "relu", head_norm == "layer"
        self.trainable_body = isinstance(layer, TrainableBody)
        #: What running statistics standardise (a video block's ``feature_norm``;
        #: :class:`.params.RunningFeatureNorm`): 'none', 'running' (the head's input) or
        #: 'tokens' (the codes, before the read-out).
        self.norm_kind = getattr(layer, "feature_norm", "none")
        #: Whether the head reads its input standardised by running statistics.
        self.feature_norm = self.norm_kind == "running"
        #: Whether the read-out reads the codes standardised by running statistics.
        self.code_norm = self.norm_kind == "tokens"
        if self.norm_kind != "none" and (adapter != "none" or self.trainable_body):
            raise ConfigError(f"layer {layer.name!r}: the numpy network standardises with "
                              f"running statistics (feature_norm {self.norm_kind!r}) behind "
                              f"a frozen input adapter only (--set adapter=none), got adapter "
                              f"{adapter!r}; the torch learner trains the others")
        d, k = obs_dim, layer.output_dim
        shapes: dict[str, tuple[int, ...]] = {}
        if adapter == "dense":
            shapes.update(A=(d, d), c=(d,))
        elif adapter == "lowrank":
            shapes.update(U=(d, rank), V=(rank, d))
        if self.trainable_body:
            shapes.update(W1=(d, k), b1=(k,))
        #: (tokens T, width, dim) of a trainable 'project' read-out of the layer's codes.
        self.readout = self._readout()
        if self.readout is not None:
            tokens, width, dim = self.readout
            shapes.update(R=(width, dim), rb=(dim,))
            k = tokens * dim
        if head == "mlp":
            shapes.update(W2=(k, head_hidden), b2=(head_hidden,))
            k = head_hidden
        shapes.update(Wo=(k, n_actions), bo=(n_actions,))
        self.shapes = shapes
        #: The folded layer's (W (D, M), b (M,)) as float32, as every parameter is; or None.
        self.input_map = self._folded_input_map()
        self.fold = self._fold()
        #: Width K of the head's input (what a running feature norm standardises).
        self.head_input_dim = k if head != "mlp" else shapes["W2"][0]
        #: Width C of the codes :meth:`encode` makes.
        self.code_dim = d
        if self.fold == "layer":
            self.code_dim = layer.output_dim
        elif self.fold == "input_map":
            self._input_map_t = np.ascontiguousarray(self.input_map[0].T)   # (M, D)
            self.code_dim = d + self.input_map[0].shape[1]
        #: Width of what the running statistics standardise (:meth:`norm_input`).
        self.norm_width = self.code_dim if self.code_norm else self.head_input_dim

    def _folded_input_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The layer's input map when a low-rank adapter can fold into it (M < D)."""
        get = getattr(self.layer, "input_map", None)
        if self.trainable_body or self.adapter != "lowrank" or not callable(get):
            return None
        got = get()
        if got is None or np.shape(got[0])[1] >= self.obs_dim:
            return None
        return tuple(np.asarray(a, np.float32) for a in got)

    def _readout(self) -> tuple[int, int, int] | None:
        """(T, width, dim) when the layer's codes reach the head through a trainable
        'project' read-out (a video block with a frozen input adapter), else None."""
        readout = getattr(self.layer, "readout", None)
        kind = getattr(readout, "kind", None)
        if readout is None or kind in ("none", "flatten", "mean"):
            return None
        if self.adapter != "none" or kind != "project":
            raise ConfigError(f"layer {self.layer.name!r}: the numpy network trains a "
                              f"'project', 'flatten' or 'mean' read-out behind a frozen input "
                              f"adapter (--set adapter=none), got the read-out {kind!r} with "
                              f"adapter {self.adapter!r}; the torch learner trains the others")
        return int(readout.tokens), int(readout.width), int(readout.dim)

    def _fold(self) -> str | None:
        """How much of the network is fixed per observation; see the module docstring."""
        if self.trainable_body:
            return None
        if self.adapter == "none":
            return "layer"
        return None if self.input_map is None else "input_map"

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Codes (..., C) of observations x (..., D): what :meth:`forward` reads (float32
        for float32 observations, float64 for float64 ones).

        Each row is its own (1, D) product, so its code never depends on the rows beside
        it (one (N, D) product sums in an order that depends on N): a seed's numbers stay
        the same alone and in lockstep.
        """
        if self.fold is None:
            return x
        dtype = np.result_type(x, np.float32)
        own = getattr(self.layer, "encode", None)
        if self.fold == "layer" and callable(own):   # a video block: its own, remembered codes
            x = np.asarray(x)
            return np.asarray(own(x.reshape(-1, x.shape[-1])), dtype).reshape(*x.shape[:-1], -1)
        rows = np.asarray(x)[..., None, :]
        if self.fold == "layer":
            return np.asarray(self.layer.forward(rows), dtype)[..., 0, :]
        w, b = self.input_map
        pre = rows @ w
        pre += b
        return np.concatenate([rows, pre], axis=-1, dtype=dtype)[..., 0, :]

    def fold_weights(self, p: FlatParams) -> np.ndarray | None:
        """``V W`` (S, r, M) for the "input_map" fold, else None."""
        if self.fold != "input_map":
            return None
        return p["V"] @ self.input_map[0]

    @classmethod
    def from_config(cls, obs_dim: int, layer: Any, n_actions: int, config) -> QNetwork:
        """The network ``config`` (a :class:`~.config.DQNConfig`) puts around ``layer``: its
        adapter, rank, init noise and head. Only shapes are set (no parameters drawn), so
        this is cheap, e.g. to count parameters with :meth:`n_params`."""
        return cls(obs_dim, layer, n_actions, adapter=config.adapter, rank=config.adapter_rank,
                   init_noise=config.init_noise, head=config.head,
                   head_hidden=config.head_hidden, head_activation=config.head_activation,
                   head_norm=config.head_norm)

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
            if self.readout is not None:      # drawn as the torch learner's Readout.init
                tokens, width, dim = self.readout
                p["R"][i] = rng.normal(0.0, 1.0 / np.sqrt(width), (width, dim))
                k = tokens * dim
            if self.head == "mlp":
                p["W2"][i] = rng.normal(0.0, 1.0 / np.sqrt(k), (k, self.head_hidden))
                k_out = self.head_hidden
            else:
                k_out = k
            p["Wo"][i] = rng.normal(0.0, 1.0 / np.sqrt(k_out), (k_out, self.n_actions))
        return p

    # ------------------------------------------------------------------------------ forward
    def hidden(self, p: FlatParams, z: np.ndarray):
        """The 'mlp' head's hidden layer on features z (S, N, K): (pre-activations (S, N, H),
        activations (S, N, H), (normalised, inverse std) of its LayerNorm or None)."""
        pre = z @ p["W2"]
        pre += p["b2"][:, None, :]
        ln = None
        if self.head_ln:
            pre, inv = layer_norm(pre)
            ln = (pre, inv)
        u = np.maximum(pre, 0.0) if self.relu else np.tanh(pre)
        return pre, u, ln

    def forward(self, p: FlatParams, codes: np.ndarray, *, train: bool = False,
                keep: int | None = None, inspect: bool = False,
                folded: np.ndarray | None = None, norm=None, standardised: bool = False):
        """Q-values (S, N, A) of observation codes (S, N, C) (:meth:`encode`); with ``train``
        also a cache.

        ``keep`` limits the cache to the first ``keep`` rows, so one pass can serve both a
        gradient (those rows) and plain evaluation (the rest). With ``inspect`` (no
        ``train``) the result is a dict: ``q``, ``features`` z (S, N, K) and, for the 'mlp'
        head, ``pre`` and ``hidden`` (S, N, H). ``folded`` is :meth:`fold_weights` of ``p``
        when the caller keeps it (computed here otherwise). ``norm`` is the learner's
        :class:`~.params.RunningFeatureNorm` when :attr:`norm_kind` is not 'none'; with
        ``standardised`` the codes have been through it already ('tokens' only).
        """
        x = t = h = ctx = scale = None
        if self.fold == "layer":
            ctx = norm.apply(codes) if self.code_norm and not standardised else codes
            z = self.head_input(p, ctx)
            if self.feature_norm:
                z, scale = norm.apply(z), norm.scale()
        elif self.fold == "input_map":
            d = self.obs_dim
            x = codes[..., :d]
            folded = self.fold_weights(p) if folded is None else folded
            t = np.tanh(x @ p["U"])
            pre = t @ folded
            pre += codes[..., d:]
            z, ctx = self.layer.forward_pre(pre)
        else:
            x = codes
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
                z = self.layer.forward(h)
        pre = u = ln = None
        if self.head == "mlp":
            pre, u, ln = self.hidden(p, z)
        q = (z if u is None else u) @ p["Wo"]
        q += p["bo"][:, None, :]
        if inspect:
            features = codes if self.fold == "layer" else z
            return {"q": q, "features": features, "pre": pre, "hidden": u}
        if not train:
            return q
        if keep is not None:
            x, t, h, z, ctx, u = (None if a is None else a[:, :keep]
                                  for a in (x, t, h, z, ctx, u))
            ln = None if ln is None else (ln[0][:, :keep], ln[1][:, :keep])
        return q, (x, t, h, z, ctx, u, ln, folded, scale)

    def norm_input(self, p: FlatParams, codes: np.ndarray) -> np.ndarray:
        """What the running statistics standardise, of codes (S, N, C): the codes themselves
        ('tokens', (S, N, C)) or the head's input ('running', (S, N, K))."""
        return codes if self.code_norm else self.head_input(p, codes)

    def head_input(self, p: FlatParams, codes: np.ndarray) -> np.ndarray:
        """What the head reads of codes (S, N, C), before any feature norm: the 'project'
        read-out's values (S, N, T * dim), or the codes themselves."""
        return codes if self.readout is None else self.project(p, codes)

    def project(self, p: FlatParams, codes: np.ndarray) -> np.ndarray:
        """The 'project' read-out: codes (S, N, T * width) -> (S, N, T * dim)."""
        tokens, width, dim = self.readout
        s, n = codes.shape[:2]
        # A view where it can be (the next observations are a slice of the batch): no copy.
        z = codes.reshape(s, n * tokens, width) @ p["R"]
        z += p["rb"][:, None, :]
        return z.reshape(s, n, tokens * dim)

    # ----------------------------------------------------------------------------- backward
    def backward(self, p: FlatParams, cache, dq: np.ndarray, grad: FlatParams) -> None:
        """Write dL/dparams into ``grad`` given dL/dq (S, N, A) and the forward cache."""
        x, t, h, z, ctx, u, ln, folded, scale = cache
        np.matmul((z if u is None else u).transpose(0, 2, 1), dq, out=grad["Wo"])
        dq.sum(axis=1, out=grad["bo"])
        dz = dq @ p["Wo"].transpose(0, 2, 1)
        if u is not None:
            if self.relu:
                dz *= u > 0.0
            else:
                dz *= 1.0 - u * u
            if ln is not None:
                dz = layer_norm_backward(*ln, dz)
            np.matmul(z.transpose(0, 2, 1), dz, out=grad["W2"])
            dz.sum(axis=1, out=grad["b2"])
            dz = dz @ p["W2"].transpose(0, 2, 1)
        if self.trainable_body:
            dz *= 1.0 - z * z
            np.matmul(h.transpose(0, 2, 1), dz, out=grad["W1"])
            dz.sum(axis=1, out=grad["b1"])
        if self.readout is not None:          # ctx: the codes (S, N, C) the read-out read
            tokens, width, dim = self.readout
            if scale is not None:             # through the running feature norm
                dz = dz * scale
            s, n = dz.shape[:2]
            dzt = dz.reshape(s, n * tokens, dim)
            np.matmul(ctx.reshape(s, n * tokens, width).transpose(0, 2, 1), dzt,
                      out=grad["R"])
            dzt.sum(axis=1, out=grad["rb"])
        if self.adapter == "none":
            return    # nothing before the layer trains: no input gradient needed
        xt = x.transpose(0, 2, 1)
        if self.fold == "input_map":
            # h = x + t V feeds pre = h W + b: dV = t^T dpre W^T, dt = dpre (V W)^T.
            dpre = self.layer.backward_pre(ctx, dz)
            np.matmul(t.transpose(0, 2, 1) @ dpre, self._input_map_t, out=grad["V"])
            dt = dpre @ folded.transpose(0, 2, 1)
            dt *= 1.0 - t * t
            np.matmul(xt, dt, out=grad["U"])
            return
        if self.trainable_body:
            dh = dz @ p["W1"].transpose(0, 2, 1)
        else:
            dh = self.layer.backward_from(ctx, dz)
        if self.adapter == "dense":
            dh *= 1.0 - h * h
            np.matmul(xt, dh, out=grad["A"])
            dh.sum(axis=1, out=grad["c"])
        elif self.adapter == "lowrank":
            np.matmul(t.transpose(0, 2, 1), dh, out=grad["V"])
            dt = dh @ p["V"].transpose(0, 2, 1)
            dt *= 1.0 - t * t
            np.matmul(xt, dt, out=grad["U"])
