"""Sweep scaling: 1 vs 2 local workers, and Ray against local workers, on one 12-run sweep.

    python bench/sweep_scaling.py [--episodes 120] [--repeat 2] [--no-ray]
    python bench/sweep_scaling.py --quick   # 5 episodes, one round, local workers only

The sweep is the seed's comparison (4 candidate layers x 3 seeds, 8x8 grid, default DQN)
with a shorter budget. Each mode runs ``rosetta sweep`` as its own process into a fresh
folder, timed end to end (start-up included), and every mode's outputs are checked to be
byte for byte the same as the 1-worker ones (manifests aside). Modes:

- ``local x1`` / ``local x2``: local worker processes (1 trains in the sweep's process);
- ``ray (own instance)``: ``--executor ray`` starting and stopping a local 2-CPU instance;
- ``ray (running)``: ``--executor ray --ray-address <addr>`` on a 2-CPU instance that
  ``ray start --head`` started beforehand (the cluster case: the instance is already up).

Ends with the headline: the 2-worker speedup against 1.8x and Ray's time against local
workers' (target: within 20 %).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = """\
name = "scaling"
layers = "candidates"
seeds = [0, 1, 2]

[dqn]
episodes = {episodes}
"""

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(path: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the sweep's process and the workers it waited for)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "rl_rosetta_layer.cli", "sweep", str(path), "--output-dir",
           str(out), "--quiet", *extra]
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, _children_cpu() - cpu


def _spin(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


def machine_ceiling(n: int) -> float:
    """Speedup of 2 processes over 1 on a trivially parallel pure-Python loop, right now:
    what this machine (and whatever else runs on it) allows any 2-worker job."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_spin, [1000, 1000])                      # start-up outside the timing
        start = time.perf_counter()
        pool.map(_spin, [n])
        one = time.perf_counter() - start
        start = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        two = time.perf_counter() - start
    return 2 * one / two


def start_ray() -> str | None:
    """``ray start --head`` with 2 CPUs; returns its address (None if it did not start)."""
    ray = shutil.which("ray")
    if ray is None:
        return None
    proc = subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--include-dashboard",
                           "false", "--disable-usage-stats"],
                          env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"ray start failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return "auto"


def stop_ray() -> None:
    ray = shutil.which("ray")
    if ray is not None:
        subprocess.run([ray, "stop", "--force"], env=ENV, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=120, help="episodes per run")
    parser.add_argument("--repeat", type=int, default=2,
                        help="rounds over all modes; the best of each is reported")
    parser.add_argument("--no-ray", action="store_true", help="local workers only")
    parser.add_argument("--quick", action="store_true",
                        help="5 episodes per run, one round, local workers only")
    parser.add_argument("--ceiling-steps", type=int, default=15_000_000,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.repeat, args.ceiling_steps = 5, 1, 1_000_000
        if not args.no_ray:
            print("--quick: Ray modes skipped (starting Ray takes longer than the whole "
                  "quick suite)")
        args.no_ray = True
    try:
        import ray  # noqa: F401
        have_ray = not args.no_ray
    except ImportError:
        have_ray = False
        print("ray is not installed (pip install -e '.[ray]'): Ray modes skipped")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "scaling.toml"
        path.write_text(SWEEP.format(episodes=args.episodes))
        modes = {"local x1": ["--workers", "1"], "local x2": ["--workers", "2"]}
        if have_ray:
            modes["ray (own instance)"] = ["--executor", "ray", "--workers", "2"]
        times: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
        same: dict[str, bool] = {}
        ceilings: list[float] = []
        reference = None
        for _ in range(args.repeat):
            ceilings.append(machine_ceiling(args.ceiling_steps))
            for mode, extra in modes.items():
                out = tmp / mode.replace(" ", "_").replace("(", "").replace(")", "")
                times[mode].append(sweep(path, out, *extra))
                reference = reference or tree(out)
                same[mode] = same.get(mode, True) and tree(out) == reference
            if have_ray:
                mode = "ray (running)"
                address = start_ray()
                if address is not None:
                    try:
                        out = tmp / "ray_running"
                        times.setdefault(mode, []).append(sweep(
                            path, out, "--executor", "ray", "--ray-address", address))
                        same[mode] = same.get(mode, True) and tree(out) == reference
                    finally:
                        stop_ray()

    load_after = os.getloadavg()[0]
    runs = {m: min(t) for m, t in times.items() if t}
    best = {m: wall for m, (wall, _) in runs.items()}
    one = best["local x1"]
    print(f"12-run sweep (4 candidates x 3 seeds, {args.episodes} episodes, 8x8 grid), "
          f"{os.cpu_count()} cores; best of {args.repeat}, seconds end to end")
    print(f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after"
          + ("  <- other work shared the cores: timings are unreliable"
             if max(load_before, load_after) > 2.5 else "") + "\n")
    print(f"{'mode':<22} {'seconds':>8} {'vs local x1':>12} {'vs local x2':>12} "
          f"{'same bytes':>11} {'cores used':>11}")
    for mode, seconds in best.items():
        cpu = runs[mode][1]
        cores = f"{cpu / seconds:.2f}" if mode.startswith("local") else "-"
        print(f"{mode:<22} {seconds:>8.1f} {one / seconds:>11.2f}x "
              f"{seconds / best['local x2']:>11.2f}x {str(same[mode]):>11} {cores:>11}")
    print("(cores used: CPU seconds of the sweep and its workers / wall seconds; well under "
          "the worker count means other work held the cores)")
    print(f"machine's own 2-process ceiling on a pure-Python loop, each round: "
          f"{', '.join(f'{c:.2f}x' for c in ceilings)}")
    speedup = one / best["local x2"]
    line = (f"\nSWEEP SCALING: 2 workers {speedup:.2f}x faster than 1 (target >= 1.8x: "
            f"{'met' if speedup >= 1.8 else 'MISSED'})")
    for mode in ("ray (own instance)", "ray (running)"):
        if mode in best:
            ratio = best[mode] / best["local x2"]
            line += (f"; {mode} {100 * (ratio - 1):+.0f} % vs local x2 (target within 20 %: "
                     f"{'met' if ratio <= 1.2 else 'MISSED'})")
    line += f"; outputs identical: {all(same.values())}"
    print(line + (" (quick: too short to time)" if args.quick else ""))
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
