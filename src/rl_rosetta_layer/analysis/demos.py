"""Demonstrations: states visited by the reference policy with epsilon noise, labelled with
what the reference knows there (its action, every optimal action, each action's value).

These are the data of the probes that see what RL sees (:mod:`.acting`): a behaviour
cloning probe (predict an optimal action) and a Q-value probe (predict each action's
discounted return under the reference policy), both trained on a layer's frozen features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import is_int
from ..envs.lookahead import optimal_actions, reference_action_values
from ..envs.reference import has_reference_policies, reference_actions
from ..errors import ConfigError


@dataclass(frozen=True)
class Demonstrations:
    """N visited states. Shapes: ``obs`` (N, D) float32; ``reference`` (N,) int64 the
    reference policy's action; ``optimal`` (N, A) bool every optimal action (the reference's
    ties; at least one per row); ``q_values`` (N, A) float32 the discounted return of each
    action followed by the reference policy (discount ``gamma``)."""

    obs: np.ndarray
    reference: np.ndarray
    optimal: np.ndarray
    q_values: np.ndarray
    gamma: float
    epsilon: float

    def __len__(self) -> int:
        return len(self.reference)

    @property
    def n_actions(self) -> int:
        return self.optimal.shape[1]


def collect_demonstrations(env, steps: int, rng: np.random.Generator, *, epsilon: float = 0.2,
                           gamma: float = 0.95) -> Demonstrations:
    """Play the reference policy with ``epsilon`` noise (a uniformly random action drawn
    from ``rng`` with probability ``epsilon`` per copy and step) in the vector env ``env``
    (already seeded: ``seed_with``) and label every visited state, until ``steps`` states;
    rows interleave the copies step by step."""
    if not is_int(steps) or steps < 10:
        raise ConfigError(f"demonstration steps must be an integer >= 10, got {steps!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ConfigError(f"epsilon must be in [0, 1], got {epsilon!r}")
    if not has_reference_policies(env):
        raise ConfigError(f"demonstrations need an environment with a reference policy "
                          f"(reference_actions()), got {type(env).__name__}")
    n = env.num_envs
    obs, _ = env.reset()
    cols: dict[str, list] = {"obs": [], "reference": [], "optimal": [], "q_values": []}
    for _ in range(-(-steps // n)):
        ref = reference_actions(env)
        cols["obs"].append(obs)
        cols["reference"].append(ref)
        cols["optimal"].append(optimal_actions(env))
        cols["q_values"].append(reference_action_values(env, gamma).astype(np.float32))
        noisy = rng.random(n) < epsilon
        actions = np.where(noisy, rng.integers(env.n_actions, size=n), ref)
        obs, *_ = env.step(actions)
    data = {k: np.concatenate(v)[:steps] for k, v in cols.items()}
    return Demonstrations(gamma=float(gamma), epsilon=float(epsilon), **data)
