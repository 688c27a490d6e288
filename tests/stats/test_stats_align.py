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


def test_common_seeds_keeps_the_shared_seeds_and_names_the_rest():
    from rl_rosetta_layer.stats import common_seeds

    kept, left_out = common_seeds({"a": {0: 1.0, 1: 2.0, 2: 3.0}, "b": {2: 5.0, 0: 4.0},
                                   "c": {0: 6.0, 2: 7.0, 3: 8.0}})
    assert kept == {"a": {0: 1.0, 2: 3.0}, "b": {0: 4.0, 2: 5.0}, "c": {0: 6.0, 2: 7.0}}
    assert left_out == {1: ["b", "c"], 3: ["a", "b"]}
    x, layers, seeds = align_seeds(kept)
    assert seeds == [0, 2] and x.tolist() == [[1.0, 4.0, 6.0], [3.0, 5.0, 7.0]]


def test_common_seeds_with_nothing_shared_and_with_no_layers():
    from rl_rosetta_layer.stats import common_seeds

    kept, left_out = common_seeds({"a": {0: 1.0}, "b": {1: 2.0}})
    assert kept == {"a": {}, "b": {}} and left_out == {0: ["b"], 1: ["a"]}
    with pytest.raises(StatsError, match="per_layer is empty"):
        common_seeds({})
