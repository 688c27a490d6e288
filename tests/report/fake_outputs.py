"""A small output folder written directly (no training): runs with known returns, some of
them diverged or failed, the analysis CSV and the selected layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rl_rosetta_layer.agent.result import RunResult
from rl_rosetta_layer.analysis.score import METRICS
from rl_rosetta_layer.experiments.outputs import write_experiment_outputs
from rl_rosetta_layer.io import write_csv

#: layer -> final return of seeds 0, 1, 2 (None: the run diverged; "failed": it raised).
FINALS = {
    "structured_mid": (1.0, 0.8, 0.6),
    "random_wide": (0.5, 0.4, 0.3),
    "identity": (0.0, 0.1, None),
}
EPISODES = 12


def run(layer: str, seed: int, final, episodes: int = EPISODES) -> RunResult:
    """A run whose every episode returns ``final`` (a diverged run stops half way)."""
    bad = final is None or final == "failed"
    n = episodes // 2 if bad else episodes
    value = 0.0 if bad else float(final)
    return RunResult(layer=layer, seed=seed, returns=np.full(n, value),
                     lengths=np.full(n, 7, np.int64), successes=np.ones(n, bool),
                     diverged=final is None, error="" if not bad else "non-finite loss",
                     updates=10 * n)


def write_outputs(out: Path, finals: dict = FINALS, selected: str | None = "structured_mid",
                  analysis: bool = True) -> Path:
    """Write experiment_*.csv (and layer_analysis*.csv, selected_layer.txt) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = [run(layer, seed, final) for layer, values in finals.items()
               for seed, final in enumerate(values)]
    write_experiment_outputs(out, results, np.random.default_rng(0))
    if analysis:
        rows = []
        for k, layer in enumerate(finals):
            row = {"layer": layer, "dataset_steps": 400, "seed": 0}
            for j, m in enumerate(METRICS):
                row[m] = 0.1 * (len(finals) - k) + 0.01 * j
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = row[m] - 0.05, row[m] + 0.05
            rows.append(row)
        columns = ("layer",) + METRICS + tuple(f"{m}_ci_{b}" for m in METRICS
                                               for b in ("low", "high")) + ("dataset_steps",
                                                                            "seed")
        write_csv(out / "layer_analysis.csv", rows, columns)
    if selected is not None:
        (out / "selected_layer.txt").write_text(selected + "\n")
    return out
