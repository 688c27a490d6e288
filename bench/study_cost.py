"""The study's mix trained by today's code and by a baseline commit, side by side, and what
the default study costs.

    python -m bench study_cost              # or: python bench/study_cost.py
    python bench/study_cost.py --quick      # 2 seeds, warm-up + 100 env steps, one task
    python bench/study_cost.py --baseline 31a537e --steps 3000 --seeds 10
    python bench/study_cost.py --measured outputs/tiny-video    # also: what a study took

Measures, in a fresh process per run (one BLAS and one torch thread, CPU time of the
training alone: no start-up, no layer building), one lockstep unit of each layer kind of the
default study (``--seeds`` seeds, the study's settings at batch 64: the project default
replay ratio, ``--steps`` env steps) on each default task, once with this checkout's
``src/`` and once with the baseline commit's (``git archive``, default 31a537e, the commit
the throughput target is set against). Same env steps, same updates and batch: the same
work. The kinds: the numpy candidates and ``identity`` (read with ``adapter=none``), ``mlp_full``,
the bypass, block 1, its random twin and the stack of blocks 0..3; every block and twin of
the study costs what block 1 and its twin cost, a stack of k + 1 blocks the bypass plus
(k + 1)/4 of the stack's extra cost over it. Both sides of each kind run back to back (the
fastest of ``--repeats``), so a busy machine slows both alike.

Prints per kind and task the seed-steps per CPU second of both and their ratio, the mix's
(the default study's layers weighted by how many of each kind it has: total seed-steps over
total CPU seconds) against the target of 10x, and the default study projected at 100k env
steps per run, 10 seeds, its tasks, on ``--workers`` workers (units given longest first to
the least loaded worker, as the study does), against the target of 60 minutes; the
analysis and the reference policies come on top. Needs the ``video`` extra (and git for the
baseline; without it only this checkout is measured).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import print_machine, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "31a537e"
BLOCK, TWIN = "tiny-video:transformer_blocks.1", "tiny-video:transformer_blocks.1:random"
STACK, BYPASS = "tiny-video:transformer_blocks.3:prefix", "tiny-video:bypass"
NUMPY_KINDS = ("identity", "random_wide", "random_narrow", "bottleneck", "structured_mid",
               "mlp_full")
KINDS = (*NUMPY_KINDS, BYPASS, BLOCK, TWIN, STACK)
#: Target: the mix's throughput over the baseline's, and the default study's wall minutes.
TARGET_RATIO, TARGET_MINUTES = 10.0, 60.0
STUDY_STEPS = 100_000

#: One unit, run by a child process whose PYTHONPATH picks the code: prints CPU seconds.
CHILD = """
import json, os, sys, time
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
from dataclasses import replace
from threadpoolctl import threadpool_limits
layer_name, env_name, seeds, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if ":" in layer_name or layer_name.endswith("@torch"):
    import torch
    torch.set_num_threads(1)
from rl_rosetta_layer.agent.dqn import train_lockstep
from rl_rosetta_layer.agent.health import probe_observations
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.experiments.study_defaults import STUDY_CONFIG
from rl_rosetta_layer.layers.registry import build_layers
try:    # the study's video settings (a commit before them: the project's)
    from rl_rosetta_layer.experiments.study_defaults import STUDY_VIDEO
except ImportError:
    STUDY_VIDEO = None
config = replace(STUDY_CONFIG, batch_size=64, env_steps=steps)
if hasattr(config, "eval_checkpoints"):   # training only: greedy evaluations are not its work
    config = replace(config, eval_checkpoints=0)
env = EnvSpec(env_name)
with threadpool_limits(1):
    video = () if STUDY_VIDEO is None else (STUDY_VIDEO,)
    layer = build_layers([layer_name], env.observations(), None, *video)[layer_name]
    probe = probe_observations(env.make(1))
    start = time.process_time()
    results = train_lockstep(env.make(seeds), layer, list(range(seeds)), config, probe=probe)
    cpu = time.process_time() - start
