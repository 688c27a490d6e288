"""Score every candidate layer on held-out random-policy data, with bootstrap CIs.

Probes (all fitted on the training split, alpha by CV, scored on the test split):
- ``reward_r2``: features z_t -> reward r_t (the seed's probe);
- ``transition_r2``: [z_t, one-hot a_t] -> z_{t+1}, in the layer's own space (the seed's);
- ``value_r2``: z_t -> the best achievable return from s_t (what a policy needs);
- ``state_r2``: z_t -> the true state (agent and goal coordinates).
``effective_rank`` is the normalised effective rank of the test rows' features, and
``composite_score`` the seed's mix: 0.45 clip((R2_r + 1) / 2) + 0.45 clip((R2_t + 1) / 2)
+ 0.10 rank. CIs are basic bootstrap intervals over the held-out rows.

A :class:`~.acting.LayerProbe` passed in adds its columns (the acting probes of
:mod:`.acting`) after these, with CIs from its own replicates, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .acting import one_thread
from .dataset import TransitionData
from .probes import fit_ridge_cv, fit_ridge_cv_many, r2_replicates, r2_score
from .rank import effective_rank, effective_rank_replicates

#: The seed's columns first, then the new probes.
METRICS = ("reward_r2", "transition_r2", "effective_rank", "composite_score", "value_r2",
           "state_r2")
SELECTION_METRICS = ("composite_score", "value_r2", "state_r2", "reward_r2", "transition_r2")
#: The score that selects a layer unless told otherwise (``--select-by``), and what an
#: analysis written before ``select_by`` was recorded selected by.
DEFAULT_SELECTION_METRIC = SELECTION_METRICS[0]
#: Bootstrap resamples of the held-out rows behind each score's CI, unless told otherwise.
N_BOOTSTRAP = 200
#: Share of the transitions held out for scoring, unless told otherwise.
TEST_FRACTION = 0.2


def composite(reward_r2, transition_r2, rank):
    """The seed's composite score (works on scalars and arrays)."""
    return (0.45 * np.clip((np.asarray(reward_r2) + 1) / 2, 0, 1)
            + 0.45 * np.clip((np.asarray(transition_r2) + 1) / 2, 0, 1)
            + 0.10 * np.asarray(rank))


@dataclass(frozen=True)
class LayerScores:
    """Point scores (metric -> float), CIs (metric -> (low, high)) and bootstrap
    replicates (metric -> (R,)) of one layer."""

    layer: str
    scores: dict
    ci: dict
    replicates: dict


def split_rows(n: int, test_fraction: float, rng: np.random.Generator):
    """Random train/test row indices."""
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test fraction must be in (0, 1), got {test_fraction!r}")
    perm = rng.permutation(n)
    n_test = max(2, int(round(n * test_fraction)))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def score_layer(layer, data: TransitionData, train: np.ndarray, test: np.ndarray,
                counts: np.ndarray, rng: np.random.Generator, confidence: float = 0.95,
                probe=None) -> LayerScores:
    """All probes of one layer. ``counts`` (R, len(test)) are the shared bootstrap resamples
    of the test rows, so every layer is judged on the same resamples. ``probe`` (a
    :class:`~.acting.LayerProbe`, or None) adds its columns after :data:`METRICS`."""
    z = np.asarray(layer.forward(data.obs), np.float64)
    z_next = np.asarray(layer.forward(data.next_obs), np.float64)
    a_hot = np.eye(data.n_actions)[data.actions]
    za = np.concatenate([z, a_hot], axis=1)
    # Probes on the same features share one decomposition per fold. An environment that
    # exposes no true state (state of width 0) gets NaN for the state probe.
    on_z = {"reward_r2": data.rewards, "value_r2": data.optimal_return}
    if data.state.shape[1]:
        on_z["state_r2"] = data.state
    fits = fit_ridge_cv_many(z[train], {k: v[train] for k, v in on_z.items()}, rng)
    fits["transition_r2"] = fit_ridge_cv(za[train], z_next[train], rng)
    targets = {"transition_r2": (za, z_next), **{k: (z, v) for k, v in on_z.items()}}
    scores = {"state_r2": float("nan")}
    reps = {"state_r2": np.full(len(counts), np.nan)}
    for name, (X, Y) in targets.items():
        pred = fits[name].predict(X[test])
        scores[name] = r2_score(Y[test], pred)
        reps[name] = r2_replicates(Y[test], pred, counts)
    scores["effective_rank"] = effective_rank(z[test])
    reps["effective_rank"] = effective_rank_replicates(z[test], counts)
    scores["composite_score"] = float(composite(scores["reward_r2"], scores["transition_r2"],
                                                scores["effective_rank"]))
    reps["composite_score"] = composite(reps["reward_r2"], reps["transition_r2"],
                                        reps["effective_rank"])
    metrics = METRICS
    if probe is not None:
        for name, (score, replicates) in probe(layer).items():
            if np.shape(replicates) != (len(counts),):
                raise ConfigError(f"probe column {name!r} gave replicates of shape "
                                  f"{np.shape(replicates)}; the analysis draws "
                                  f"{len(counts)} resamples: build the probe with "
                                  f"n_bootstrap={len(counts)}")
            scores[name], reps[name] = score, np.asarray(replicates, np.float64)
        metrics = METRICS + tuple(probe.columns)
    tail = (1.0 - confidence) / 2 * 100
    # Basic (reverse-percentile) intervals: resampling duplicates rows, which biases the
    # effective rank (and so the composite) of every replicate downwards; reflecting the
    # replicates around the point estimate removes that shift.
    ci = {}
    for m in metrics:
        low, high = np.percentile(reps[m], [tail, 100 - tail])
        ci[m] = (float(2 * scores[m] - high), float(2 * scores[m] - low))
    return LayerScores(layer.name, {m: float(scores[m]) for m in metrics}, ci,
                       {m: reps[m] for m in metrics})


