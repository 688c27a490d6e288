"""What the DQN loop needs from a network and its optimisers, and the numpy implementation.

The loop in :mod:`.dqn` (acting, environments, replay, episode records, divergence) is the
same for every layer; a *learner* holds the networks of S seeds and does one update. numpy
layers get :class:`NumpyLearner`; a layer with ``trains_with = "torch"`` (the video blocks,
``NAME@torch``) gets the torch learner, which keeps its tensors on the device. Both run the
one DQN update of :mod:`.update`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError
from .config import DQNConfig
from .network import QNetwork
from .params import RunningFeatureNorm, check_network, stored_shapes
from .update import FlatLearner


@runtime_checkable
class Learner(Protocol):
    """Online and target networks of S seeds, updated in lockstep, each seed on its own.

    The networks read *codes* (width C) of observations, made once per observation by
    :meth:`encode` (the part of the network that never trains: the frozen layer, a video
    block's front, a folded input map; the observation itself when nothing is fixed), so
    the replay holds codes and nothing fixed is recomputed per update.
    """

    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Codes (..., C) of observations (..., D) float32."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (S,) int64 for codes (S, C), one per seed."""

    def greedy(self, codes: np.ndarray) -> np.ndarray:
        """Greedy actions (S, N) int64 for codes (S, N, C), seed i's network on row i."""

    def network(self, seed: int) -> dict[str, np.ndarray]:
        """Seed ``seed``'s trainable parameters by name (float32 copies): what a run saves."""

    def load_network(self, seed: int, params: dict[str, np.ndarray]) -> None:
        """Set seed ``seed``'s online and target parameters to ``params`` (by name)."""

    def update(self, both: np.ndarray, actions: np.ndarray, returns: np.ndarray,
               discounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for every seed.

        ``both`` (S, 2B, C) is the codes of [obs; next obs], ``actions`` (S, B) int64,
        ``returns`` and ``discounts`` (S, B) the n-step returns and gamma^n (0 past a
        terminal). Returns the gradient norm before clipping (S,) and whether each seed's TD
        errors were finite (S,). Seeds with a non-finite norm or TD error are parked
        (parameters and optimiser state zeroed) before the optimiser step and stay parked.
        """

    def sync_target(self) -> None:
        """Copy the online parameters into the target network."""

    def n_params(self) -> int:
        """Trainable parameters per seed."""

    def probe(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """The online networks on the codes (N, C) of probe observations, the same for
        every seed: ``q`` (S, N, A), ``features`` (S, N, K) (the frozen layer's output)
        and, for an 'mlp' head, ``pre`` and ``hidden`` (S, N, H) (:mod:`.health` reads
        them)."""

    def grad_norms(self) -> dict[str, np.ndarray]:
        """Norm (S,) of each parameter group's gradient in the last update, before
        clipping: ``input_adapter``, ``body`` (a trainable body), ``head`` (those present)."""


#: Parameter groups of the numpy network, by parameter name.
GROUPS = {"input_adapter": ("A", "c", "U", "V"), "body": ("W1", "b1"), "readout": ("R", "rb"),
          "head": ("W2", "b2", "Wo", "bo")}


def make_learner(layer, obs_dim: int, n_actions: int, config: DQNConfig,
                 init_rngs: list[np.random.Generator]) -> Learner:
    """The learner the layer asks for: its ``learner_for(config)`` when it has one (a video
    block says 'numpy' when its read-out and head can train on stored codes), else its
    ``trains_with`` attribute. 'numpy' (the default) gives :class:`NumpyLearner`, 'torch'
    the torch learner (:mod:`.torch_learner`, imported only then)."""
    learner_for = getattr(layer, "learner_for", None)
    kind = learner_for(config) if callable(learner_for) else getattr(layer, "trains_with",
                                                                      "numpy")
    if kind == "torch":
        from .torch_learner import TorchLearner

        return TorchLearner(layer, obs_dim, n_actions, config, init_rngs)
    if kind != "numpy":
        raise ConfigError(f"layer {getattr(layer, 'name', layer)!r} asks for the learner "
                          f"{kind!r}; accepted: numpy, torch")
    return NumpyLearner(layer, obs_dim, n_actions, config, init_rngs)


class NumpyLearner(FlatLearner):
    """Adapter -> frozen numpy layer -> head for S seeds in one flat (S, P) buffer; the
    update is :class:`~.update.FlatLearner`'s.

    Observations are encoded once as they arrive (:meth:`encode`, the network's codes: the
    frozen layer's output when no input adapter trains, ``[x, x W + b]`` for a low-rank
    adapter before a layer with an input map). The folded adapter weights ``V W`` of the
    online and target networks are kept between parameter changes.
    """

    def __init__(self, layer, obs_dim: int, n_actions: int, config: DQNConfig,
                 init_rngs: list[np.random.Generator]) -> None:
        self.config, self.n_seeds = config, len(init_rngs)
        self.net = QNetwork.from_config(obs_dim, layer, n_actions, config)
        self.online = self.net.init(init_rngs)
        self.target = self.online.copy()
        self.grad = self.online.zeros_like()
        # The input adapter's parameters lead each row: plain SGD there, Adam for the rest.
        self._init_update(self.net.n_adapter_params())
        self.groups = {group: [self.online.columns(k) for k in names if k in self.net.shapes]
                       for group, names in GROUPS.items()}
        #: Running statistics of the head's input (``feature_norm`` 'running') or of the
        #: codes ('tokens'), or None.
        self.norm = None if self.net.norm_kind == "none" else \
            RunningFeatureNorm(self.online.data, self.n_seeds, self.net.norm_width)
        self._batch_codes = None        # the last update batch's codes (S, B, C)
        self._refold()

    def _refold(self, target: bool = True) -> None:
        """Recompute the folded adapter weights of the online (and target) parameters."""
        self._folded = self.net.fold_weights(self.online)
        if target:
            self._folded_target = self.net.fold_weights(self.target)

    def _flat(self):
        return self.online.data, self.target.data, self.grad.data

    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Codes (..., C) of observations (..., D) (:meth:`QNetwork.encode`)."""
        return self.net.encode(obs)

    def _forward(self, both, batch: int):
        net, norm = self.net, self.norm
        self._batch_codes = both[:, :batch]
        if norm is not None and not norm.ready.all():
            # The first batch sets the statistics it is read with.
            norm.first(list(range(self.n_seeds)), net.norm_input(self.online, both[:, :batch]))
        # 'tokens': the codes standardised once, for the online and the target passes.
        standardised = net.code_norm
        if standardised:
            both = norm.apply(both)
        q_next_target = net.forward(self.target, both[:, batch:], folded=self._folded_target,
                                    norm=norm, standardised=standardised)
        if not self.config.double_dqn:
            q, cache = net.forward(self.online, both[:, :batch], train=True,
                                   folded=self._folded, norm=norm, standardised=standardised)
            return q, q_next_target, None, cache
        # One online pass over [o; o2]: Q(o) for the loss, Q(o2) to pick actions.
        q_both, cache = net.forward(self.online, both, train=True, keep=batch,
                                    folded=self._folded, norm=norm, standardised=standardised)
        return q_both[:, :batch], q_next_target, q_both[:, batch:], cache

    def _backward(self, cache, dq) -> None:
        self.net.backward(self.online, cache, dq, self.grad)

    def _after_step(self, cache, live: np.ndarray) -> None:
        self._refold(target=False)
        if self.norm is not None and len(live):
            # The batch's observations (their codes, or those under the stepped read-out).
            z = self.net.norm_input(self.online, self._batch_codes)
            if len(live) < self.n_seeds:        # a parked seed's statistics stay as they are
                z = z[live]
            self.norm.track(live.tolist(), z)

    def _park(self, rows: list[int]) -> None:
        super()._park(rows)
        if self.norm is not None:
            self.norm.park(rows)
        self._refold()

    def _after_sync(self) -> None:
        self._folded_target = None if self._folded is None else self._folded.copy()

    def act(self, obs: np.ndarray) -> np.ndarray:
        q = self.net.forward(self.online, obs[:, None, :], folded=self._folded, norm=self.norm)
        return q[:, 0].argmax(axis=1)

    def greedy(self, codes: np.ndarray) -> np.ndarray:
        q = self.net.forward(self.online, np.asarray(codes), folded=self._folded,
                             norm=self.norm)
        return q.argmax(axis=2)

    def network(self, seed: int) -> dict[str, np.ndarray]:
        out = {k: np.array(self.online[k][seed], np.float32) for k in self.net.shapes}
        return out if self.norm is None else out | self.norm.stats(seed)

    def load_network(self, seed: int, params: dict[str, np.ndarray]) -> None:
        check_network(params, stored_shapes(self.net.shapes, self.norm, self.net.norm_width))
        for k in self.net.shapes:
            self.online[k][seed] = params[k]
            self.target[k][seed] = params[k]
        if self.norm is not None:
            self.norm.load(seed, params)
        self._refold()

    def n_params(self) -> int:
        return self.net.n_params()

    def probe(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        x = np.broadcast_to(np.asarray(obs, np.float32), (self.online.n_seeds, *np.shape(obs)))
        return self.net.forward(self.online, x, inspect=True, folded=self._folded,
                                norm=self.norm)

    def grad_norms(self) -> dict[str, np.ndarray]:
        return self.group_norms(self.groups)

