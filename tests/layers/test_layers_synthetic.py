"""Frozen numpy layers: gradients, batch dims, read-only weights, exact structured features."""

import numpy as np
import pytest

from rl_rosetta_layer.envs import GridConfig, VectorVideoGrid
from rl_rosetta_layer.layers import IdentityLayer, RandomTanhLayer, StructuredLayer


def numeric_input_grad(layer, x, g, eps=1e-6):
    """Central finite differences of L(x) = sum(layer.forward(x) * g)."""
    x = x.copy()
    out = np.zeros_like(x)
    flat, gflat = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = float((layer.forward(x) * g).sum())
        flat[i] = keep - eps
        down = float((layer.forward(x) * g).sum())
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return out


def make_layers():
    rng = np.random.default_rng(0)
    return [
        RandomTanhLayer("rt", 18, 7, 0.4, rng),
        StructuredLayer("st", 3, 1),    # 3x3 grid, one frame: 18 inputs
        StructuredLayer("st2", 2, 2),   # reads only the newest of two frames: 16 inputs
        IdentityLayer("id", 18),
    ]


@pytest.mark.parametrize("layer", make_layers(), ids=lambda layer: layer.name)
@pytest.mark.parametrize("shape", [(5,), (2, 3)], ids=["N", "S,N"])
def test_backward_matches_finite_differences(layer, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 0.5, shape + (layer.input_dim,))
    g = rng.normal(0.0, 1.0, shape + (layer.output_dim,))
    analytic = layer.backward(x, g)
    assert analytic.shape == x.shape
    np.testing.assert_allclose(analytic, numeric_input_grad(layer, x, g), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("layer", make_layers(), ids=lambda layer: layer.name)
def test_forward_train_and_backward_from_agree_with_forward_and_backward(layer):
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 0.5, (2, 4, layer.input_dim))
    g = rng.normal(0.0, 1.0, (2, 4, layer.output_dim))
    y, ctx = layer.forward_train(x)
    np.testing.assert_array_equal(y, layer.forward(x))
    np.testing.assert_allclose(layer.backward_from(ctx, g.copy()), layer.backward(x, g),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", make_layers(), ids=lambda layer: layer.name)
def test_leading_batch_dims_match_row_by_row(layer):
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.5, (3, 4, layer.input_dim)).astype(np.float32)
    g = rng.normal(0.0, 1.0, (3, 4, layer.output_dim)).astype(np.float32)
    y = layer.forward(x)
    assert y.shape == (3, 4, layer.output_dim)
    grad = layer.backward(x, g)
    for s in range(3):
        np.testing.assert_allclose(y[s], layer.forward(x[s]), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(grad[s], layer.backward(x[s], g[s]), rtol=1e-6, atol=1e-6)
        for n in range(4):
            np.testing.assert_allclose(y[s, n], layer.forward(x[s, n]), rtol=1e-6, atol=1e-6)


def test_float32_inputs_give_float32_outputs():
    for layer in make_layers():
        x = np.zeros((2, layer.input_dim), np.float32)
        assert layer.forward(x).dtype == np.float32


def test_random_tanh_forward_formula():
    rng = np.random.default_rng(4)
    layer = RandomTanhLayer("rt", 6, 3, 0.5, np.random.default_rng(9))
    ref = np.random.default_rng(9)
    w = ref.normal(0.0, 0.5, (6, 3)).astype(np.float32)
    b = ref.normal(0.0, 0.5, 3).astype(np.float32)
    np.testing.assert_array_equal(layer.weight, w)
    np.testing.assert_array_equal(layer.bias, b)
    x = rng.normal(size=(4, 6))
    np.testing.assert_allclose(layer.forward(x), np.tanh(x @ w + b), rtol=1e-12)


def test_weights_are_read_only():
    rt, st, _, _ = make_layers()
    for arr in (rt.weight, rt.bias, st.projection):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="assignment destination is read-only"):
            arr[0] = 1.0


def test_forward_does_not_modify_input():
    for layer in make_layers():
        x = np.random.default_rng(5).normal(size=(3, layer.input_dim))
        keep = x.copy()
        layer.forward(x)
        layer.backward(x, np.ones((3, layer.output_dim)))
        np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("size,history", [(3, 1), (5, 2), (8, 2)])
def test_structured_features_are_exact_lattice_coordinates(size, history):
    config = GridConfig(size=size, history=history)
    layer = StructuredLayer("structured", size, history)
    assert layer.input_dim == config.obs_dim and layer.output_dim == 8
    env = VectorVideoGrid(16, config)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        z = layer.forward(obs)
        lattice = 2.0 * info["state"].astype(np.float64) - 1.0   # [0, 1] -> [-1, 1]
        ax, ay, gx, gy = lattice.T
        expected = np.stack([ax, ay, gx, gy, ax - gx, ay - gy, (ax - gx) ** 2, (ay - gy) ** 2],
                            axis=1)
        np.testing.assert_allclose(z, expected, atol=1e-6)
        obs, _, _, _, info = env.step(rng.integers(5, size=16))


def test_structured_known_answer_on_a_built_map():
    layer = StructuredLayer("structured", 3, 1)
    x = np.zeros(18, np.float32)
    x[0 * 3 + 2] = 1.0        # agent at x=2, y=0
    x[9 + 2 * 3 + 1] = 1.0    # goal at x=1, y=2
    np.testing.assert_allclose(layer.forward(x), [1, -1, 0, 1, 1, -2, 1, 4], atol=1e-7)


def test_structured_reads_only_the_newest_frame():
    layer = StructuredLayer("structured", 3, 2)
    x = np.random.default_rng(0).normal(size=(4, 36))
    y = x.copy()
    y[:, :18] = 0.0
    np.testing.assert_array_equal(layer.forward(x), layer.forward(y))
    grad = layer.backward(x, np.ones((4, 8)))
    np.testing.assert_array_equal(grad[:, :18], 0.0)


def test_identity_passes_through():
    layer = IdentityLayer("identity", 5)
    x = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(layer.forward(x), x)
    g = np.ones((2, 5))
    np.testing.assert_array_equal(layer.backward(x, g), g)


def test_describe():
    rt = RandomTanhLayer("rt", 4, 2, 0.3, np.random.default_rng(0))
    assert rt.describe() == {"name": "rt", "kind": "RandomTanhLayer", "input_dim": 4,
                             "output_dim": 2, "scale": 0.3}
    st = StructuredLayer("s", 3, 2)
    assert st.describe() == {"name": "s", "kind": "StructuredLayer", "input_dim": 36,
                             "output_dim": 8, "grid_size": 3, "history": 2}
