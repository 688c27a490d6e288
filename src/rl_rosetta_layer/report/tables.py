"""The analysis table: every probe score of every layer with its bootstrap CI, as Markdown."""

from __future__ import annotations

import math
from pathlib import Path

from ..analysis.score import METRICS
from ..io import atomic_write_text, read_csv_lines
from .markdown import markdown_table
from .statistics import number

ANALYSIS_TABLE = "layer_analysis_table.md"

#: Column headers of the analysis table, by metric.
METRIC_HEADERS = {
    "reward_r2": "reward R²",
    "transition_r2": "transition R²",
    "effective_rank": "effective rank",
    "composite_score": "composite",
    "value_r2": "value R²",
    "state_r2": "state R²",
}


def with_ci(value: float, low: float, high: float, digits: int = 3) -> str:
    """``'0.500 [0.400, 0.600]'``; a NaN bound drops the interval, a NaN value gives '—'.

    >>> with_ci(0.5, 0.4, 0.6)
    '0.500 [0.400, 0.600]'
    >>> with_ci(0.5, float("nan"), 0.6)
    '0.500'
    """
    if math.isnan(value):
        return "—"
    text = _fixed(value, digits)
    if math.isnan(low) or math.isnan(high):
        return text
    return f"{text} [{_fixed(low, digits)}, {_fixed(high, digits)}]"


def _fixed(value: float, digits: int) -> str:
    """Fixed-point text without a negative zero (-0.0001 -> '0.000')."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def analysis_table(rows: list[dict], selected: str | None = None) -> str:
    """Markdown table of ``layer_analysis.csv`` rows: one column per score, with its CI."""
    cells = []
    for row in rows:
        cell = {"layer": row["layer"] + (" (selected)" if row["layer"] == selected else "")}
        for m in METRICS:
            cell[m] = with_ci(float(row[m]), float(row[f"{m}_ci_low"]),
                              float(row[f"{m}_ci_high"]))
        cells.append(cell)
    return markdown_table(cells, ["layer", *METRICS],
                          ["Layer", *(f"{METRIC_HEADERS[m]} (95% CI)" for m in METRICS)])


def read_analysis_rows(out_dir: Path) -> list[dict]:
    """Rows of ``layer_analysis.csv``, every score and CI bound checked to be a number."""
    required = ("layer",) + METRICS + tuple(f"{m}_ci_{b}" for m in METRICS
                                            for b in ("low", "high"))
    path = Path(out_dir) / "layer_analysis.csv"
    rows = read_csv_lines(path, required, hint="rosetta analyze")
    for line, row in rows:
        for key in required[1:]:
            number(row, key, path, line)
    return [row for _, row in rows]


def write_analysis_table(out_dir: Path, selected: str | None = None) -> Path:
    """Write ``layer_analysis_table.md`` from ``layer_analysis.csv``."""
    out_dir = Path(out_dir)
    return atomic_write_text(out_dir / ANALYSIS_TABLE,
                             analysis_table(read_analysis_rows(out_dir), selected))
