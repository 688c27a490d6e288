import numpy as np
import pytest

from rl_rosetta_layer.stats import StatsError, align_seeds


def test_aligns_by_seed():
    x, layers, seeds = align_seeds({"a": {2: 1.0, 0: 2.0}, "b": {0: 3.0, 2: 4.0}})
    assert layers == ["a", "b"] and seeds == [0, 2]
    np.testing.assert_array_equal(x, [[2.0, 3.0], [1.0, 4.0]])


def test_mismatched_seeds():
    with pytest.raises(
        StatsError,
        match=r"layer 'b' is not paired with layer 'a': missing seeds \[2\], extra seeds \[3\]",
    ):
        align_seeds({"a": {0: 1.0, 1: 1.0, 2: 1.0}, "b": {0: 1.0, 1: 1.0, 3: 1.0}})


def test_empty_layer():
    with pytest.raises(StatsError, match=r"layer 'b' has no seed results \(empty layer\)"):
        align_seeds({"a": {0: 1.0}, "b": {}})


def test_nan_value():
    with pytest.raises(StatsError, match="layer 'b' seed 1 has value nan"):
        align_seeds({"a": {0: 1.0, 1: 1.0}, "b": {0: 1.0, 1: float("nan")}})


def test_no_layers():
    with pytest.raises(StatsError, match="per_layer is empty"):
        align_seeds({})
