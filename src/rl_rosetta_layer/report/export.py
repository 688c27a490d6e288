"""The seed's export: ``experiment_summary.csv`` -> ``experiment_summary_table.md``."""

from __future__ import annotations

from pathlib import Path

from ..experiments.outputs import SEED_SUMMARY_COLUMNS
from ..io import atomic_write_text, read_csv
from .markdown import markdown_table
from .profiles import achievable_return, optimality_gaps
from .statistics import left_out_text, run_outcomes

SUMMARY_TABLE = "experiment_summary_table.md"


def read_summary(out_dir: Path) -> list[dict]:
    """Rows of ``experiment_summary.csv``, checked for the seed's columns and for a cut."""
    return read_csv(Path(out_dir) / "experiment_summary.csv", SEED_SUMMARY_COLUMNS,
                    hint="rosetta train (or scripts/run_experiments.py)")


def left_out_cells(out_dir: Path, rows: list[dict]) -> dict[str, str]:
    """layer -> 'diverged (1 of 3 runs)' for each layer of ``rows`` with runs left out, from
    the runs' statuses (or, without them, the summary's ``runs_not_ok``)."""
    outcomes = run_outcomes(out_dir)
    cells = {}
    for row in rows:
        seeds = outcomes.get(row["layer"])
        if seeds:
            text = left_out_text(seeds)
        else:
            bad = int(_number(row.get("runs_not_ok")) or 0)
            n = bad + int(_number(row.get("n_seeds")) or 0)
            text = f"diverged or failed ({bad} of {n} runs)" if bad else ""
        if text:
            cells[row["layer"]] = text
    return cells


def export_summary_table(out_dir: Path, rows: list[dict] | None = None) -> Path:
    """Write the summary (``rows``, read from the CSV when not given) as a Markdown table,
    with the IQM and its CI when the CSV has them, rliable's optimality gap when the
    task's achievable return is known (:mod:`.profiles`), and a column naming the runs
    left out (diverged or failed) when there are any."""
    out_dir = Path(out_dir)
    rows = read_summary(out_dir) if rows is None else rows
    rows = [dict(r) for r in rows]
    columns = list(SEED_SUMMARY_COLUMNS)
    headers = ["Layer", "Mean return (last 50)", "Std across seeds", "Mean AUC"]
    if rows and all(c in rows[0] for c in ("iqm", "iqm_ci_low", "iqm_ci_high", "n_seeds")):
        for row in rows:
            row["iqm_ci"] = f"[{_num(row['iqm_ci_low'])}, {_num(row['iqm_ci_high'])}]"
        columns += ["iqm", "iqm_ci", "n_seeds"]
        headers += ["IQM", "95% CI of IQM", "Seeds"]
    achievable = achievable_return(out_dir) if rows else None
    gaps = optimality_gaps(out_dir, achievable) if achievable is not None else None
    if gaps:
        for row in rows:
            gap = gaps.get(row["layer"])
            row["optimality_gap"] = "—" if gap is None else f"{gap:.3f}"
        columns.append("optimality_gap")
        headers.append("Optimality gap")
    left_out = left_out_cells(out_dir, rows)
    if left_out:
        for row in rows:
            row["left_out"] = left_out.get(row["layer"], "none")
        columns.append("left_out")
        headers.append("Runs left out")
    text = markdown_table(rows, columns, headers)
    if gaps:
        text += (f"\nOptimality gap (rliable): the achievable return, {achievable.value:.3f} "
                 f"({achievable.source}), minus the mean over seeds of each run's final return "
                 f"clipped at it; 0 when every run is optimal. The performance profiles are in "
                 f"`figures/performance_profile.png` and `performance_profile.csv`.\n")
    flagged = [r for r in rows if r.get("flags")]
    if flagged:
        text += ("\nFlagged by the run-health check (the pipeline failed in these runs, so "
                 "their returns say nothing about the layer; see `experiment_runs.csv`): "
                 + "; ".join(f"{r['layer']}: {r['runs_flagged']} run(s), {r['flags']}"
                             for r in flagged) + ".\n")
    if left_out:
        text += ("\nRuns left out of every number above (a diverged or failed run has no "
                 "final return; see `run_outcomes.csv`): "
                 + "; ".join(f"{k}: {v}" for k, v in left_out.items()) + ".\n")
    return atomic_write_text(out_dir / SUMMARY_TABLE, text)


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None


def _num(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return "—" if value != value else f"{value:.3f}"
