"""Random, one-frame and reference policies on the motion tasks: returns and success rates.

For each task (``moving-goal``, ``catch``; default settings unless ``--grid-size``,
``--history`` or ``--max-steps`` say otherwise) and each policy of
:data:`rl_rosetta_layer.envs.reference.POLICIES`, ``--copies`` vector copies seeded
``seed, seed + 1, ...`` each play exactly ``episodes / copies`` episodes. The environment
draws only at resets, so the k-th episode of copy i starts in the same state for every
policy: the comparison is paired (checked, and the episodes where the reference succeeds
and the one-frame policy fails are counted). Prints one Markdown table per task (mean
return with a 95 % normal interval, success rate, mean length, and the mean optimal return
of the same episodes) and ends with a line starting with ``MOTION TASKS:``. ``--out`` also
writes the numbers as JSON.

    python bench/motion_tasks.py                 # 2000 episodes per policy, seconds
    python bench/motion_tasks.py --quick         # 100 episodes per policy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rl_rosetta_layer.envs.playback import play, summary  # noqa: E402
from rl_rosetta_layer.envs.reference import POLICIES  # noqa: E402
from rl_rosetta_layer.envs.registry import make_vector_env  # noqa: E402
from rl_rosetta_layer.io import write_json  # noqa: E402

TASKS = ("moving-goal", "catch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000, help="episodes per policy")
    parser.add_argument("--copies", type=int, default=200, help="vector copies (divides "
                        "--episodes)")
    parser.add_argument("--seed", type=int, default=0, help="copy i is seeded seed + i")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--grid-size", type=int, default=8, help="side of the grid")
    parser.add_argument("--history", type=int, default=2, help="frames per observation")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="episode step limit (default: the task's, 40)")
    parser.add_argument("--quick", action="store_true", help="100 episodes, 20 copies")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.copies = 100, 20
    if args.copies < 1 or args.episodes < args.copies or args.episodes % args.copies:
        parser.error(f"--episodes ({args.episodes}) must be a positive multiple of --copies "
                     f"({args.copies})")
    print(f"{args.episodes} episodes per policy ({args.copies} copies x "
          f"{args.episodes // args.copies}), copies seeded {args.seed}..."
          f"{args.seed + args.copies - 1}, grid size {args.grid_size}, history {args.history}, "
          f"max_steps {args.max_steps or 'default'}\n")
    numbers: dict[str, dict] = {}
    headline = []
    for task in args.tasks:
        results = {p: play(make_vector_env(task, args.copies, grid_size=args.grid_size,
                                           history=args.history, max_steps=args.max_steps),
                           p, args.episodes // args.copies, args.seed) for p in POLICIES}
        paired = all(np.array_equal(results[p]["optimal"], results["reference"]["optimal"])
                     for p in POLICIES)
        ref_only = int(((results["reference"]["success"] == 1)
                        & (results["one-frame"]["success"] == 0)).sum())
        rows = {p: summary(results[p]) for p in POLICIES}
        numbers[task] = {"policies": rows, "paired_starts": paired,
                         "reference_succeeds_one_frame_fails": ref_only}
        print(f"### {task}\n")
        print("| policy | mean return (95% CI) | success rate | mean length |")
        print("|---|---|---:|---:|")
        for p, s in rows.items():
            print(f"| {p} | {s['mean_return']:.3f} ({s['ci_low']:.3f}, {s['ci_high']:.3f}) "
                  f"| {s['success_rate']:.3f} | {s['mean_length']:.2f} |")
        print(f"\noptimal return of the same episodes: "
              f"{rows['reference']['mean_optimal_return']:.3f}; identical episode starts for "
              f"every policy: {'yes' if paired else 'NO'}; reference succeeds where one-frame "
              f"fails: {ref_only} of {args.episodes} episodes\n")
        headline.append(f"{task} success reference {rows['reference']['success_rate']:.3f} / "
                        f"one-frame {rows['one-frame']['success_rate']:.3f} / random "
                        f"{rows['random']['success_rate']:.3f}")
    if args.out:
        write_json(args.out, {"episodes": args.episodes, "copies": args.copies,
                              "seed": args.seed, "tasks": numbers})
        print(f"wrote {args.out}")
    print("MOTION TASKS: " + "; ".join(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
