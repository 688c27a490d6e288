"""Probes that see what RL sees: how well a small trained head on a layer's features acts.

The ridge probes of :mod:`.score` read quantities of the state off the features; RL needs
a head that *acts*. These probes train the agent's own read-out and head on a layer's
frozen features (the training lives with the agent, :mod:`rl_rosetta_layer.agent.acting`,
since this package may not import it) and score what they learned:

- ``bc_accuracy``: behaviour cloning, the share of held-out demonstration states where the
  head's best action is an optimal one (ties of the reference policy count as correct);
- ``bc_accuracy_decisive``: the same over the held-out states where some action is *not*
  optimal (on catch about 70 % of the states have every action optimal, so they say
  nothing about the head; NaN when no held-out state is decisive);
- ``bc_return``: mean return of the cloned head's greedy policy over fixed episodes;
- ``q_r2``: the head regressed on each action's discounted return under the reference
  policy (what Q-learning fits), R^2 pooled over actions on held-out states;
- ``q_return``: mean return of that Q head's greedy policy over the same episodes;
- ``rl_proxy_return``: the study's own DQN for a small fraction of its budget, evaluated
  greedily over the same episodes (mean over its seeds).

Here: the settings (:class:`ActingSettings`), the data every layer of a task shares
(:class:`ActingData`: demonstrations, the train/test split, bootstrap resamples), the
scores' pure functions and the interface of a probe the analysis calls per layer
(:class:`LayerProbe`). Greedy episodes are the agent's own evaluation
(``agent/evaluation.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from ..checks import is_int
from ..errors import ConfigError
from ..seeding import check_seed
from ..threads import one_thread  # noqa: F401 - re-exported: probes run inside it
from .demos import Demonstrations, collect_demonstrations

#: The columns of the acting probes, in ``layer_analysis.csv`` order.
ACTING_METRICS = ("bc_accuracy", "bc_accuracy_decisive", "bc_return", "q_r2", "q_return",
                  "rl_proxy_return")
#: A probe's result for one layer: column -> (score, bootstrap replicates (R,)).
ProbeScores = dict[str, tuple[float, np.ndarray]]


class LayerProbe(Protocol):
    """Extra scores of one layer, computed by the analysis beside its ridge probes."""

    #: The columns it gives, in order.
    columns: tuple[str, ...]

    def __call__(self, layer) -> ProbeScores:
        """Each column's score and bootstrap replicates (R,) for ``layer``."""


@dataclass(frozen=True)
class ActingSettings:
    """Settings of the acting probes; the same for every layer of a task."""

    demo_steps: int = 2000
    """Demonstration states per task (train and test together); the study gives as many as
    its analysis has random transitions (``--dataset-steps``)."""
    epsilon: float = 0.2
    """Probability of a uniformly random action in the demonstrations."""
    test_fraction: float = 0.2
    """Share of the demonstration states held out for scoring."""
    epochs: float = 16.0
    """Passes of the supervised heads over their training (state, action) pairs, in
    updates of ``batch_size`` pairs (the agent's own update, :mod:`agent.supervised`)."""
    batch_size: int = 64
    """(state, action) pairs per supervised update."""
    episodes: int = 100
    """Episodes each greedy policy plays, the same starts for every layer, policy and seed
    (the agent's evaluation, ``agent/evaluation.py``, with the DQN's ``eval_epsilon``)."""
    rl_fraction: float = 0.05
    """Share of the study's env-step budget the RL proxy trains for."""
    rl_seeds: tuple[int, ...] = (1000, 1001, 1002)
    """Seeds of the RL proxy: apart from a study's seeds (0-9), so the proxy never replays
    the first steps of the runs it is judged against."""
    seed: int = 0
    """Root of the demonstrations, the split, the heads' initial weights and their batches."""

    def __post_init__(self) -> None:
        for name in ("demo_steps", "batch_size", "episodes"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.demo_steps < 20:
            raise ConfigError(f"demo_steps must be >= 20, got {self.demo_steps!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, float)) \
                or not 0.0 < self.epochs <= 1000.0:
            raise ConfigError(f"epochs must be a number in (0, 1000], got {self.epochs!r}")
        for name in ("epsilon", "test_fraction", "rl_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}")
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 < self.rl_fraction <= 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1) and rl_fraction in (0, 1], "
                              f"got {self.test_fraction!r}, {self.rl_fraction!r}")
        if not self.rl_seeds or len(set(self.rl_seeds)) != len(self.rl_seeds):
            raise ConfigError(f"rl_seeds must be distinct seeds, at least one, got "
                              f"{self.rl_seeds!r}")
        for s in (*self.rl_seeds, self.seed):
            check_seed(s)

    def updates(self, n_train: int, n_actions: int) -> int:
        """Supervised updates for ``n_train`` training states of ``n_actions`` actions.

        >>> ActingSettings().updates(1600, 5)
        2000
        """
        return max(1, math.ceil(self.epochs * n_train * n_actions / self.batch_size))

    def rl_steps(self, budget: int) -> int:
        """Env steps of the RL proxy for a study budget of ``budget`` env steps (>= 1)."""
        return max(1, int(round(self.rl_fraction * budget)))

    def to_dict(self) -> dict:
        return {**asdict(self), "rl_seeds": list(self.rl_seeds)}


