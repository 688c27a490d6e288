"""What the study's seeds can detect: the minimum detectable effect of each Holm family.

A paired difference passes when its Holm-corrected sign-flip p is below 0.05; the first
step of Holm over m tests is a test at level 0.05 / m. The exact sign-flip test with n
units cannot reach a p below ``2 / 2**n``, so where ``m * 2 / 2**n > 0.05`` no difference
can pass at all (the minimum detectable effect is infinite). Otherwise the minimum
detectable effect is approximated by the paired t-test's: the smallest true mean
difference that a two-sided one-sample t-test at level ``alpha / m`` detects with
probability ``power`` (80 %) from n units whose paired differences have the family's
typical standard deviation (the median over its comparisons), from the noncentral t
distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import optimize
from scipy import stats as _st

from ... import stats

POWER = 0.8
ALPHA = 0.05
POWER_COLUMNS = ("holm_family", "units", "n_units", "holm_size", "smallest_p_holm",
                 "diff_frac_sd", "mde_frac", "power", "alpha")


def t_power(effect: float, sd: float, n: int, level: float) -> float:
    """Power of the two-sided one-sample t-test at ``level`` with ``n`` units whose
    differences have mean ``effect`` and SD ``sd``.

    >>> round(t_power(0.0, 1.0, 10, 0.05), 3)
    0.05
    """
    df = n - 1
    crit = _st.t.ppf(1 - level / 2, df)
    nc = effect * math.sqrt(n) / sd
    lower = float(_st.nct.cdf(-crit, df, nc))     # NaN far in the tail: it is ~0 there
    return float(_st.nct.sf(crit, df, nc)) + (0.0 if math.isnan(lower) else lower)


def min_detectable_effect(sd: float, n: int, m: int = 1, *, alpha: float = ALPHA,
                          power: float = POWER) -> float:
    """Smallest mean paired difference detected with probability ``power`` by a test at
    ``alpha / m`` (Holm's first step) from ``n`` units with SD ``sd`` of the differences
    (paired t approximation, in the units of ``sd``); inf when the exact sign-flip test
    cannot reach ``alpha`` with Holm over ``m`` (``m * 2 / 2**n > alpha``), NaN when ``sd``
    is not a positive number or n < 2.

    >>> round(min_detectable_effect(1.0, 10), 3)
    0.996
    >>> min_detectable_effect(1.0, 5, 4)
    inf
    """
    if n < 2 or not (math.isfinite(sd) and sd > 0):
        return math.nan
    if stats.smallest_p_holm(n, m) > alpha:
        return math.inf
    level = alpha / m
    hi = sd
    while t_power(hi, sd, n, level) < power:
        hi *= 2
    return float(optimize.brentq(lambda e: t_power(e, sd, n, level) - power, 0.0, hi,
                                 xtol=1e-9 * sd))


def power_rows(pair_rows: Sequence[Mapping]) -> list[dict]:
    """One row per Holm family of the paired tables (``holm_family`` and the units of its
    rows): units, tests, the smallest Holm p the sign-flip test can give, the median SD of
    its paired differences (fraction of the achievable) and the minimum detectable effect
    (fraction)."""
    families: dict[tuple[str, str], list[Mapping]] = {}
    for r in pair_rows:
        families.setdefault((r["holm_family"], r["units"]), []).append(r)
    rows = []
    for (family, units), members in families.items():
        n = min(int(r["n_units"]) for r in members)
        m = max(int(r["holm_size"]) for r in members)
        sds = [r["diff_frac_sd"] for r in members if math.isfinite(r["diff_frac_sd"])
               and r["diff_frac_sd"] > 0]
        sd = float(np.median(sds)) if sds else math.nan
        rows.append({"holm_family": family, "units": units, "n_units": n, "holm_size": m,
                     "smallest_p_holm": stats.smallest_p_holm(n, m) if n and m else math.nan,
                     "diff_frac_sd": sd,
                     "mde_frac": min_detectable_effect(sd, n, m) if m else math.nan,
                     "power": POWER, "alpha": ALPHA})
    return rows
