"""Validity of pre-RL scores: rank correlation with the RL outcome across layers.

For each analysis score (composite and each probe), a vector (layers,), the
Spearman rho and Kendall tau-b with the RL outcome per layer (mean over seeds
of ``outcome`` (seeds, layers)) are computed with ``scipy.stats.spearmanr`` /
``kendalltau``. p-values come from ``scipy.stats.permutation_test`` over
layer pairings (exact when layers! <= n_permutations, i.e. up to 7 layers,
valid with ties), so the smallest p is the honest ``2 / layers!``.

The percentile bootstrap CI resamples, per iteration, the seeds of
``outcome`` (within environments when ``strata`` is given; outcome per layer
= mean over the resampled seeds) and, when dataset-bootstrap replicates of the
score are given (n_rep, layers), one replicate drawn at random. Resamples where
the correlation is undefined (a constant vector) are dropped and counted in the
note.

Constant scores or outcomes, NaN in a score, or fewer than 3 layers give a
row with NaN values and a ``'not computable: ...'`` note; malformed input
(shapes, NaN in the outcome, unknown replicate names) raises StatsError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as _st

from ._validate import as_matrix, check_confidence, check_n_resamples, check_rng, strata_groups
from .bootstrap import resample_indices
from .errors import StatsError
from .power import layer_warning, smallest_p_rank_correlation

__all__ = ["spearman_rho", "kendall_tau_b", "score_validity", "VALIDITY_COLUMNS"]

VALIDITY_COLUMNS = (
    "score",
    "n_layers",
    "n_seeds",
    "n_replicates",
    "spearman",
    "spearman_ci_low",
    "spearman_ci_high",
    "spearman_p",
    "kendall",
    "kendall_ci_low",
    "kendall_ci_high",
    "kendall_p",
    "confidence",
    "smallest_attainable_p",
    "note",
)


def spearman_rho(a, b, axis: int = -1) -> np.ndarray:
    """Spearman rho along ``axis`` (average ranks for ties), broadcast over the other axes.

    >>> float(spearman_rho([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]))
    0.8
    """
    ra = _st.rankdata(np.asarray(a, dtype=float), axis=axis)
    rb = _st.rankdata(np.asarray(b, dtype=float), axis=axis)
    ra = ra - ra.mean(axis=axis, keepdims=True)
    rb = rb - rb.mean(axis=axis, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=axis) * (rb**2).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(axis=axis) / np.where(den > 0, den, 1.0), np.nan)


def kendall_tau_b(a, b, axis: int = -1) -> np.ndarray:
    """Kendall tau-b along ``axis``, broadcast over the other axes (O(layers**2)).

    >>> float(kendall_tau_b([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]))
    0.6666666666666666
    """
    x = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    y = np.moveaxis(np.asarray(b, dtype=float), axis, -1)
    sx = np.sign(x[..., :, None] - x[..., None, :]).astype(np.int8)
    sy = np.sign(y[..., :, None] - y[..., None, :]).astype(np.int8)
    num = (sx * sy).sum(axis=(-2, -1), dtype=np.int64)
    den = np.sqrt(
        np.abs(sx).sum(axis=(-2, -1), dtype=np.int64)
        * np.abs(sy).sum(axis=(-2, -1), dtype=np.int64)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _pearson(a, b, axis: int = -1) -> np.ndarray:
    a = a - a.mean(axis=axis, keepdims=True)
    b = b - b.mean(axis=axis, keepdims=True)
    return (a * b).sum(axis=axis) / np.sqrt((a**2).sum(axis=axis) * (b**2).sum(axis=axis))


def _perm_p(s, y, stat, rng, n_permutations) -> float:
    if stat is spearman_rho:  # ranks are invariant under re-pairing: rank once
        s, y, stat = _st.rankdata(s), _st.rankdata(y), _pearson
    # One sample permuted against fixed y: layers! distinct pairings (scipy
    # would count layers!**2 if both were passed, and go Monte Carlo sooner).
    res = _st.permutation_test(
        (s,),
        lambda u, axis: stat(u, y, axis=axis),
        vectorized=True,
        permutation_type="pairings",
        n_resamples=n_permutations,
        rng=rng,
    )
    return float(min(1.0, res.pvalue))


def _smallest_perm_p(n_layers: int, n_permutations: int) -> float:
    if math.factorial(n_layers) <= n_permutations:
        return smallest_p_rank_correlation(n_layers)
    return 2.0 / (n_permutations + 1)


def _nan_row(name, n_layers, n_seeds, n_rep, confidence, note, n_permutations) -> dict:
    nan = float("nan")
    row = dict.fromkeys(VALIDITY_COLUMNS, nan)
    row.update(
        score=name,
        n_layers=n_layers,
        n_seeds=n_seeds,
        n_replicates=n_rep,
        confidence=confidence,
        smallest_attainable_p=_smallest_perm_p(n_layers, n_permutations),
        note=note,
    )
    return row


def _check_replicates(score_replicates, scores, n_layers) -> dict[str, np.ndarray]:
    if score_replicates is None:
        return {}
    out = {}
    for name, rep in score_replicates.items():
        if name not in scores:
            raise StatsError(
                f"score_replicates has {name!r}, which is not in scores; accepted: {sorted(scores)}"
            )
        r = np.asarray(rep, dtype=float)
        if r.ndim != 2 or r.shape[1] != n_layers or r.shape[0] < 1:
            raise StatsError(
                f"score_replicates[{name!r}] must have shape (n_rep >= 1, {n_layers} layers); got "
                f"{r.shape}"
            )
        out[name] = r
    return out


def _one_score(name, s, rep, outcome, y, idx, rng, confidence, n_permutations) -> dict:
    n_seeds, n_layers = outcome.shape
    n_rep = 0 if rep is None else rep.shape[0]
    row = _nan_row(name, n_layers, n_seeds, n_rep, confidence, "", n_permutations)
    if n_layers < 3:
        row["note"] = f"not computable: rank correlation needs >= 3 layers, got {n_layers}"
        return row
    s = np.asarray(s, dtype=float)
    if s.shape != (n_layers,):
        raise StatsError(
            f"scores[{name!r}] must have shape ({n_layers},), one value per layer; got {s.shape}"
        )
    bad = [int(i) for i in np.flatnonzero(~np.isfinite(s))]
    if bad:
        row["note"] = f"not computable: score {name!r} is not finite for layer column(s) {bad}"
        return row
    if np.ptp(s) == 0:
        row["note"] = (
            f"not computable: score {name!r} is constant across layers (correlation undefined)"
        )
        return row
    if np.ptp(y) == 0:
        row["note"] = "not computable: RL outcome is constant across layers (correlation undefined)"
        return row
    if rep is not None and not np.isfinite(rep).all():
        row["note"] = f"not computable: score_replicates[{name!r}] contains non-finite values"
        return row
    row["spearman"] = float(_st.spearmanr(s, y).statistic)
    row["kendall"] = float(_st.kendalltau(s, y).statistic)
    row["spearman_p"] = _perm_p(s, y, spearman_rho, rng, n_permutations)
    row["kendall_p"] = _perm_p(s, y, kendall_tau_b, rng, n_permutations)
    notes = [w for w in [layer_warning(n_layers)] if w]
    if idx is None and rep is None:
        notes.append("CI not computable: 1 seed and no score replicates")
    else:
        n_b = n_permutations if idx is None else idx.shape[0]
        yb = np.broadcast_to(y, (n_b, n_layers)) if idx is None else outcome[idx].mean(axis=1)
        sb = (
            np.broadcast_to(s, yb.shape)
            if rep is None
            else rep[rng.integers(0, rep.shape[0], size=yb.shape[0])]
        )
        alpha = 1.0 - confidence
        for key, stat in (("spearman", spearman_rho), ("kendall", kendall_tau_b)):
            vals = stat(sb, yb)
            ok = vals[np.isfinite(vals)]
            if ok.size < 0.5 * vals.size:
                notes.append(
                    f"{key} CI not computable: {vals.size - ok.size} of {vals.size} resamples "
                    f"undefined"
                )
                continue
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = (
                float(v) for v in np.quantile(ok, [alpha / 2, 1 - alpha / 2])
            )
            if ok.size < vals.size:
                notes.append(
                    f"{key} CI: {vals.size - ok.size} of {vals.size} resamples undefined, dropped"
                )
        if idx is None:
            notes.append("CI resamples score replicates only (1 seed)")
        if rep is None:
            notes.append("CI resamples seeds only (no score replicates)")
    row["note"] = "; ".join(notes)
    return row


def score_validity(
    scores: Mapping[str, np.ndarray],
    score_replicates: Mapping[str, np.ndarray] | None,
    outcome,
    rng: np.random.Generator,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    n_permutations: int = 9999,
    strata=None,
) -> list[dict]:
    """One row (keys VALIDITY_COLUMNS) per score name.

    scores: {name: (layers,)}; score_replicates: {name: (n_rep, layers)} or
    None (names a subset of scores); outcome: (seeds, layers) RL outcome,
    higher is better; strata: optional (seeds,) environment labels.
    """
    check_rng(rng)
    confidence = check_confidence(confidence)
    n_resamples = check_n_resamples(n_resamples)
    n_permutations = check_n_resamples(n_permutations, "n_permutations")
    out = as_matrix(outcome, "outcome", min_seeds=1)
    n_seeds, n_layers = out.shape
    if not isinstance(scores, Mapping) or not scores:
        raise StatsError(
            "scores must be a non-empty mapping {score name: array of shape (layers,)}"
        )
    reps = _check_replicates(score_replicates, scores, n_layers)
    y = out.mean(axis=0)
    rows = []
    for name, s in scores.items():
        idx = None
        if n_seeds >= 2:
            idx = resample_indices(rng, strata_groups(strata, n_seeds), n_resamples)
        rows.append(
            _one_score(str(name), s, reps.get(name), out, y, idx, rng, confidence, n_permutations)
        )
    return rows
