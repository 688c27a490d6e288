"""The DQN learner of a video candidate, on the device: the torch twin of ``NumpyLearner``.

Network per seed: observations (N, D) -> patch-embedding tokens (N, T, width) (the input
adapter: patch map, bias, positions) -> frozen block -> mean over tokens (N, width) ->
[feature normalisation] -> head ('mlp': tanh hidden layer of ``head_hidden`` -> Q (N, A);
'linear': -> Q (N, A)).

Feature normalisation (the candidate's ``feature_norm``): with 'none' the head reads the
pooled features as they are. They can vary very little with the observation (a tiny-video
block's pooled features on catch: a standard deviation across observations of 2.4 % of
their magnitude), so with 'running' each seed standardises them per feature,
``(z - mean) / sqrt(var + 1e-5)``, with a mean and variance set from its first update batch
and then moved by ``NORM_MOMENTUM`` towards each update batch's (the online network's
features of the batch's observations, before the step; no gradient flows through them).
Online and target networks share the statistics.

The update is ``NumpyLearner.update`` (``agent/learner.py``): Double DQN (online network
picks the next action, the target network values it), n-step returns and discounts from
the replay, Huber gradient ``clip(td, -huber_delta, huber_delta) / B``, per-seed global-norm
clipping at ``grad_clip``, plain SGD at ``adapter_lr`` on the input adapter and Adam at
``lr`` (eps ``adam_eps``, the same formula as ``agent/optim.Adam``) on the head. The input
adapter is always the patch embedding ('lowrank' and 'dense' both mean "train it";
``adapter_rank`` and ``init_noise`` do not apply); with ``adapter='none'`` it stays at its
initial draw and only the head trains.
One difference in how, not what: the online pass over [o; o2] is split into a pass with
gradients over o and a pass without over o2 (stacked with the target's), so the block's
input gradient is computed for B rows rather than 2B.

Every seed is computed on its own (the block is called per seed, never on a batch that
mixes seeds), so a seed's numbers are bit-identical alone or in lockstep. Parameters,
target, optimiser state and tokens stay on the device; an update moves the batch in and
the (S,) norms and flags out, and ``act`` moves (S, D) observations in and (S,) actions out.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .bridge import as_tensor
from .candidate import VideoCandidate, init_adapter

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
    return np.concatenate([np.asarray(arrays[k], np.float32).reshape(-1) for k in shapes])


def views(flat: torch.Tensor, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """Named views of shapes ``shapes`` into the flat vector ``flat``."""
    out, offset = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = flat[offset:offset + n].view(shape)
        offset += n
    return out


class TorchLearner:
    """Online and target networks of S seeds around one frozen block, on its device.

    Built by :meth:`VideoCandidate.make_learner`; follows the ``Learner`` protocol of
    ``rl_rosetta_layer.agent.learner`` (act, update, sync_target, n_params).
    """

    def __init__(self, candidate: VideoCandidate, obs_dim: int, n_actions: int, config,
                 init_rngs: list[np.random.Generator]) -> None:
        if obs_dim != candidate.input_dim:
            raise ConfigError(f"candidate {candidate.name!r} takes observations of "
                              f"{candidate.input_dim} values {candidate.obs_shape}, the "
                              f"environment gives {obs_dim}")
        if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)) \
                or n_actions < 1:
            raise ConfigError(f"n_actions must be a positive integer, got {n_actions!r}")
        rngs = list(init_rngs)
        if not rngs or not all(isinstance(r, np.random.Generator) for r in rngs):
            raise ConfigError(f"init_rngs must be a non-empty list of numpy Generators, got "
                              f"{init_rngs!r}")
        self.candidate, self.config, self.n_actions = candidate, config, int(n_actions)
        self.n_seeds = len(rngs)
        layout = candidate.layout
        self.adapter_shapes = layout.adapter_shapes()
        self.head_shapes = head_shapes(layout.width, self.n_actions, config.head,
                                       config.head_hidden)
        self.train_adapter = config.adapter != "none"
        dev = candidate.to_device
        self.online: list[dict[str, torch.Tensor]] = []
        for rng in rngs:
            adapter = init_adapter(layout, rng, candidate.embed_init, candidate.pos_init)
            head = init_head(layout.width, self.n_actions, config.head, config.head_hidden,
                             rng)
            self.online.append({
                "adapter": dev(flatten(adapter, self.adapter_shapes)).requires_grad_(
                    self.train_adapter),
                "head": dev(flatten(head, self.head_shapes)).requires_grad_(True)})
        self.target = [{k: t.detach().clone() for k, t in p.items()} for p in self.online]
        self.m = [torch.zeros_like(p["head"], requires_grad=False) for p in self.online]
        self.v = [torch.zeros_like(p["head"], requires_grad=False) for p in self.online]
        self.t = 0
        self.parked = np.zeros(self.n_seeds, bool)
        self.feature_norm = getattr(candidate, "feature_norm", "none") == "running"
        width = layout.width
        self.feat_mean = [dev(np.zeros(width, np.float32)) for _ in rngs]
        self.feat_var = [dev(np.ones(width, np.float32)) for _ in rngs]
        self.feat_ready = np.zeros(self.n_seeds, bool)

    # ----------------------------------------------------------------------------- network
    def _adapter(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return views(params["adapter"], self.adapter_shapes)

    def _head(self, z: torch.Tensor, params: dict[str, torch.Tensor], i: int) -> torch.Tensor:
        """Q-values (N, A) of seed i for pooled features z (N, width)."""
        if self.feature_norm:
            z = (z - self.feat_mean[i]) * torch.rsqrt(self.feat_var[i] + NORM_EPS)
        h = views(params["head"], self.head_shapes)
        if "W2" in h:
            z = torch.tanh(z @ h["W2"] + h["b2"])
        return z @ h["Wo"] + h["bo"]

    def _q(self, params: dict[str, torch.Tensor], obs: torch.Tensor, i: int) -> torch.Tensor:
        z = self.candidate.features(obs, self._adapter(params))
        return self._head(z, params, i)

    def _track_features(self, i: int, z: torch.Tensor) -> None:
        """Move seed i's feature statistics towards those of the batch features z (B, w)."""
        with torch.no_grad():
            mean, var = z.mean(dim=0), z.var(dim=0, unbiased=False)
            if not self.feat_ready[i]:
                self.feat_mean[i].copy_(mean)
                self.feat_var[i].copy_(var)
                self.feat_ready[i] = True
            else:
                self.feat_mean[i].mul_(1.0 - NORM_MOMENTUM).add_(mean * NORM_MOMENTUM)
                self.feat_var[i].mul_(1.0 - NORM_MOMENTUM).add_(var * NORM_MOMENTUM)

    def _inputs(self, obs: np.ndarray) -> torch.Tensor:
        """Observations (..., D) as one tensor on the device, in the adapters' dtype."""
        c = self.candidate
        obs = np.asarray(obs)
        if obs.shape[0] != self.n_seeds or obs.shape[-1] != c.input_dim:
            raise ConfigError(f"observations must have shape ({self.n_seeds}, ..., "
                              f"{c.input_dim}), got {obs.shape}")
        dtype = np.float64 if c.param_dtype == torch.float64 else np.float32
        return as_tensor(obs, dtype).to(c.device).to(c.param_dtype)

    # -------------------------------------------------------------------------- the update
    def _seed_grads(self, i: int, both: torch.Tensor, actions: torch.Tensor,
                    returns: torch.Tensor, discounts: torch.Tensor):
        """Seed i's TD errors (B,), gradients [adapter?, head] of the Huber loss, and the
        online features of the batch's observations (B, width), detached."""
        online, target, batch = self.online[i], self.target[i], actions.shape[0]
        cand, obs, nxt = self.candidate, both[:batch], both[batch:]
        with torch.no_grad():
            if self.config.double_dqn:
                # Next observations under the online and the target adapters: one block call.
                tokens = torch.cat([cand.layout.embed(nxt, self._adapter(online)),
                                    cand.layout.embed(nxt, self._adapter(target))])
                z = cand.run_block(tokens)
                best = self._head(z[:batch], online, i).argmax(dim=1)
                q_next = self._head(z[batch:], target, i)
            else:
                q_next = self._q(target, nxt, i)
                best = q_next.argmax(dim=1)
            y = returns + discounts * q_next.gather(1, best[:, None])[:, 0]
            if not self.train_adapter:
                z_obs = cand.features(obs, self._adapter(online))
        with torch.enable_grad():
            if self.train_adapter:
                z_obs = cand.features(obs, self._adapter(online))
                wrt = [online["adapter"], online["head"]]
            else:
                wrt = [online["head"]]
            q = self._head(z_obs, online, i)
            q_taken = q.gather(1, actions[:, None])[:, 0]
            td = q_taken.detach() - y
            kappa = self.config.huber_delta
            dq = td.clamp(-kappa, kappa) / batch
            grads = list(torch.autograd.grad(q_taken, wrt, dq))
        return td, grads, z_obs.detach()

    def _batch(self, both, actions, returns, discounts):
        b = np.shape(actions)[1] if np.ndim(actions) == 2 else -1
        if np.shape(actions) != (self.n_seeds, b) or np.shape(both)[:2] != (self.n_seeds, 2 * b) \
                or np.shape(returns) != (self.n_seeds, b) \
                or np.shape(discounts) != (self.n_seeds, b):
            raise ConfigError(f"an update takes both ({self.n_seeds}, 2B, D), actions, returns "
                              f"and discounts ({self.n_seeds}, B); got {np.shape(both)}, "
                              f"{np.shape(actions)}, {np.shape(returns)}, "
                              f"{np.shape(discounts)}")
        dev, dtype = self.candidate.device, self.candidate.param_dtype
        return (self._inputs(both), as_tensor(actions, np.int64).to(dev),
                as_tensor(returns, np.float32).to(dev, dtype),
                as_tensor(discounts, np.float32).to(dev, dtype))

    def update(self, both: np.ndarray, actions: np.ndarray, returns: np.ndarray,
               discounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for every seed; returns (norm before clipping (S,) float64, finite TD
        errors (S,) bool). Parked seeds report (nan, False) and do not move."""
        both_t, a_t, r_t, d_t = self._batch(both, actions, returns, discounts)
        live = np.flatnonzero(~self.parked)
        stats, all_grads = [], {}
        features = {}
        for i in live:
            # Each seed's inputs in their own allocation, whatever S is: no kernel can see a
            # different alignment or neighbour alone and in lockstep.
            seed_batch = (both_t[i].clone(), a_t[i].clone(), r_t[i].clone(), d_t[i].clone())
            if self.feature_norm and not self.feat_ready[i]:
                with torch.no_grad():     # the first batch sets the statistics it is read with
                    half = seed_batch[1].shape[0]
                    self._track_features(int(i), self.candidate.features(
                        seed_batch[0][:half], self._adapter(self.online[i])))
            td, grads, features[int(i)] = self._seed_grads(int(i), *seed_batch)
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
                    self._track_features(int(i), features[int(i)])
        return norms, td_finite

    def _park(self, i: int) -> None:
        """Zero seed i's parameters and optimiser state; it takes no further steps."""
        with torch.no_grad():
            for t in (*self.online[i].values(), *self.target[i].values(), self.m[i],
                      self.v[i], self.feat_mean[i], self.feat_var[i]):
                t.zero_()
        self.parked[i] = True

    def _step(self, i: int, grads: list[torch.Tensor]) -> None:
        """SGD on the input adapter, Adam (``agent/optim.Adam``'s formula) on the head."""
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
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (S,) int64 for observations (S, D), one block call per seed."""
        obs_t = self._inputs(obs)
        with torch.no_grad():
            best = torch.stack([self._q(p, obs_t[i:i + 1], i)[0].argmax()
                                for i, p in enumerate(self.online)])
        return best.cpu().numpy().astype(np.int64)

    def sync_target(self) -> None:
        """target <- online, every seed."""
        with torch.no_grad():
            for online, target in zip(self.online, self.target):
                for k in online:
                    target[k].copy_(online[k])

    def n_params(self) -> int:
        """Trainable parameters per seed (input adapter, unless frozen, and head)."""
        n = sum(math.prod(s) for s in self.head_shapes.values())
        if self.train_adapter:
            n += sum(math.prod(s) for s in self.adapter_shapes.values())
        return n

    # ------------------------------------------------------------------ inspection, tests
    def q_values(self, obs: np.ndarray, *, target: bool = False) -> np.ndarray:
        """Q-values (S, N, A) float64 of observations (S, N, D) under each seed's online
        (or target) network."""
        obs_t = self._inputs(obs)
        nets = self.target if target else self.online
        with torch.no_grad():
            q = torch.stack([self._q(p, obs_t[i], i) for i, p in enumerate(nets)])
        return q.double().cpu().numpy()

    def gradients(self, both, actions, returns, discounts) -> list[dict[str, np.ndarray]]:
        """Each seed's gradient of the update's loss before clipping (no step taken):
        ``{"adapter": (Pa,), "head": (Ph,)}`` (no "adapter" when it is frozen)."""
        both_t, a_t, r_t, d_t = self._batch(both, actions, returns, discounts)
        out = []
        for i in range(self.n_seeds):
            _, grads, _ = self._seed_grads(i, both_t[i], a_t[i], r_t[i], d_t[i])
            names = ["adapter", "head"] if self.train_adapter else ["head"]
            out.append({k: g.double().cpu().numpy() for k, g in zip(names, grads)})
        return out

    def params(self, seed: int, *, target: bool = False) -> dict[str, np.ndarray]:
        """Seed ``seed``'s parameters by name (copies, as numpy)."""
        p = (self.target if target else self.online)[seed]
        named = {**views(p["adapter"], self.adapter_shapes), **views(p["head"],
                                                                     self.head_shapes)}
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
                "device": str(self.candidate.device), "candidate": self.candidate.describe()}
