"""Uniform n-step replay for S seeds stepped in lockstep (each seed adds one transition a step)."""

from __future__ import annotations

import numpy as np


class LockstepReplay:
    """Ring buffers ``(S, capacity, ...)``; seed ``i`` samples with its own generator.

    Samples are n-step: from a stored step t the return sums up to ``n_step`` rewards,
    stopping at the end of the episode, and bootstraps from the observation after the
    last step used (with discount 0 if that step reached a terminal state). The n-step
    returns are completed as steps arrive, so sampling is a few gathers.
    """

    def __init__(self, n_seeds: int, capacity: int, obs_dim: int, *, n_step: int = 1,
                 gamma: float = 0.99) -> None:
        self.n_seeds, self.capacity, self.n_step, self.gamma = n_seeds, capacity, n_step, gamma
        # obs and next_obs share one array so a batch of both is a single gather.
        self._frames = np.zeros((n_seeds, 2, capacity, obs_dim), np.float32)
        self.obs, self.next_obs = self._frames[:, 0], self._frames[:, 1]
        self.actions = np.zeros((n_seeds, capacity), np.int64)
        self.returns = np.zeros((n_seeds, capacity), np.float32)
        self.discount = np.zeros((n_seeds, capacity), np.float32)
        self.bootstrap = np.zeros((n_seeds, capacity), np.int64)  # slot of the bootstrap obs
        self._open = np.zeros((n_seeds, capacity), bool)          # window still collecting
        self.size = 0
        self._ptr = 0
        self._base = np.arange(n_seeds)[:, None] * (2 * capacity)
        self._flat_base = np.arange(n_seeds)[:, None] * capacity
        self._powers = (gamma ** np.arange(n_step + 1)).astype(np.float32)

    def add(self, obs, actions, rewards, next_obs, terminal, done) -> None:
        """Store one step per seed: obs (S, D), actions (S,), rewards (S,), next_obs (S, D),
        terminal (S,) (a terminal state was reached), done (S,) (the episode ended)."""
        i = self._ptr
        self.obs[:, i] = obs
        self.next_obs[:, i] = next_obs
        self.actions[:, i] = actions
        self.returns[:, i] = 0.0
        self._open[:, i] = True
        # This step extends the windows of the n most recent steps that are still open:
        # slots i-n+1 .. i, as a slice (a view) unless the window wraps around the ring.
        n = self.n_step
        slots = slice(i - n + 1, i + 1) if i >= n - 1 else (i - np.arange(n)[::-1]) % self.capacity
        is_open = self._open[:, slots]                                      # (S, n), oldest first
        self.returns[:, slots] += is_open * (self._powers[n - 1::-1] * rewards[:, None])
        cont = np.where(terminal, 0.0, 1.0)[:, None] * self._powers[n:0:-1]
        self.discount[:, slots] = np.where(is_open, cont, self.discount[:, slots])
        self.bootstrap[:, slots] = np.where(is_open, i, self.bootstrap[:, slots])
        self._open[:, slots] = is_open & ~done[:, None]
        self._ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def can_sample(self) -> bool:
        return self.size >= self.n_step

    def sample(self, rngs: list[np.random.Generator], batch_size: int):
        """``batch_size`` n-step samples per seed, among steps whose window is complete.

        Returns ``both`` (S, 2B, D): the observations in rows :B and their bootstrap
        observations in rows B:, then actions (S, B), returns (S, B) and bootstrap
        discounts (S, B) (gamma^k, or 0 after a terminal step).
        """
        high = self.size - self.n_step + 1
        k = np.stack([rng.integers(high, size=batch_size) for rng in rngs])
        slot = (self._ptr - self.size + k) % self.capacity                   # (S, B)
        cap = self.capacity
        # Row numbers into the (S * 2 * capacity, D) view: np.take is the cheapest gather.
        flat = slot + self._flat_base                                        # into (S * cap,)
        rows = np.concatenate([slot + self._base,
                               self.bootstrap.ravel().take(flat) + self._base + cap],
                              axis=1)                                       # (S, 2B)
        d = self._frames.shape[3]
        both = self._frames.reshape(-1, d).take(rows.ravel(), axis=0).reshape(*rows.shape, d)
        return (both, self.actions.ravel().take(flat), self.returns.ravel().take(flat),
                self.discount.ravel().take(flat))
