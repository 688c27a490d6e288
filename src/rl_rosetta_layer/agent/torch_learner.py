"""The torch learner: S seeds' networks around one frozen body (a video block, or a numpy
layer trained as ``NAME@torch``), on its device, updated by the one DQN update.

Imported only when a layer asks for it (``trains_with = "torch"``, see
:func:`.learner.make_learner`): the numpy path never loads torch.

Network per seed: observations (N, D) -> patch-embedding tokens (N, T, width) (the input
adapter: patch map, bias, positions) -> frozen block -> the read-out's fixed part -> codes
(N, C) -> the read-out's trainable part (N, F) (``video/candidates/readout.py``) -> [feature
normalisation] -> head ('mlp': ``act(norm(z W2 + b2)) Wo + bo``, act tanh or ReLU, norm
none or LayerNorm, as ``agent/network.py``; 'linear': ``z Wo + bo``) -> Q (N, A).

With a frozen input adapter (``adapter='none'``) everything up to the codes is fixed and
the same for every seed, so the learner has an ``encode`` method: the DQN loop encodes each
observation once, as it arrives, the replay stores codes, and ``act``, ``update`` and
``probe`` take codes (S, ..., C). With a trainable input adapter ('lowrank' and 'dense'
both mean "train the patch embedding"; ``adapter_rank`` and ``init_noise`` do not apply)
they take observations and every update runs the block.

The learner also trains numpy layers (``NAME@torch``,
``video/candidates/torch_trained.TorchTrained``): the codes are the layer's features, the
read-out is the identity, the input adapter is frozen. That is the control which shows
that this learner and the numpy one agree.

Feature normalisation (the candidate's ``feature_norm``): with 'running' each seed
standardises the head's input per feature with running statistics, as the numpy learner
does (:class:`.params.RunningFeatureNorm`, one definition for both).

The update is the one DQN update of ``agent/update.FlatLearner`` (the numpy learner's
too): each seed's parameters are one row of flat (S, P) tensors [input adapter | read-out |
head], and this module supplies the network's forward pass and its gradient (autograd).
Every seed's network is run on its own (never on a batch that mixes seeds), so a seed's
numbers are bit-identical alone or in lockstep. Parameters, target, optimiser state and
tokens stay on the device; an update moves the batch in and the (S,) norms and flags out.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..checks import is_int
from ..errors import ConfigError
from ..layers.norm import LN_EPS
from ..video.candidates.bridge import as_tensor
from ..video.candidates.readout import Readout
from ..video.candidates.tokens import TokenLayout, init_adapter
from .params import RunningFeatureNorm, check_network, stored_shapes
from .update import FlatLearner


def head_shapes(width: int, n_actions: int, head: str, hidden: int) -> dict[str, tuple]:
    """Output-adapter parameters, in the order ``agent/network.py`` lays them out."""
    shapes: dict[str, tuple] = {}
    if head == "mlp":
        shapes.update(W2=(width, hidden), b2=(hidden,))
        width = hidden
    shapes.update(Wo=(width, n_actions), bo=(n_actions,))
    return shapes


def init_head(width: int, n_actions: int, head: str, hidden: int,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Initial head, drawn as ``QNetwork.init`` draws it: W ~ N(0, 1/sqrt(fan_in)), b = 0."""
    out = {}
    if head == "mlp":
        out["W2"] = rng.normal(0.0, 1.0 / np.sqrt(width), (width, hidden))
        out["b2"] = np.zeros(hidden)
        width = hidden
    out["Wo"] = rng.normal(0.0, 1.0 / np.sqrt(width), (width, n_actions))
    out["bo"] = np.zeros(n_actions)
    return {k: v.astype(np.float32) for k, v in out.items()}


def flatten(arrays: dict[str, np.ndarray], shapes: dict[str, tuple]) -> np.ndarray:
    """One flat float32 vector of ``arrays`` in the order of ``shapes``."""
    if not shapes:
        return np.zeros(0, np.float32)
    return np.concatenate([np.asarray(arrays[k], np.float32).reshape(-1) for k in shapes])


