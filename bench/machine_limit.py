"""How close the training loop comes to the machine's matrix-multiply limit, and where the
rest of its time goes.

    python -m bench machine_limit            # or: python bench/machine_limit.py [--reps 3]

For each network: the FLOPs of one agent update counted from the shapes (every product of
the target pass, the online pass and the backward pass, as rl_rosetta_layer/agent/dqn.py
runs them, plus the greedy forward used to act), the time those very products take here
(float32, one BLAS thread, best of several rounds: the machine's limit for those shapes,
measured in the same run), and the fraction of that limit the real training loop
(``train_lockstep``, one seed) reaches: limit time / measured time. The loop is timed in
CPU seconds of the process (one thread, so equal to wall time on a quiet core, and not
inflated when other jobs take the core away). Networks:

- ``mlp_64``, ``mlp_256``: the SB3 comparison's networks and schedule (bench/vs_sb3.py:
  256 -> H tanh -> 5, one update of batch 64 per env step, one-step, no Double DQN).
- ``mlp_full``: the project's default agent on the ``mlp_full`` baseline (low-rank input
  adapter, trainable 256 -> 128 body, 64-unit head, Double DQN, 3-step, an update every 2
  env steps), the heaviest layer of the Run Order.

Then, per env step, the time of each part of the loop (a timed copy of the update in
bench/common.py's ``UpdateBench``, plus acting, the env step and the replay add), against
the arithmetic alone, and what the 50 % target leaves for everything but the products, the
replay gather and the env step (bench/floor.py). Ends with ``MACHINE LIMIT: ...`` (target:
at least 50 %).
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
    MatMul,
    UpdateBench,
    best_time,
    env_steps,
    forward_matmuls,
    matched_config,
    median,
    mlp_body,
    one_thread,
    print_machine,
    print_table,
    spread,
    time_matmuls,
    total_flops,
    update_matmuls,
)
from bench.floor import Floor, elementwise_seconds, floor_line, gather_seconds  # noqa: E402
from rl_rosetta_layer.agent import DQNConfig, QNetwork, train_lockstep  # noqa: E402
from rl_rosetta_layer.envs import make_vector_env  # noqa: E402
from rl_rosetta_layer.layers.baselines import TrainableBody  # noqa: E402

TARGET = 0.50


def workloads(episodes: int) -> dict:
    """name -> (layer, config) of each benchmarked network."""
    return {
        "mlp_64": (mlp_body(64), matched_config(episodes)),
        "mlp_256": (mlp_body(256), matched_config(episodes)),
        "mlp_full": (TrainableBody("mlp_full", 256, 128, 0.20), DQNConfig(episodes=episodes)),
    }


def greedy_steps(config: DQNConfig, steps: int) -> float:
    """Expected env steps on which one seed acts greedily (one forward of one observation)."""
    eps = np.array([config.epsilon(s) for s in range(steps)])
    return float(np.sum(1.0 - eps))


def peak_gflops() -> float:
    """Single-thread float32 GEMM throughput at a large square size (the core's ceiling)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    out = np.empty_like(a)
    t = best_time(lambda: np.matmul(a, a, out=out), repeat=5, min_seconds=0.2)
    return 2 * 1024 ** 3 / t / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=250,
                        help="budget of each training run (about 12,000 env steps at 250)")
    parser.add_argument("--reps", type=int, default=3, help="training runs per network")
    parser.add_argument("--only", default=None, help="comma list of networks to run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.reps = 12, 1
        common.QUICK = True
        args.only = args.only or "mlp_64"
    loads = workloads(args.episodes)
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(loads))
        if unknown:
            parser.error(f"unknown network(s) {unknown}; accepted: {', '.join(loads)}")
        loads = {k: v for k, v in loads.items() if k in args.only.split(",")}

    with one_thread():
        print_machine()
        peak = peak_gflops()
        print(f"float32 GEMM 1024x1024x1024, one thread: {peak:.1f} GFLOP/s "
              f"(the core's ceiling; the update's small shapes get less)\n")
        results = {}
        for name, (layer, config) in loads.items():
            net = QNetwork(256, layer, 5, adapter=config.adapter, rank=config.adapter_rank,
                           head=config.head, head_hidden=config.head_hidden)
            upd = update_matmuls(net, config.batch_size, config.double_dqn)
            act = forward_matmuls(net, 1, "act")
            fracs, rows = [], []
            for rep in range(args.reps):
                t_upd = sum(time_matmuls(upd))
                t_act = sum(time_matmuls(act))
                env = make_vector_env("grid", 1)
                start = time.process_time()     # CPU seconds: robust to other jobs
                res = train_lockstep(env, layer, [rep], config)
                wall = time.process_time() - start
                steps, updates = env_steps(res), res[0].updates
                greedy = greedy_steps(config, steps)
                flops = updates * total_flops(upd) + greedy * total_flops(act)
                limit = updates * t_upd + greedy * t_act
                fracs.append(limit / wall)
                rows.append((steps, updates, wall, flops / wall / 1e9,
                             flops / limit / 1e9))
            results[name] = (net, config, upd, act, fracs, rows)

            print(f"## {name}: {net.n_params():,} trainable parameters, batch "
                  f"{config.batch_size}, n_step {config.n_step}, update every "
                  f"{config.train_every} env step(s), Double DQN {config.double_dqn}")
            t_each = time_matmuls(upd)
            print_table(["product (one update)", "m x k x n", "MFLOP", "us here", "GFLOP/s"],
                        [[m.label, f"{m.m}x{m.k}x{m.n}", f"{m.flops / 1e6:.2f}",
                          f"{t * 1e6:.1f}", f"{m.flops / t / 1e9:.1f}"]
                         for m, t in zip(upd, t_each)]
                        + [["total", "", f"{total_flops(upd) / 1e6:.2f}",
                            f"{sum(t_each) * 1e6:.1f}",
                            f"{total_flops(upd) / sum(t_each) / 1e9:.1f}"]])
            print()
            print_table(["run", "env steps", "updates", "CPU s", "achieved GFLOP/s",
                         "limit GFLOP/s (these shapes)", "fraction of limit"],
                        [[i, s, u, f"{w:.1f}", f"{a:.1f}", f"{lim:.1f}", f"{f:.0%}"]
                         for i, ((s, u, w, a, lim), f) in enumerate(zip(rows, fracs))])
            print()
            print_breakdown(layer, config, rows, upd, fracs[-1])
            print()

        print("## summary")
        print_table(["network", "MFLOP / update", "fraction of matmul limit (median, range)",
                     "target"],
                    [[name, f"{total_flops(r[2]) / 1e6:.1f}", spread(r[4], "{:.0%}"),
                      f"{TARGET:.0%}"] for name, r in results.items()])
        print()
    parts = [f"{name} {median(r[4]):.0%}" for name, r in results.items()]
    met = [median(r[4]) >= TARGET for r in results.values()]
    verdict = "met" if all(met) else ("met for " + ", ".join(
        n for n, m in zip(results, met) if m) if any(met) else "MISSED")
    print(f"MACHINE LIMIT: the training loop reaches {', '.join(parts)} of this core's "
          f"measured float32 matmul throughput for its update's shapes "
          f"(target {TARGET:.0%}: {verdict})")
    return 0


