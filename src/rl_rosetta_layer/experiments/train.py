"""The training step: expand layers and seeds into runs, train them, write the outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..agent.config import DQNConfig
from ..analysis.run import read_selected
from ..errors import ConfigError
from ..layers.registry import BANK_NAMES, expand_layer_names
from .outputs import write_experiment_outputs, write_run
from .runner import run_all
from .spec import EnvSpec, RunSpec

#: Seed of the generator behind the summary's bootstrap CIs (fixed: same outputs each time).
SUMMARY_SEED = 20_240_601


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; ranges like ``"0-4"`` are accepted too.

    >>> parse_seeds("0,1,2"), parse_seeds("3-5")
    ([0, 1, 2], [3, 4, 5])
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            chunk = list(range(int(lo), int(hi) + 1)) if sep else [int(part)]
        except ValueError:
            chunk = []
        if not chunk or any(s < 0 for s in chunk):
            raise ConfigError(f"--seeds must be comma-separated non-negative integers or "
                              f"ranges like 0-4, got {text!r}")
        seeds += chunk
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds lists a seed twice: {text!r}")
    return seeds


def plan_runs(out_dir: Path, env_spec: EnvSpec, config: DQNConfig, seeds: list[int],
              layers: str) -> list[RunSpec]:
    """Every (layer, seed) run of a comparison, all with the same budget and config."""
    needs_selection = any(p.strip() in ("selected", "bank", "baselines", "all")
                          or p.strip() in BANK_NAMES for p in str(layers).split(","))
    selected = read_selected(out_dir) if needs_selection else None
    names = expand_layer_names(layers, selected)
    return [RunSpec(env_spec, name, seed, config, selected) for name in names for seed in seeds]


def run_experiments(out_dir: Path, env_spec: EnvSpec, config: DQNConfig, seeds: list[int], *,
                    layers: str = "candidates", workers: int | None = None, lockstep: int = 1,
                    quiet: bool = False) -> list[dict]:
    """Train all runs, save each as it finishes, then write the seed's CSVs."""
    if not seeds:
        raise ConfigError("--seeds must name at least one seed")
    out_dir = Path(out_dir)
    specs = plan_runs(out_dir, env_spec, config, seeds, layers)
    by_id = {s.run_id: s for s in specs}
    results = run_all(specs, workers=workers, lockstep=lockstep, quiet=quiet,
                      on_result=lambda r: write_run(out_dir / "runs", by_id[r.extra["run_id"]], r))
    return write_experiment_outputs(out_dir, results, np.random.default_rng(SUMMARY_SEED))
