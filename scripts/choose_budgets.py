"""The study's budget rule, applied on development seeds the study never uses.

    python scripts/choose_budgets.py                      # every task, 3 development seeds
    python scripts/choose_budgets.py --envs catch --seeds 100 --max-steps 20000   # a smoke run

The rule (docs/budget-rule.md), written before the study's own runs: for each task, the
budget is the smallest of BUDGETS env steps at which the best from-scratch layer
(``mlp_full``) reaches at least ``HIGH`` of the achievable while ``identity`` (the adapters
alone on the raw observation) stays below ``LOW`` (means over the development seeds of the
final greedy evaluation, as a fraction of the achievable: 0 the random policy, 1 the
reference): room above and below, so the task can tell layers apart. A task where no
budget qualifies is left out of the default study. The replay ratio is the project
default (batch 64, an update every 2 env steps); everything else is the study's DQN.

Training never looks at its budget (a fixed epsilon schedule, a replay smaller than every
budget), so one run of the largest budget, evaluated at checkpoints that include every
budget of the list, gives each budget's final evaluation: the network at step B of a
200k-step run is the network a B-step run ends with. Writes, under ``--output-dir``
(default ``docs/study-results``), ``budget_dev_runs.csv`` (one row per task, layer, seed
and checkpoint), ``budget_rule.csv`` (per task and budget: both layers' means, whether the
rule holds) and prints the budgets.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rl_rosetta_layer.agent.dqn import train_lockstep
from rl_rosetta_layer.agent.health import probe_observations
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.experiments.study import task_rows
from rl_rosetta_layer.experiments.study_defaults import STUDY_CONFIG, TASK_EPISODES
from rl_rosetta_layer.io import write_csv
from rl_rosetta_layer.layers.registry import build_layers

BUDGETS = (20_000, 50_000, 100_000, 200_000)
HIGH, LOW = 0.9, 0.8
LAYERS = ("mlp_full", "identity")
#: Development seeds: never among a study's (the default study uses 0-9).
DEV_SEEDS = (100, 101, 102)
#: Evaluation checkpoints every this many env steps (every budget is a multiple of it).
EVERY = 10_000
ENVS = ("catch", "moving-goal", "grid")


def rule_rows(rows: list[dict], budgets, high: float = HIGH, low: float = LOW) -> list[dict]:
    """Per task and budget: the mean normalised final evaluation of each layer over the
    seeds and whether the rule holds there (``rows``: ``budget_dev_runs.csv``)."""
    out = []
    for env in dict.fromkeys(r["env"] for r in rows):
        for budget in budgets:
            means = {}
            for layer in LAYERS:
                vals = [float(r["normalised"]) for r in rows if r["env"] == env
                        and r["layer"] == layer and int(r["env_steps"]) == budget]
                means[layer] = float(np.mean(vals)) if vals else float("nan")
            holds = means["mlp_full"] >= high and means["identity"] < low
            out.append({"env": env, "budget": budget, "mlp_full": round(means["mlp_full"], 4),
                        "identity": round(means["identity"], 4), "rule_holds": holds})
    return out


def chosen(rule: list[dict]) -> dict[str, int | None]:
    """The smallest budget per task at which the rule holds (None: no budget qualifies)."""
    out: dict[str, int | None] = {}
    for row in rule:
        out.setdefault(row["env"], None)
        if row["rule_holds"] and out[row["env"]] is None:
            out[row["env"]] = row["budget"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default=",".join(ENVS))
    parser.add_argument("--seeds", default=",".join(map(str, DEV_SEEDS)))
    parser.add_argument("--max-steps", type=int, default=BUDGETS[-1])
    parser.add_argument("--output-dir", type=Path, default=Path("docs/study-results"))
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = [b for b in BUDGETS if b <= args.max_steps] or [args.max_steps]
    every = min(EVERY, budgets[0])
    config = replace(STUDY_CONFIG, batch_size=64, env_steps=args.max_steps,
                     eval_checkpoints=args.max_steps // every)
    rows = []
    for env_name in args.envs.split(","):
        spec = EnvSpec(env_name)
        tasks = {r["policy"]: r for r in task_rows(spec, TASK_EPISODES)}
        low_end = float(tasks["random"]["mean_return"])
        high_end = float(tasks["reference"]["mean_optimal_return"])
        for name in LAYERS:
            start = time.perf_counter()
            layer = build_layers([name], spec.observations())[name]
            results = train_lockstep(spec.make(len(seeds)), layer, seeds, config,
                                     probe=probe_observations(spec.make(1)),
                                     eval_env=spec.make)
            for result in results:
                for e in result.evaluations:
                    mean = float(np.mean(e["returns"]))
                    rows.append({"env": env_name, "layer": name, "seed": result.seed,
                                 "env_steps": e["env_steps"], "mean_return": round(mean, 4),
                                 "normalised": round((mean - low_end) / (high_end - low_end),
                                                     4),
                                 "flags": ";".join(result.flags),
                                 "status": result.status})
            print(f"{env_name} {name}: {time.perf_counter() - start:.0f} s", flush=True)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_csv(args.output_dir / "budget_dev_runs.csv", rows, list(rows[0]))
    rule = rule_rows(rows, budgets)
    write_csv(args.output_dir / "budget_rule.csv", rule, list(rule[0]))
    writer = csv.writer(sys.stdout)
    for row in rule:
        writer.writerow(row.values())
    for env, budget in chosen(rule).items():
        print(f"{env}: {budget if budget is not None else 'no budget qualifies'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
