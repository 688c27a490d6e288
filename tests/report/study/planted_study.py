"""A study folder written directly (no training), with planted returns whose verdicts are
known: two tasks, one pretrained block with its random and shuffled twins, the bypass,
``identity``, ``mlp_full`` and ``structured_mid``, 10 seeds.

On ``grid`` (random -0.2, reference 0.8) the block reaches 0.8 of the achievable, its
random twin 0.5 (one of its runs flagged), its shuffled twin 0.8, the bypass 0.75,
``identity`` 0.5, ``mlp_full`` 0.9, ``structured_mid`` 0.2. On ``catch`` (random -0.5,
reference 1.0) every layer sits near the ceiling but ``structured_mid`` (0.5) and the
bypass, which stays at ``catch_bypass`` of the achievable (0.03: the positive control
fails there). Every run's
final evaluation is its fraction plus seed noise (SD 0.02), its mean over checkpoints 0.1
lower, and its last 50 training episodes 0.05 higher (so the measure a table used can be
told).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rl_rosetta_layer.analysis.acting import ACTING_METRICS
from rl_rosetta_layer.analysis.score import METRICS
from rl_rosetta_layer.io import write_csv

BLOCK = "tiny-video:transformer_blocks.0"
TWIN, SHUFFLED, BYPASS = f"{BLOCK}:random", f"{BLOCK}:shuffled", "tiny-video:bypass"
LAYERS = (BLOCK, TWIN, SHUFFLED, BYPASS, "identity", "mlp_full", "structured_mid")
SEEDS = tuple(range(10))
TASKS = {"grid": (-0.2, 0.8), "catch": (-0.5, 1.0)}
FRACS = {"grid": dict(zip(LAYERS, (0.8, 0.5, 0.8, 0.75, 0.5, 0.9, 0.2))),
         "catch": dict(zip(LAYERS, (0.95, 0.95, 0.95, None, 0.99, 0.99, 0.5)))}
#: (task, layer, seed) of the one flagged run.
FLAGGED = ("grid", TWIN, 3)
NOISE = 0.02
EPISODES = 60


def planted_fracs(catch_bypass: float = 0.03) -> dict[str, dict[str, np.ndarray]]:
    """task -> layer -> (seeds,) final evaluation as a fraction of the achievable."""
    rng = np.random.default_rng(7)
    out = {}
    for env, fracs in FRACS.items():
        out[env] = {n: (catch_bypass if v is None else v) + NOISE * rng.standard_normal(
            len(SEEDS)) for n, v in fracs.items()}
    return out


def write_study(out: Path, *, catch_bypass: float = 0.03, evaluations: bool = True,
                similarity: bool = True) -> dict:
    """Write the study folder; returns the plan (``study_plan.json``'s content)."""
    out = Path(out)
    fracs = planted_fracs(catch_bypass)
    tasks = []
    for env, (lo, hi) in TASKS.items():
        for policy, value in (("random", lo), ("one-frame", (lo + hi) / 2), ("reference", hi)):
            tasks.append({"env": env, "policy": policy, "episodes": 100, "mean_return": value,
                          "ci_low": value, "ci_high": value, "success_rate": 1.0,
                          "mean_length": 5.0, "mean_optimal_return": hi})
        _write_task(out / env, env, fracs[env], lo, hi - lo, evaluations,
                    similarity and env == "grid")
    write_csv(out / "tasks.csv", tasks, tuple(tasks[0]))
    plan = {"backbone": "tiny-video", "seeds": list(SEEDS), "dataset_steps": 100,
            "task_episodes": 100, "envs": [{"name": e} for e in TASKS],
            "budgets": {e: 1000 for e in TASKS},
            "config": {"env_steps": 1000, "batch_size": 64, "train_every": 2,
                       "adapter": "none", "head": "mlp", "head_norm": "layer",
                       "eval_checkpoints": 10 if evaluations else 0}}
    (out / "study_plan.json").write_text(json.dumps(plan))
    return plan


def _write_task(folder: Path, env: str, fracs: dict, random: float, scale: float,
                evaluations: bool, similarity: bool) -> None:
    folder.mkdir(parents=True)
    returns, runs = [], []
    for layer, values in fracs.items():
        for seed, f in zip(SEEDS, values):
            final = random + f * scale
            train = final + 0.05 * scale
            returns += [{"layer": layer, "seed": seed, "episode": e, "return": train,
                         "env_steps": 10 * (e + 1), "length": 10, "success": 1,
                         "status": "ok"} for e in range(EPISODES)]
            flagged = (env, layer, seed) == FLAGGED
            runs.append({"layer": layer, "seed": seed, "status": "ok",
                         "flags": "constant_policy" if flagged else "",
                         "episodes": EPISODES, "mean_last_50": train,
                         "q_spread": 0.0 if flagged else 0.5, "saturated_share": 0.0,
                         "dead_share": 0.0, "feature_rel_std": 1.0,
                         "final_eval": final, "auc_eval": final - 0.1 * scale})
    write_csv(folder / "experiment_returns.csv", returns, tuple(returns[0]))
    columns = tuple(runs[0]) if evaluations else tuple(runs[0])[:-2]
    write_csv(folder / "experiment_runs.csv", runs, columns)
    means = {n: float(v.mean()) for n, v in fracs.items() if n != "mlp_full"}
    rank = {n: i for i, n in enumerate(sorted(means, key=means.get))}
    analysis = [{"layer": n, **{m: 0.5 for m in METRICS}, "composite_score": rank[n] / 10,
                 "state_r2": float(i), **{m: 0.3 for m in ACTING_METRICS},
                 "bc_accuracy": -rank[n] / 10} for i, n in enumerate(means)]
    write_csv(folder / "layer_analysis.csv", analysis, tuple(analysis[0]))
    (folder / "selected_layer.txt").write_text("structured_mid\n")
    if similarity:
        sim = [{"layer": BLOCK, "kind": "pretrained", "block": BLOCK, "cka_to_block": 1.0,
                "cka_to_bypass": 0.9},
               {"layer": TWIN, "kind": "random", "block": BLOCK, "cka_to_block": 0.9,
                "cka_to_bypass": 0.99},
               {"layer": SHUFFLED, "kind": "shuffled", "block": BLOCK, "cka_to_block": 0.95,
                "cka_to_bypass": 0.97}]
        write_csv(folder / "layer_similarity.csv", sim, tuple(sim[0]))
