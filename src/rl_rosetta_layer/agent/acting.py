"""The acting probes of a layer, trained with the agent's own network and update.

:class:`ActingProbes` is the :class:`~rl_rosetta_layer.analysis.acting.LayerProbe` the
analysis calls per layer (the scores are defined in :mod:`rl_rosetta_layer.analysis.acting`;
their training lives here because the analysis may not import the agent):

- ``bc`` (``bc_accuracy``, ``bc_accuracy_decisive``, ``bc_return``) and ``q`` (``q_r2``,
  ``q_return``): the learner the layer trains with (:func:`.learner.make_learner`: its
  read-out and head, never a different architecture; for ``mlp_full`` its body too) is
  built with the study's settings and a frozen input adapter, and trained by
  :func:`.supervised.fit_outputs` on the task's demonstrations: seed 0 on the indicator
  of the optimal actions (1 optimal, 0 not: behaviour cloning as least squares, every tie
  of the reference a correct answer), seed 1 on each action's discounted return under the
  reference policy. Both train in lockstep, from the same batches, and then play the same
  greedy episodes.
- ``rl`` (``rl_proxy_return``): the study's DQN (:func:`.dqn.train_lockstep`, the config
  unchanged but for its budget, ``rl_fraction`` of it) on ``rl_seeds``, evaluated once at
  the end by the agent's own evaluation (:mod:`.evaluation`; a seed that diverged plays its
  parked, all-zero network; NaN when every seed diverged before the end); the score is
  the mean over seeds and episodes.

The heads' and the proxy's greedy episodes are the same ones (:func:`.evaluation.
play_episodes` at index :data:`EVAL_INDEX`, ``episodes`` of them, the DQN's
``eval_epsilon``), for every layer.

Every probe runs with one BLAS thread (and one torch thread), so its numbers are the same
whatever the caller's thread settings. ``seconds`` keeps each part's wall time per layer.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..analysis.acting import (
    ActingData,
    ActingSettings,
    best_is_optimal,
    mean_replicates,
    one_thread,
    prepare_acting_data,
)
from ..analysis.probes import r2_replicates, r2_score
from ..analysis.score import N_BOOTSTRAP
from ..errors import ConfigError
from .config import DQNConfig
from .dqn import train_lockstep
from .evaluation import play_episodes
from .learner import make_learner
from .supervised import fit_outputs, predict

#: Index of the evaluation every acting probe plays (:func:`.evaluation.play_episodes`):
#: the same episode starts for the heads and the RL proxy (its one checkpoint).
EVAL_INDEX = 0
#: Probe groups and the columns each gives.
PROBES = {"bc": ("bc_accuracy", "bc_accuracy_decisive", "bc_return"),
          "q": ("q_r2", "q_return"), "rl": ("rl_proxy_return",)}


class ActingProbes:
    """The acting probes of one task (``make_env(n)``: a vector env of n copies), for the
    DQN ``config``; ``probes`` picks groups of :data:`PROBES`. The task's demonstrations
    are collected once, here (``data`` to pass them in), and shared by every layer."""

    def __init__(self, make_env, config: DQNConfig, settings: ActingSettings | None = None,
                 *, probes: tuple[str, ...] = tuple(PROBES), n_bootstrap: int = N_BOOTSTRAP,
                 data: ActingData | None = None) -> None:
        unknown = [p for p in probes if p not in PROBES]
        if unknown or not probes:
            raise ConfigError(f"unknown acting probe(s) {unknown or list(probes)}; accepted: "
                              f"{', '.join(PROBES)}")
        settings = ActingSettings() if settings is None else settings
        self.make_env, self.settings, self.probes = make_env, settings, tuple(probes)
        self.config = config
        #: The heads' network: the study's, reading the frozen layer (no input adapter).
        self.head_config = replace(config, adapter="none")
        self.columns = tuple(c for p in PROBES if p in self.probes for c in PROBES[p])
        #: Seconds of each part, per layer name.
        self.seconds: dict[str, dict[str, float]] = {}
        with one_thread():
            start = time.perf_counter()
            self.data = data or prepare_acting_data(make_env, settings, gamma=config.gamma,
                                                    n_bootstrap=n_bootstrap)
            self.data_seconds = time.perf_counter() - start

    def rl_config(self) -> DQNConfig:
        """The study's DQN with ``rl_fraction`` of its env-step budget and one greedy
        evaluation of ``episodes`` episodes at its end (:mod:`.evaluation`)."""
        c = self.config
        if c.env_steps is None:
            raise ConfigError(f"the RL proxy needs a budget in env steps (env_steps), got "
                              f"{c.episodes} episodes")
        return replace(c, env_steps=self.settings.rl_steps(c.env_steps), eval_checkpoints=1,
                       eval_episodes=self.settings.episodes)

    def describe(self) -> dict:
        """What the probes ran with (for ``analysis_config.json``)."""
        out = {"probes": list(self.probes), "columns": list(self.columns),
               "settings": self.settings.to_dict(), "gamma": self.config.gamma,
               "eval_epsilon": self.config.eval_epsilon,
               "demonstrations": len(self.data.demos), "test_states": len(self.data.test)}
        if "rl" in self.probes:
            steps, seeds = self.rl_config().env_steps, len(self.settings.rl_seeds)
            out["rl_proxy"] = {"env_steps_per_seed": steps, "seeds": seeds,
                               "env_steps": steps * seeds,
                               "share_of_a_run": steps / self.config.env_steps}
        return out

    def __call__(self, layer) -> dict[str, tuple[float, np.ndarray]]:
        """Each column's score and bootstrap replicates (R,) for ``layer``."""
        times = self.seconds.setdefault(layer.name, {})
        out: dict[str, tuple[float, np.ndarray]] = {}
        with one_thread():
            heads = [p for p in ("bc", "q") if p in self.probes]
            if heads:
                out.update(self._heads(layer, heads, times))
            if "rl" in self.probes:
                start = time.perf_counter()
                out.update(self._rl_proxy(layer))
                times["rl"] = time.perf_counter() - start
        return out

    # ------------------------------------------------------------------------ the heads
    @staticmethod
    def _codes(layer, learner, obs: np.ndarray) -> np.ndarray:
        """Codes (N, C) float32 of observations (N, D), as the learner reads them: its
        ``encode``, but for a layer that encodes one observation at a time itself (a video
        block, behind a frozen input adapter: its codes are its features), whose features
        are computed in one batch (the demonstrations are thousands of mostly distinct
        states)."""
        obs = np.asarray(obs, np.float32)
        if callable(getattr(layer, "encode", None)):
            return np.asarray(layer.forward(obs), np.float32)
        return np.asarray(learner.encode(obs), np.float32)

    def _heads(self, layer, heads: list[str], times: dict) -> dict:
        d, s = self.data, self.settings
        demos = d.demos
        targets = {"bc": demos.optimal.astype(np.float32), "q": demos.q_values}
        streams = np.random.SeedSequence([s.seed, 28, 1]).spawn(len(heads) + 1)
        learner = make_learner(layer, demos.obs.shape[1], demos.n_actions, self.head_config,
                               [np.random.default_rng(g) for g in streams[:-1]])
        start = time.perf_counter()
        codes = self._codes(layer, learner, demos.obs)
        times["features"] = time.perf_counter() - start
        start = time.perf_counter()
        fit_outputs(learner, codes[d.train], np.stack([targets[h][d.train] for h in heads]),
                    updates=s.updates(len(d.train), demos.n_actions), batch_size=s.batch_size,
                    rng=np.random.default_rng(streams[-1]))
        pred = predict(learner, codes[d.test])                      # (heads, n_test, A)
        times["fit " + "+".join(heads)] = time.perf_counter() - start
        start = time.perf_counter()
        played = play_episodes(self.make_env, learner.encode, learner.greedy,
                               list(range(len(heads))), EVAL_INDEX, s.episodes,
                               self.config.eval_epsilon)
        times["greedy " + "+".join(heads)] = time.perf_counter() - start
        out = {}
        for i, h in enumerate(heads):
            if h == "bc":
                optimal = demos.optimal[d.test]
                correct = best_is_optimal(pred[i], optimal).astype(np.float64)
                out["bc_accuracy"] = (float(correct.mean()),
                                      mean_replicates(correct, d.test_counts))
                decisive = ~optimal.all(axis=1)
                out["bc_accuracy_decisive"] = (
                    float(correct[decisive].mean()) if decisive.any() else float("nan"),
                    mean_replicates(correct[decisive], d.test_counts[:, decisive]))
            else:
                y = demos.q_values[d.test]
                out["q_r2"] = (r2_score(y, pred[i]), r2_replicates(y, pred[i], d.test_counts))
            returns = played[i][0]
            out[f"{h}_return"] = (float(returns.mean()),
                                  mean_replicates(returns, d.episode_counts))
        return out

    # ------------------------------------------------------------------------ RL proxy
    def _rl_proxy(self, layer) -> dict:
        seeds = list(self.settings.rl_seeds)
        results = train_lockstep(self.make_env(len(seeds)), layer, seeds, self.rl_config(),
                                 eval_env=self.make_env)
        if not all(r.evaluations for r in results):     # every seed diverged before the end
            return {"rl_proxy_return": (float("nan"),
                                        np.full(len(self.data.episode_counts), np.nan))}
        returns = np.mean([r.evaluations[-1]["returns"] for r in results], axis=0)  # (E,)
        return {"rl_proxy_return": (float(returns.mean()),
                                    mean_replicates(returns, self.data.episode_counts))}