print(json.dumps({"cpu": cpu, "updates": results[0].updates}))
"""


def baseline_src(rev: str) -> Path | None:
    """``src/`` of commit ``rev``, unpacked once into the temp folder; None without git or
    the commit."""
    folder = Path(tempfile.gettempdir()) / f"rosetta-bench-src-{rev}"
    if (folder / "src" / "rl_rosetta_layer").is_dir():
        return folder / "src"
    try:
        tar = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "src.tar"
    archive.write_bytes(tar)
    with tarfile.open(archive) as t:
        t.extractall(folder, filter="data")
    archive.unlink()
    return folder / "src"


def run_unit(src: Path, layer: str, env: str, seeds: int, steps: int) -> float:
    """CPU seconds of one unit trained by the code in ``src``."""
    env_vars = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, "-c", CHILD, layer, env, str(seeds), str(steps)],
                          capture_output=True, text=True, env=env_vars, timeout=7200)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{layer} on {env} with {src}: {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["cpu"]


def kind_of(name: str) -> str:
    """The measured kind whose cost stands for study layer ``name``."""
    if name in KINDS:
        return name
    if name.endswith(":random"):
        return TWIN
    if name.endswith(":prefix"):
        return STACK
    return BLOCK if ":" in name else "identity"


def unit_seconds(cpu: dict[str, float], name: str) -> float:
    """CPU seconds of study layer ``name`` from the measured kinds ``cpu`` (a stack of k + 1
    blocks: the bypass plus (k + 1)/4 of the 4-block stack's extra cost)."""
    if name.endswith(":prefix") and name != STACK:
        blocks = int(name.split(":")[1].rsplit(".", 1)[1]) + 1
        return cpu[BYPASS] + blocks / 4 * max(cpu[STACK] - cpu[BYPASS], 0.0)
    return cpu[kind_of(name)]


def project_minutes(unit_cpu: list[float], workers: int) -> float:
    """Wall minutes of units of ``unit_cpu`` CPU seconds given longest first to the least
    loaded of ``workers`` workers."""
    load = [0.0] * workers
    for u in sorted(unit_cpu, reverse=True):
        load[load.index(min(load))] += u
    return max(load) / 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, warm-up + 100 env steps, the first task only")
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare against")
    parser.add_argument("--steps", type=int, default=3000, help="env steps per unit")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per unit (lockstep)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each unit and side (the fastest counts)")
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
    print_machine()
    return _measure(args)


def _measure(args) -> int:
    from rl_rosetta_layer.experiments.study_defaults import (
        DEFAULT_ENVS,
        DEFAULT_LAYERS,
        DEFAULT_SEEDS,
        STUDY_CONFIG,
    )
    from rl_rosetta_layer.layers.registry import expand_layer_names

    envs = DEFAULT_ENVS[:1] if args.quick else DEFAULT_ENVS
    seeds = 2 if args.quick else args.seeds
    steps = STUDY_CONFIG.learning_starts + 100 if args.quick else args.steps
    sources = {"new": ROOT / "src"}
    old = baseline_src(args.baseline)
    if old is not None:
        sources[args.baseline] = old
    else:
        print(f"(no baseline: git archive {args.baseline} failed; this checkout only)\n")
    # Both sides of a kind run one after the other, each the best of --repeats: a busy
    # machine slows both alike.
    cpu = {(side, env, kind): min(run_unit(src, kind, env, seeds, steps)
                                  for _ in range(args.repeats))
           for env in envs for kind in KINDS for side, src in sources.items()}
    work = seeds * steps
    print(f"### Seed-steps per CPU second, one lockstep unit of {seeds} seeds x {steps} env "
          f"steps (the study's settings, batch 64)\n")
    rows = []
    for env in envs:
        for kind in KINDS:
            new = work / cpu[("new", env, kind)]
            if old is None:
                rows.append((env, kind, f"{new:.0f}"))
                continue
            base = work / cpu[(args.baseline, env, kind)]
            rows.append((env, kind, f"{base:.0f}", f"{new:.0f}", f"{new / base:.2f}x"))
    print_table(["task", "layer", *([args.baseline] if old else []), "new",
                 *(["ratio"] if old else [])], rows)
    # The mix of the target: the default study's layers but the learners' control
    # NAME@torch (kept out of the default study since video blocks train with numpy).
    layers = [n for n in expand_layer_names(DEFAULT_LAYERS, backbone="tiny-video")
              if not n.endswith("@torch")]
    per_side = {side: {env: {k: cpu[(side, env, k)] for k in KINDS} for env in envs}
                for side in sources}
    mix = {side: sum(unit_seconds(per_side[side][env], n) for env in envs for n in layers)
           for side in sources}
    n_units = len(layers) * len(envs)
    mix_new = n_units * work / mix["new"]
    line = f"mix of the default study ({len(layers)} layers x {len(envs)} tasks): " \
           f"{mix_new:.0f} seed-steps per CPU second"
    ratio = None
    if old is not None:
        ratio = mix[args.baseline] / mix["new"]
        line += f" against {n_units * work / mix[args.baseline]:.0f} at {args.baseline}: " \
                f"{ratio:.2f}x (target {TARGET_RATIO:.0f}x: " \
                f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})"
    print(f"\n{line}")
    scale = STUDY_STEPS / steps * len(DEFAULT_SEEDS) / seeds
    projected = {side: project_minutes([unit_seconds(per_side[side][env], n) * scale
                                        for env in envs for n in layers], args.workers)
                 for side in sources}
    print(f"\nDefault study projected ({len(layers)} layers x {len(envs)} tasks x "
          f"{len(DEFAULT_SEEDS)} seeds x {STUDY_STEPS:,} env steps, batch 64, "
          f"{args.workers} workers, RL only): "
          + ", ".join(f"{side} {m:.0f} min" for side, m in projected.items()))
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
    verdict = "met" if projected["new"] <= TARGET_MINUTES else "MISSED"
    print(f"\nSTUDY COST: mix {'' if ratio is None else f'{ratio:.2f}x the baseline, '}"
          f"default study at 100k steps projected {projected['new']:.0f} min on "
          f"{args.workers} workers (target {TARGET_MINUTES:.0f}: {verdict})"
          f"{' (quick: tiny budget, one task)' if args.quick else ''}{measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