def n_entries(shapes: dict[str, tuple]) -> int:
    """Entries of a flat vector holding parameters of shapes ``shapes``."""
    return sum(math.prod(s) for s in shapes.values())


def views(flat: torch.Tensor, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """Named views of shapes ``shapes`` into the flat vector ``flat``."""
    out, offset = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = flat[offset:offset + n].view(shape)
        offset += n
    return out


class TorchLearner(FlatLearner):
    """Online and target networks of S seeds around one frozen body, on its device.

    ``body`` is a ``video.candidate.VideoCandidate`` or a ``video.torch_trained.TorchTrained``
    numpy layer. Built by :func:`.learner.make_learner`; follows the ``Learner`` protocol of
    ``rl_rosetta_layer.agent.learner`` (encode, act, update, sync_target, n_params, probe,
    grad_norms).
    """

    def __init__(self, body, obs_dim: int, n_actions: int, config,
                 init_rngs: list[np.random.Generator]) -> None:
        if obs_dim != body.input_dim:
            shape = getattr(body, "obs_shape", None)
            raise ConfigError(f"layer {body.name!r} takes observations of {body.input_dim} "
                              f"values{f' {shape}' if shape else ''}, the environment gives "
                              f"{obs_dim}")
        if not is_int(n_actions) or n_actions < 1:
            raise ConfigError(f"n_actions must be a positive integer, got {n_actions!r}")
        if getattr(body, "feature_norm", "none") == "tokens":
            raise ConfigError(f"layer {body.name!r}: feature_norm 'tokens' trains with the "
                              f"numpy learner only; the torch learner standardises the "
                              f"read-out's values ('running') or nothing ('none')")
        rngs = list(init_rngs)
        if not rngs or not all(isinstance(r, np.random.Generator) for r in rngs):
            raise ConfigError(f"init_rngs must be a non-empty list of numpy Generators, got "
                              f"{init_rngs!r}")
        tokens = isinstance(getattr(body, "layout", None), TokenLayout)   # a video block
        self.train_adapter = config.adapter != "none"
        if self.train_adapter and not tokens:
            raise ConfigError(f"{body.name}: the torch learner trains a numpy layer with a "
                              f"frozen input adapter only; use --set adapter=none")
        self.body, self.config, self.n_actions = body, config, int(n_actions)
        self.n_seeds = len(rngs)
        self.readout: Readout = body.readout
        self.adapter_shapes = body.layout.adapter_shapes() if self.train_adapter else {}
        self.readout_shapes = self.readout.shapes()
        self.head_shapes = {**self.readout_shapes,
                            **head_shapes(self.readout.out_dim, self.n_actions, config.head,
                                          config.head_hidden)}
        self.shapes = {**self.adapter_shapes, **self.head_shapes}
        self.relu, self.head_ln = config.head_activation == "relu", config.head_norm == "layer"
        if not self.train_adapter:
            self.input_dim = self.readout.code_dim
        else:
            self.input_dim = body.input_dim
        rows = []
        for rng in rngs:
            row = {}
            if self.train_adapter:
                row.update(init_adapter(body.layout, rng, body.embed_init, body.pos_init))
            row.update(self.readout.init(rng))
            row.update(init_head(self.readout.out_dim, self.n_actions, config.head,
                                 config.head_hidden, rng))
            rows.append(flatten(row, self.shapes))
        self.online = body.to_device(np.stack(rows))
        self.target = self.online.clone()
        self.grad = torch.zeros_like(self.online)
        # Named views into each seed's rows, made once: the flats only change in place.
        self._online_views = [views(r, self.shapes) for r in self.online]
        self._target_views = [views(r, self.shapes) for r in self.target]
        self._init_update(n_entries(self.adapter_shapes))
        self.m, self.v = self.optimizers[1][1].m, self.optimizers[1][1].v
        #: Running statistics of the head's input (``feature_norm`` 'running'), or None.
        self.norm = RunningFeatureNorm(self.online, self.n_seeds, self.readout.out_dim) \
            if getattr(body, "feature_norm", "none") == "running" else None
        self._updated = False           # no gradient yet: grad_norms are NaN
        n_adapter, n_readout = n_entries(self.adapter_shapes), n_entries(self.readout_shapes)
        self.groups = {"head": [slice(n_adapter + n_readout, None)]}
        if self.readout_shapes:
            self.groups["readout"] = [slice(n_adapter, n_adapter + n_readout)]
        if self.train_adapter:
            self.groups["input_adapter"] = [slice(0, n_adapter)]

    # ----------------------------------------------------------------------------- network
    def _codes(self, named: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Codes (N, C) of inputs x: codes already (frozen input), or observations."""
        if not self.train_adapter:
            return x
        return self.body.features(x, named)

    def _head(self, codes: torch.Tensor, h: dict[str, torch.Tensor], i: int,
              inspect: bool = False):
        """Q-values (N, A) of seed i (parameters ``h`` by name) for codes (N, C); with
        ``inspect`` a dict of the head's ``q``, ``pre`` and ``hidden`` (N, H) too."""
        z = self.readout.apply(codes, h)
        if self.norm is not None:
            z = self.norm.apply(z[None], [i])[0]
        pre = u = None
        if "W2" in h:
            pre = z @ h["W2"] + h["b2"]
            if self.head_ln:
                pre = torch.nn.functional.layer_norm(pre, pre.shape[-1:], eps=LN_EPS)
            u = torch.relu(pre) if self.relu else torch.tanh(pre)
        q = (z if u is None else u) @ h["Wo"] + h["bo"]
        if inspect:
            return {"q": q, "pre": pre, "hidden": u}
        return q

    def _q(self, named: dict[str, torch.Tensor], x: torch.Tensor, i: int) -> torch.Tensor:
        return self._head(self._codes(named, x), named, i)

    def _track_features(self, i: int, codes: torch.Tensor) -> None:
        """Set seed i's statistics of the head's input from codes (B, C) if not set yet,
        else move them towards those codes'."""
        with torch.no_grad():
            z = self.readout.apply(codes, self._online_views[i])[None]
            if not self.norm.ready[i]:
                self.norm.first([i], z)
            else:
                self.norm.track([i], z)

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        """Inputs (S, ..., X) as one tensor on the device, in the adapters' dtype."""
        b = self.body
        x = np.asarray(x)
        if x.shape[0] != self.n_seeds or x.shape[-1] != self.input_dim:
            what = "codes" if not self.train_adapter else "observations"
            raise ConfigError(f"{what} must have shape ({self.n_seeds}, ..., "
                              f"{self.input_dim}), got {x.shape}")
        dtype = np.float64 if b.param_dtype == torch.float64 else np.float32
        return as_tensor(x, dtype).to(b.device).to(b.param_dtype)

    # ------------------------------------------------- the update's network (FlatLearner)
    def _arrays(self, both, actions, returns, discounts):
        b = np.shape(actions)[1] if np.ndim(actions) == 2 else -1
        if np.shape(actions) != (self.n_seeds, b) or np.shape(both)[:2] != (self.n_seeds, 2 * b) \
                or np.shape(returns) != (self.n_seeds, b) \
                or np.shape(discounts) != (self.n_seeds, b):
            raise ConfigError(f"an update takes both ({self.n_seeds}, 2B, D), actions, returns "
                              f"and discounts ({self.n_seeds}, B); got {np.shape(both)}, "
                              f"{np.shape(actions)}, {np.shape(returns)}, "
                              f"{np.shape(discounts)}")
        dev, dtype = self.body.device, self.body.param_dtype
        return (self._inputs(both), as_tensor(actions, np.int64).to(dev),
                as_tensor(returns, np.float32).to(dev, dtype),
                as_tensor(discounts, np.float32).to(dev, dtype))

    def _seed_forward(self, i: int, both: torch.Tensor, batch: int):
        """Seed i's Q (B, A) of the observations with its graph, of the next observations
        under the target and (Double DQN) the online network, its parameter leaf and the
        online codes of the observations (B, C), detached."""
        # Each seed's inputs in their own allocation, whatever S is: no kernel can see a
        # different alignment or neighbour alone and in lockstep.
        both = both.clone()
        obs, nxt = both[:batch], both[batch:]
        online, target = self._online_views[i], self._target_views[i]
        if self.norm is not None and not self.norm.ready[i]:
            with torch.no_grad():       # the first batch sets the statistics it is read with
                self._track_features(i, self._codes(online, obs))
        with torch.no_grad():
            if self.train_adapter:
                # Next observations under the online and the target adapters: one block call.
                cand = self.body
                tokens = torch.cat([cand.layout.embed(nxt, online), cand.layout.embed(nxt, target)])
                codes = cand.readout.codes(cand.run_block(tokens))
                next_online, next_target = codes[:batch], codes[batch:]
            else:
                next_online = next_target = nxt
            q_next = self._head(next_target, target, i)
            pick = self._head(next_online, online, i) if self.config.double_dqn else None
        with torch.enable_grad():
            leaf = self.online[i].detach().requires_grad_(True)
            named = views(leaf, self.shapes)
            codes = self._codes(named, obs)
            q = self._head(codes, named, i)
        return q, q_next, pick, leaf, codes.detach()

    def _forward(self, both, batch: int):
        seeds = [self._seed_forward(i, both[i], batch) for i in range(self.n_seeds)]
        q = torch.stack([s[0].detach() for s in seeds])
        pick = None if not self.config.double_dqn else torch.stack([s[2] for s in seeds])
        return q, torch.stack([s[1] for s in seeds]), pick, seeds

    def _backward(self, cache, dq) -> None:
        for i, (q, _, _, leaf, _) in enumerate(cache):
            self.grad[i] = torch.autograd.grad(q, leaf, dq[i])[0]
        self._updated = True

    def _host(self, norms, finite):
        host = torch.stack([norms.double(), finite.double()]).cpu().numpy()   # one copy
        return host[0], host[1] > 0.5

    def _park(self, rows: list[int]) -> None:
        super()._park(rows)
        if self.norm is not None:
            with torch.no_grad():
                self.norm.park(rows)

    def _after_step(self, cache, live: np.ndarray) -> None:
        if self.norm is not None:
            for i in live:
                self._track_features(int(i), cache[int(i)][4])

    # --------------------------------------------------------------------- the rest of it
    def encode(self, obs: np.ndarray) -> np.ndarray:
        """The body's codes (M, C) of observations (M, D) when the input adapter is frozen
        (each observation through the frozen front once); the observations themselves when
        it trains."""
        return obs if self.train_adapter else self.body.encode(obs)

    def act(self, x: np.ndarray) -> np.ndarray:
        """Greedy actions (S,) int64 for inputs (S, X) (codes, or observations when the
        input adapter trains), one seed at a time."""
        x_t = self._inputs(x)
        with torch.inference_mode():
            best = torch.stack([self._q(named, x_t[i:i + 1], i)[0].argmax()
                                for i, named in enumerate(self._online_views)])
        return best.cpu().numpy().astype(np.int64)

    def greedy(self, x: np.ndarray) -> np.ndarray:
        """Greedy actions (S, N) int64 for inputs (S, N, X), seed i's network on row i."""
        return self.q_values(x).argmax(axis=2)

    def network(self, seed: int) -> dict[str, np.ndarray]:
        """Seed ``seed``'s trainable parameters by name (float32 copies), and its feature
        statistics (:class:`.params.RunningFeatureNorm`) when it keeps them."""
        out = {k: np.asarray(v, np.float32) for k, v in self.params(seed).items()}
        return out if self.norm is None else out | self.norm.stats(seed)

    def load_network(self, seed: int, params: dict[str, np.ndarray]) -> None:
        """Set seed ``seed``'s online and target parameters (and feature statistics) to
        ``params`` (by name)."""
        check_network(params, stored_shapes(self.shapes, self.norm, self.readout.out_dim))
        with torch.no_grad():
            for views_ in (self._online_views, self._target_views):
                for k, v in views_[seed].items():
                    v.copy_(self.body.to_device(np.asarray(params[k])).view(v.shape))
            if self.norm is not None:
                self.norm.load(seed, params)

    def n_params(self) -> int:
        """Trainable parameters per seed (input adapter, unless frozen; read-out; head)."""
        return n_entries(self.shapes)

    def probe(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The online networks on probe inputs (N, X), the same for every seed: ``q``
        (S, N, A), ``features`` (S, N, C) (the codes: what the frozen part gives), and for
        an 'mlp' head ``pre`` and ``hidden`` (S, N, H), float64."""
        out: dict[str, list] = {"q": [], "features": [], "pre": [], "hidden": []}
        x_t = self._inputs(np.broadcast_to(x, (self.n_seeds, *np.shape(x))))
        with torch.no_grad():
            for i, named in enumerate(self._online_views):
                codes = self._codes(named, x_t[i])
                got = self._head(codes, named, i, inspect=True)
                got["features"] = codes
                for k in out:
                    out[k].append(None if got[k] is None else got[k].double().cpu().numpy())
        return {k: (np.stack(v) if v[0] is not None else None) for k, v in out.items()}

    def grad_norms(self) -> dict[str, np.ndarray]:
        """Norm (S,) per group (input_adapter, readout, head) of each seed's last gradient,
        before clipping; NaN for a parked seed or before the first update."""
        out = self.group_norms(self.groups)
        if not self._updated:
            for norms in out.values():
                norms[:] = np.nan
        return out

    # ------------------------------------------------------------------ inspection, tests
    def q_values(self, x: np.ndarray, *, target: bool = False) -> np.ndarray:
        """Q-values (S, N, A) float64 of inputs (S, N, X) under each seed's online (or
        target) network."""
        x_t = self._inputs(x)
        nets = self._target_views if target else self._online_views
        with torch.no_grad():
            q = torch.stack([self._q(named, x_t[i], i) for i, named in enumerate(nets)])
        return q.double().cpu().numpy()

    def gradients(self, both, actions, returns, discounts) -> list[dict[str, np.ndarray]]:
        """Each seed's gradient of the update's loss before clipping (no step taken):
        ``{"adapter": (Pa,), "head": (Ph,)}`` (no "adapter" when it is frozen; "head" holds
        the read-out's parameters first)."""
        saved = self.grad.clone()
        profile, self.profile = self.profile, None
        self.gradient(both, actions, returns, discounts)
        grads, split = self.grad.double().cpu().numpy().copy(), n_entries(self.adapter_shapes)
        self.grad.copy_(saved)
        self.profile = profile
        return [({"adapter": g[:split]} if self.train_adapter else {}) | {"head": g[split:]}
                for g in grads]

    def params(self, seed: int, *, target: bool = False) -> dict[str, np.ndarray]:
        """Seed ``seed``'s trainable parameters by name (copies, as numpy)."""
        named = (self._target_views if target else self._online_views)[seed]
        return {k: v.detach().cpu().numpy().copy() for k, v in named.items()}

    def state_tensors(self) -> list[torch.Tensor]:
        """Every tensor the learner keeps between updates (to check where they live)."""
        norm = [] if self.norm is None else [self.norm.mean, self.norm.var]
        return [self.online, self.target, self.grad, self.m, self.v, *norm]

    def describe(self) -> dict:
        return {"kind": type(self).__name__, "seeds": self.n_seeds,
                "trainable_params": self.n_params(), "train_adapter": self.train_adapter,
                "feature_norm": "none" if self.norm is None else "running",
                "readout": self.readout.describe(), "device": str(self.body.device),
                "candidate": self.body.describe()}
