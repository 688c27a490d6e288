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


#: What the analysis table's intervals are (the note under it).
CI_NOTE = ("CIs are 95% basic bootstrap intervals over the held-out rows (twice the estimate "
           "minus the replicates' upper and lower 2.5% quantiles). A resample repeats rows, "
           "which biases a score like the effective rank (and the composite built from it): "
           "the basic interval corrects for that bias, so it is shifted away from the point "
           "estimate and, when the bias is larger than the sampling spread, excludes it. The "
           "percentile interval would exclude it as well, on the other side, without the "
           "correction.")


def outside_ci(rows: list[dict]) -> list[tuple[float, dict, str]]:
    """(distance, row, metric) of every estimate outside its own interval, farthest
    first."""
    out = []
    for r in rows:
        for m in METRICS:
            v, lo, hi = (float(r[k]) for k in (m, f"{m}_ci_low", f"{m}_ci_high"))
            if math.isfinite(lo) and math.isfinite(hi) and not lo <= v <= hi:
                out.append((max(lo - v, v - hi), r, m))
    return sorted(out, key=lambda t: -t[0])


def analysis_note(rows: list[dict]) -> str:
    """The note under the analysis table: what its intervals are and, when some estimate
    lies outside its own interval, how many and the farthest one."""
    outside = outside_ci(rows)
    if not outside:
        return CI_NOTE
    _, r, m = outside[0]
    return (f"{CI_NOTE} Here {len(outside)} of {len(rows) * len(METRICS)} estimates lie "
            f"outside their interval, e.g. the {METRIC_HEADERS[m]} of {r['layer']}, "
            f"{with_ci(float(r[m]), float(r[m + '_ci_low']), float(r[m + '_ci_high']))}: "
            f"the resamples say the estimate is biased by more than its spread.")


def analysis_table(rows: list[dict], selected: str | None = None) -> str:
    """Markdown table of ``layer_analysis.csv`` rows: one column per score, with its CI,
    and the note that says what the CIs are (:func:`analysis_note`)."""
    cells = []
    for row in rows:
        cell = {"layer": row["layer"] + (" (selected)" if row["layer"] == selected else "")}
        for m in METRICS:
            cell[m] = with_ci(float(row[m]), float(row[f"{m}_ci_low"]),
                              float(row[f"{m}_ci_high"]))
        cells.append(cell)
    return markdown_table(cells, ["layer", *METRICS],
                          ["Layer", *(f"{METRIC_HEADERS[m]} (95% CI)" for m in METRICS)]) \
        + "\n" + analysis_note(rows) + "\n"


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
