"""Build the aligned (seeds, layers) matrix from per-layer, per-seed results.

:func:`common_seeds` first restricts layers with different seeds (a diverged run) to the
seeds they share, and says which seeds it left out.

>>> x, layers, seeds = align_seeds({"a": {0: 1.0, 1: 2.0}, "b": {1: 4.0, 0: 3.0}})
>>> x.tolist(), layers, seeds
([[1.0, 3.0], [2.0, 4.0]], ['a', 'b'], [0, 1])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import StatsError

__all__ = ["align_seeds", "common_seeds"]


def align_seeds(
    per_layer: Mapping[str, Mapping[object, float]],
) -> tuple[np.ndarray, list[str], list]:
    """``{layer: {seed: value}}`` -> (x (seeds, layers), layer names, sorted seeds).

    Every layer must have exactly the same seeds (pairing is by seed); a layer
    with no seeds, a missing or extra seed, or a non-finite value raises StatsError.
    """
    if not per_layer:
        raise StatsError("per_layer is empty; need at least one layer with seed results")
    layers = [str(k) for k in per_layer]
    for name, runs in per_layer.items():
        if len(runs) == 0:
            raise StatsError(
                f"layer {name!r} has no seed results (empty layer); every layer needs >= 1 seed"
            )
    first = next(iter(per_layer))
    ref = set(per_layer[first])
    for name, runs in per_layer.items():
        s = set(runs)
        if s != ref:
            missing, extra = sorted(ref - s, key=repr), sorted(s - ref, key=repr)
            raise StatsError(
                f"layer {name!r} is not paired with layer {first!r}: missing seeds {missing}, "
                f"extra seeds {extra}; every layer must have the same seeds"
            )
    seeds = sorted(ref, key=lambda v: (str(type(v)), v))
    x = np.array([[float(per_layer[name][s]) for name in per_layer] for s in seeds])
    bad = ~np.isfinite(x)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise StatsError(
            f"layer {layers[j]!r} seed {seeds[i]!r} has value {x[i, j]}; values must be finite"
        )
    return x, layers, seeds


def common_seeds(
    per_layer: Mapping[str, Mapping[object, float]],
) -> tuple[dict[str, dict], dict[object, list[str]]]:
    """Every layer restricted to the seeds all layers have, and the seeds left out.

    Returns ``({layer: {seed: value}}, {seed left out: [layers without it]})``, seeds in
    sorted order. The restricted layers may be empty (no seed is shared).

    >>> common_seeds({"a": {0: 1.0, 1: 2.0}, "b": {0: 3.0}})
    ({'a': {0: 1.0}, 'b': {0: 3.0}}, {1: ['b']})
    """
    if not per_layer:
        raise StatsError("per_layer is empty; need at least one layer with seed results")
    seed_sets = [set(runs) for runs in per_layer.values()]
    shared = set.intersection(*seed_sets)
    order = sorted(set.union(*seed_sets), key=lambda v: (str(type(v)), v))
    kept = {str(name): {s: runs[s] for s in order if s in shared}
            for name, runs in per_layer.items()}
    left_out = {s: [str(name) for name, runs in per_layer.items() if s not in runs]
                for s in order if s not in shared}
    return kept, left_out
