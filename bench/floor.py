"""The floor of a training loop's time per env step on this core, and what a target leaves.

A target on speed is only reachable if the work no implementation avoids fits under it.
For the DQN loop that is three things, measured here in the calling script's run:

- the update's matrix products (``update_matmuls``) at this core's own speed for their
  shapes, stacked over the seeds as ``dqn.py`` runs them, times the updates per env step;
- the replay gather: the 2B codes (observations and bootstrap observations) each update
  reads per seed, as ``LockstepReplay.sample`` takes them, from a float32 replay as large
  as the run's (fresh random rows each time: from memory, not from cache);
- the environment's step.

Everything else (drawing the sample, TD targets, elementwise work, clipping, the
optimiser, the replay add, the Python loop) is what an implementation can shrink.
:func:`loop_floor` gives the floor per env step of one seed, and :func:`floor_line` says
what a target leaves for the rest against what the rest takes now.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bench.common import best_time, time_matmuls, update_matmuls
from rl_rosetta_layer.agent import DQNConfig, QNetwork
from rl_rosetta_layer.envs import make_vector_env


@dataclass(frozen=True)
class Floor:
    """Seconds per env step of one seed that no implementation of the loop avoids."""

    products: float     #: the update's matrix products at this core's limit
    gather: float       #: the replay gather's memory traffic
    env: float          #: the environment's step

    @property
    def total(self) -> float:
        return self.products + self.gather + self.env


def env_step_seconds(vec) -> float:
    """CPU seconds of one step of the vector env ``vec`` (all its copies, random actions)."""
    n = vec.num_envs
    vec.seed_with([np.random.default_rng(i) for i in range(n)])
    vec.reset()
    rng = np.random.default_rng(0)
    actions = itertools.cycle([rng.integers(vec.n_actions, size=n) for _ in range(64)])
    return best_time(lambda: vec.step(next(actions)))


def gather_seconds(n_seeds: int, rows: int, width: int, stored: int) -> float:
    """CPU seconds of gathering ``rows`` random rows of ``width`` float32 per seed from a
    replay of ``stored`` steps per seed (``n_seeds`` x 2 x ``stored`` rows, observations
    and next observations, as ``LockstepReplay`` holds them), one ``take`` as its sample
    does. Each call takes other rows, 64 sets in turn, so they come from memory."""
    rng = np.random.default_rng(0)
    frames = rng.random((n_seeds * 2 * max(stored, 1), width), dtype=np.float32)
    index = itertools.cycle([rng.integers(len(frames), size=n_seeds * rows)
                             for _ in range(64)])
    return best_time(lambda: frames.take(next(index), axis=0))


def loop_floor(layer, config: DQNConfig, updates_per_step: float, stored: int,
               n_seeds: int = 1, env: str = "grid") -> Floor:
    """The floor per env step of one seed of the loop training ``layer`` with ``config``
    on ``env`` (``updates_per_step`` updates per env step, a replay of ``stored`` steps
    per seed by the end), ``n_seeds`` seeds in lockstep."""
    vec = make_vector_env(env, n_seeds)
    net = QNetwork.from_config(vec.obs_dim, layer, vec.n_actions, config)
    products = sum(time_matmuls(update_matmuls(net, config.batch_size, config.double_dqn),
                                n_seeds=n_seeds))
    gather = gather_seconds(n_seeds, 2 * config.batch_size, net.code_dim,
                            min(stored, config.buffer_size))
    return Floor(products=products * updates_per_step / n_seeds,
                 gather=gather * updates_per_step / n_seeds,
                 env=env_step_seconds(vec) / n_seeds)


def floor_line(what: str, allowed: float, floor: Floor, measured: float) -> str:
    """One sentence: a target allows ``allowed`` seconds per env step; the floor takes
    ``floor.total``; the rest has what is left, against ``measured - floor.total`` now."""
    left = allowed - floor.total
    now = measured - floor.total
    if left <= 0:
        room = (f"nothing is left for the rest ({left * 1e6:+.0f} us): out of reach on "
                f"this core with this env, however the rest is written")
    else:
        room = (f"the rest (sampling, elementwise work, optimiser, replay add, Python loop) "
                f"must fit in {left * 1e6:.0f} us; it takes {now * 1e6:.0f} us now "
                f"({now / left:.1f}x its room)")
    return (f"{what}: the target allows {allowed * 1e6:.0f} us per env step of a seed; the "
            f"update's matrix products at this core's limit take {floor.products * 1e6:.0f} "
            f"us, its replay gather {floor.gather * 1e6:.0f} us and the env step "
            f"{floor.env * 1e6:.0f} us; {room}")
