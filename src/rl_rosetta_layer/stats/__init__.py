"""Statistics over (seeds, layers) arrays of RL results.

Pure functions; anything that draws random numbers takes an explicit
``rng: numpy.random.Generator`` (no global random state). Arrays are
``(seeds, layers)``: rows are seeds (or (environment, seed) runs, labelled by
``strata``), aligned across layer columns; higher is better.

* aggregates: :func:`iqm`, :func:`mean`, :func:`median`, :func:`aggregate`
* intervals: :func:`bootstrap_ci` (percentile, BCa, expanded percentile
  [default]; stratified over environments)
* paired comparisons: :func:`compare_to_selected` (bootstrap CI of the
  paired difference, exact sign-flip and Wilcoxon p, Holm, paired probability
  of improvement, rank-biserial effect size)
* equivalence: :func:`equivalence_test` (two one-sided sign-flip tests against a
  margin)
* score validity: :func:`score_validity` (Spearman / Kendall with bootstrap CIs)
* rliable's profiles: :func:`score_distribution` (performance profile),
  :func:`score_distribution_ci`, :func:`optimality_gap`
* what a run can show: :func:`smallest_p`, :func:`min_seeds`, :func:`seed_warning`
* output rows and text: :func:`summary_columns`, :func:`format_report`

Bad input raises :class:`StatsError`; undefined statistics on well-formed
input give NaN with a ``'not computable: ...'`` note.

``stats`` is a leaf library: it imports nothing of this package but
:mod:`rl_rosetta_layer.errors`, so any part of the pipeline may import it.
"""

from .aggregate import aggregate, iqm, mean, median
from .align import align_seeds, common_seeds
from .bootstrap import DEFAULT_METHOD, METHODS, bootstrap_ci, resample_indices
from .correlation import VALIDITY_COLUMNS, kendall_tau_b, score_validity, spearman_rho
from .errors import StatsError
from .formatting import format_report
from .multiple import holm
from .paired import (
    COMPARISON_COLUMNS,
    EFFECT_SIZE_NAME,
    cohens_dz,
    compare_to_selected,
    prob_improvement,
    rank_biserial,
    wilcoxon_p,
)
from .power import (
    ci_warning,
    layer_warning,
    max_bootstrap_coverage,
    min_seeds,
    seed_warning,
    smallest_p,
    smallest_p_holm,
    smallest_p_rank_correlation,
)
from .profiles import optimality_gap, score_distribution, score_distribution_ci
from .signflip import equivalence_test, sign_flip_test
from .tables import SUMMARY_COLUMNS, summary_columns

__all__ = [
    "StatsError",
    "iqm",
    "mean",
    "median",
    "aggregate",
    "bootstrap_ci",
    "resample_indices",
    "METHODS",
    "DEFAULT_METHOD",
    "sign_flip_test",
    "equivalence_test",
    "wilcoxon_p",
    "holm",
    "prob_improvement",
    "rank_biserial",
    "cohens_dz",
    "compare_to_selected",
    "COMPARISON_COLUMNS",
    "EFFECT_SIZE_NAME",
    "spearman_rho",
    "kendall_tau_b",
    "score_validity",
    "VALIDITY_COLUMNS",
    "smallest_p",
    "smallest_p_holm",
    "min_seeds",
    "seed_warning",
    "smallest_p_rank_correlation",
    "layer_warning",
    "max_bootstrap_coverage",
    "ci_warning",
    "summary_columns",
    "SUMMARY_COLUMNS",
    "format_report",
    "align_seeds",
    "common_seeds",
    "score_distribution",
    "score_distribution_ci",
    "optimality_gap",
]
