"""Gymnasium environments through the adapter: env steps per second, and random-policy returns.

    python bench/gym_envs.py                 # MiniGrid Empty-6x6 and DoorKey-5x5
    python bench/gym_envs.py --quick         # fewer steps and episodes

Speed: CPU time per env step of the raw Gymnasium environment (``env.step`` with random
actions, auto-reset by hand) against the same environment through
:class:`~rl_rosetta_layer.envs.gym_adapter.GymVectorEnv` (frames converted and stacked,
actions mapped, info built), with 1 and 8 copies. Returns: the mean return and success rate
of a uniform random policy over the adapter's default action subset (and over all 7 MiniGrid
actions), on the first episodes of each copy so short episodes are not favoured. These are
the floors that trained returns are read against.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import numpy as np
from common import one_thread, print_machine, print_table

from rl_rosetta_layer.envs.registry import make_vector_env

ENVS = ("minigrid:MiniGrid-Empty-6x6-v0", "minigrid:MiniGrid-DoorKey-5x5-v0")


def raw_steps_per_second(env_id: str, steps: int) -> float:
    """Env steps per CPU second of the bare Gymnasium environment (random actions)."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the ids)

    env = gym.make(env_id)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(env.action_space.n, size=steps)
    start = time.process_time()
    for a in actions:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    return steps / (time.process_time() - start)


def adapter_steps_per_second(name: str, num_envs: int, steps: int) -> float:
    """Env steps per CPU second through the adapter (all copies counted)."""
    env = make_vector_env(name, num_envs)
    env.seed_with([np.random.default_rng(i) for i in range(num_envs)])
    env.reset()
    rounds = max(1, steps // num_envs)
    actions = np.random.default_rng(0).integers(env.n_actions, size=(rounds, num_envs))
    start = time.process_time()
    for a in actions:
        env.step(a)
    return rounds * num_envs / (time.process_time() - start)


def random_returns(name: str, episodes: int, actions=None, num_envs: int = 8):
    """(mean return, success rate, mean length) of a uniform random policy."""
    env = make_vector_env(name, num_envs, actions=actions)
    env.seed_with([np.random.default_rng(100 + i) for i in range(num_envs)])
    env.reset()
    rng = np.random.default_rng(0)
    per_copy = -(-episodes // num_envs)
    done_eps: list[list[tuple[float, bool, int]]] = [[] for _ in range(num_envs)]
    ret, length = np.zeros(num_envs), np.zeros(num_envs, np.int64)
    while min(len(d) for d in done_eps) < per_copy:
        _, reward, term, trunc, info = env.step(rng.integers(env.n_actions, size=num_envs))
        ret += reward
        length += 1
        for i in np.flatnonzero(term | trunc):
            done_eps[i].append((ret[i], bool(info["success"][i]), int(length[i])))
            ret[i], length[i] = 0.0, 0
    kept = np.array([e for d in done_eps for e in d[:per_copy]], dtype=float)
    return kept[:, 0].mean(), kept[:, 1].mean(), kept[:, 2].mean()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and episodes")
    args = ap.parse_args(argv)
    steps, episodes = (400, 40) if args.quick else (4000, 400)
    print_machine()
    missing = [m for m in ("gymnasium", "minigrid") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"{' and '.join(missing)} not installed: pip install -e '.[gym]'")
        print(f"GYM ENVS: skipped ({' and '.join(missing)} not installed)")
        return 0
    rows, ret_rows = [], []
    with one_thread():
        for name in ENVS:
            env_id = name.split(":", 1)[1]
            raw = raw_steps_per_second(env_id, steps)
            one = adapter_steps_per_second(name, 1, steps)
            eight = adapter_steps_per_second(name, 8, steps)
            rows.append([env_id, f"{raw:,.0f}", f"{one:,.0f}", f"{eight:,.0f}",
                         f"{one / raw:.2f}"])
            for actions in (None, tuple(range(7))):
                mean, success, length = random_returns(name, episodes, actions)
                label = "adapter default" if actions is None else "all 7"
                ret_rows.append([env_id, label, episodes, f"{mean:.3f}", f"{success:.3f}",
                                 f"{length:.1f}"])
    print("\nEnv steps per CPU second (random actions, one thread)")
    print_table(["env", "raw gymnasium", "adapter x1", "adapter x8", "adapter x1 / raw"], rows)
    print("\nUniform random policy")
    print_table(["env", "actions", "episodes", "mean return", "success", "mean length"],
                ret_rows)
    print(f"\nGYM ENVS: adapter {rows[0][2]} env steps/s on {rows[0][0]} "
          f"({rows[0][4]}x the raw environment)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
