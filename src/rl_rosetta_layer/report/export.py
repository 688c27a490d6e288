"""The seed's export: ``experiment_summary.csv`` -> ``experiment_summary_table.md``."""

from __future__ import annotations

from pathlib import Path

from ..experiments.outputs import SEED_SUMMARY_COLUMNS
from ..io import atomic_write_text, read_csv
from .markdown import markdown_table

SUMMARY_TABLE = "experiment_summary_table.md"


def read_summary(out_dir: Path) -> list[dict]:
    """Rows of ``experiment_summary.csv``, checked for the seed's columns."""
    return read_csv(Path(out_dir) / "experiment_summary.csv", SEED_SUMMARY_COLUMNS,
                    hint="rosetta train (or scripts/run_experiments.py)")


def export_summary_table(out_dir: Path, rows: list[dict] | None = None) -> Path:
    """Write the summary (``rows``, read from the CSV when not given) as a Markdown table,
    with the IQM and its CI when the CSV has them."""
    out_dir = Path(out_dir)
    rows = read_summary(out_dir) if rows is None else rows
    columns = list(SEED_SUMMARY_COLUMNS)
    headers = ["Layer", "Mean return (last 50)", "Std across seeds", "Mean AUC"]
    if rows and all(c in rows[0] for c in ("iqm", "iqm_ci_low", "iqm_ci_high", "n_seeds")):
        for row in rows:
            row["iqm_ci"] = f"[{_num(row['iqm_ci_low'])}, {_num(row['iqm_ci_high'])}]"
        columns += ["iqm", "iqm_ci", "n_seeds"]
        headers += ["IQM", "95% CI of IQM", "Seeds"]
    text = markdown_table(rows, columns, headers)
    flagged = [r for r in rows if r.get("flags")]
    if flagged:
        text += ("\nFlagged by the run-health check (the pipeline failed in these runs, so "
                 "their returns say nothing about the layer; see `experiment_runs.csv`): "
                 + "; ".join(f"{r['layer']}: {r['runs_flagged']} run(s), {r['flags']}"
                             for r in flagged) + ".\n")
    return atomic_write_text(out_dir / SUMMARY_TABLE, text)


def _num(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return "—" if value != value else f"{value:.3f}"
