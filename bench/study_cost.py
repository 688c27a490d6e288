"""What the default ``rosetta study`` costs, and where the time goes.

    python -m bench study_cost              # or: python bench/study_cost.py
    python bench/study_cost.py --quick      # 600-step runs instead of the study's budget

Times (CPU time of this thread, one thread), (1) one ``TorchLearner.update`` of a tiny-video
block at batch 32 and 64 and one greedy ``act`` (the per-step costs behind the budget), and
(2) one whole run of the study's budget (``STUDY_CONFIG``: env steps, batch, schedule) on
``catch`` for a tiny-video block and for a numpy layer (``random_wide``). From (2) it
projects the default study: 8 video layers and 6 numpy layers x 3 tasks x 5 seeds on
``--workers`` workers (the analysis, about a minute, not included). Every run's budget is in
env steps, so the tasks cost about the same per run. Needs the ``video`` extra.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import clock, one_thread, print_machine, print_table  # noqa: E402

BLOCK = "tiny-video:transformer_blocks.1"
N_VIDEO, N_NUMPY, N_TASKS, N_SEEDS = 8, 6, 3, 5


def time_update(cand, obs_dim: int, batch: int, reps: int) -> float:
    """Seconds per TorchLearner.update of one seed at ``batch``."""
    from rl_rosetta_layer.agent.config import DQNConfig

    learner = cand.make_learner(obs_dim, 3, DQNConfig(batch_size=batch),
                                [np.random.default_rng(0)])
    rng = np.random.default_rng(1)
    both = (rng.random((1, 2 * batch, obs_dim)) < 0.1).astype(np.float32)
    a = rng.integers(3, size=(1, batch))
    r, d = rng.normal(size=(1, batch)), np.full((1, batch), 0.9)
    for _ in range(3):
        learner.update(both, a, r, d)
    start = clock()
    for _ in range(reps):
        learner.update(both, a, r, d)
    return (clock() - start) / reps


def time_act(cand, obs_dim: int, reps: int) -> float:
    from rl_rosetta_layer.agent.config import DQNConfig

    learner = cand.make_learner(obs_dim, 3, DQNConfig(), [np.random.default_rng(0)])
    obs = (np.random.default_rng(2).random((1, obs_dim)) < 0.1).astype(np.float32)
    learner.act(obs)
    start = clock()
    for _ in range(reps):
        learner.act(obs)
    return (clock() - start) / reps


def time_run(layer_name: str, config, env_name: str = "catch") -> tuple[float, int]:
    """CPU seconds and updates of one run of ``config`` on ``env_name``."""
    from rl_rosetta_layer.agent.dqn import train_lockstep
    from rl_rosetta_layer.experiments.spec import EnvSpec
    from rl_rosetta_layer.layers.registry import build_layers
    from rl_rosetta_layer.layers.video import VideoSettings

    env = EnvSpec(env_name)
    layer = build_layers([layer_name], env.observations(), None, VideoSettings())[layer_name]
    start = clock()
    (result,) = train_lockstep(env.make(1), layer, [0], config)
    return clock() - start, result.updates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600-step runs, fewer repeats")
    parser.add_argument("--workers", type=int, default=2, help="workers of the projection")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401 - needed, and imported before one_thread() limits it
    except ImportError:
        print("study_cost needs the video extra (torch); skipped")
        return 0
    with one_thread():
        print_machine()
        return _measure(args)


def _measure(args) -> int:
    from rl_rosetta_layer.experiments.spec import EnvSpec
    from rl_rosetta_layer.experiments.study import STUDY_CONFIG
    from rl_rosetta_layer.layers.video import VideoSettings, build_video_layer

    obs = EnvSpec("catch").observations()
    cand = build_video_layer(BLOCK, obs, VideoSettings())
    reps = 10 if args.quick else 40
    per_step = [(f"update, batch {b}", f"{1e3 * time_update(cand, obs.obs_dim, b, reps):.1f}")
                for b in (32, 64)]
    per_step.append(("act (one observation)",
                     f"{1e3 * time_act(cand, obs.obs_dim, 10 * reps):.2f}"))
    print(f"\n### One tiny-video block ({BLOCK}, {cand.layout.tokens} tokens x "
          f"{cand.layout.width}), one seed, CPU ms per call\n")
    print_table(["what", "ms"], per_step)
    config = replace(STUDY_CONFIG, env_steps=600) if args.quick else STUDY_CONFIG
    runs = {name: time_run(name, config) for name in (BLOCK, "random_wide")}
    print(f"\n### One run of the study's budget on catch ({config.env_steps} env steps, "
          f"batch {config.batch_size}), CPU seconds\n")
    print_table(["layer", "updates", "seconds"],
                [(name, u, f"{sec:.1f}") for name, (sec, u) in runs.items()])
    video, numpy_run = runs[BLOCK][0], runs["random_wide"][0]
    total = N_TASKS * N_SEEDS * (N_VIDEO * video + N_NUMPY * numpy_run) / args.workers
    print(f"\nSTUDY COST: one tiny-video run {video:.1f} s, one numpy run {numpy_run:.1f} s; "
          f"default study (RL only) projected {total / 60:.1f} min on {args.workers} "
          f"workers{' (quick budget)' if args.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
