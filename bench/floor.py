"""The floor of a training loop's time per env step on this core, and what a target leaves.

A target on speed is only reachable if the work no implementation avoids fits under it.
The floor is physical (never the speed of a library's calls), measured here in the calling
script's run:

- the update's matrix products (``update_matmuls``) at this core's own speed for their
  shapes, stacked over the seeds as ``dqn.py`` runs them, times the updates per env step;
- the replay gather as bytes at this core's memory bandwidth: the 2B codes (observations
  and bootstrap observations) each update reads and writes per seed
  (:func:`bandwidth`: a streaming copy much larger than the caches);
- the optimiser's elementwise work at vector throughput: clipping and Adam touch every
  parameter once per update, bound by one square root and one division per entry
  (:func:`elementwise_seconds`: numpy's ``sqrt`` and ``divide`` over an in-cache array,
  long enough that their call cost is a few per cent);
- the environment's step, as implemented (it is the task, not the learner).

Everything else (drawing the sample, TD targets, the other elementwise work, the replay
add, the Python loop) is what an implementation can shrink.
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
    gather: float       #: the replay gather's bytes at memory bandwidth
    elementwise: float  #: clipping and Adam at vector throughput
    env: float          #: the environment's step

    @property
    def total(self) -> float:
        return self.products + self.gather + self.elementwise + self.env


def env_step_seconds(vec) -> float:
    """CPU seconds of one step of the vector env ``vec`` (all its copies, random actions)."""
    n = vec.num_envs
    vec.seed_with([np.random.default_rng(i) for i in range(n)])
    vec.reset()
    rng = np.random.default_rng(0)
    actions = itertools.cycle([rng.integers(vec.n_actions, size=n) for _ in range(64)])
    return best_time(lambda: vec.step(next(actions)))


_BANDWIDTH: list[float] = []


def bandwidth() -> float:
    """Bytes per second this core moves in a streaming copy of 64 MiB (read and write
    counted), measured once per process."""
    if not _BANDWIDTH:
        src = np.ones(16 * 2 ** 20, np.float32)
        dst = np.empty_like(src)
        _BANDWIDTH.append(2 * src.nbytes / best_time(lambda: np.copyto(dst, src)))
    return _BANDWIDTH[0]


def gather_seconds(n_seeds: int, rows: int, width: int, stored: int) -> float:
    """Seconds of moving ``rows`` rows of ``width`` float32 per seed (``n_seeds`` seeds)
    out of the replay and into a batch at :func:`bandwidth` (``stored``, the replay's
    steps, only says they come from memory: a replay larger than the caches)."""
    del stored
    return 2 * n_seeds * rows * width * 4 / bandwidth()


_PER_ENTRY: list[float] = []


def elementwise_seconds(entries: int) -> float:
    """Seconds of the optimiser's bound elementwise work over ``entries`` parameters at
    vector throughput: one square root and one division per entry (Adam's
    ``m / (sqrt(v) + eps)``; the clip's norm and every multiply-add fit beside them),
    timed per entry on a 65,536-entry array that stays in cache."""
    if not _PER_ENTRY:
        x = np.random.default_rng(0).random(2 ** 16, dtype=np.float32) + 1.0
        out = np.empty_like(x)
        sqrt = best_time(lambda: np.sqrt(x, out=out))
        div = best_time(lambda: np.divide(x, out, out=out))
        _PER_ENTRY.append((sqrt + div) / x.size)
    return entries * _PER_ENTRY[0]


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
                 elementwise=elementwise_seconds(net.n_params()) * updates_per_step,
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
            f"us, its replay gather at memory bandwidth {floor.gather * 1e6:.0f} us, the "
            f"optimiser at vector throughput {floor.elementwise * 1e6:.0f} us and the env "
            f"step {floor.env * 1e6:.0f} us; the loop reaches {floor.total / measured:.0%} "
            f"of that floor's speed now; {room}")
