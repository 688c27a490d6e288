"""Candidate layers by name: seeding order, the random bank, and --layers parsing."""

import re

import numpy as np
import pytest

from rl_rosetta_layer.envs import GridConfig
from rl_rosetta_layer.errors import ConfigError, UnknownLayerError
from rl_rosetta_layer.layers import (
    BANK_NAMES,
    KNOWN,
    SEED_CANDIDATES,
    RandomTanhLayer,
    StructuredLayer,
    TrainableBody,
    build_layers,
    expand_layer_names,
    random_bank,
    seed_candidates,
)

GRID = GridConfig()          # 8x8, history 2: 256 inputs
SEED_ORDER = [("random_wide", 128, 0.20), ("random_narrow", 16, 0.30), ("bottleneck", 4, 0.35)]


def test_seed_candidates_names_and_shapes():
    layers = seed_candidates(GRID)
    assert list(layers) == ["random_wide", "random_narrow", "bottleneck", "structured_mid"]
    assert [layers[n].output_dim for n in layers] == [128, 16, 4, 8]
    assert all(layer.input_dim == 256 for layer in layers.values())
    assert isinstance(layers["structured_mid"], StructuredLayer)


def test_seed_candidates_drawn_in_documented_order_from_seed_7():
    layers = seed_candidates(GRID)
    rng = np.random.default_rng(7)
    for name, out, scale in SEED_ORDER:
        w = rng.normal(0.0, scale, (256, out)).astype(np.float32)
        b = rng.normal(0.0, scale, out).astype(np.float32)
        np.testing.assert_array_equal(layers[name].weight, w)
        np.testing.assert_array_equal(layers[name].bias, b)


def test_seed_candidates_are_reproducible():
    a, b = seed_candidates(GRID), seed_candidates(GRID)
    for name in ("random_wide", "random_narrow", "bottleneck"):
        np.testing.assert_array_equal(a[name].weight, b[name].weight)
        np.testing.assert_array_equal(a[name].bias, b[name].bias)
    np.testing.assert_array_equal(a["structured_mid"].projection, b["structured_mid"].projection)
    c = build_layers(["bottleneck"], GRID)["bottleneck"]   # same weights when built alone
    np.testing.assert_array_equal(c.weight, a["bottleneck"].weight)


@pytest.mark.parametrize("selected,out", [("random_narrow", 16), ("structured_mid", 8),
                                          ("bottleneck", 4)])
def test_random_bank_has_eight_distinct_layers_of_selected_shape(selected, out):
    bank = build_layers(list(BANK_NAMES), GRID, selected)
    assert list(bank) == [f"random_bank_{k}" for k in range(8)]
    weights = []
    for name, layer in bank.items():
        assert isinstance(layer, RandomTanhLayer) and layer.name == name
        assert (layer.input_dim, layer.output_dim) == (256, out)
        weights.append(layer.weight)
    for i in range(8):
        for j in range(i + 1, 8):
            assert not np.array_equal(weights[i], weights[j])


def test_random_bank_drawn_in_order_from_its_seed():
    bank = random_bank(10, 3, size=2, scale=0.5, seed=11)
    rng = np.random.default_rng(11)
    for layer in bank:
        np.testing.assert_array_equal(layer.weight, rng.normal(0, 0.5, (10, 3)).astype(np.float32))
        np.testing.assert_array_equal(layer.bias, rng.normal(0, 0.5, 3).astype(np.float32))


def test_bank_without_selection_raises():
    with pytest.raises(ConfigError, match=re.escape(
            "the random layer bank copies the selected layer's shape, but the selected layer "
            "is None")):
        build_layers(["random_bank_0"], GRID)


def test_build_baselines():
    layers = build_layers(["identity", "mlp_full"], GRID)
    assert (layers["identity"].input_dim, layers["identity"].output_dim) == (256, 256)
    body = layers["mlp_full"]
    assert isinstance(body, TrainableBody)
    assert (body.input_dim, body.output_dim, body.scale) == (256, 128, 0.20)


def test_build_unknown_layer_raises():
    with pytest.raises(UnknownLayerError, match="unknown layer 'nope'"):
        build_layers(["nope"], GRID)


def test_expand_groups_in_order_without_repeats():
    assert expand_layer_names("candidates") == list(SEED_CANDIDATES)
    assert expand_layer_names("bank") == list(BANK_NAMES)
    assert expand_layer_names("baselines") == ["identity", "mlp_full", *BANK_NAMES]
    assert expand_layer_names("all") == list(KNOWN)
    assert len(KNOWN) == 14
    assert expand_layer_names("structured_mid,candidates") == [
        "structured_mid", "random_wide", "random_narrow", "bottleneck"]
    assert expand_layer_names(" identity , identity ") == ["identity"]


def test_expand_selected():
    assert expand_layer_names("selected,identity", "bottleneck") == ["bottleneck", "identity"]


def test_expand_unknown_layer_names_it():
    with pytest.raises(UnknownLayerError, match=r"^unknown layer 'nope'; accepted: random_wide"):
        expand_layer_names("structured_mid,nope")


def test_expand_unknown_selected_layer_names_it():
    with pytest.raises(UnknownLayerError, match=r"^unknown layer 'bogus'"):
        expand_layer_names("selected", "bogus")


def test_expand_selected_without_selection():
    with pytest.raises(ConfigError, match=r"^--layers selected needs a selected layer$"):
        expand_layer_names("selected")


@pytest.mark.parametrize("spec", ["0,,x", "", "structured_mid,", ",identity", " , "])
def test_expand_malformed_list(spec):
    with pytest.raises(ConfigError, match=rf"^--layers must be a comma list of layer names, "
                                          rf"got {re.escape(repr(spec))}"):
        expand_layer_names(spec)
