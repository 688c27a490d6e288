"""Run health: is the network still reading its observations?

A run can fail without a NaN: the head's hidden units saturate, the Q-values stop depending
on the observation and the greedy policy is one constant action. Its return then says
nothing about the layer, only that the pipeline broke. So every run is checked on a fixed
*probe set* of observations (the same for every layer and seed of a task: ``PROBE_SIZE``
observations of a random policy from ``PROBE_SEED``) at a few points of its budget
(``HEALTH_POINTS``), and the last check decides its flags:

- ``constant_policy``: one greedy action for every probe observation;
- ``saturated_head``: at least ``SATURATED_LIMIT`` of the head's hidden activations pass
  (almost) no gradient, or at least that share of its hidden units is dead (the same value
  for every probe observation).

Numbers of one check (:func:`health_numbers`), per seed:

``q_spread``         mean over actions of the std of Q across probe observations
``q_abs``            mean |Q|
``greedy_actions``   distinct greedy actions on the probe set
``greedy_top_share`` share of the probe set whose greedy action is the most common one
``saturated_share``  share of (observation, hidden unit) whose activation's derivative is
                     below 1 % (tanh: |a| > 0.995; ReLU: pre-activation <= 0); None for a
                     linear head
``dead_share``       share of hidden units whose activation's std across the probe set is
                     below ``DEAD_STD``; None for a linear head
``feature_std``      mean over the frozen layer's output features of their std across the
                     probe set; ``feature_rms`` their root mean square, ``feature_rel_std``
                     the ratio (how much of the features depends on the observation)
``grad_norm_mean``   mean gradient norm (before clipping) over the updates since the last
                     check; ``grad_norms`` the norm per parameter group in the last update
"""

from __future__ import annotations

import math

import numpy as np

PROBE_SIZE = 256
PROBE_SEED = 20_261_129
#: Fractions of the budget (env steps, or each seed's episodes) at which health is checked.
HEALTH_POINTS = (0.25, 0.5, 0.75, 1.0)
SATURATED_LIMIT = 0.9
DEAD_STD = 1e-4
#: |tanh| above this has a derivative below 1 %.
TANH_SATURATED = 0.995
FLAGS = ("constant_policy", "saturated_head")


def probe_observations(env, n: int = PROBE_SIZE, seed: int = PROBE_SEED) -> np.ndarray:
    """(n, D) float32 observations of a uniform random policy on ``env``, a fresh vector
    environment with one copy (it is reseeded and stepped here)."""
    rng = np.random.default_rng(seed)
    env.seed_with([np.random.default_rng(seed + 1)])
    obs, _ = env.reset()
    out = np.empty((n, env.obs_dim), np.float32)
    for i in range(n):
        out[i] = obs[0]
        obs, *_ = env.step(rng.integers(env.n_actions, size=1))
    return out


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def health_numbers(probe: dict, relu: bool = False) -> list[dict]:
    """Per-seed health numbers from a learner's ``probe`` output: ``q`` (S, N, A),
    ``features`` (S, N, K), and for an 'mlp' head ``pre`` and ``hidden`` (S, N, H)."""
    q = np.asarray(probe["q"], np.float64)
    feats = np.asarray(probe["features"], np.float64)
    hidden = probe.get("hidden")
    out = []
    for s in range(q.shape[0]):
        greedy = q[s].argmax(axis=1)
        counts = np.bincount(greedy, minlength=q.shape[2])
        fstd = float(feats[s].std(axis=0).mean())
        frms = float(np.sqrt((feats[s] ** 2).mean()))
        row = {"q_spread": float(q[s].std(axis=0).mean()), "q_abs": float(np.abs(q[s]).mean()),
               "greedy_actions": int((counts > 0).sum()),
               "greedy_top_share": float(counts.max() / len(greedy)),
               "feature_std": fstd, "feature_rms": frms,
               "feature_rel_std": fstd / frms if frms > 0 else 0.0,
               "saturated_share": None, "dead_share": None}
        if hidden is not None:
            h = np.asarray(hidden[s], np.float64)
            blocked = (np.asarray(probe["pre"][s]) <= 0.0) if relu else \
                (np.abs(h) > TANH_SATURATED)
            row["saturated_share"] = float(blocked.mean())
            row["dead_share"] = float((h.std(axis=0) < DEAD_STD).mean())
        out.append(row)
    return out


def flags_of(point: dict | None) -> list[str]:
    """The flags a health check raises (see the module docstring); [] for None."""
    if not point:
        return []
    flags = []
    if point.get("greedy_actions") == 1:
        flags.append("constant_policy")
    sat, dead = point.get("saturated_share"), point.get("dead_share")
    if (sat is not None and sat >= SATURATED_LIMIT) or (dead is not None
                                                        and dead >= SATURATED_LIMIT):
        flags.append("saturated_head")
    return flags


class HealthRecorder:
    """Checks each seed's health at its points of the budget during ``train_lockstep``.

    Under an env-step budget every seed is checked at the same steps; under an episode
    budget each seed when it finishes the episode that reaches a point. A check uses only
    that seed's learner state, so it is the same alone and in lockstep.
    """

    def __init__(self, probe_input: np.ndarray, config, n_seeds: int) -> None:
        self.probe_input, self.config = probe_input, config
        self.relu = config.head_activation == "relu"
        budget = config.budget
        self.targets = sorted({max(1, math.ceil(f * budget)) for f in HEALTH_POINTS})
        self.next = np.zeros(n_seeds, np.int64)              # index into targets, per seed
        self.points: list[list[dict]] = [[] for _ in range(n_seeds)]
        self.norm_sum = np.zeros(n_seeds)
        self.norm_count = np.zeros(n_seeds, np.int64)

    def add_norms(self, norms: np.ndarray, live: np.ndarray) -> None:
        """Gradient norms (S,) of one update; ``live`` marks the seeds still training."""
        ok = live & np.isfinite(norms)
        self.norm_sum[ok] += norms[ok]
        self.norm_count[ok] += 1

    @property
    def next_step(self) -> int:
        """The smallest budget point some seed has still to reach (no point left: never)."""
        pending = self.next[self.next < len(self.targets)]
        return self.targets[int(pending.min())] if pending.size else np.iinfo(np.int64).max

    def due(self, progress: np.ndarray, live: np.ndarray) -> np.ndarray:
        """Seeds whose budget used (env steps or episodes, (S,)) reached their next point."""
        idx = np.minimum(self.next, len(self.targets) - 1)
        target = np.asarray(self.targets)[idx]
        return np.flatnonzero(live & (self.next < len(self.targets)) & (progress >= target))

    def check(self, seeds: np.ndarray, learner, step: int, updates: np.ndarray,
              progress: np.ndarray) -> None:
        """Record a check for ``seeds`` (they are due) with the learner's current state."""
        numbers = health_numbers(learner.probe(self.probe_input), self.relu)
        groups = learner.grad_norms() if hasattr(learner, "grad_norms") else {}
        for i in seeds:
            count = self.norm_count[i]
            point = {"budget_used": int(progress[i]), "env_step": int(step),
                     "updates": int(updates[i]), **numbers[i],
                     "grad_norm_mean": float(self.norm_sum[i] / count) if count else None,
                     "grad_norms": {k: _num(v[i]) for k, v in groups.items()}}
            self.points[i].append(point)
            self.norm_sum[i], self.norm_count[i] = 0.0, 0
            while self.next[i] < len(self.targets) and progress[i] >= self.targets[self.next[i]]:
                self.next[i] += 1
