"""Paired comparisons, score validity and run outcomes from the files analysis and training
wrote.

A run that diverged or failed is left out of the numbers, never silently: the comparisons
use the seeds every compared layer finished and name the seeds left out and why, and
``run_outcomes.csv`` counts each layer's diverged and failed runs (a result in itself).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import stats
from ..analysis.acting import ACTING_METRICS
from ..analysis.score import METRICS
from ..errors import CorruptFileError
from ..experiments.outputs import HEALTH_COLUMNS, LAST, RUNS_FILE
from ..io import atomic_write_text, read_csv_lines, write_csv
from ..layers.registry import BANK_NAMES, BASELINES
from .markdown import markdown_table

#: Seed of the generator behind the report's resampling (fixed: same report each time).
REPORT_SEED = 20_240_602
RETURNS_FILE = "experiment_returns.csv"
TRAIN_HINT = "rosetta train (or scripts/run_experiments.py)"
#: Statuses a run can have; every one but "ok" leaves the run out of the numbers.
STATUSES = ("ok", "diverged", "failed")
OUTCOMES_FILE = "run_outcomes.csv"
OUTCOME_COLUMNS = ("layer", "runs", "runs_ok", "runs_diverged", "runs_failed",
                   "seeds_diverged", "seeds_failed")
#: Columns the report adds after the statistics' own in comparisons.csv / score_validity.csv.
LEFT_OUT_COLUMN = "seeds_left_out"
#: A run's returns in ``experiment_runs.csv``: the last 50 training episodes' mean and, for
#: runs trained with evaluation checkpoints, the last greedy evaluation's mean and the mean
#: over every checkpoint (empty for runs made before evaluations existed).
RUN_VALUE_COLUMNS = ("mean_last_50", "final_eval", "auc_eval")


# ----------------------------------------------------------------------------- reading
def number(row: dict, key: str, path: Path, line: int | None = None) -> float:
    try:
        return float(row[key])
    except ValueError as exc:
        where = f"{path} line {line}" if line is not None else str(path)
        raise CorruptFileError(f"{where}: {key}={row[key]!r} is not a number") from exc


def integer(row: dict, key: str, path: Path, line: int) -> int:
    value = number(row, key, path, line)
    if not value.is_integer():
        raise CorruptFileError(f"{path} line {line}: {key}={row[key]!r} is not an integer")
    return int(value)


def _status(row: dict, path: Path, line: int) -> str:
    status = row.get("status", "ok")
    if status not in STATUSES:
        raise CorruptFileError(f"{path} line {line}: status {status!r} is not one of "
                               f"{', '.join(STATUSES)}")
    return status


def _read_returns(out_dir: Path) -> tuple[dict, dict]:
    """(layer -> seed -> last-50 mean of each finished run, (layer, seed) -> status of
    every run with episodes), checked against ``experiment_runs.csv`` when it has them."""
    path = Path(out_dir) / RETURNS_FILE
    episodes: dict[tuple[str, int], list[float]] = defaultdict(list)
    status: dict[tuple[str, int], str] = {}
    for line, row in read_csv_lines(path, ("layer", "seed", "episode", "return"),
                                    hint=TRAIN_HINT):
        key = (row["layer"], integer(row, "seed", path, line))
        status[key] = _status(row, path, line)
        episodes[key].append(number(row, "return", path, line))
    runs_path = Path(out_dir) / RUNS_FILE
    if runs_path.is_file():
        for line, row in read_csv_lines(runs_path, ("layer", "seed", "status")):
            key = (row["layer"], integer(row, "seed", runs_path, line))
            if key in episodes and row.get("episodes", "") != "" and \
                    integer(row, "episodes", runs_path, line) != len(episodes[key]):
                raise CorruptFileError(
                    f"{path} has {len(episodes[key])} episodes of layer {key[0]!r} seed "
                    f"{key[1]} but {runs_path} line {line} says {row['episodes']}: one of "
                    f"them is cut short or stale; rerun `{TRAIN_HINT}`")
    final: dict[str, dict[int, float]] = defaultdict(dict)
    for (layer, seed), values in episodes.items():
        if status[(layer, seed)] == "ok":
            final[layer][seed] = float(np.mean(values[-LAST:]))
    return dict(final), status


def final_returns(out_dir: Path) -> dict[str, dict[int, float]]:
    """layer -> seed -> mean return over the last 50 episodes, from experiment_returns.csv
    (runs marked diverged or failed are left out: see :func:`run_outcomes`)."""
    return _read_returns(out_dir)[0]


def run_outcomes(out_dir: Path) -> dict[str, dict[int, str]]:
    """layer -> seed -> status ('ok', 'diverged', 'failed') of every run on record: those
    of ``experiment_runs.csv`` (which lists runs without episodes too) and of
    ``experiment_returns.csv``. {} when neither file exists."""
    out_dir = Path(out_dir)
    status: dict[tuple[str, int], str] = {}
    if (out_dir / RETURNS_FILE).is_file():
        status.update(_read_returns(out_dir)[1])
    runs_path = out_dir / RUNS_FILE
    if runs_path.is_file():
        for line, row in read_csv_lines(runs_path, ("layer", "seed", "status")):
            status[(row["layer"], integer(row, "seed", runs_path, line))] = \
                _status(row, runs_path, line)
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for (layer, seed), value in sorted(status.items()):
        out[layer][seed] = value
    return dict(out)


def run_health(out_dir: Path) -> list[dict] | None:
    """Rows of ``experiment_runs.csv`` (layer, seed int, status, flags as a list, the last
    health check's numbers and :data:`RUN_VALUE_COLUMNS` as floats, NaN where not recorded
    or not a column of an older file); None when the file is absent (outputs written before
    run health was recorded)."""
    path = Path(out_dir) / RUNS_FILE
    if not path.is_file():
        return None
    rows = []
    for line, row in read_csv_lines(path, ("layer", "seed", "status")):
        if row.get("flags") is None:
            raise CorruptFileError(f"{path} lacks the flags column; expected the columns "
                                   f"of experiment_runs.csv written by rosetta train")
        row["seed"] = integer(row, "seed", path, line)
        row["status"] = _status(row, path, line)
        row["flags"] = [f for f in row["flags"].split(";") if f]
        for key in HEALTH_COLUMNS + RUN_VALUE_COLUMNS:
            row[key] = number(row, key, path, line) if row.get(key, "") != "" else float("nan")
        rows.append(row)
    return rows


def flagged_layers(out_dir: Path) -> dict[str, list[str]]:
    """layer -> the flags of its flagged runs, from ``experiment_runs.csv`` ({} if none)."""
    out: dict[str, list[str]] = defaultdict(list)
    for row in run_health(out_dir) or []:
        if row["status"] == "ok" and row["flags"]:
            out[row["layer"]] += row["flags"]
    return dict(out)


def load_scores(out_dir: Path):
    """Point scores (metric -> layer -> value) and replicates (metric -> layer -> (R,)):
    :data:`METRICS`, then the acting probes' columns (``ACTING_METRICS``) that the file
    has (a study's analysis writes them; ``rosetta analyze`` does not)."""
    out_dir = Path(out_dir)
    path = out_dir / "layer_analysis.csv"
    rows = read_csv_lines(path, ("layer",) + METRICS, hint="rosetta analyze")
    metrics = METRICS + tuple(m for m in ACTING_METRICS if rows and m in rows[0][1])
    scores = {m: {r["layer"]: number(r, m, path, i) for i, r in rows} for m in metrics}
    reps_path = out_dir / "layer_analysis_bootstrap.csv"
    replicates = None
    if reps_path.is_file():
        reps: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in metrics}
        for i, r in read_csv_lines(reps_path, ("replicate", "layer") + metrics,
                                   hint="rosetta analyze"):
            for m in metrics:
                reps[m][r["layer"]].append(number(r, m, reps_path, i))
        replicates = {m: {k: np.array(v) for k, v in d.items()} for m, d in reps.items()}
    return scores, replicates


