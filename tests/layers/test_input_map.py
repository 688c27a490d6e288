"""A layer's optional input map (``f(x W + b)``): the built-in layers declare theirs, a
layer of your own may, and one that does not give the layer's own forward and backward is
refused before training (the agent would otherwise train a different network)."""

import numpy as np
import pytest

from rl_rosetta_layer.agent import QNetwork
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.layers import IdentityLayer, RandomTanhLayer, StructuredLayer
from rl_rosetta_layer.layers.base import check_frozen_layer
from rl_rosetta_layer.layers.custom import CustomLayer

D = 18


class Mine:
    """A layer of your own, ``relu(x W + b)``, with an input map that may be wrong."""

    def __init__(self, shift_w=0.0, bad_backward=False, w_shape=None):
        rng = np.random.default_rng(0)
        self.input_dim, self.output_dim = D, 5
        self.w = rng.normal(0.0, 0.5, (D, 5)).astype(np.float32)
        self.b = rng.normal(0.0, 0.1, 5).astype(np.float32)
        self.shift_w, self.bad_backward, self.w_shape = shift_w, bad_backward, w_shape

    def forward(self, x):
        return np.maximum(x @ self.w + self.b, 0.0)

    def backward(self, x, grad_out):
        return ((x @ self.w + self.b > 0) * grad_out) @ self.w.T

    def input_map(self):
        w = self.w + self.shift_w
        return (w[: self.w_shape] if self.w_shape else w), self.b

    def forward_pre(self, pre):
        return np.maximum(pre, 0.0), pre

    def backward_pre(self, pre, grad_out):
        return grad_out if self.bad_backward else (pre > 0) * grad_out


@pytest.mark.parametrize("layer", [
    RandomTanhLayer("random", D, 6, 0.4, np.random.default_rng(0)),
    StructuredLayer("structured", 3, 1),
    CustomLayer("mine", Mine(), "tests:Mine"),
])
def test_an_input_map_gives_the_layers_own_forward_and_backward(layer):
    check_frozen_layer(layer, D)
    w, b = layer.input_map()
    x = np.random.default_rng(1).random((4, D), dtype=np.float32)
    y, ctx = layer.forward_pre(x @ w + b)
    np.testing.assert_allclose(y, layer.forward(x), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(2).standard_normal((4, layer.output_dim)).astype(np.float32)
    np.testing.assert_allclose(layer.backward_pre(ctx, g) @ w.T, layer.backward(x, g),
                               rtol=1e-5, atol=1e-6)
    assert QNetwork(D, layer, 3, adapter="lowrank", rank=2).fold == "input_map"


def test_a_layer_without_one_is_not_folded():
    layer = IdentityLayer("identity", D)
    assert layer.input_map() is None
    assert QNetwork(D, layer, 3, adapter="lowrank", rank=2).fold is None


@pytest.mark.parametrize("inner, message", [
    (Mine(shift_w=0.1), r"forward_pre\(x W \+ b\) with its input_map\(\) differs from "
                        r"forward\(x\)"),
    (Mine(bad_backward=True), r"backward_pre\(ctx, g\) W\^T with its input_map\(\) differs "
                              r"from backward\(x, g\)"),
    (Mine(w_shape=10), r"input_map\(\) must return W \(input_dim, M\) = \(18, M\) and b "
                       r"\(M,\); got W \(10, 5\)"),
])
def test_a_wrong_input_map_is_refused_in_one_line(inner, message):
    with pytest.raises(ConfigError, match=message):
        check_frozen_layer(CustomLayer("mine", inner, "tests:Mine"), D)
