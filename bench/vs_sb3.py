"""Env steps per second of this project's DQN against Stable-Baselines3's DQN, side by side.

    python -m bench vs_sb3                      # or: python bench/vs_sb3.py
    python bench/vs_sb3.py --hidden 64 --reps 5 --episodes 400 --lockstep 4

Throughput is env steps per CPU second of the process (``time.process_time``): with one
thread on each side it equals steps per wall second on a quiet core, and unlike wall time it
does not drop when other jobs take the core away; wall-clock ratios are shown beside it.

Both sides train the same network (256 inputs -> one tanh hidden layer of H units -> 5
Q-values; SB3 gets ``activation_fn=Tanh``, its default would be ReLU) on the same grid
(SB3 through a ``gymnasium.Env`` wrapper, bench/common.py) with the same schedule: one-step
Q-learning, one update of batch 64 per env step after 500 warm-up steps, replay 20,000,
gamma 0.98, Adam lr 1e-3, Huber loss, gradient norm clipped at 10, no Double DQN, a hard
target copy every 500 updates (= env steps here), epsilon 1.0 -> 0.05 over 10,000 steps.
Our budget is in episodes; SB3 is then given exactly the env steps our run took, so both
sides take the same number of steps. One BLAS thread and one torch thread for both, in one
process; each repetition runs both sides back to back and the ratio is taken per
repetition, then the median reported.

Also shown: our DQN training N seeds in lockstep on the same core (aggregate env steps/s
of N independent runs, each with the schedule above), and the return each side reached
(mean over the last 50 episodes; at 20,000 steps on raw observations neither side is
expected to learn much: the prototype's SB3 runs reached 24-58 % success).

Then the floor of our loop (bench/floor.py: the update's matrix products at this core's
limit, its replay gather and the env step, everything else counted free), the ratio that
floor would allow, and what each target leaves for the rest against what it takes now.

Ends with the headline line ``VS SB3: ...``. Without stable-baselines3 it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    MATCHED,
    GridGymEnv,
    env_steps,
    last_mean,
    matched_config,
    median,
    mlp_body,
    one_thread,
    print_machine,
    print_table,
    spread,
)
from bench.floor import floor_line, loop_floor  # noqa: E402
from rl_rosetta_layer.agent import train_lockstep  # noqa: E402
from rl_rosetta_layer.envs import make_vector_env  # noqa: E402

TARGETS = {64: 10.0, 256: 5.0}


def run_ours(hidden: int, seeds: list[int], episodes: int) -> dict:
    env = make_vector_env("grid", len(seeds))
    config = matched_config(episodes)
    start, cpu = time.perf_counter(), time.process_time()
    results = train_lockstep(env, mlp_body(hidden), seeds, config)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    steps = env_steps(results)
    return {"steps": steps, "wall": wall, "sps": steps / cpu, "wall_sps": steps / wall,
            "ret": median([last_mean(r.returns) for r in results]),
            "succ": median([last_mean(r.successes) for r in results]),
            "updates": sum(r.updates for r in results)}


def run_sb3(hidden: int, seed: int, steps: int) -> dict:
    import torch
    from stable_baselines3 import DQN

    env = GridGymEnv()
    model = DQN(
        "MlpPolicy", env, learning_rate=MATCHED["lr"], buffer_size=MATCHED["buffer_size"],
        learning_starts=MATCHED["learning_starts"], batch_size=MATCHED["batch_size"],
        gamma=MATCHED["gamma"], train_freq=1, gradient_steps=1,
        target_update_interval=MATCHED["target_update"],
        exploration_fraction=min(1.0, MATCHED["eps_decay_steps"] / steps),
        exploration_initial_eps=MATCHED["eps_start"],
        exploration_final_eps=MATCHED["eps_end"], max_grad_norm=MATCHED["grad_clip"],
        policy_kwargs=dict(net_arch=[hidden], activation_fn=torch.nn.Tanh),
        device="cpu", seed=seed, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"steps": steps, "wall": wall, "sps": steps / cpu, "wall_sps": steps / wall,
            "ret": last_mean(env.episode_returns), "succ": last_mean(env.episode_successes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="64,256", help="hidden widths, comma list")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (seeds 0..reps-1)")
    parser.add_argument("--episodes", type=int, default=400,
                        help="our budget per run; about 20,000 env steps at 400")
    parser.add_argument("--lockstep", type=int, default=4,
                        help="also train this many seeds in lockstep (0: skip)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes for a smoke test (hidden 64, 1 rep, 12 episodes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.hidden, args.reps, args.episodes, args.lockstep = "64", 1, 12, 2
    hiddens = [int(h) for h in args.hidden.split(",")]

    try:
        import stable_baselines3
        import torch
    except ImportError as exc:
        print_machine()
        print(f"stable-baselines3 or torch is not installed ({exc}).")
        print("Install the bench extra: pip install torch==2.13.0 && pip install -e '.[bench]'")
        print("VS SB3: skipped (stable-baselines3 not installed)")
        return 0
    torch.set_num_threads(1)
    with one_thread():
        print_machine()
        print(f"stable-baselines3 {stable_baselines3.__version__}, "
              f"episodes per run {args.episodes}, repetitions {args.reps}\n")
        per_rep: list[list] = []
        summary = {}
        for h in hiddens:
            ours, sb3 = [], []
            for rep in range(args.reps):
                o = run_ours(h, [rep], args.episodes)
                s = run_sb3(h, rep, o["steps"])     # exactly the env steps ours took
                ours.append(o)
                sb3.append(s)
                for side, r in (("SB3 DQN", s), ("ours, 1 seed", o)):
                    per_rep.append(rep_row(h, rep, side, r))
            lock = None
            if args.lockstep > 1:
                seeds = list(range(100, 100 + args.lockstep))
                lock = run_ours(h, seeds, args.episodes)
                per_rep.append(rep_row(h, "-", f"ours, {args.lockstep} seeds lockstep", lock))
            summary[h] = (ours, sb3, lock)

        print_table(["hidden", "rep", "side", "env steps", "wall s", "CPU s",
                     "steps/s (CPU)", "steps/s (wall)", "return last 50", "success last 50"],
                    per_rep)
        print()
        rows = []
        for h, (ours, sb3, lock) in summary.items():
            cpu_ratios = [o["sps"] / s["sps"] for o, s in zip(ours, sb3)]
            wall_ratios = [o["wall_sps"] / s["wall_sps"] for o, s in zip(ours, sb3)]
            row = [h, spread([s["sps"] for s in sb3]), spread([o["sps"] for o in ours]),
                   spread(cpu_ratios, "{:.1f}x"), spread(wall_ratios, "{:.1f}x")]
            if lock is not None:
                row += [f"{lock['sps']:.0f}",
                        f"{lock['sps'] / median([s['sps'] for s in sb3]):.1f}x"]
            row.append(f"{TARGETS.get(h, float('nan')):.0f}x")
            rows.append(row)
        headers = ["hidden", "SB3 steps/s", "ours steps/s (1 seed)", "ratio (1 seed)",
                   "ratio, wall clock"]
        if args.lockstep > 1:
            headers += [f"ours, {args.lockstep} seeds lockstep", "ratio (lockstep)"]
        print("steps per CPU second of the process (robust to other jobs on the machine; "
              "one thread each side, so equal to steps/s on a quiet core); median (min-max) "
              "over repetitions; ratios paired within a repetition")
        print_table(headers + ["target"], rows)
        print()
        floors = {h: loop_floor(mlp_body(h), matched_config(args.episodes),
                                median([o["updates"] / o["steps"] for o in ours]),
                                stored=int(median([o["steps"] for o in ours])))
                  for h, (ours, _, _) in summary.items()}
        # seconds per env step of each side (median over repetitions), and the ratio the
        # floor would allow if everything else were free
        step_s = {h: (1 / median([o["sps"] for o in ours]), 1 / median([s["sps"] for s in sb3]))
                  for h, (ours, sb3, _) in summary.items()}
        ceiling = {h: step_s[h][1] / floors[h].total for h in summary}
        print("## what the targets leave (floor: the update's matrix products at this core's "
              "limit, its replay gather and the env step; everything else counted free)")
        print_table(["hidden", "SB3 us/step", "ours us/step (1 seed)", "floor us/step",
                     "ratio if the rest were free", "target"],
                    [[h, f"{step_s[h][1] * 1e6:.0f}", f"{step_s[h][0] * 1e6:.0f}",
                      f"{floors[h].total * 1e6:.0f}", f"{ceiling[h]:.1f}x",
                      f"{TARGETS.get(h, float('nan')):.0f}x"] for h in summary])
        for h in summary:
            if h in TARGETS:
                print(floor_line(f"{h} units at {TARGETS[h]:.0f}x SB3",
                                 step_s[h][1] / TARGETS[h], floors[h], step_s[h][0]))
        print()

    parts = []
    for h, (ours, sb3, lock) in summary.items():
        ratio = median([o["sps"] / s["sps"] for o, s in zip(ours, sb3)])
        target = TARGETS.get(h)
        verdict = "" if target is None else \
            f" (target {target:.0f}x: {'met' if ratio >= target else 'MISSED'}; " \
            f"{ceiling[h]:.1f}x if all but the floor were free)"
        lk = ""
        if lock is not None:
            lk = f", {args.lockstep} seeds lockstep " \
                 f"{lock['sps'] / median([s['sps'] for s in sb3]):.1f}x"
        parts.append(f"{h} units {ratio:.1f}x{verdict}{lk}")
    print("VS SB3: our DQN / SB3 DQN env steps per CPU second, one core, 1 seed each: "
          + "; ".join(parts))
    return 0


def rep_row(h, rep, side: str, r: dict) -> list:
    return [h, rep, side, r["steps"], f"{r['wall']:.1f}", f"{r['steps'] / r['sps']:.1f}",
            f"{r['sps']:.0f}", f"{r['wall_sps']:.0f}", f"{r['ret']:.3f}", f"{r['succ']:.2f}"]


if __name__ == "__main__":
    sys.exit(main())
