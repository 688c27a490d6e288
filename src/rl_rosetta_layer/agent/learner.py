"""What the DQN loop needs from a network and its optimisers, and the numpy implementation.

The loop in :mod:`.dqn` (acting, environments, replay, episode records, divergence) is the
same for every layer; a *learner* holds the networks of S seeds and does one update. numpy
layers get :class:`NumpyLearner`; a layer may bring its own (``layer.make_learner``), as the
torch video blocks do to keep their tensors on the device.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .config import DQNConfig
from .network import QNetwork
from .optim import SGD, Adam, clip_by_norm


@runtime_checkable
class Learner(Protocol):
    """Online and target networks of S seeds, updated in lockstep, each seed on its own."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (S,) int64 for observations (S, D) float32, one per seed."""

    def update(self, both: np.ndarray, actions: np.ndarray, returns: np.ndarray,
               discounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for every seed.

        ``both`` (S, 2B, D) is [obs; next obs], ``actions`` (S, B) int64, ``returns`` and
        ``discounts`` (S, B) the n-step returns and gamma^n (0 past a terminal). Returns the
        gradient norm before clipping (S,) and whether each seed's TD errors were finite
        (S,). Seeds with a non-finite norm or TD error are parked (parameters and optimiser
        state zeroed) before the optimiser step and stay parked.
        """

    def sync_target(self) -> None:
        """Copy the online parameters into the target network."""

    def n_params(self) -> int:
        """Trainable parameters per seed."""

    def probe(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """The online networks on probe observations (N, D), the same for every seed:
        ``q`` (S, N, A), ``features`` (S, N, K) (the frozen layer's output) and, for an
        'mlp' head, ``pre`` and ``hidden`` (S, N, H) (:mod:`.health` reads them)."""

    def grad_norms(self) -> dict[str, np.ndarray]:
        """Norm (S,) of each parameter group's gradient in the last update, before
        clipping: ``input_adapter``, ``body`` (a trainable body), ``head`` (those present)."""


#: Parameter groups of the numpy network, by parameter name.
GROUPS = {"input_adapter": ("A", "c", "U", "V"), "body": ("W1", "b1"),
          "head": ("W2", "b2", "Wo", "bo")}


def huber_grad(delta: np.ndarray, kappa: float) -> np.ndarray:
    """d/d(delta) of the Huber loss: delta clipped to [-kappa, kappa]."""
    return np.clip(delta, -kappa, kappa)


def make_learner(layer, obs_dim: int, n_actions: int, config: DQNConfig,
                 init_rngs: list[np.random.Generator]) -> Learner:
    """The layer's own learner when it brings one, else :class:`NumpyLearner`."""
    own = getattr(layer, "make_learner", None)
    if own is not None:
        return own(obs_dim, n_actions, config, init_rngs)
    return NumpyLearner(layer, obs_dim, n_actions, config, init_rngs)


class NumpyLearner:
    """Adapter -> frozen numpy layer -> head for S seeds in one flat (S, P) buffer."""

    def __init__(self, layer, obs_dim: int, n_actions: int, config: DQNConfig,
                 init_rngs: list[np.random.Generator]) -> None:
        self.config = config
        self.net = QNetwork(obs_dim, layer, n_actions, adapter=config.adapter,
                            rank=config.adapter_rank, init_noise=config.init_noise,
                            head=config.head, head_hidden=config.head_hidden,
                            head_activation=config.head_activation,
                            head_norm=config.head_norm)
        self.online = self.net.init(init_rngs)
        self.target = self.online.copy()
        self.grad = self.online.zeros_like()
        # The input adapter's parameters lead each row: plain SGD there, Adam for the rest.
        split = self.net.n_adapter_params()
        data = self.online.data
        self.optimizers = [(slice(0, split), SGD(data[:, :split], config.adapter_lr)),
                           (slice(split, None), Adam(data[:, split:], config.lr,
                                                     eps=config.adam_eps))]
        n = len(init_rngs)
        self._rows = np.arange(n)[:, None]
        self._norms = np.zeros(n)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.net.forward(self.online, obs[:, None, :])[:, 0].argmax(axis=1)

    def update(self, both, actions, returns, discounts):
        net, config, batch = self.net, self.config, actions.shape[1]
        rows, cols = self._rows, np.arange(batch)[None, :]
        q_next_target = net.forward(self.target, both[:, batch:])
        if config.double_dqn:
            # One online pass over [o; o2]: Q(o) for the loss, Q(o2) to pick actions.
            q_both, cache = net.forward(self.online, both, train=True, keep=batch)
            q = q_both[:, :batch]
            best = q_both[:, batch:].argmax(axis=2)
        else:
            q, cache = net.forward(self.online, both[:, :batch], train=True)
            best = q_next_target.argmax(axis=2)
        y = returns + discounts * q_next_target[rows, cols, best]
        td = q[rows, cols, actions] - y
        dq = np.zeros_like(q)
        dq[rows, cols, actions] = huber_grad(td, config.huber_delta) / batch
        net.backward(self.online, cache, dq, self.grad)
        norms = clip_by_norm(self.grad.data, config.grad_clip)
        self._norms = norms
        td_finite = np.isfinite(td).all(axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | ~td_finite)
        if bad.size:
            # Park stopped seeds at zero so their NaNs cannot spread into warnings.
            for buf in (self.online.data, self.target.data, self.grad.data):
                buf[bad] = 0.0
            for _, opt in self.optimizers:
                opt.reset_rows(bad)
        for part, opt in self.optimizers:
            opt.step(self.grad.data[:, part])
        return norms, td_finite

    def sync_target(self) -> None:
        self.target.copy_from(self.online)

    def n_params(self) -> int:
        return self.net.n_params()

    def probe(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        x = np.broadcast_to(np.asarray(obs, np.float32), (self.online.n_seeds, *np.shape(obs)))
        return self.net.forward(self.online, x, inspect=True)

    def grad_norms(self) -> dict[str, np.ndarray]:
        clip, norms = self.config.grad_clip, self._norms
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where((clip > 0) & (norms > clip), norms / clip, 1.0)
        out = {}
        for group, names in GROUPS.items():
            present = [k for k in names if k in self.grad.shapes]
            if present:
                sq = sum(np.square(self.grad[k], dtype=np.float64).reshape(
                    self.grad.n_seeds, -1).sum(axis=1) for k in present)
                out[group] = np.sqrt(sq) * scale
        return out
