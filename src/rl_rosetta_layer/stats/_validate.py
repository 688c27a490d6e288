"""Input checks shared by the stats modules (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import StatsError


def as_matrix(x, name: str = "x", min_seeds: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float array of shape (seeds, layers) or raise."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsError(
            f"{name} must be numeric, shape (seeds, layers); could not convert: {exc}"
        ) from None
    if a.ndim != 2:
        raise StatsError(
            f"{name} must be a 2-D array of shape (seeds, layers); got shape {a.shape}"
        )
    if a.shape[1] == 0:
        raise StatsError(f"{name} has 0 layers (shape {a.shape}); need at least 1 layer column")
    if a.shape[0] < min_seeds:
        raise StatsError(
            f"{name} has {a.shape[0]} seed(s) (shape {a.shape}); need at least {min_seeds} seed "
            f"rows"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        s, j = (int(v) for v in np.argwhere(bad)[0])
        raise StatsError(
            f"{name} contains {a[s, j]} at (seed {s}, layer {j}) ({int(bad.sum())} non-finite "
            f"value(s)); "
            "every (seed, layer) value must be finite: drop or re-run the failed run"
        )
    return a


def as_vector(x, name: str = "x", min_len: int = 1) -> np.ndarray:
    """Return ``x`` as a finite 1-D float array or raise."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be a numeric 1-D array; could not convert: {exc}") from None
    if a.ndim != 1:
        raise StatsError(f"{name} must be a 1-D array; got shape {a.shape}")
    if a.size < min_len:
        raise StatsError(f"{name} has {a.size} value(s); need at least {min_len}")
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StatsError(f"{name} contains {a[i]} at index {i}; all values must be finite")
    return a


def check_rng(rng) -> np.random.Generator:
    """Require a ``numpy.random.Generator`` (no global random state)."""
    if not isinstance(rng, np.random.Generator):
        raise StatsError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)); "
            f"got {type(rng).__name__}"
        )
    return rng


def check_confidence(confidence) -> float:
    """Require 0 < confidence < 1."""
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise StatsError(
            f"confidence must be strictly between 0 and 1 (e.g. 0.95); got {confidence!r}"
        )
    return c


def check_alpha(alpha) -> float:
    """Require 0 < alpha < 1."""
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise StatsError(f"alpha must be strictly between 0 and 1 (e.g. 0.05); got {alpha!r}")
    return a


def check_n_resamples(n_resamples, name: str = "n_resamples", minimum: int = 100) -> int:
    """Require an integer >= ``minimum``."""
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or n_resamples < minimum
    ):
        raise StatsError(f"{name} must be an integer >= {minimum}; got {n_resamples!r}")
    return int(n_resamples)


def check_names(names: Sequence[str], n: int, name: str = "layers") -> list[str]:
    """Require ``n`` unique names, one per column."""
    if isinstance(names, str):
        raise StatsError(
            f"{name} must be a sequence of names, one per column; got the string {names!r}"
        )
    out = [str(v) for v in names]
    if len(out) != n:
        raise StatsError(
            f"{name} has {len(out)} name(s) but the array has {n} layer column(s); they must match"
        )
    seen: set[str] = set()
    for v in out:
        if v in seen:
            raise StatsError(f"{name} contains {v!r} more than once; layer names must be unique")
        seen.add(v)
    return out


def strata_groups(strata, n: int) -> list[np.ndarray]:
    """Row indices of each stratum, for ``strata`` of shape (seeds,).

    ``None`` means one stratum holding all rows. Each stratum needs >= 2 rows,
    otherwise resampling within it contributes no variability.
    """
    if strata is None:
        return [np.arange(n)]
    s = np.asarray(strata)
    if s.ndim != 1 or s.shape[0] != n:
        raise StatsError(
            f"strata must have shape ({n},), one environment label per seed row; got shape "
            f"{s.shape}"
        )
    if s.dtype.kind not in "iub":
        raise StatsError(f"strata must be integer environment labels; got dtype {s.dtype}")
    groups = [np.flatnonzero(s == g) for g in np.unique(s)]
    for g, rows in zip(np.unique(s), groups, strict=True):
        if rows.size < 2:
            raise StatsError(
                f"stratum {g} has {rows.size} seed row; stratified resampling needs >= 2 seed rows "
                f"per stratum"
            )
    return groups
