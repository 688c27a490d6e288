"""What a run can show: smallest attainable p-values and seed-count warnings.

With n paired seeds and no ties or zero differences, the exact two-sided
Wilcoxon signed-rank test and the exact sign-flip permutation test both have
the same smallest attainable p-value, ``2 / 2**n`` (all differences of one
sign): 0.25 at 3 seeds, 0.0625 at 5, 0.03125 at 6. So p <= 0.05 needs at
least 6 seeds; after a Holm correction over m comparisons the smallest
adjusted p is ``m * 2 / 2**n``, needing more seeds still.

Bootstrap intervals have a floor too: resampling n seeds never leaves the
observed min..max, which contains the centre of a continuous symmetric
distribution with probability ``1 - 2 / 2**n`` (75 % at 3 seeds, 93.75 % at
5), so a "95 %" bootstrap CI cannot cover 95 % of the time below 6 seeds.

For a rank correlation (Spearman, Kendall) across L layers tested by exact
permutation, the smallest two-sided p is ``2 / L!`` (1/3 at 3 layers, 1/12 at 4).

>>> smallest_p(3)
{'wilcoxon': 0.25, 'sign_flip': 0.25}
>>> min_seeds(0.05), min_seeds(0.05, n_comparisons=10)
(6, 9)
"""

from __future__ import annotations

import math

from ._validate import check_alpha
from .errors import StatsError

__all__ = [
    "smallest_p",
    "smallest_p_holm",
    "min_seeds",
    "seed_warning",
    "smallest_p_rank_correlation",
    "layer_warning",
    "max_bootstrap_coverage",
    "ci_warning",
]


def _check_count(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise StatsError(f"{name} must be a positive integer; got {n!r}")
    return n


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def smallest_p(n_seeds: int) -> dict[str, float]:
    """Smallest exact two-sided p of the paired tests with ``n_seeds`` pairs."""
    n = _check_count(n_seeds, "n_seeds")
    p = min(1.0, 2.0 ** (1 - n))
    return {"wilcoxon": p, "sign_flip": p}


def smallest_p_holm(n_seeds: int, n_comparisons: int = 1) -> float:
    """Smallest Holm-adjusted p over ``n_comparisons`` paired tests."""
    m = _check_count(n_comparisons, "n_comparisons")
    return min(1.0, m * smallest_p(n_seeds)["sign_flip"])


def min_seeds(alpha: float = 0.05, n_comparisons: int = 1) -> int:
    """Fewest seeds for which a paired test (Holm over m comparisons) can reach p <= alpha."""
    a = check_alpha(alpha)
    n = 1
    while smallest_p_holm(n, n_comparisons) > a:
        n += 1
    return n


def seed_warning(n_seeds: int, alpha: float = 0.05, n_comparisons: int = 1) -> str:
    """A warning when ``n_seeds`` cannot reach p <= alpha; '' when it can.

    >>> seed_warning(6)
    ''
    >>> print(seed_warning(3))  # doctest: +NORMALIZE_WHITESPACE
    with 3 seeds the smallest attainable two-sided p is 0.25 (exact Wilcoxon and sign-flip):
    no paired test can reach p <= 0.05, needs >= 6 seeds
    """
    a = check_alpha(alpha)
    p = smallest_p(n_seeds)["sign_flip"]
    need1 = min_seeds(a, 1)
    needm = min_seeds(a, n_comparisons)
    if p > a:
        msg = (
            f"with {_seeds(n_seeds)} the smallest attainable two-sided p is {p:.3g} "
            f"(exact Wilcoxon and sign-flip): no paired test can reach p <= {a:g}, needs >= "
            f"{need1} seeds"
        )
        if needm > need1:
            msg += f" (>= {needm} with Holm over {n_comparisons} comparisons)"
        return msg
    if n_seeds < needm:
        return (
            f"with {_seeds(n_seeds)} and Holm over {n_comparisons} comparisons the smallest "
            f"attainable "
            f"adjusted p is {smallest_p_holm(n_seeds, n_comparisons):.3g}: no corrected test can "
            f"reach "
            f"p <= {a:g}, needs >= {needm} seeds"
        )
    return ""


def smallest_p_rank_correlation(n_layers: int) -> float:
    """Smallest exact two-sided permutation p of a rank correlation over ``n_layers``."""
    n = _check_count(n_layers, "n_layers")
    return min(1.0, 2.0 / math.factorial(n))


def layer_warning(n_layers: int, alpha: float = 0.05) -> str:
    """A warning when a rank correlation over ``n_layers`` cannot reach p <= alpha; else ''."""
    a = check_alpha(alpha)
    p = smallest_p_rank_correlation(n_layers)
    if p <= a:
        return ""
    need = next(k for k in range(1, 20) if smallest_p_rank_correlation(k) <= a)
    return (
        f"with {n_layers} layers the smallest attainable two-sided p of a rank correlation is "
        f"{p:.3g}: "
        f"no correlation test can reach p <= {a:g}, needs >= {need} layers"
    )


def max_bootstrap_coverage(n_seeds: int) -> float:
    """Upper bound on the coverage of a bootstrap CI from ``n_seeds`` seeds.

    The interval stays within the observed min..max, which contains the centre
    of a continuous symmetric distribution with probability 1 - 2 / 2**n.

    >>> max_bootstrap_coverage(3)
    0.75
    """
    return 1.0 - smallest_p(n_seeds)["sign_flip"]


def ci_warning(n_seeds: int, confidence: float = 0.95) -> str:
    """A warning when bootstrap CIs from ``n_seeds`` cannot reach ``confidence``; else ''."""
    cap = max_bootstrap_coverage(n_seeds)
    if cap >= confidence:
        return ""
    return (
        f"with {_seeds(n_seeds)} a bootstrap CI cannot extend past the observed min..max, "
        f"so it covers the true value at most {100 * cap:.4g}% of the time, not "
        f"{100 * confidence:.4g}%"
    )