def print_breakdown(layer, config: DQNConfig, rows, upd: list[MatMul], fraction: float) -> None:
    """Where one env step's time goes: each part of the loop, per env step; then what the
    target leaves for everything but the products and the env step (``fraction``: of the
    matmul limit the last run reached)."""
    steps, updates, wall = rows[-1][0], rows[-1][1], rows[-1][2]
    per_step = wall / steps
    upd_per_step = updates / steps
    n = 20 if common.QUICK else 400
    bench = UpdateBench(layer, config, n_seeds=1, fill=200 if common.QUICK else 2_000)
    bench.seconds_per_update(n=n // 4, repeat=1)          # warm up
    parts = {k: v * upd_per_step for k, v in bench.part_seconds(n=n).items()}
    loop = bench.loop_part_seconds(n=n)
    loop["act (greedy forward)"] *= greedy_steps(config, steps) / steps   # greedy steps only
    parts.update(loop)
    accounted = sum(parts.values())
    matmul = sum(time_matmuls(upd)) * upd_per_step
    rows_out = [[k, f"{v * 1e6:.1f}", f"{v / per_step:.0%}"] for k, v in parts.items()]
    rows_out.append(["rest of the loop (bookkeeping, epsilon, episode records)",
                     f"{(per_step - accounted) * 1e6:.1f}",
                     f"{(per_step - accounted) / per_step:.0%}"])
    rows_out.append(["measured loop, per env step", f"{per_step * 1e6:.1f}", "100%"])
    rows_out.append(["of which the update's matrix products alone (limit)",
                     f"{matmul * 1e6:.1f}", f"{matmul / per_step:.0%}"])
    print(f"where an env step's time goes (last run; {upd_per_step:.2f} updates per env "
          f"step; parts timed separately, so they need not add up exactly)")
    print_table(["part", "us per env step", "share"], rows_out)
    limit = fraction * per_step          # the products of updates and greedy acts, per step
    gather = gather_seconds(1, 2 * config.batch_size, bench.net.code_dim,
                            min(steps, config.buffer_size)) * upd_per_step
    elementwise = elementwise_seconds(bench.net.n_params()) * upd_per_step
    print(floor_line(f"{TARGET:.0%} of the limit", limit / TARGET,
                     Floor(products=limit, gather=gather, elementwise=elementwise,
                           env=loop["env step"]), per_step))


if __name__ == "__main__":
    sys.exit(main())
