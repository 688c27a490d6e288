"""Uniform n-step replay for S seeds stepped in lockstep (each seed adds one transition a step)."""

from __future__ import annotations

import numpy as np


class LockstepReplay:
    """Ring buffers ``(S, capacity, ...)``; seed ``i`` samples with its own generator.

    Samples are n-step: from a stored step t the return sums up to ``n_step`` rewards,
    stopping at the end of the episode, and bootstraps from the observation after the
    last step used (with discount 0 if that step terminated the episode).
    """

    def __init__(self, n_seeds: int, capacity: int, obs_dim: int, *, n_step: int = 1,
                 gamma: float = 0.99) -> None:
        self.n_seeds, self.capacity, self.n_step, self.gamma = n_seeds, capacity, n_step, gamma
        self.obs = np.zeros((n_seeds, capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((n_seeds, capacity, obs_dim), np.float32)
        self.actions = np.zeros((n_seeds, capacity), np.int64)
        self.rewards = np.zeros((n_seeds, capacity), np.float32)
        self.terminal = np.zeros((n_seeds, capacity), bool)
        self.done = np.zeros((n_seeds, capacity), bool)
        self.size = 0
        self._ptr = 0
        self._rows = np.arange(n_seeds)[:, None, None]
        self._powers = gamma ** np.arange(n_step + 1)
        self._offsets = np.arange(n_step)

    def add(self, obs, actions, rewards, next_obs, terminal, done) -> None:
        """Store one step per seed: obs (S, D), actions (S,), rewards (S,), next_obs (S, D),
        terminal (S,) (the episode ended at a goal), done (S,) (it ended for any reason)."""
        i = self._ptr
        self.obs[:, i] = obs
        self.next_obs[:, i] = next_obs
        self.actions[:, i] = actions
        self.rewards[:, i] = rewards
        self.terminal[:, i] = terminal
        self.done[:, i] = done
        self._ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def can_sample(self) -> bool:
        return self.size >= self.n_step

    def sample(self, rngs: list[np.random.Generator], batch_size: int):
        """``batch_size`` n-step samples per seed.

        Returns obs (S, B, D), actions (S, B), returns (S, B), bootstrap obs (S, B, D) and
        bootstrap discounts (S, B) (gamma^k, or 0 after a terminal step).
        """
        n = self.n_step
        start = self._ptr - self.size
        k = np.stack([rng.integers(self.size - n + 1, size=batch_size) for rng in rngs])
        first = (start + k) % self.capacity                                  # (S, B)
        rows2 = self._rows[:, :, 0]
        obs, actions = self.obs[rows2, first], self.actions[rows2, first]
        if n == 1:
            disc = np.where(self.terminal[rows2, first], 0.0, self.gamma).astype(np.float32)
            return obs, actions, self.rewards[rows2, first], self.next_obs[rows2, first], disc
        window = (first[:, :, None] + self._offsets) % self.capacity         # (S, B, n)
        done = self.done[self._rows, window]
        # alive[j]: no episode end among steps 0..j-1 of the window.
        alive = np.ones(done.shape, bool)
        alive[:, :, 1:] = np.logical_not(np.logical_or.accumulate(done[:, :, :-1], axis=2))
        returns = (self.rewards[self._rows, window] * alive * self._powers[:n]).sum(axis=2)
        last = np.where(done.any(axis=2), done.argmax(axis=2), n - 1)          # (S, B)
        last_idx = np.take_along_axis(window, last[:, :, None], axis=2)[:, :, 0]
        disc = self._powers[last + 1] * ~self.terminal[rows2, last_idx]
        return (obs, actions, returns.astype(np.float32), self.next_obs[rows2, last_idx],
                disc.astype(np.float32))