# ----------------------------------------------------------------------------- outcomes
def outcome_rows(outcomes: dict[str, dict[int, str]]) -> list[dict]:
    """One row per layer (columns :data:`OUTCOME_COLUMNS`): its runs, how many finished,
    diverged and failed, and the seeds that diverged or failed (';'-joined)."""
    rows = []
    for layer, seeds in outcomes.items():
        row: dict = {"layer": layer, "runs": len(seeds)}
        for status in STATUSES:
            row[f"runs_{status}"] = sum(v == status for v in seeds.values())
        for status in STATUSES[1:]:
            row[f"seeds_{status}"] = ";".join(str(s) for s, v in seeds.items() if v == status)
        rows.append(row)
    return rows


def left_out_text(seeds: dict[int, str]) -> str:
    """'diverged (1 of 3 runs)' for a layer's statuses by seed; '' when every run is ok."""
    n = len(seeds)
    return ", ".join(f"{status} ({k} of {n} run{'s' if n != 1 else ''})"
                     for status in STATUSES[1:]
                     if (k := sum(v == status for v in seeds.values())))


def _why(layer: str, seed, outcomes: dict) -> str:
    status = outcomes.get(layer, {}).get(seed)
    if status is None:
        return f"{layer} has no run"
    return f"{layer} {status}" if status != "ok" else f"{layer} has no episodes"


