"""Paired comparison of the selected layer against every other layer, same seeds.

Rows of ``final`` (seeds, layers) are seeds, aligned across layers (row s of
every column comes from the same seed / environment instance); higher is
better. For each other layer the paired differences ``d = final[:, selected]
- final[:, other]`` (seeds,) give:

* ``mean_diff`` and its bootstrap CI (``diff_ci_low``, ``diff_ci_high``) over
  seeds, stratified by environment when ``strata`` is given;
* ``p_sign_flip``: exact paired permutation (sign-flip) test of the mean
  difference (:mod:`.signflip`);
* ``p_wilcoxon``: ``scipy.stats.wilcoxon`` signed-rank test (zero differences
  dropped; exact without ties, permutation with ties);
* ``*_holm``: Holm-corrected across the computable comparisons of this call;
* ``prob_improvement``: the *paired* probability of improvement,
  ``mean_s(1[x_s > y_s] + 0.5 * 1[x_s == y_s])`` over seeds. rliable's
  ``probability_of_improvement`` is unpaired (all seed pairs, Mann-Whitney);
  this one compares each seed with the same seed;
* ``effect_size``: the matched-pairs rank-biserial correlation
  ``(R+ - R-) / (R+ + R-)`` (ranks of |d|, zeros dropped; in [-1, 1]; +1 when
  the selected layer wins on every seed), named in ``effect_size_name``;
  ``cohens_dz`` = mean(d) / sd(d, ddof=1) is given too.

Bad input (NaN, wrong shape, unknown names) raises StatsError; a single
seed gives rows whose inferential columns are NaN with a
``'not computable: ...'`` note.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _st

from ._validate import as_matrix, as_vector, check_alpha, check_names, check_rng
from .bootstrap import DEFAULT_METHOD, DEFAULT_N_RESAMPLES, bootstrap_ci
from .errors import StatsError
from .multiple import holm
from .power import ci_warning, seed_warning, smallest_p, smallest_p_holm
from .signflip import sign_flip_test

__all__ = [
    "compare_to_selected",
    "wilcoxon_p",
    "prob_improvement",
    "rank_biserial",
    "cohens_dz",
    "COMPARISON_COLUMNS",
    "EFFECT_SIZE_NAME",
]

EFFECT_SIZE_NAME = "rank_biserial"

COMPARISON_COLUMNS = (
    "selected",
    "other",
    "other_kind",
    "n_seeds",
    "mean_selected",
    "mean_other",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "ci_method",
    "confidence",
    "p_sign_flip",
    "p_wilcoxon",
    "p_sign_flip_holm",
    "p_wilcoxon_holm",
    "n_comparisons",
    "prob_improvement",
    "effect_size",
    "effect_size_name",
    "cohens_dz",
    "smallest_attainable_p",
    "smallest_attainable_p_holm",
    "note",
)


def wilcoxon_p(d, rng: np.random.Generator | None = None, *, n_resamples: int = 9999) -> float:
    """Two-sided Wilcoxon signed-rank p for paired differences d (seeds,).

    Zeros are dropped (``zero_method='wilcox'``); all-zero d gives 1.0.
    ``scipy.stats.wilcoxon`` (exact without ties up to 50 seeds; exhaustive
    permutation with ties or zeros up to 13 seeds). With ties or zeros above 13
    seeds, scipy would fall back to the normal approximation, so the exact
    conditional null is used instead: the sign-flip distribution of the signed
    average ranks (the same null scipy enumerates at <= 13), exact up to 30
    non-zero differences and ``rng``-driven Monte Carlo beyond.
    """
    a = as_vector(d, "d", min_len=1)
    nz = a[a != 0]
    if nz.size == 0:
        return 1.0
    tied = nz.size < a.size or np.unique(np.abs(nz)).size < nz.size
    if tied and a.size > 13:
        signed_ranks = np.sign(nz) * _st.rankdata(np.abs(nz))
        return sign_flip_test(signed_ranks, rng, n_resamples=n_resamples)
    return float(_st.wilcoxon(a, zero_method="wilcox", method="auto").pvalue)


def prob_improvement(x, y) -> float:
    """Paired P(x_s > y_s) + 0.5 P(x_s == y_s) over seeds; x, y (seeds,).

    >>> prob_improvement([3.0, 2.0, 1.0], [1.0, 2.0, 3.0])
    0.5
    """
    a, b = as_vector(x, "x"), as_vector(y, "y")
    if a.shape != b.shape:
        raise StatsError(
            f"x and y must be paired (same number of seeds); got {a.size} and {b.size}"
        )
    return float(np.mean((a > b) + 0.5 * (a == b)))


def rank_biserial(d) -> float:
    """Matched-pairs rank-biserial correlation of d (seeds,); 0.0 when all d == 0.

    >>> rank_biserial([1.0, 2.0, -3.0])
    0.0
    """
    a = as_vector(d, "d")
    nz = a[a != 0]
    if nz.size == 0:
        return 0.0
    r = _st.rankdata(np.abs(nz))
    return float((r[nz > 0].sum() - r[nz < 0].sum()) / r.sum())


def cohens_dz(d) -> float:
    """mean(d) / sd(d, ddof=1) for d (seeds,); NaN when undefined (n < 2 or sd == 0)."""
    a = as_vector(d, "d")
    if a.size < 2:
        return float("nan")
    sd = float(np.std(a, ddof=1))
    return float(np.mean(a) / sd) if sd > 0 else float("nan")


def _resolve(layers: Sequence[str], selected: str, baselines: Sequence[str], n: int):
    names = check_names(layers, n)
    if selected not in names:
        raise StatsError(f"selected layer {selected!r} is not in layers; accepted: {names}")
    for b in baselines:
        if b not in names:
            raise StatsError(f"baseline {b!r} is not in layers; accepted: {names}")
    return names


def compare_to_selected(
    final,
    layers: Sequence[str],
    selected: str,
    rng: np.random.Generator,
    *,
    baselines: Sequence[str] = (),
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    method: str = DEFAULT_METHOD,
    strata=None,
    alpha: float = 0.05,
) -> list[dict]:
    """One row (dict, keys COMPARISON_COLUMNS) per layer other than ``selected``.

    final: (seeds, layers) final returns, rows = the same seeds for every
    layer. layers: (layers,) names. baselines: names labelled
    ``other_kind='baseline'`` (others are 'candidate'). strata: optional
    (seeds,) environment labels for a stratified CI.
    """
    check_rng(rng)
    a = check_alpha(alpha)
    x = as_matrix(final, "final", min_seeds=1)
    n, n_layers = x.shape
    names = _resolve(layers, selected, tuple(baselines), n_layers)
    sel = names.index(selected)
    others = [j for j in range(n_layers) if j != sel]
    if not others:
        return []
    d = x[:, [sel]] - x[:, others]  # (seeds, m)
    m = len(others)
    base = {
        "selected": selected,
        "n_seeds": n,
        "ci_method": method,
        "confidence": confidence,
        "n_comparisons": m,
        "effect_size_name": EFFECT_SIZE_NAME,
        "smallest_attainable_p": smallest_p(n)["sign_flip"],
        "smallest_attainable_p_holm": smallest_p_holm(n, m),
    }
    rows = []
    for k, j in enumerate(others):
        rows.append(
            {
                **base,
                "other": names[j],
                "other_kind": "baseline" if names[j] in baselines else "candidate",
                "mean_selected": float(x[:, sel].mean()),
                "mean_other": float(x[:, j].mean()),
                "mean_diff": float(d[:, k].mean()),
                "prob_improvement": prob_improvement(x[:, sel], x[:, j]),
            }
        )
    if n < 2:
        _not_computable(rows, a, m)
    else:
        _add_inference(rows, d, rng, a, confidence=confidence, n_resamples=n_resamples,
                       method=method, strata=strata)
    return [{c: r[c] for c in COMPARISON_COLUMNS} for r in rows]


def _not_computable(rows: list[dict], alpha: float, m: int) -> None:
    """Fill the inferential columns of one-seed ``rows`` with NaN and say why."""
    nan = float("nan")
    for r in rows:
        r.update(
            diff_ci_low=nan,
            diff_ci_high=nan,
            p_sign_flip=nan,
            p_wilcoxon=nan,
            p_sign_flip_holm=nan,
            p_wilcoxon_holm=nan,
            effect_size=nan,
            cohens_dz=nan,
            n_comparisons=0,
            note="not computable: 1 seed, paired CIs and tests need >= 2 seeds; "
            + seed_warning(1, alpha, m),
        )


def _add_inference(rows: list[dict], d: np.ndarray, rng: np.random.Generator, alpha: float,
                   *, confidence: float, n_resamples: int, method: str, strata) -> None:
    """Fill the CI, test, effect-size and note columns of ``rows`` from the paired
    differences ``d`` (seeds, len(rows)), drawing from ``rng`` in this order: the
    bootstrap, then each comparison's sign-flip test, then each one's Wilcoxon test."""
    n, m = d.shape
    lo, hi = bootstrap_ci(
        d, "mean", rng, confidence=confidence, n_resamples=n_resamples, method=method, strata=strata
    )
    p_flip = np.array([sign_flip_test(d[:, k], rng) for k in range(m)])
    p_wil = np.array([wilcoxon_p(d[:, k], rng) for k in range(m)])
    flip_h, wil_h = holm(p_flip), holm(p_wil)
    warn = [
        w
        for w in (seed_warning(n, alpha, m), ci_warning(n, confidence) if strata is None else "")
        if w
    ]
    for k, r in enumerate(rows):
        notes = list(warn)
        if np.all(d[:, k] == 0):
            notes.append("all paired differences are zero")
        elif np.ptp(d[:, k]) == 0:
            notes.append(
                "all paired differences are equal: zero-width CI, cohens_dz not computable"
            )
        r.update(
            diff_ci_low=float(lo[k]),
            diff_ci_high=float(hi[k]),
            p_sign_flip=float(p_flip[k]),
            p_wilcoxon=float(p_wil[k]),
            p_sign_flip_holm=float(flip_h[k]),
            p_wilcoxon_holm=float(wil_h[k]),
            effect_size=rank_biserial(d[:, k]),
            cohens_dz=cohens_dz(d[:, k]),
            note="; ".join(notes),
        )
