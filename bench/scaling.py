"""How cost grows with the work: seeds trained in lockstep, and the frozen layer's width.

    python -m bench scaling                  # or: python bench/scaling.py [--reps 3]

1. Seeds in lockstep (1, 2, 4, 8, 16): the Run Order's workload (default DQN settings,
   the ``random_wide`` layer, each seed with its own budget of episodes), one process, one
   BLAS thread. Aggregate env steps per CPU second (only steps inside each seed's budget are
   counted), the speed-up over one seed, and the time of one lockstep update divided by
   the number of seeds (bench/common.py's ``UpdateBench``). All times are CPU seconds of
   the process (one thread: equal to wall time on a quiet core, not inflated by other jobs).
   Beside them, the floor per env step of a seed (bench/floor.py: the update's matrix
   products at this core's limit, stacked over the seeds, its replay gather and the env
   step), the speed-up
   that floor would allow if everything else were free, and what the 4x target leaves.
2. Frozen-layer width: a random tanh layer 256 -> K (the candidates' kind) for growing K,
   default settings, one seed. Time per update, its FLOPs counted from the shapes, the
   throughput reached, and the time the update's matrix products alone take here.

Ends with ``SCALING: ...``: the lockstep speed-up at 16 seeds and how time per update grew
against FLOPs from the narrowest to the widest layer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench import common  # noqa: E402
from bench.common import (  # noqa: E402
    UpdateBench,
    env_steps,
    median,
    one_thread,
    print_machine,
    print_table,
    spread,
    time_matmuls,
    total_flops,
    update_matmuls,
)
from bench.floor import floor_line, loop_floor  # noqa: E402
from rl_rosetta_layer.agent import DQNConfig, train_lockstep  # noqa: E402
from rl_rosetta_layer.envs import GridConfig, make_vector_env  # noqa: E402
from rl_rosetta_layer.layers.registry import seed_candidates  # noqa: E402
from rl_rosetta_layer.layers.synthetic import RandomTanhLayer  # noqa: E402

#: Env steps per second of 16 seeds in lockstep over one seed (issue: at least 4x).
LOCKSTEP_TARGET = 4.0


def lockstep_scaling(seed_counts: list[int], episodes: int, reps: int) -> list[dict]:
    layer = seed_candidates(GridConfig())["random_wide"]
    config = DQNConfig(episodes=episodes)
    out = []
    for n in seed_counts:
        sps, walls, steps_l, upd = [], [], [], []
        for rep in range(reps):
            env = make_vector_env("grid", n)
            seeds = list(range(rep * 100, rep * 100 + n))
            start = time.process_time()       # CPU seconds: robust to other jobs
            res = train_lockstep(env, layer, seeds, config)
            wall = time.process_time() - start
            steps = env_steps(res)
            sps.append(steps / wall)
            walls.append(wall)
            steps_l.append(steps)
            upd.append(sum(r.updates for r in res) / steps)
        ub = UpdateBench(layer, config, n_seeds=n, fill=200 if common.QUICK else 2_000)
        per_update = ub.seconds_per_update(n=10 if common.QUICK else max(50, 400 // n),
                                           repeat=3)
        out.append({"n": n, "sps": sps, "wall": walls, "steps": steps_l,
                    "update_us_per_seed": per_update / n * 1e6,
                    "floor": loop_floor(layer, config, median(upd),
                                        stored=int(median(steps_l)) // n, n_seeds=n)})
    return out


def width_scaling(widths: list[int], n_updates: int) -> list[dict]:
    config = DQNConfig()
    out = []
    rng = np.random.default_rng(0)
    for k in widths:
        layer = RandomTanhLayer(f"random_{k}", 256, k, 0.20, rng)
        ub = UpdateBench(layer, config, n_seeds=1, fill=200 if common.QUICK else 2_000)
        t = ub.seconds_per_update(n=n_updates, repeat=3)
        mms = update_matmuls(ub.net, config.batch_size, config.double_dqn)
        flops = total_flops(mms)
        t_mm = sum(time_matmuls(mms, repeat=5))
        out.append({"k": k, "t": t, "flops": flops, "t_mm": t_mm,
                    "params": ub.net.n_params()})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,4,8,16", help="lockstep sizes, comma list")
    parser.add_argument("--widths", default="4,16,64,128,256,512,1024,2048",
                        help="frozen-layer widths, comma list")
    parser.add_argument("--episodes", type=int, default=60, help="episodes per seed")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each lockstep run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.widths, args.episodes, args.reps = "1,2", "16,64", 12, 1
        common.QUICK = True
    seed_counts = [int(s) for s in args.seeds.split(",")]
    widths = [int(k) for k in args.widths.split(",")]

    with one_thread():
        print_machine()
        lock = lockstep_scaling(seed_counts, args.episodes, args.reps)
        base = median(lock[0]["sps"])
        print(f"## 1. seeds in lockstep: random_wide, default DQN settings, {args.episodes} "
              f"episodes per seed, median (min-max) of {args.reps} runs")
        print_table(["seeds", "env steps (all seeds)", "CPU s", "env steps/s (all seeds)",
                     "speed-up vs 1 seed", "update us per seed",
                     "floor us per seed-step", "speed-up if the rest were free"],
                    [[r["n"], int(median(r["steps"])), spread(r["wall"], "{:.1f}"),
                      spread(r["sps"]), f"{median(r['sps']) / base:.2f}x",
                      f"{r['update_us_per_seed']:.0f}", f"{r['floor'].total * 1e6:.0f}",
                      f"{1 / base / r['floor'].total:.2f}x"] for r in lock])
        last = lock[-1]
        print(floor_line(f"{last['n']} seeds at {LOCKSTEP_TARGET:.0f}x one seed",
                         1 / base / LOCKSTEP_TARGET, last["floor"], 1 / median(last["sps"])))
        print()
        wide = width_scaling(widths, n_updates=200 if not args.quick else 20)
        print("## 2. frozen-layer width: random tanh layer 256 -> K, default DQN settings "
              "(low-rank adapter, 64-unit head, Double DQN, batch 64), one seed")
        w0 = wide[0]
        print_table(["K", "trainable params", "MFLOP / update", "us / update",
                     "x time vs first", "x FLOPs vs first", "GFLOP/s", "matmul-only us",
                     "share of time in matmul"],
                    [[r["k"], f"{r['params']:,}", f"{r['flops'] / 1e6:.2f}",
                      f"{r['t'] * 1e6:.0f}", f"{r['t'] / w0['t']:.2f}",
                      f"{r['flops'] / w0['flops']:.1f}", f"{r['flops'] / r['t'] / 1e9:.1f}",
                      f"{r['t_mm'] * 1e6:.0f}", f"{r['t_mm'] / r['t']:.0%}"] for r in wide])
        print()
    last, wl = lock[-1], wide[-1]
    speedup = median(last["sps"]) / base
    verdict = "" if common.QUICK or last["n"] != 16 else \
        f" (target {LOCKSTEP_TARGET:.0f}x at 16 seeds: " \
        f"{'met' if speedup >= LOCKSTEP_TARGET else 'MISSED'})"
    print(f"SCALING: {last['n']} seeds in lockstep give "
          f"{speedup:.2f}x the env steps/s of 1 seed{verdict}, "
          f"{1 / base / last['floor'].total:.2f}x if all but the floor were free "
          f"({median(last['sps']):.0f} vs {base:.0f}); from K={w0['k']} to K={wl['k']} the "
          f"update's FLOPs grow {wl['flops'] / w0['flops']:.0f}x and its time "
          f"{wl['t'] / w0['t']:.1f}x ({w0['t'] * 1e6:.0f} -> {wl['t'] * 1e6:.0f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
