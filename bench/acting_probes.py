"""Seconds per layer of each acting probe (behaviour cloning, Q-values, the RL proxy) and of
the ridge probes, for the default study's layer kinds on its tasks; the analysis' share of
the study.

    python -m bench acting_probes            # or: python bench/acting_probes.py
    python bench/acting_probes.py --quick    # tiny sizes, catch only, two layers

For each task (``DEFAULT_ENVS``) it collects the demonstrations once (``--demo-steps``,
default the study's ``DEFAULT_DATASET_STEPS``, as ``rosetta study`` does) and times, per
layer, CPU seconds of this thread with one BLAS and one torch thread: the ridge probes of
``analysis/score.py`` (on as many random transitions), behaviour cloning alone (``bc``:
features, fit, greedy episodes), the Q-value head alone (``q``), both in lockstep as the
study runs them (``bc+q``), and the RL proxy (``rl``: the study's DQN for
``--rl-fraction`` of its budget on 3 seeds, then its greedy evaluation). Layers: one of each
kind the study analyses (block 1, its random twin, the stack of blocks 0..3, the bypass,
``identity``, two synthetic candidates) and ``mlp_full`` (trained end to end: the study's
analysis leaves it out; here for its scores). It then prints the scores and projects the
default study's analysis (17 layers per task) against ``--study-minutes`` (the shipped
study's wall time on ``--study-workers`` workers). Without the video extra it measures the
numpy layers only.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import clock, one_thread, print_machine, print_table  # noqa: E402

BLOCK = "tiny-video:transformer_blocks.1"
TWIN = f"{BLOCK}:random"
STACK = "tiny-video:transformer_blocks.3:prefix"
BYPASS = "tiny-video:bypass"
VIDEO = (BLOCK, TWIN, STACK, BYPASS)
NUMPY = ("identity", "random_wide", "structured_mid")
SCORES = ("bc_accuracy", "bc_accuracy_decisive", "bc_return", "q_r2", "q_return",
          "rl_proxy_return")


def timed(fn):
    start = clock()
    out = fn()
    return out, clock() - start


def measure_task(task: str, layers: list[str], demo_steps: int, config, rl_fraction: float,
                 n_bootstrap: int) -> tuple[float, dict, dict]:
    """(demonstration seconds, layer -> probe -> seconds, layer -> column -> score)."""
    from rl_rosetta_layer.agent.acting import ActingProbes
    from rl_rosetta_layer.analysis import collect_transitions
    from rl_rosetta_layer.analysis.acting import ActingSettings
    from rl_rosetta_layer.analysis.score import prepare_split, score_layer
    from rl_rosetta_layer.experiments.spec import EnvSpec
    from rl_rosetta_layer.layers.registry import build_layers

    env = EnvSpec(task)
    settings = ActingSettings(demo_steps=demo_steps, rl_fraction=rl_fraction)
    full, demo_s = timed(lambda: ActingProbes(env.make, config, settings,
                                              n_bootstrap=n_bootstrap))
    alone = {p: ActingProbes(env.make, config, settings, probes=(p,), n_bootstrap=n_bootstrap,
                             data=full.data) for p in ("bc", "q")}
    data_env = env.make(8)
    data_env.seed_with([np.random.default_rng(i) for i in range(8)])
    data = collect_transitions(data_env, demo_steps, np.random.default_rng(8))
    rng = np.random.default_rng(9)
    split = prepare_split(data, rng, n_bootstrap=n_bootstrap)
    seconds, scores = {}, {}
    for name in layers:
        # A fresh layer for each timing: a video block remembers the codes it made, and in
        # the study every layer is built once, for its own analysis.
        def fresh(name=name):
            return build_layers([name], env.observations())[name]

        fresh()                                    # loads a checkpoint once, untimed
        row = {}
        if name != "mlp_full":
            layer = fresh()
            _, row["ridge"] = timed(lambda layer=layer: score_layer(layer, data, *split, rng))
        for p, probe in alone.items():
            layer = fresh()
            _, row[p] = timed(lambda probe=probe, layer=layer: probe(layer))
        layer = fresh()
        got, both = timed(lambda layer=layer: full(layer))
        row["rl"] = full.seconds[name]["rl"]
        row["bc+q"] = both - row["rl"]
        seconds[name], scores[name] = row, {k: v[0] for k, v in got.items()}
        print(f"  {task} {name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in row.items()),
              flush=True)
    return demo_s, seconds, scores


def kind_seconds(seconds: dict, name: str) -> float:
    """Acting-probe seconds (bc+q in lockstep and the RL proxy) standing for study layer
    ``name``, with the ridge probes, from the measured layers (a stack of k + 1 blocks:
    (k + 1) / 4 of the measured 4-block stack's cost above the bypass; candidates: the
    synthetic ones' mean; with ``--quick``, a kind not measured: the measured layers'
    mean)."""
    def acting(n):
        return seconds[n]["bc+q"] + seconds[n]["rl"]

    if name in seconds:
        return acting(name) + seconds[name].get("ridge", 0.0)
    if name.endswith(":prefix") and STACK in seconds:
        blocks = int(name.split(":")[1].rsplit(".", 1)[1]) + 1
        extra = blocks / 4 * max(acting(STACK) - acting(BYPASS), 0.0)
        return acting(BYPASS) + extra + seconds[STACK].get("ridge", 0.0)
    if name.endswith(":random") and TWIN in seconds:
        return kind_seconds(seconds, TWIN)
    if ":" in name and BLOCK in seconds:
        return kind_seconds(seconds, BLOCK)
    like = [n for n in ("random_wide", "structured_mid") if n in seconds] \
        or [n for n in seconds if n != "mlp_full"]          # --quick: what was measured
    return float(np.mean([kind_seconds(seconds, n) for n in like]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="catch only, 200 demonstrations, two layers, a 400-step budget")
    parser.add_argument("--demo-steps", type=int, default=None,
                        help="demonstration states per task (default: the study's "
                             "DEFAULT_DATASET_STEPS)")
    parser.add_argument("--rl-fraction", type=float, default=0.05,
                        help="share of the study's budget the RL proxy trains for")
    parser.add_argument("--study-minutes", type=float, default=60.0,
                        help="wall minutes of the default study (measured: 60, README)")
    parser.add_argument("--study-workers", type=int, default=2,
                        help="workers the default study ran on")
    args = parser.parse_args(argv)
    print_machine()
    from rl_rosetta_layer.experiments.study_defaults import (
        DEFAULT_DATASET_STEPS,
        DEFAULT_ENVS,
        DEFAULT_LAYERS,
        STUDY_CONFIG,
    )
    from rl_rosetta_layer.layers.registry import expand_layer_names

    video = all(importlib.util.find_spec(m) is not None
                for m in ("torch", "diffusers", "safetensors"))
    if not video:
        print("(the video extra is missing: numpy layers only)\n")
    config, tasks = STUDY_CONFIG, DEFAULT_ENVS
    demo_steps = args.demo_steps or DEFAULT_DATASET_STEPS
    layers = [*(VIDEO if video else ()), *NUMPY, "mlp_full"]
    if args.quick:
        config, tasks, demo_steps = replace(config, env_steps=400), tasks[:1], 200
        layers = [BLOCK if video else "random_wide", "identity"]
    measured = {}
    with one_thread():
        for task in tasks:
            measured[task] = measure_task(task, layers, demo_steps, config, args.rl_fraction,
                                          n_bootstrap=50)
    print(f"\n### CPU seconds per layer ({demo_steps} demonstration states and as many random "
          f"transitions per task; RL proxy {args.rl_fraction:.0%} of {config.env_steps:,} "
          f"env steps x 3 seeds)\n")
    rows = [(task, name, *(f"{s[name][k]:.2f}" if k in s[name] else "-"
                           for k in ("ridge", "bc", "q", "bc+q", "rl")))
            for task, (_, s, _) in measured.items() for name in layers]
    print_table(["task", "layer", "ridge", "bc", "q", "bc+q (lockstep)", "rl proxy"], rows)
    print("\nDemonstrations (once per task): " + ", ".join(
        f"{task} {demo:.1f} s" for task, (demo, _, _) in measured.items()))
    print("\n### Scores (bc and q in lockstep, as the study runs them)\n")
    print_table(["task", "layer", *SCORES],
                [(task, name, *(f"{sc[name][k]:.3f}" for k in SCORES))
                 for task, (_, _, sc) in measured.items() for name in layers])
    study = expand_layer_names(DEFAULT_LAYERS, backbone="tiny-video")
    analysed = [n for n in study if n != "mlp_full" and not n.endswith("@torch")]
    if not video:
        analysed = [n for n in analysed if ":" not in n]
    total = sum(demo + sum(kind_seconds(s, n) for n in analysed)
                for demo, s, _ in measured.values())
    ridge = sum(kind_seconds({k: {"ridge": v.get("ridge", 0.0), "bc+q": 0.0, "rl": 0.0}
                              for k, v in s.items()}, n)
                for _, s, _ in measured.values() for n in analysed)
    acting = total - ridge
    budget = args.study_minutes * 60 * args.study_workers
    per = measured[tasks[0]][1][layers[0]]
    print(f"\nDefault study's analysis ({len(analysed)} layers x {len(tasks)} tasks), CPU "
          f"minutes projected: ridge probes {ridge / 60:.1f}, acting probes (demonstrations, "
          f"bc+q, rl proxy) {acting / 60:.1f}, together {total / 60:.1f}: {total / budget:.1%} "
          f"of the study's {args.study_minutes:.0f} min on {args.study_workers} workers "
          f"(acting probes alone {acting / budget:.1%})")
    print(f"ACTING PROBES: {layers[0]} on {tasks[0]}: bc {per['bc']:.1f} s, q {per['q']:.1f} s, "
          f"bc+q {per['bc+q']:.1f} s, rl proxy {per['rl']:.1f} s per layer; the default "
          f"study's acting probes {acting / 60:.1f} CPU min ({acting / budget:.1%} of the "
          f"study), with the ridge probes {total / budget:.1%}"
          f"{' (quick: tiny sizes)' if args.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
