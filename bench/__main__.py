"""Run the benchmark scripts of this folder: ``python -m bench [NAME ...] [--quick] [-- ARGS]``.

Without names every script runs, in the order of :data:`ORDER` and then any other
``bench/*.py`` (so scripts added later are picked up). Each runs in its own process (so
thread settings and imports never leak from one to the next), with its output shown as it
comes; at the end a table gives each script's exit status, seconds and headline (its last
line). ``--quick`` passes ``--quick`` (tiny sizes: the whole suite in a minute or two) to
every script, so each script must take it (``tests/bench`` checks that); arguments after
``--`` go to every selected script. A script that needs something absent (an extra, a GPU)
says it is skipped and why, and exits 0. The exit status is 1 if any script failed.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Suite order: the cheap, headline benchmarks first.
ORDER = ("run_order", "vs_sb3", "machine_limit", "scaling", "gpu_blocks", "sweep_scaling",
         "stats_calibration", "rliable_check")
NOT_SCRIPTS = {"__init__", "__main__", "common", "floor"}


def scripts() -> dict[str, Path]:
    """name -> path of every benchmark script here, suite order first."""
    found = {p.stem: p for p in HERE.glob("*.py")
             if p.stem not in NOT_SCRIPTS and not p.stem.startswith("_")}
    ordered = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    return {n: found[n] for n in ordered}


def describe(path: Path) -> str:
    """First paragraph of a script's docstring, read without importing it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (OSError, SyntaxError):
        doc = None
    return " ".join(doc.strip().split("\n\n")[0].split()) if doc else ""


def run_one(path: Path, args: list[str]) -> tuple[int, float, str]:
    """Run one script, echoing its output; return (exit status, seconds, last line)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    start = time.perf_counter()
    last = ""
    with subprocess.Popen([sys.executable, str(path), *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last = line.strip()
        rc = proc.wait()
    return rc, time.perf_counter() - start, last


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    available = scripts()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0],
        epilog="scripts: " + ", ".join(available))
    parser.add_argument("names", nargs="*", help="scripts to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scripts and exit")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (a smoke test of every script, a minute or two)")
    args = parser.parse_args(argv)
    if args.list:
        width = max(len(n) for n in available)
        for name, path in available.items():
            print(f"{name:<{width}}  {describe(path)}")
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown script(s) {', '.join(unknown)}; accepted: "
                     f"{', '.join(available)}")
    selected = args.names or list(available)
    summary = []
    start = time.perf_counter()
    for name in selected:
        path = available[name]
        extra = (["--quick"] if args.quick else []) + passthrough
        print(f"\n{'=' * 20} {name}: python {path.relative_to(ROOT)} {' '.join(extra)}".rstrip())
        print(flush=True)
        rc, seconds, last = run_one(path, extra)
        summary.append((name, rc, seconds, last))
    print(f"\n{'=' * 20} summary")
    for name, rc, seconds, last in summary:
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"{name:<18} {status:<16} {seconds:7.1f} s  {last}")
    print(f"{len(summary)} script(s) in {time.perf_counter() - start:.1f} s")
    return 0 if all(rc == 0 for _, rc, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
