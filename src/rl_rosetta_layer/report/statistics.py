"""Paired comparisons and score validity from the files the analysis and training wrote."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import stats
from ..analysis.score import METRICS
from ..errors import CorruptFileError
from ..experiments.outputs import HEALTH_COLUMNS, LAST, RUNS_FILE
from ..io import atomic_write_text, read_csv, write_csv
from ..layers.registry import BANK_NAMES, BASELINES
from .markdown import markdown_table

#: Seed of the generator behind the report's resampling (fixed: same report each time).
REPORT_SEED = 20_240_602


def _float(row: dict, key: str, path: Path) -> float:
    try:
        return float(row[key])
    except ValueError as exc:
        raise CorruptFileError(f"{path}: {key}={row[key]!r} is not a number") from exc


def final_returns(out_dir: Path) -> dict[str, dict[int, float]]:
    """layer -> seed -> mean return over the last 50 episodes, from experiment_returns.csv
    (runs marked diverged or failed are left out)."""
    path = Path(out_dir) / "experiment_returns.csv"
    rows = read_csv(path, ("layer", "seed", "episode", "return"),
                    hint="rosetta train (or scripts/run_experiments.py)")
    episodes: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in rows:
        if row.get("status", "ok") != "ok":
            continue
        episodes[(row["layer"], int(_float(row, "seed", path)))].append(
            _float(row, "return", path))
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for (layer, seed), values in episodes.items():
        out[layer][seed] = float(np.mean(values[-LAST:]))
    return dict(out)


def run_health(out_dir: Path) -> list[dict] | None:
    """Rows of ``experiment_runs.csv`` (layer, seed int, status, flags as a list, the last
    health check's numbers as floats, NaN where not recorded); None when the file is absent
    (outputs written before run health was recorded)."""
    path = Path(out_dir) / RUNS_FILE
    if not path.is_file():
        return None
    rows = read_csv(path, ("layer", "seed", "status"))
    for row in rows:
        if row.get("flags") is None:
            raise CorruptFileError(f"{path} lacks the flags column; expected the columns "
                                   f"of experiment_runs.csv written by rosetta train")
        row["seed"] = int(_float(row, "seed", path))
        row["flags"] = [f for f in row["flags"].split(";") if f]
        for key in HEALTH_COLUMNS:
            row[key] = _float(row, key, path) if row.get(key) not in (None, "") else float("nan")
    return rows


def flagged_layers(out_dir: Path) -> dict[str, list[str]]:
    """layer -> the flags of its flagged runs, from ``experiment_runs.csv`` ({} if none)."""
    out: dict[str, list[str]] = defaultdict(list)
    for row in run_health(out_dir) or []:
        if row["status"] == "ok" and row["flags"]:
            out[row["layer"]] += row["flags"]
    return dict(out)


def load_scores(out_dir: Path):
    """Point scores (metric -> layer -> value) and replicates (metric -> layer -> (R,))."""
    out_dir = Path(out_dir)
    path = out_dir / "layer_analysis.csv"
    rows = read_csv(path, ("layer",) + METRICS, hint="rosetta analyze")
    scores = {m: {r["layer"]: _float(r, m, path) for r in rows} for m in METRICS}
    reps_path = out_dir / "layer_analysis_bootstrap.csv"
    replicates = None
    if reps_path.is_file():
        reps: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in METRICS}
        for r in read_csv(reps_path, ("replicate", "layer") + METRICS):
            for m in METRICS:
                reps[m][r["layer"]].append(_float(r, m, reps_path))
        replicates = {m: {k: np.array(v) for k, v in d.items()} for m, d in reps.items()}
    return scores, replicates


def comparisons(final: dict, selected: str, rng: np.random.Generator) -> list[dict]:
    """The selected layer against every other layer with runs on the same seeds."""
    x, layers, _ = stats.align_seeds(final)
    baselines = [name for name in layers if name in BASELINES or name in BANK_NAMES]
    return stats.compare_to_selected(x, layers, selected, rng, baselines=baselines)


def validity(final: dict, scores: dict, replicates: dict | None,
             rng: np.random.Generator) -> list[dict]:
    """Rank correlation of each analysis score with RL return across scored layers."""
    layers = [name for name in final if name in scores["composite_score"]]
    x, layers, _ = stats.align_seeds({name: final[name] for name in layers})
    point = {m: np.array([scores[m][name] for name in layers]) for m in METRICS}
    reps = None
    if replicates is not None and all(name in replicates[METRICS[0]] for name in layers):
        reps = {m: np.stack([replicates[m][name] for name in layers], axis=1) for m in METRICS}
    return stats.score_validity(point, reps, x, rng)


def write_statistics(out_dir: Path, selected: str | None, final: dict | None = None
                     ) -> tuple[str, list[str]]:
    """Write comparisons and validity files that the available outputs allow.

    ``final`` is :func:`final_returns` of ``out_dir`` (read here when not given).
    Returns the readable report and a list of what could not be computed and why.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(REPORT_SEED)
    final = final_returns(out_dir) if final is None else final
    missing: list[str] = []
    comp: list[dict] = []
    valid: list[dict] = []
    if selected is None:
        missing.append("paired comparisons need outputs/selected_layer.txt: run `rosetta analyze`")
    elif selected not in final:
        missing.append(f"paired comparisons need runs of the selected layer {selected!r}: run "
                       f"`rosetta train --layers {selected},...`")
    else:
        comp = comparisons(final, selected, rng)
        write_csv(out_dir / "comparisons.csv", comp, stats.COMPARISON_COLUMNS)
        table = markdown_table(
            comp, ["other", "n_seeds", "mean_diff", "diff_ci_low", "diff_ci_high",
                   "p_sign_flip_holm", "p_wilcoxon_holm", "prob_improvement", "effect_size"],
            ["vs layer", "seeds", "mean diff", "CI low", "CI high", "p sign-flip (Holm)",
             "p Wilcoxon (Holm)", "P(improvement)", "rank-biserial"])
        flagged = {k: v for k, v in flagged_layers(out_dir).items()
                   if k == selected or k in {r["other"] for r in comp}}
        if flagged:
            table += ("\nNot results: the run-health check flagged runs of "
                      + "; ".join(f"{k} ({len(v)} flag(s): {', '.join(sorted(set(v)))})"
                                  for k, v in flagged.items())
                      + " (constant greedy policy or saturated head; see "
                        "experiment_runs.csv), so differences involving them say nothing "
                        "about the layers.\n")
        atomic_write_text(out_dir / "comparisons_table.md", table)
    if not (out_dir / "layer_analysis.csv").is_file():
        missing.append("score validity needs outputs/layer_analysis.csv: run `rosetta analyze`")
    else:
        scores, replicates = load_scores(out_dir)
        scored = [name for name in final if name in scores["composite_score"]]
        if len(scored) < 3:
            missing.append(f"score validity needs RL runs of >= 3 analysed layers, found "
                           f"{len(scored)} ({', '.join(scored) or 'none'})")
        else:
            valid = validity(final, scores, replicates, rng)
            write_csv(out_dir / "score_validity.csv", valid, stats.VALIDITY_COLUMNS)
            atomic_write_text(out_dir / "score_validity_table.md", markdown_table(
                valid, ["score", "n_layers", "spearman", "spearman_ci_low", "spearman_ci_high",
                        "spearman_p", "kendall", "kendall_p"],
                ["score", "layers", "Spearman", "CI low", "CI high", "p", "Kendall", "p"]))
    text = stats.format_report(comp, valid, title="rosetta report")
    return text, missing
