"""Row builders for the output CSVs.

* :func:`summary_columns`: IQM and CI columns for ``experiment_summary.csv``,
  appended after ``layer, mean_last_50, std_last_50, mean_auc`` (order:
  :data:`SUMMARY_COLUMNS`).
* ``outputs/comparisons.csv``: rows of :func:`.paired.compare_to_selected`,
  columns :data:`COMPARISON_COLUMNS`.
* ``outputs/score_validity.csv``: rows of :func:`.correlation.score_validity`,
  columns :data:`VALIDITY_COLUMNS`.

Every row is a flat dict of str / int / float (NaN where not computable,
with the reason in the note column).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validate import as_matrix, check_names, check_rng
from .aggregate import STATISTICS
from .bootstrap import DEFAULT_METHOD, DEFAULT_N_RESAMPLES, bootstrap_ci
from .correlation import VALIDITY_COLUMNS
from .paired import COMPARISON_COLUMNS
from .power import ci_warning

__all__ = ["summary_columns", "SUMMARY_COLUMNS", "COMPARISON_COLUMNS", "VALIDITY_COLUMNS"]

#: Columns to append after the seed's columns (``layer`` is included in each
#: row too, for joining, but is not repeated here).
SUMMARY_COLUMNS = (
    "iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "mean_ci_low",
    "mean_ci_high",
    "ci_method",
    "ci_note",
)


def summary_columns(
    final,
    rng: np.random.Generator,
    *,
    layers: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    method: str = DEFAULT_METHOD,
    strata=None,
) -> list[dict]:
    """Per layer: ``{'layer', *SUMMARY_COLUMNS}``; final (seeds, layers).

    ``layer`` is ``layers[j]`` (or the column index j). With 1 seed the CIs are
    NaN and ``ci_note`` says why; IQM and mean CIs are bootstrap CIs over seeds.
    """
    check_rng(rng)
    x = as_matrix(final, "final", min_seeds=1)
    n, n_layers = x.shape
    names = check_names(layers, n_layers) if layers is not None else list(range(n_layers))
    iqm = STATISTICS["iqm"](x, 0)
    nan = np.full(n_layers, np.nan)
    if n < 2:
        iqm_ci = mean_ci = (nan, nan)
        note = "not computable: 1 seed; CIs need >= 2 seeds"
    else:
        iqm_ci = bootstrap_ci(
            x,
            "iqm",
            rng,
            confidence=confidence,
            n_resamples=n_resamples,
            method=method,
            strata=strata,
        )
        mean_ci = bootstrap_ci(
            x,
            "mean",
            rng,
            confidence=confidence,
            n_resamples=n_resamples,
            method=method,
            strata=strata,
        )
        note = ""
    common = (
        [] if note else [w for w in (ci_warning(n, confidence) if strata is None else "",) if w]
    )
    if not note and n < 4:
        common.append(f"IQM equals the mean with {n} seeds (< 4)")
    rows = []
    for j in range(n_layers):
        parts = [note] if note else list(common)
        if not note and np.ptp(x[:, j]) == 0:
            parts.append("constant over seeds: zero-width CI")
        ci_note = "; ".join(parts)
        rows.append(
            {
                "layer": names[j],
                "iqm": float(iqm[j]),
                "iqm_ci_low": float(iqm_ci[0][j]),
                "iqm_ci_high": float(iqm_ci[1][j]),
                "mean_ci_low": float(mean_ci[0][j]),
                "mean_ci_high": float(mean_ci[1][j]),
                "ci_method": method,
                "ci_note": ci_note,
            }
        )
    return rows
