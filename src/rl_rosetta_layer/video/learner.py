"""The DQN learner of a video candidate, on the device: the torch twin of ``NumpyLearner``.

Network per seed: observations (N, D) -> patch-embedding tokens (N, T, width) (the input
adapter: patch map, bias, positions) -> frozen block -> the read-out's fixed part -> codes
(N, C) -> the read-out's trainable part (N, F) (:mod:`.readout`) -> [feature
normalisation] -> head ('mlp': ``act(norm(z W2 + b2)) Wo + bo``, act tanh or ReLU, norm
none or LayerNorm, as ``agent/network.py``; 'linear': ``z Wo + bo``) -> Q (N, A).

With a frozen input adapter (``adapter='none'``) everything up to the codes is fixed and
the same for every seed, so the learner has an ``encode`` method: the DQN loop encodes each
observation once, as it arrives, the replay stores codes, and ``act``, ``update`` and
``probe`` take codes (S, ..., C). With a trainable input adapter ('lowrank' and 'dense'
both mean "train the patch embedding"; ``adapter_rank`` and ``init_noise`` do not apply)
they take observations and every update runs the block.

The learner also trains numpy layers (:class:`TorchTrained`, a layer named ``NAME@torch``):
the codes are the layer's features, the read-out is the identity, the input adapter is
frozen. That is the control which shows that this learner and the numpy one agree.

Feature normalisation (the candidate's ``feature_norm``): with 'running' each seed
standardises the head's input per feature, ``(z - mean) / sqrt(var + 1e-5)``, with a mean
and variance set from its first update batch and then moved by ``NORM_MOMENTUM`` towards
each update batch's (the online network's values for the batch's observations, before the
step; no gradient flows through them). Online and target networks share the statistics.

The update is ``NumpyLearner.update`` (``agent/learner.py``): Double DQN (online network
picks the next action, the target network values it), n-step returns and discounts from
the replay, Huber gradient ``clip(td, -huber_delta, huber_delta) / B``, per-seed global-norm
clipping at ``grad_clip``, plain SGD at ``adapter_lr`` on the input adapter and Adam at
``lr`` (eps ``adam_eps``, the same formula as ``agent/optim.Adam``) on the read-out and the
head. Every seed is computed on its own (never on a batch that mixes seeds), so a seed's
numbers are bit-identical alone or in lockstep. Parameters, target, optimiser state and
tokens stay on the device; an update moves the batch in and the (S,) norms and flags out.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..agent.network import LN_EPS
from ..checks import is_int
from ..errors import ConfigError
from ..layers.base import NumpyLayer
from .bridge import as_tensor
from .devices import resolve_device
from .readout import Readout
from .tokens import TokenLayout, init_adapter

BETA1, BETA2 = 0.9, 0.999
#: Weight of each update batch in the running feature statistics ('running' feature_norm).
NORM_MOMENTUM = 0.01
NORM_EPS = 1e-5


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


def views(flat: torch.Tensor, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """Named views of shapes ``shapes`` into the flat vector ``flat``."""
    out, offset = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = flat[offset:offset + n].view(shape)
        offset += n
    return out


class TorchTrained(NumpyLayer):
    """A numpy layer whose DQN is this module's torch learner, named ``NAME@torch``.

    Same features as the layer (``forward`` / ``backward`` delegate), frozen input adapter:
    the control that compares the two learners on one layer.
    """

    def __init__(self, layer, device: str = "cpu") -> None:
        self.layer, self.name = layer, f"{layer.name}@torch"
        self.input_dim, self.output_dim = layer.input_dim, layer.output_dim
        self.device = resolve_device(device)
        self.param_dtype = torch.float32
        self.readout = Readout("none", 1, layer.output_dim)
        self.feature_norm = "none"

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

    def make_learner(self, obs_dim: int, n_actions: int, config, init_rngs):
        return TorchLearner(self, obs_dim, n_actions, config, init_rngs)

    def describe(self) -> dict:
        return {**super().describe(), "learner": "TorchLearner", "layer": self.layer.describe()}


class TorchLearner:
    """Online and target networks of S seeds around one frozen body, on its device.

    ``body`` is a :class:`~.candidate.VideoCandidate` or a :class:`TorchTrained` numpy
    layer. Built by their ``make_learner``; follows the ``Learner`` protocol of
    ``rl_rosetta_layer.agent.learner`` (act, update, sync_target, n_params, probe,
    grad_norms, and ``encode`` when the input adapter is frozen).
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
        self.relu, self.head_ln = config.head_activation == "relu", config.head_norm == "layer"
        if not self.train_adapter:
            self.encode = body.encode
            self.input_dim = self.readout.code_dim
        else:
            self.input_dim = body.input_dim
        dev = body.to_device
        self.online: list[dict[str, torch.Tensor]] = []
        for rng in rngs:
            params = {}
            if self.train_adapter:
                adapter = init_adapter(body.layout, rng, body.embed_init, body.pos_init)
                params["adapter"] = dev(flatten(adapter, self.adapter_shapes)
                                        ).requires_grad_(True)
            head = {**self.readout.init(rng),
                    **init_head(self.readout.out_dim, self.n_actions, config.head,
                                config.head_hidden, rng)}
            params["head"] = dev(flatten(head, self.head_shapes)).requires_grad_(True)
            self.online.append(params)
        self.target = [{k: t.detach().clone() for k, t in p.items()} for p in self.online]
        # Named views into each flat tensor, made once: the flats only change in place.
        self._views = {id(t): views(t, self.adapter_shapes if k == "adapter"
                                    else self.head_shapes)
                       for p in (*self.online, *self.target) for k, t in p.items()}
        self.m = [torch.zeros_like(p["head"], requires_grad=False) for p in self.online]
        self.v = [torch.zeros_like(p["head"], requires_grad=False) for p in self.online]
        self.t = 0
        self.parked = np.zeros(self.n_seeds, bool)
        self.feature_norm = getattr(body, "feature_norm", "none") == "running"
        width = self.readout.out_dim
        self.feat_mean = [dev(np.zeros(width, np.float32)) for _ in rngs]
        self.feat_var = [dev(np.ones(width, np.float32)) for _ in rngs]
        self.feat_ready = np.zeros(self.n_seeds, bool)
        self._last_grads: list[list[torch.Tensor] | None] = [None] * self.n_seeds

    # ----------------------------------------------------------------------------- network
    def _named(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named views of one of the learner's flat parameter tensors."""
        return self._views[id(flat)]

    def _codes(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Codes (N, C) of inputs x: codes already (frozen input), or observations."""
        if not self.train_adapter:
            return x
        return self.body.features(x, self._named(params["adapter"]))

    def _head(self, codes: torch.Tensor, params: dict[str, torch.Tensor], i: int,
              inspect: bool = False):
        """Q-values (N, A) of seed i for codes (N, C); with ``inspect`` a dict of the head's
        input ``features``, ``pre`` and ``hidden`` (N, H) too."""
        h = self._named(params["head"])
        z = self.readout.apply(codes, h)
        if self.feature_norm:
            z = (z - self.feat_mean[i]) * torch.rsqrt(self.feat_var[i] + NORM_EPS)
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

    def _q(self, params: dict[str, torch.Tensor], x: torch.Tensor, i: int) -> torch.Tensor:
        return self._head(self._codes(params, x), params, i)

    def _track_features(self, i: int, codes: torch.Tensor) -> None:
        """Move seed i's statistics of the head's input towards those of codes (B, C)."""
        with torch.no_grad():
            z = self.readout.apply(codes, self._named(self.online[i]["head"]))
            mean, var = z.mean(dim=0), z.var(dim=0, unbiased=False)
            if not self.feat_ready[i]:
                self.feat_mean[i].copy_(mean)
                self.feat_var[i].copy_(var)
                self.feat_ready[i] = True
            else:
                self.feat_mean[i].mul_(1.0 - NORM_MOMENTUM).add_(mean * NORM_MOMENTUM)
                self.feat_var[i].mul_(1.0 - NORM_MOMENTUM).add_(var * NORM_MOMENTUM)

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

    # -------------------------------------------------------------------------- the update
    def _seed_grads(self, i: int, both: torch.Tensor, actions: torch.Tensor,
                    returns: torch.Tensor, discounts: torch.Tensor):
        """Seed i's TD errors (B,), gradients [adapter?, head] of the Huber loss, and the
        online codes of the batch's observations (B, C), detached."""
        online, target, batch = self.online[i], self.target[i], actions.shape[0]
        obs, nxt = both[:batch], both[batch:]
        with torch.no_grad():
            if self.train_adapter:
                # Next observations under the online and the target adapters: one block call.
                cand = self.body
                tokens = torch.cat([cand.layout.embed(nxt, self._named(online["adapter"])),
                                    cand.layout.embed(nxt, self._named(target["adapter"]))])
                codes = cand.readout.codes(cand.run_block(tokens))
                next_online, next_target = codes[:batch], codes[batch:]
            else:
                next_online = next_target = nxt
            q_next = self._head(next_target, target, i)
            pick = self._head(next_online, online, i) if self.config.double_dqn else q_next
            best = pick.argmax(dim=1)
            y = returns + discounts * q_next.gather(1, best[:, None])[:, 0]
        with torch.enable_grad():
            codes = self._codes(online, obs)
            wrt = [online["adapter"], online["head"]] if self.train_adapter else [online["head"]]
            q = self._head(codes, online, i)
            q_taken = q.gather(1, actions[:, None])[:, 0]
            td = q_taken.detach() - y
            kappa = self.config.huber_delta
            dq = td.clamp(-kappa, kappa) / batch
            grads = list(torch.autograd.grad(q_taken, wrt, dq))
        return td, grads, codes.detach()

    def _batch(self, both, actions, returns, discounts):
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

    def update(self, both: np.ndarray, actions: np.ndarray, returns: np.ndarray,
               discounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for every seed; returns (norm before clipping (S,) float64, finite TD
        errors (S,) bool). Parked seeds report (nan, False) and do not move."""
        both_t, a_t, r_t, d_t = self._batch(both, actions, returns, discounts)
        live = np.flatnonzero(~self.parked)
        stats, all_grads, codes = [], {}, {}
        for i in live:
            # Each seed's inputs in their own allocation, whatever S is: no kernel can see a
            # different alignment or neighbour alone and in lockstep.
            seed_batch = (both_t[i].clone(), a_t[i].clone(), r_t[i].clone(), d_t[i].clone())
            if self.feature_norm and not self.feat_ready[i]:
                with torch.no_grad():     # the first batch sets the statistics it is read with
                    half = seed_batch[1].shape[0]
                    self._track_features(int(i), self._codes(self.online[i],
                                                             seed_batch[0][:half]))
            td, grads, codes[int(i)] = self._seed_grads(int(i), *seed_batch)
            self._last_grads[int(i)] = grads
            norm = torch.sqrt(sum(g.square().sum() for g in grads))
            if self.config.grad_clip > 0:
                scale = torch.clamp(self.config.grad_clip / norm, max=1.0)
                grads = [g * scale for g in grads]
            all_grads[int(i)] = grads
            stats.append(torch.stack([norm.double(), torch.isfinite(td).all().double()]))
        norms = np.full(self.n_seeds, np.nan)
        td_finite = np.zeros(self.n_seeds, bool)
        if stats:
            host = torch.stack(stats).cpu().numpy()          # the one device -> host copy
            norms[live], td_finite[live] = host[:, 0], host[:, 1] > 0.5
        self.t += 1
        for i in live:
            if not (np.isfinite(norms[i]) and td_finite[i]):
                self._park(int(i))
            else:
                self._step(int(i), all_grads[int(i)])
                if self.feature_norm:
                    self._track_features(int(i), codes[int(i)])
        return norms, td_finite

    def _park(self, i: int) -> None:
        """Zero seed i's parameters and optimiser state; it takes no further steps."""
        with torch.no_grad():
            for t in (*self.online[i].values(), *self.target[i].values(), self.m[i],
                      self.v[i], self.feat_mean[i], self.feat_var[i]):
                t.zero_()
        self.parked[i] = True
        self._last_grads[i] = None

    def _step(self, i: int, grads: list[torch.Tensor]) -> None:
        """SGD on the input adapter, Adam (``agent/optim.Adam``'s formula) on the rest."""
        c, p = self.config, self.online[i]
        with torch.no_grad():
            if self.train_adapter:
                p["adapter"].sub_(grads[0] * c.adapter_lr)
            g, m, v = grads[-1], self.m[i], self.v[i]
            step = c.lr * math.sqrt(1.0 - BETA2 ** self.t) / (1.0 - BETA1 ** self.t)
            m.mul_(BETA1)
            m.add_(g * (1.0 - BETA1))
            v.mul_(BETA2)
            v.add_((g * g).mul_(1.0 - BETA2))
            tmp = v.sqrt().add_(c.adam_eps)
            p["head"].sub_(torch.div(m, tmp).mul_(step))

    # --------------------------------------------------------------------- the rest of it
    def act(self, x: np.ndarray) -> np.ndarray:
        """Greedy actions (S,) int64 for inputs (S, X) (codes, or observations when the
        input adapter trains), one seed at a time."""
        x_t = self._inputs(x)
        with torch.inference_mode():
            best = torch.stack([self._q(p, x_t[i:i + 1], i)[0].argmax()
                                for i, p in enumerate(self.online)])
        return best.cpu().numpy().astype(np.int64)

    def sync_target(self) -> None:
        """target <- online, every seed."""
        with torch.no_grad():
            for online, target in zip(self.online, self.target):
                for k in online:
                    target[k].copy_(online[k])

    def n_params(self) -> int:
        """Trainable parameters per seed (input adapter, unless frozen; read-out; head)."""
        return sum(math.prod(s) for s in (*self.adapter_shapes.values(),
                                          *self.head_shapes.values()))

    def probe(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The online networks on probe inputs (N, X), the same for every seed: ``q``
        (S, N, A), ``features`` (S, N, C) (the codes: what the frozen part gives), and for
        an 'mlp' head ``pre`` and ``hidden`` (S, N, H), float64."""
        out: dict[str, list] = {"q": [], "features": [], "pre": [], "hidden": []}
        x_t = self._inputs(np.broadcast_to(x, (self.n_seeds, *np.shape(x))))
        with torch.no_grad():
            for i, p in enumerate(self.online):
                codes = self._codes(p, x_t[i])
                got = self._head(codes, p, i, inspect=True)
                got["features"] = codes
                for k in out:
                    out[k].append(None if got[k] is None else got[k].double().cpu().numpy())
        return {k: (np.stack(v) if v[0] is not None else None) for k, v in out.items()}

    def grad_norms(self) -> dict[str, np.ndarray]:
        """Norm (S,) per group (input_adapter, readout, head) of each seed's last gradient,
        before clipping; NaN for a parked seed or before the first update."""
        groups = ["head"] + (["readout"] if self.readout_shapes else []) \
            + (["input_adapter"] if self.train_adapter else [])
        out = {g: np.full(self.n_seeds, np.nan) for g in groups}
        split = sum(math.prod(s) for s in self.readout_shapes.values())
        for i, grads in enumerate(self._last_grads):
            if grads is None:
                continue
            head = grads[-1]
            if "readout" in out:
                out["readout"][i] = float(head[:split].double().norm())
            out["head"][i] = float(head[split:].double().norm())
            if self.train_adapter:
                out["input_adapter"][i] = float(grads[0].double().norm())
        return out

    # ------------------------------------------------------------------ inspection, tests
    def q_values(self, x: np.ndarray, *, target: bool = False) -> np.ndarray:
        """Q-values (S, N, A) float64 of inputs (S, N, X) under each seed's online (or
        target) network."""
        x_t = self._inputs(x)
        nets = self.target if target else self.online
        with torch.no_grad():
            q = torch.stack([self._q(p, x_t[i], i) for i, p in enumerate(nets)])
        return q.double().cpu().numpy()

    def gradients(self, both, actions, returns, discounts) -> list[dict[str, np.ndarray]]:
        """Each seed's gradient of the update's loss before clipping (no step taken):
        ``{"adapter": (Pa,), "head": (Ph,)}`` (no "adapter" when it is frozen; "head" holds
        the read-out's parameters first)."""
        both_t, a_t, r_t, d_t = self._batch(both, actions, returns, discounts)
        out = []
        for i in range(self.n_seeds):
            _, grads, _ = self._seed_grads(i, both_t[i], a_t[i], r_t[i], d_t[i])
            names = ["adapter", "head"] if self.train_adapter else ["head"]
            out.append({k: g.double().cpu().numpy() for k, g in zip(names, grads)})
        return out

    def params(self, seed: int, *, target: bool = False) -> dict[str, np.ndarray]:
        """Seed ``seed``'s trainable parameters by name (copies, as numpy)."""
        p = (self.target if target else self.online)[seed]
        named = dict(self._named(p["head"]))
        if self.train_adapter:
            named.update(self._named(p["adapter"]))
        return {k: v.detach().cpu().numpy().copy() for k, v in named.items()}

    def state_tensors(self) -> list[torch.Tensor]:
        """Every tensor the learner keeps between updates (to check where they live)."""
        return [*(t for p in self.online for t in p.values()),
                *(t for p in self.target for t in p.values()), *self.m, *self.v,
                *self.feat_mean, *self.feat_var]

    def describe(self) -> dict:
        return {"kind": type(self).__name__, "seeds": self.n_seeds,
                "trainable_params": self.n_params(), "train_adapter": self.train_adapter,
                "feature_norm": "running" if self.feature_norm else "none",
                "readout": self.readout.describe(), "device": str(self.body.device),
                "candidate": self.body.describe()}
