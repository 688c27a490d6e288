"""Wall time and learning of the seed's whole Run Order, run exactly as the README gives it.

    python bench/run_order.py [--lockstep N] [--workers N] [--layers all]
    python bench/run_order.py --quick      # 400 dataset steps, 10 episodes, seed 0

Runs the three Run Order commands in a fresh temporary folder, prints the time of each and
every layer's mean_last_50, and ends with the headline: total seconds against the
:data:`TARGET_SECONDS` target and the structured layer's mean_last_50 against 0.90
(``--quick`` runs the same commands with a tiny budget: the targets do not apply).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Wall seconds the whole Run Order should take (the prototype: 189.5 s).
TARGET_SECONDS = 20.0
STEPS = [
    ["scripts/run_layer_analysis.py", "--dataset-steps", "8000", "--seed", "0"],
    ["scripts/run_experiments.py", "--episodes", "350", "--seeds", "0,1,2", "--batch-size", "64"],
    ["scripts/export_markdown_tables.py"],
]
QUICK_STEPS = [
    ["scripts/run_layer_analysis.py", "--dataset-steps", "400", "--seed", "0"],
    ["scripts/run_experiments.py", "--episodes", "10", "--seeds", "0", "--batch-size", "64"],
    ["scripts/export_markdown_tables.py"],
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lockstep", default=None, help="passed to run_experiments.py")
    parser.add_argument("--workers", default=None, help="passed to run_experiments.py")
    parser.add_argument("--layers", default=None, help="passed to run_experiments.py")
    parser.add_argument("--quick", action="store_true",
                        help="tiny budget (400 dataset steps, 10 episodes, seed 0)")
    args = parser.parse_args(argv)
    steps = QUICK_STEPS if args.quick else STEPS
    extra = []
    for flag in ("lockstep", "workers", "layers"):
        if getattr(args, flag) is not None:
            extra += [f"--{flag}", getattr(args, flag)]
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for step in steps:
            cmd = [sys.executable, str(ROOT / step[0]), *step[1:], "--quiet"]
            if step[0].endswith("export_markdown_tables.py"):
                cmd = [sys.executable, str(ROOT / step[0])]
            elif step[0].endswith("run_experiments.py"):
                cmd += extra
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}"
                      f"{proc.stderr}")
                return 1
        with open(Path(tmp) / "outputs" / "experiment_summary.csv", newline="") as f:
            summary = list(csv.DictReader(f))
    print(f"{'step':<34} {'seconds':>8}")
    for step, seconds in zip(steps, times):
        print(f"{Path(step[0]).name:<34} {seconds:>8.1f}")
    print(f"\n{'layer':<18} {'mean_last_50':>12} {'success_last_50':>16} {'env steps/run':>14}")
    for row in summary:
        print(f"{row['layer']:<18} {float(row['mean_last_50']):>12.3f} "
              f"{float(row['success_last_50']):>16.3f} {float(row['mean_env_steps']):>14.0f}")
    structured = next((float(r["mean_last_50"]) for r in summary
                       if r["layer"] == "structured_mid"), float("nan"))
    total = sum(times)
    if args.quick:
        print(f"\nRUN ORDER: wall time {total:.1f} s; structured_mid mean_last_50 "
              f"{structured:.3f} (quick: tiny budget, the targets do not apply)")
    else:
        print(f"\nRUN ORDER: wall time {total:.1f} s (target <= {TARGET_SECONDS:.0f} s: "
              f"{'met' if total <= TARGET_SECONDS else 'MISSED'}); structured_mid mean_last_50 "
              f"{structured:.3f} (target >= 0.90: {'met' if structured >= 0.90 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
