"""What the default ``rosetta study`` costs, where the time goes, and what it took.

    python -m bench study_cost              # or: python bench/study_cost.py
    python bench/study_cost.py --quick      # warm-up + 100 env steps per run, first task only
    python bench/study_cost.py --measured outputs/tiny-video    # also: what a study took

Times (CPU time of this thread, one thread) (1) the per-step pieces of a tiny-video run:
one encode of a new observation (patch embedding, block, the read-out's fixed part), one
``TorchLearner.update`` on codes, one greedy ``act``; (2) one whole run of the study's
budget (``STUDY_CONFIG``) on each default task, alone and as two seeds in lockstep, for:
one block (block 1), the stack of blocks 0..3 (four block calls per new observation), the
bypass, the torch learner on ``random_wide`` and the numpy ``random_wide``. From (2) it
projects the default study (``DEFAULT_LAYERS`` x ``DEFAULT_ENVS`` x ``DEFAULT_SEEDS``, each
layer's seeds in lockstep as the study runs them): a unit of S seeds costs shared + S x
per seed (from the one- and two-seed timings), a video layer's costs are the bypass's plus
(number of blocks) x (cost per block, from the stack minus the bypass over 4), and the
units are given to ``--workers`` longest first, as the study does. The analyses of the
tasks (side by side) and the reference policies come on top. With ``--measured DIR`` it
prints the wall time a study in DIR took (its ``study_run.json``) beside the projection.
Needs the ``video`` extra.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import clock, one_thread, print_machine, print_table  # noqa: E402

BLOCK = "tiny-video:transformer_blocks.1"
STACK = "tiny-video:transformer_blocks.3:prefix"
TIMED = (BLOCK, STACK, "tiny-video:bypass", "random_wide@torch", "random_wide")


def time_pieces(reps: int) -> list[tuple[str, str]]:
    """CPU ms of one encode (a new observation), one update on codes, one act."""
    from rl_rosetta_layer.agent.config import DQNConfig
    from rl_rosetta_layer.agent.learner import make_learner
    from rl_rosetta_layer.experiments.spec import EnvSpec
    from rl_rosetta_layer.video.candidates.settings import VideoSettings
    from rl_rosetta_layer.video.family import VIDEO

    obs = EnvSpec("catch").observations()
    cand = VIDEO.build(BLOCK, obs, VideoSettings())
    rng = np.random.default_rng(1)
    fresh = (rng.random((reps, obs.obs_dim)) < 0.1).astype(np.float32)
    start = clock()
    codes = cand.encode(fresh)                   # every row new: one block call each
    encode = (clock() - start) / reps
    learner = make_learner(cand, obs.obs_dim, 3, DQNConfig(batch_size=32, adapter="none"),
                           [np.random.default_rng(0)])
    both = codes[rng.integers(reps, size=(1, 64))]
    a, r = rng.integers(3, size=(1, 32)), rng.normal(size=(1, 32)).astype(np.float32)
    d = np.full((1, 32), 0.9, np.float32)
    for _ in range(3):
        learner.update(both, a, r, d)
    start = clock()
    for _ in range(reps):
        learner.update(both, a, r, d)
    update = (clock() - start) / reps
    start = clock()
    for i in range(reps):
        learner.act(codes[None, i])
    act = (clock() - start) / reps
    return [("encode a new observation (block 1)", f"{1e3 * encode:.2f}"),
            ("update on codes, batch 32", f"{1e3 * update:.2f}"),
            ("act (one observation's code)", f"{1e3 * act:.3f}")]


def time_run(layer_name: str, env_name: str, config, seeds: int = 1) -> float:
    """CPU seconds of one unit of ``seeds`` seeds in lockstep of ``config`` on
    ``env_name``, health checks on."""
    from rl_rosetta_layer.agent.dqn import train_lockstep
    from rl_rosetta_layer.agent.health import probe_observations
    from rl_rosetta_layer.experiments.spec import EnvSpec
    from rl_rosetta_layer.layers.registry import build_layers
    from rl_rosetta_layer.video.candidates.settings import VideoSettings

    env = EnvSpec(env_name)
    layer = build_layers([layer_name], env.observations(), None, VideoSettings())[layer_name]
    probe = probe_observations(env.make(1))
    start = clock()
    train_lockstep(env.make(seeds), layer, list(range(seeds)), config, probe=probe)
    return clock() - start


def blocks_of(name: str) -> int:
    """Block calls per new observation of a layer (0 for numpy layers and the bypass)."""
    parts = name.split(":")
    if len(parts) < 2 or parts[1] == "bypass":
        return 0
    return int(parts[1].rsplit(".", 1)[1]) + 1 if parts[-1] == "prefix" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="runs of warm-up + 100 env steps, first task only, fewer repeats")
    parser.add_argument("--workers", type=int, default=2, help="workers of the projection")
    parser.add_argument("--measured", type=Path, default=None, metavar="DIR",
                        help="a study folder whose study_run.json to report")
    args = parser.parse_args(argv)
    missing = [m for m in ("torch", "diffusers", "safetensors")
               if importlib.util.find_spec(m) is None]
    if missing:
        print("study_cost needs the video extra: pip install -e '.[video]'")
        print(f"STUDY COST: skipped ({', '.join(missing)} not installed)")
        return 0
    import torch  # noqa: F401 - imported before one_thread() limits its threads
    with one_thread():
        print_machine()
        return _measure(args)


def _measure(args) -> int:
    from rl_rosetta_layer.experiments.study import (
        DEFAULT_ENVS,
        DEFAULT_LAYERS,
        DEFAULT_SEEDS,
        STUDY_CONFIG,
    )
    from rl_rosetta_layer.layers.registry import expand_layer_names

    print("\n### Per-step pieces of a tiny-video run, CPU ms per call\n")
    print_table(["what", "ms"], time_pieces(20 if args.quick else 400))
    # --quick: the first task only (standing in for all), 100 env steps after the warm-up
    envs = DEFAULT_ENVS[:1] if args.quick else DEFAULT_ENVS
    config = replace(STUDY_CONFIG, env_steps=STUDY_CONFIG.learning_starts + 100) \
        if args.quick else STUDY_CONFIG
    one = {(env, n): time_run(n, env, config) for env in envs for n in TIMED}
    two = {(env, n): time_run(n, env, config, 2) for env in envs for n in TIMED}
    print(f"\n### One unit of the study's budget ({config.env_steps} env steps, batch "
          f"{config.batch_size}), CPU seconds: one seed / two seeds in lockstep\n")
    print_table(["task", *TIMED], [(env, *(f"{one[(env, n)]:.1f} / {two[(env, n)]:.1f}"
                                           for n in TIMED)) for env in envs])
    layers = expand_layer_names(DEFAULT_LAYERS, backbone="tiny-video")
    seeds = len(DEFAULT_SEEDS)

    def unit(env: str, name: str) -> float:
        """Projected CPU seconds of ``name``'s seeds in lockstep on ``env``."""
        env = env if env in envs else envs[0]

        def cost(timed: str) -> float:
            per_seed = max(two[(env, timed)] - one[(env, timed)], 0.0)
            return max(one[(env, timed)] - per_seed, 0.0) + seeds * per_seed
        if ":" in name:
            bypass = cost("tiny-video:bypass")
            return bypass + blocks_of(name) * (cost(STACK) - bypass) / blocks_of(STACK)
        return cost("random_wide@torch" if name.endswith("@torch") else "random_wide")

    units = sorted((unit(env, n) for env in DEFAULT_ENVS for n in layers), reverse=True)
    load = [0.0] * args.workers
    for u in units:                          # longest first, to the least loaded worker
        load[load.index(min(load))] += u
    minutes = max(load) / 60
    print(f"\nProjection: {len(layers)} layers x {len(DEFAULT_ENVS)} tasks x {seeds} seeds "
          f"= {len(units) * seeds} runs in {len(units)} lockstep units, "
          f"{sum(units) / 60:.1f} CPU min of RL, {minutes:.1f} min on {args.workers} workers "
          f"(the analysis and the reference policies come on top)")
    measured = ""
    if args.measured is not None:
        path = args.measured / "study_run.json"
        if path.is_file():
            run = json.loads(path.read_text())
            measured = (f"; measured: {run['wall_seconds'] / 60:.1f} min wall for "
                        f"{run['runs_trained']} runs trained ({run['workers']} workers, "
                        f"{run['host']})")
        else:
            measured = f"; measured: no {path}"
    print(f"\nSTUDY COST: default study projected {minutes:.1f} min of RL on {args.workers} "
          f"workers{f' (quick: {envs[0]} only, tiny budget)' if args.quick else ''}"
          f"{measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