def paired_seeds(final: dict, outcomes: dict) -> tuple[dict, str]:
    """``final`` restricted to the seeds every layer in it finished, and the seeds left
    out and why ('seed 2: identity diverged'; '' when none is)."""
    kept, left_out = stats.common_seeds(final)
    text = "; ".join(f"seed {s}: " + ", ".join(_why(layer, s, outcomes) for layer in layers)
                     for s, layers in left_out.items())
    return kept, text


def _shared(final: dict, outcomes: dict) -> bool:
    """Whether the layers of ``final`` have a finished seed in common."""
    return bool(next(iter(paired_seeds(final, outcomes)[0].values())))


def _not_finished(names, outcomes: dict) -> list[str]:
    """'identity: diverged (3 of 3 runs)' for each of ``names`` with runs, none finished."""
    return [f"{name}: {left_out_text(outcomes[name])}" for name in names
            if outcomes.get(name) and left_out_text(outcomes[name])]


# ----------------------------------------------------------------------------- statistics
def comparisons(final: dict, selected: str, rng: np.random.Generator,
                outcomes: dict | None = None) -> list[dict]:
    """The selected layer against every other layer with finished runs, on the seeds all
    of them finished; each row names those left out (column :data:`LEFT_OUT_COLUMN`)."""
    kept, left_out = paired_seeds(final, outcomes or {})
    x, layers, _ = stats.align_seeds(kept)
    baselines = [name for name in layers if name in BASELINES or name in BANK_NAMES]
    rows = stats.compare_to_selected(x, layers, selected, rng, baselines=baselines)
    return [{**r, LEFT_OUT_COLUMN: left_out} for r in rows]


def validity(final: dict, scores: dict, replicates: dict | None,
             rng: np.random.Generator, outcomes: dict | None = None) -> list[dict]:
    """Rank correlation of each analysis score with RL return across scored layers, on
    the seeds all of them finished (the seeds left out in :data:`LEFT_OUT_COLUMN`)."""
    layers = [name for name in final if name in scores["composite_score"]]
    kept, left_out = paired_seeds({name: final[name] for name in layers}, outcomes or {})
    x, layers, _ = stats.align_seeds(kept)
    point = {m: np.array([scores[m][name] for name in layers]) for m in METRICS}
    reps = None
    if replicates is not None and all(name in replicates[METRICS[0]] for name in layers):
        reps = {m: np.stack([replicates[m][name] for name in layers], axis=1) for m in METRICS}
    rows = stats.score_validity(point, reps, x, rng)
    return [{**r, LEFT_OUT_COLUMN: left_out} for r in rows]


def _left_out_note(rows: list[dict], what: str) -> str:
    text = rows[0][LEFT_OUT_COLUMN] if rows else ""
    return (f"\nSeeds left out of {what} (the seeds are paired, so a seed counts only where "
            f"every layer finished it): {text}.\n") if text else ""


def write_statistics(out_dir: Path, selected: str | None, final: dict | None = None
                     ) -> tuple[str, list[str]]:
    """Write the run outcomes and the comparisons and validity files that the available
    outputs allow.

    ``final`` is :func:`final_returns` of ``out_dir`` (read here when not given).
    Returns the readable report and a list of what could not be computed and why.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(REPORT_SEED)
    final = final_returns(out_dir) if final is None else final
    outcomes = run_outcomes(out_dir)
    missing: list[str] = []
    lines = _write_outcomes(out_dir, outcomes)
    comp = _write_comparisons(out_dir, selected, final, outcomes, rng, missing, lines)
    valid = _write_validity(out_dir, final, outcomes, rng, missing)
    text = stats.format_report(comp, valid, title="rosetta report")
    if lines:
        text += "\n".join(lines) + "\n"
    return text, missing


def _write_outcomes(out_dir: Path, outcomes: dict) -> list[str]:
    """Write ``run_outcomes.csv`` (when there are runs); the report's lines about them."""
    if not outcomes:
        return []
    write_csv(out_dir / OUTCOMES_FILE, outcome_rows(outcomes), OUTCOME_COLUMNS)
    bad = [f"  {layer}: {text}" for layer, seeds in outcomes.items()
           if (text := left_out_text(seeds))]
    return (["Runs left out of every statistic (see run_outcomes.csv):"] + bad) if bad \
        else [f"Every run finished ({sum(map(len, outcomes.values()))} runs)."]


