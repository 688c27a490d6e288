"""Wall time and learning of the seed's whole Run Order, run exactly as the README gives it.

    python bench/run_order.py [--lockstep N] [--workers N] [--layers all]

Runs the three Run Order commands in a fresh temporary folder, prints the time of each and
every layer's mean_last_50, and ends with the headline: total seconds against the 40 s
target and the structured layer's mean_last_50 against 0.90.
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
STEPS = [
    ["scripts/run_layer_analysis.py", "--dataset-steps", "8000", "--seed", "0"],
    ["scripts/run_experiments.py", "--episodes", "350", "--seeds", "0,1,2", "--batch-size", "64"],
    ["scripts/export_markdown_tables.py"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lockstep", default=None, help="passed to run_experiments.py")
    parser.add_argument("--workers", default=None, help="passed to run_experiments.py")
    parser.add_argument("--layers", default=None, help="passed to run_experiments.py")
    args = parser.parse_args()
    extra = []
    for flag in ("lockstep", "workers", "layers"):
        if getattr(args, flag) is not None:
            extra += [f"--{flag}", getattr(args, flag)]
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for step in STEPS:
            cmd = [sys.executable, str(ROOT / step[0]), *step[1:], "--quiet"]
            if step[0].endswith("export_markdown_tables.py"):
                cmd = [sys.executable, str(ROOT / step[0])]
            elif step[0].endswith("run_experiments.py"):
                cmd += extra
            start = time.perf_counter()
            subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        with open(Path(tmp) / "outputs" / "experiment_summary.csv", newline="") as f:
            summary = list(csv.DictReader(f))
    print(f"{'step':<34} {'seconds':>8}")
    for step, seconds in zip(STEPS, times):
        print(f"{Path(step[0]).name:<34} {seconds:>8.1f}")
    print(f"\n{'layer':<18} {'mean_last_50':>12} {'success_last_50':>16} {'env steps/run':>14}")
    for row in summary:
        print(f"{row['layer']:<18} {float(row['mean_last_50']):>12.3f} "
              f"{float(row['success_last_50']):>16.3f} {float(row['mean_env_steps']):>14.0f}")
    structured = next((float(r["mean_last_50"]) for r in summary
                       if r["layer"] == "structured_mid"), float("nan"))
    total = sum(times)
    print(f"\nRun Order wall time {total:.1f} s (target <= 40 s: "
          f"{'met' if total <= 40 else 'MISSED'}); structured_mid mean_last_50 "
          f"{structured:.3f} (target >= 0.90: {'met' if structured >= 0.90 else 'MISSED'})")


if __name__ == "__main__":
    main()