def prepare_split(data: TransitionData, rng: np.random.Generator, *,
                  test_fraction: float = TEST_FRACTION, n_bootstrap: int = N_BOOTSTRAP):
    """Train rows, test rows and bootstrap counts (R, n_test) shared by every layer."""
    if n_bootstrap < 10:
        raise ConfigError(f"n_bootstrap must be >= 10, got {n_bootstrap!r}")
    train, test = split_rows(len(data), test_fraction, rng)
    counts = rng.multinomial(len(test), np.full(len(test), 1.0 / len(test)),
                             size=n_bootstrap).astype(np.float64)
    return train, test, counts


def analyze_layers(layers: dict, data: TransitionData, rng: np.random.Generator, *,
                   split=None, test_fraction: float = TEST_FRACTION,
                   n_bootstrap: int = N_BOOTSTRAP,
                   confidence: float = 0.95, progress=None, probe=None) -> list[LayerScores]:
    """Score each of ``layers`` (name -> frozen layer) on ``data``, all on the same split
    (``split`` from :func:`prepare_split`, or a new one), with ``probe``'s columns too
    when given (:func:`score_layer`).

    Runs with one BLAS thread (:func:`.acting.one_thread`): the scores are the same
    whatever the caller's thread settings."""
    train, test, counts = split or prepare_split(data, rng, test_fraction=test_fraction,
                                                 n_bootstrap=n_bootstrap)
    out = []
    for layer in layers.values():
        with one_thread():
            out.append(score_layer(layer, data, train, test, counts, rng, confidence, probe))
        if progress is not None:
            progress(1)
    return out


def check_selection_metric(metric: str) -> str:
    """``metric`` if a layer can be selected by it: a ridge probe's score
    (:data:`SELECTION_METRICS`) or an acting probe's (``ACTING_METRICS``, which only
    ``rosetta study`` computes); else a ConfigError naming them."""
    from .acting import ACTING_METRICS

    if metric not in SELECTION_METRICS + ACTING_METRICS:
        raise ConfigError(f"unknown selection metric {metric!r}; accepted: "
                          f"{', '.join(SELECTION_METRICS)} (and in a study the acting "
                          f"probes' {', '.join(ACTING_METRICS)})")
    return metric


def select_layer(results: list[LayerScores], metric: str = DEFAULT_SELECTION_METRIC) -> str:
    """Name of the layer with the highest ``metric`` (ties: the first listed)."""
    check_selection_metric(metric)
    if not results:
        raise ConfigError("no layers were analysed, so none can be selected")
    if any(metric not in r.scores for r in results):
        raise ConfigError(f"selection by {metric!r} needs the acting probes, which "
                          f"`rosetta study` runs; accepted here: "
                          f"{', '.join(SELECTION_METRICS)}")
    return max(results, key=lambda r: r.scores[metric]).layer