def _write_comparisons(out_dir: Path, selected: str | None, final: dict, outcomes: dict,
                       rng: np.random.Generator, missing: list[str],
                       lines: list[str]) -> list[dict]:
    """Write ``comparisons.csv`` and its table when the outputs allow them (else append to
    ``missing`` why not); the rows written. Seeds left out are appended to ``lines``."""
    unfinished = _not_finished([n for n in outcomes if n not in final], outcomes)
    if selected is None:
        missing.append(f"paired comparisons need {out_dir / 'selected_layer.txt'}: run "
                       f"`rosetta analyze --output-dir {out_dir}`")
        return []
    if selected not in final:
        why = left_out_text(outcomes.get(selected, {}))
        missing.append(f"paired comparisons need finished runs of the selected layer "
                       f"{selected!r}" + (f"; its runs {why}" if why else "") + f": run "
                       f"`rosetta train --layers {selected},... --output-dir {out_dir}`")
        return []
    if not _shared(final, outcomes):
        missing.append(f"paired comparisons need a seed every layer finished; none is "
                       f"shared ({paired_seeds(final, outcomes)[1]})")
        return []
    comp = comparisons(final, selected, rng, outcomes)
    write_csv(out_dir / "comparisons.csv", comp, stats.COMPARISON_COLUMNS + (LEFT_OUT_COLUMN,))
    table = markdown_table(
        comp, ["other", "n_seeds", "mean_diff", "diff_ci_low", "diff_ci_high",
               "p_sign_flip_holm", "p_wilcoxon_holm", "prob_improvement", "effect_size"],
        ["vs layer", "seeds", "mean diff", "CI low", "CI high", "p sign-flip (Holm)",
         "p Wilcoxon (Holm)", "P(improvement)", "rank-biserial"])
    table += _left_out_note(comp, "every comparison")
    if unfinished:
        table += (f"\nNot compared (no finished run): {'; '.join(unfinished)}.\n")
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
    if comp[0][LEFT_OUT_COLUMN]:
        lines.append(f"Seeds left out of the paired comparisons: {comp[0][LEFT_OUT_COLUMN]}")
    return comp


def _write_validity(out_dir: Path, final: dict, outcomes: dict, rng: np.random.Generator,
                    missing: list[str]) -> list[dict]:
    """Write ``score_validity.csv`` and its table when the outputs allow them (else append
    to ``missing`` why not); the rows written."""
    if not (out_dir / "layer_analysis.csv").is_file():
        missing.append(f"score validity needs {out_dir / 'layer_analysis.csv'}: run "
                       f"`rosetta analyze --output-dir {out_dir}`")
        return []
    scores, replicates = load_scores(out_dir)
    scored = {name: final[name] for name in final if name in scores["composite_score"]}
    if len(scored) < 3:
        missing.append(f"score validity needs RL runs of >= 3 analysed layers, found "
                       f"{len(scored)} ({', '.join(scored) or 'none'})")
        return []
    if not _shared(scored, outcomes):
        missing.append(f"score validity needs a seed every analysed layer finished; none "
                       f"is shared ({paired_seeds(scored, outcomes)[1]})")
        return []
    valid = validity(final, scores, replicates, rng, outcomes)
    write_csv(out_dir / "score_validity.csv", valid, stats.VALIDITY_COLUMNS + (LEFT_OUT_COLUMN,))
    table = markdown_table(
        valid, ["score", "n_layers", "spearman", "spearman_ci_low", "spearman_ci_high",
                "spearman_p", "kendall", "kendall_p"],
        ["score", "layers", "Spearman", "CI low", "CI high", "p", "Kendall", "p"])
    table += _left_out_note(valid, "the correlations")
    unscored = _not_finished([n for n in outcomes if n in scores["composite_score"]
                              and n not in final], outcomes)
    if unscored:
        table += f"\nLayers left out (no finished run): {'; '.join(unscored)}.\n"
    atomic_write_text(out_dir / "score_validity_table.md", table)
    return valid