@dataclass(frozen=True)
class ActingData:
    """What every layer of one task is probed on: ``demos``, the ``train`` and ``test`` row
    indices, and the bootstrap resamples shared by every layer: ``test_counts`` (R, n_test)
    of the held-out states and ``episode_counts`` (R, episodes) of the greedy episodes."""

    demos: Demonstrations
    train: np.ndarray
    test: np.ndarray
    test_counts: np.ndarray
    episode_counts: np.ndarray
    settings: ActingSettings
    make_env: Callable[[int], object]


def prepare_acting_data(make_env: Callable[[int], object], settings: ActingSettings, *,
                        gamma: float, n_bootstrap: int, copies: int = 50) -> ActingData:
    """Demonstrations (``copies`` env copies), split and resamples, all drawn from
    ``settings.seed``. ``make_env(n)`` makes a vector env of n copies of the task."""
    if not is_int(n_bootstrap) or n_bootstrap < 10:
        raise ConfigError(f"n_bootstrap must be an integer >= 10, got {n_bootstrap!r}")
    streams = np.random.SeedSequence([settings.seed, 28]).spawn(copies + 2)
    env = make_env(copies)
    env.seed_with([np.random.default_rng(s) for s in streams[:copies]])
    demos = collect_demonstrations(env, settings.demo_steps, np.random.default_rng(
        streams[copies]), epsilon=settings.epsilon, gamma=gamma)
    rng = np.random.default_rng(streams[copies + 1])
    perm = rng.permutation(len(demos))
    n_test = max(2, int(round(len(demos) * settings.test_fraction)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    test_counts = rng.multinomial(n_test, np.full(n_test, 1.0 / n_test), size=n_bootstrap)
    episode_counts = rng.multinomial(settings.episodes, np.full(settings.episodes,
                                                                1.0 / settings.episodes),
                                     size=n_bootstrap)
    return ActingData(demos, train, test, test_counts.astype(np.float64),
                      episode_counts.astype(np.float64), settings, make_env)


# --------------------------------------------------------------------------------- scores
def best_is_optimal(scores: np.ndarray, optimal: np.ndarray) -> np.ndarray:
    """Whether each row's highest-scoring action (the first on a tie) is optimal: scores
    (N, A), optimal (N, A) bool -> (N,) bool.

    >>> best_is_optimal(np.array([[0.1, 0.9], [0.5, 0.2]]), np.array([[1, 1], [0, 1]], bool))
    array([ True, False])
    """
    scores = np.asarray(scores)
    return np.asarray(optimal, bool)[np.arange(len(scores)), scores.argmax(axis=1)]


def mean_replicates(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (N,) in each bootstrap resample given row counts (R, N): (R,);
    NaN for a resample without rows.

    >>> mean_replicates(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [1.0, 1.0]])).tolist()
    [1.0, 0.5]
    """
    counts = np.asarray(counts, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.asarray(values, np.float64)) / counts.sum(axis=1)


