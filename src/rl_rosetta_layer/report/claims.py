"""Explicit rules that turn the statistics into the paper's claims.

Every claim the paper makes about a comparison or a score comes from one of these
functions, applied to rows of ``comparisons.csv`` and ``score_validity.csv``; the rules
themselves are printed in the paper (:data:`COMPARISON_RULES`, :data:`VALIDITY_RULES`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

ALPHA = 0.05
"""Significance level of every claim."""

# Verdicts of the selected layer against one other layer.
SIG_BETTER = "significantly better"
SIG_WORSE = "significantly worse"
CONSISTENT_BETTER = "consistently better, not significant"
CONSISTENT_WORSE = "consistently worse, not significant"
UNCLEAR = "no clear difference"
NOT_COMPUTABLE = "not computable"
COMPARISON_VERDICTS = (SIG_BETTER, CONSISTENT_BETTER, UNCLEAR, CONSISTENT_WORSE, SIG_WORSE,
                       NOT_COMPUTABLE)

COMPARISON_RULES = (
    f"*{SIG_BETTER}* (or *{SIG_WORSE}*): the Holm-adjusted p of both the sign-flip and the "
    "Wilcoxon test is at most {alpha} and the mean paired difference is positive (negative);",
    f"*{CONSISTENT_BETTER}* (*{CONSISTENT_WORSE}*): otherwise, when the paired bootstrap CI of "
    "the difference lies entirely above (below) zero;",
    f"*{UNCLEAR}*: the CI contains zero;",
    f"*{NOT_COMPUTABLE}*: fewer than two seeds, so no CI or test exists.",
)

# Verdicts of one score's rank correlation with RL return.
PREDICTS = "predicts RL return"
PREDICTS_NS = "consistent with predicting RL return, not significant"
NOT_RELIABLE = "does not reliably predict RL return"
DOES_NOT = "does not predict RL return"
VALIDITY_VERDICTS = (PREDICTS, PREDICTS_NS, NOT_RELIABLE, DOES_NOT, NOT_COMPUTABLE)

VALIDITY_RULES = (
    f"*{PREDICTS}*: Spearman's rho is positive, its permutation p is at most {{alpha}} and "
    "its 95% CI lies entirely above zero; the selection score was fixed before RL, so its own "
    "p is used, while for every other score p is Holm-adjusted over the other scores tested;",
    f"*{PREDICTS_NS}*: the CI lies above zero but p is above {{alpha}};",
    f"*{NOT_RELIABLE}*: rho is positive but its CI reaches zero or below (or is not "
    "computable);",
    f"*{DOES_NOT}*: rho is zero or negative;",
    f"*{NOT_COMPUTABLE}*: rho is undefined (fewer than three layers, or a constant score "
    "or outcome).",
)

# Verdicts of the hypothesis (the selected layer beats every other layer).
SUPPORTED = "supported"
CONSISTENT = "consistent with the data but not statistically established"
NOT_ESTABLISHED = "not established"
NOT_SUPPORTED = "not supported"
NOT_ANSWERED = "not answered"
"""The pipeline failed the task (the study's positive control did not learn it), so the
comparisons say nothing about the layers: the verdict of :mod:`.study` as well."""


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def comparison_verdict(row: Mapping, alpha: float = ALPHA) -> str:
    """The verdict of one row of ``comparisons.csv`` (selected layer vs ``row['other']``).

    >>> comparison_verdict({"mean_diff": 1.0, "diff_ci_low": 0.5, "diff_ci_high": 1.5,
    ...                     "p_sign_flip_holm": 1.0, "p_wilcoxon_holm": 1.0})
    'consistently better, not significant'
    """
    diff = _f(row["mean_diff"])
    lo, hi = _f(row["diff_ci_low"]), _f(row["diff_ci_high"])
    p1, p2 = _f(row["p_sign_flip_holm"]), _f(row["p_wilcoxon_holm"])
    if math.isnan(diff) or math.isnan(lo) or math.isnan(hi):
        return NOT_COMPUTABLE
    if p1 <= alpha and p2 <= alpha and diff != 0:
        return SIG_BETTER if diff > 0 else SIG_WORSE
    if lo > 0:
        return CONSISTENT_BETTER
    if hi < 0:
        return CONSISTENT_WORSE
    return UNCLEAR


def validity_verdict(row: Mapping, alpha: float = ALPHA, p: float | None = None) -> str:
    """The verdict of one row of ``score_validity.csv``; ``p`` replaces the row's
    ``spearman_p`` (e.g. by its Holm-adjusted value).

    >>> validity_verdict({"spearman": 0.4, "spearman_p": 0.19, "spearman_ci_low": 0.0,
    ...                   "spearman_ci_high": 0.57})
    'does not reliably predict RL return'
    """
    rho = _f(row["spearman"])
    p = _f(row["spearman_p"]) if p is None else _f(p)
    lo = _f(row["spearman_ci_low"])
    if math.isnan(rho):
        return NOT_COMPUTABLE
    if rho <= 0:
        return DOES_NOT
    if lo > 0 and p <= alpha:
        return PREDICTS
    if lo > 0:
        return PREDICTS_NS
    return NOT_RELIABLE


def validity_p(rows: Sequence[Mapping], select_by: str | None) -> dict[str, float]:
    """The p each score's verdict uses: the selection score's own permutation p (it was
    chosen before looking at RL), every other score's p after Holm's correction over the
    scores tested besides it (they are looked at after the fact)."""
    from ..stats import holm

    others = [r for r in rows if r["score"] != select_by]
    adjusted = holm([_f(r["spearman_p"]) for r in others]) if others else []
    out = {r["score"]: float(a) for r, a in zip(others, adjusted)}
    out.update({r["score"]: _f(r["spearman_p"]) for r in rows if r["score"] == select_by})
    return out


def validity_verdicts(rows: Sequence[Mapping], select_by: str | None,
                      alpha: float = ALPHA) -> dict[str, str]:
    """The verdict of every score (see :func:`validity_p` for the p each one uses)."""
    p = validity_p(rows, select_by)
    return {r["score"]: validity_verdict(r, alpha, p[r["score"]]) for r in rows}


def count_verdicts(verdicts: Sequence[str]) -> dict[str, int]:
    """How many comparisons got each verdict (every verdict listed, zeros included)."""
    c = Counter(verdicts)
    return {v: c.get(v, 0) for v in COMPARISON_VERDICTS}


def hypothesis_verdict(verdicts: Sequence[str]) -> str:
    """Whether 'the selected layer beats every other layer' holds, from the comparisons.

    * supported: significantly better than every other layer;
    * consistent...: better than every other layer, significantly or consistently;
    * not supported: consistently or significantly worse than at least one layer;
    * not established: anything else (a comparison without a clear difference).

    >>> hypothesis_verdict([SIG_BETTER, CONSISTENT_BETTER])
    'consistent with the data but not statistically established'
    """
    if not verdicts or NOT_COMPUTABLE in verdicts:
        return NOT_ESTABLISHED
    if any(v in (SIG_WORSE, CONSISTENT_WORSE) for v in verdicts):
        return NOT_SUPPORTED
    if all(v == SIG_BETTER for v in verdicts):
        return SUPPORTED
    if all(v in (SIG_BETTER, CONSISTENT_BETTER) for v in verdicts):
        return CONSISTENT
    return NOT_ESTABLISHED


def rules_text(rules: Sequence[str], alpha: float = ALPHA) -> str:
    """The rules as a Markdown list with ``alpha`` filled in."""
    return "\n".join(f"- {r.format(alpha=f'{alpha:g}')}" for r in rules)
