"""QNetwork.backward against central finite differences, for every adapter, head and body."""

import numpy as np
import pytest

from rl_rosetta_layer.agent import QNetwork
from rl_rosetta_layer.agent.params import FlatParams
from rl_rosetta_layer.layers import IdentityLayer, RandomTanhLayer, StructuredLayer, TrainableBody

D = 18          # 3x3 grid, one frame
A = 5           # actions


def bodies():
    return {
        "random_tanh": RandomTanhLayer("random", D, 6, 0.4, np.random.default_rng(0)),
        "structured": StructuredLayer("structured", 3, 1),
        "identity": IdentityLayer("identity", D),
        "trainable": TrainableBody("mlp_full", D, 6, 0.3),
    }


def float64_params(net, n_seeds, rng):
    p = FlatParams(net.shapes, n_seeds, np.zeros((n_seeds, net.n_params()), np.float64))
    p.data[:] = net.init([np.random.default_rng(s) for s in range(n_seeds)]).data
    p.data += rng.normal(0.0, 0.3, p.data.shape)    # every parameter (biases too) non-trivial
    return p


HEADS = {"linear": {"head": "linear"}, "mlp": {"head": "mlp"},
         "mlp-layernorm": {"head": "mlp", "head_norm": "layer"},
         "mlp-relu": {"head": "mlp", "head_activation": "relu"},
         "mlp-relu-layernorm": {"head": "mlp", "head_activation": "relu", "head_norm": "layer"}}


@pytest.mark.parametrize("body", list(bodies()))
@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("adapter", ["dense", "lowrank", "none"])
def test_backward_matches_finite_differences(adapter, head, body):
    layer = bodies()[body]
    net = QNetwork(D, layer, A, adapter=adapter, rank=3, head_hidden=4, **HEADS[head])
    rng = np.random.default_rng(1)
    S, N = 2, 3
    p = float64_params(net, S, rng)
    x = net.encode(rng.normal(0.0, 0.5, (S, N, D)))   # the codes the replay would hold
    w = rng.normal(0.0, 1.0, (S, N, A))       # L = sum(q * w), so dL/dq = w

    q, cache = net.forward(p, x, train=True)
    np.testing.assert_allclose(q, net.forward(p, x), rtol=1e-12, atol=1e-12)
    grad = FlatParams(net.shapes, S, np.zeros_like(p.data))
    net.backward(p, cache, w.copy(), grad)

    eps = 1e-6
    numeric = np.zeros_like(p.data)
    for s in range(S):
        for j in range(p.data.shape[1]):
            keep = p.data[s, j]
            p.data[s, j] = keep + eps
            up = (net.forward(p, x) * w).sum()
            p.data[s, j] = keep - eps
            down = (net.forward(p, x) * w).sum()
            p.data[s, j] = keep
            numeric[s, j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad.data, numeric, rtol=1e-5, atol=1e-7)


def test_parameter_layout():
    net = QNetwork(D, bodies()["trainable"], A, adapter="dense", head="mlp", head_hidden=4)
    assert list(net.shapes) == ["A", "c", "W1", "b1", "W2", "b2", "Wo", "bo"]
    assert net.n_adapter_params() == D * D + D
    assert net.n_params() == D * D + D + D * 6 + 6 + 6 * 4 + 4 + 4 * A + A
    net = QNetwork(D, bodies()["structured"], A, adapter="lowrank", rank=3, head="linear")
    assert list(net.shapes) == ["U", "V", "Wo", "bo"]
    assert net.n_adapter_params() == 2 * D * 3


def test_init_is_per_seed():
    net = QNetwork(D, bodies()["random_tanh"], A, adapter="dense", head="mlp", head_hidden=4)
    together = net.init([np.random.default_rng(5), np.random.default_rng(9)])
    alone = net.init([np.random.default_rng(9)])
    np.testing.assert_array_equal(together.data[1], alone.data[0])


def test_init_dense_adapter_is_near_identity():
    net = QNetwork(D, bodies()["identity"], A, adapter="dense", init_noise=0.0)
    p = net.init([np.random.default_rng(0)])
    np.testing.assert_array_equal(p["A"][0], np.eye(D))
    np.testing.assert_array_equal(p["c"][0], 0.0)


def test_lowrank_adapter_starts_as_identity():
    # V starts at zero, so h = x + tanh(x U) V = x and Q is the head applied to layer(x)
    layer = bodies()["structured"]
    net = QNetwork(D, layer, A, adapter="lowrank", rank=3, head="linear")
    p = net.init([np.random.default_rng(0)])
    x = np.random.default_rng(1).normal(size=(1, 4, D)).astype(np.float32)
    expected = layer.forward(x[0]) @ p["Wo"][0] + p["bo"][0]
    np.testing.assert_allclose(net.forward(p, net.encode(x))[0], expected, rtol=1e-5,
                               atol=1e-6)


class _Unfolded:
    """A layer as the network sees it without its input map: forward and backward only."""

    def __init__(self, layer):
        self.inner, self.name = layer, layer.name
        self.input_dim, self.output_dim = layer.input_dim, layer.output_dim

    def forward(self, x):
        return self.inner.forward(x)

    def forward_train(self, x):
        return self.inner.forward_train(x)

    def backward_from(self, ctx, grad_out):
        return self.inner.backward_from(ctx, grad_out)


@pytest.mark.parametrize("body", ["random_tanh", "structured", "identity"])
@pytest.mark.parametrize("adapter", ["lowrank", "none"])
def test_folded_network_is_the_same_function(adapter, body):
    # Codes ([x, x W + b] or the layer's output) change the arithmetic, not the function:
    # the same Q-values, gradients and probe features as the layer run on the adapter's
    # output (float64, so only rounding may differ).
    layer = bodies()[body]
    folded = QNetwork(D, layer, A, adapter=adapter, rank=3, head="mlp", head_hidden=4)
    plain = QNetwork(D, _Unfolded(layer), A, adapter=adapter, rank=3, head="mlp",
                     head_hidden=4)
    assert plain.fold == ("layer" if adapter == "none" else None)
    expected_fold = {"none": "layer", "lowrank": "input_map" if body != "identity" else None}
    assert folded.fold == expected_fold[adapter]
    rng = np.random.default_rng(3)
    p = float64_params(folded, 2, rng)
    x = rng.normal(0.0, 0.5, (2, 5, D))
    dq = rng.normal(0.0, 1.0, (2, 5, A))
    q_f, cache_f = folded.forward(p, folded.encode(x), train=True)
    q_p, cache_p = plain.forward(p, plain.encode(x), train=True)
    np.testing.assert_allclose(q_f, q_p, rtol=1e-10, atol=1e-12)
    grads = []
    for net, cache in ((folded, cache_f), (plain, cache_p)):
        grad = FlatParams(net.shapes, 2, np.zeros_like(p.data))
        net.backward(p, cache, dq.copy(), grad)
        grads.append(grad.data)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)
    seen_f = folded.forward(p, folded.encode(x), inspect=True)
    seen_p = plain.forward(p, plain.encode(x), inspect=True)
    np.testing.assert_allclose(seen_f["features"], seen_p["features"], rtol=1e-10, atol=1e-12)
    assert folded.encode(x).shape[-1] == folded.code_dim


def test_fold_needs_fewer_pre_activations_than_inputs():
    # A layer whose input map is as wide as its input is not folded: no FLOPs to save.
    wide = RandomTanhLayer("wide", D, D, 0.3, np.random.default_rng(0))
    assert QNetwork(D, wide, A, adapter="lowrank", rank=3).fold is None
    assert QNetwork(D, wide, A, adapter="dense").fold is None
    assert QNetwork(D, bodies()["trainable"], A, adapter="none").fold is None


def test_layer_input_mismatch_raises():
    with pytest.raises(ValueError, match="layer 'identity' takes 18 inputs, observations have 20"):
        QNetwork(20, bodies()["identity"], A)


@pytest.mark.parametrize("adapter", ["lowrank", "none"])
def test_a_rows_code_does_not_depend_on_the_rows_beside_it(adapter):
    # One (S, D) product sums a row in an order that depends on S; a seed's codes (and so
    # its numbers) must be the same alone and in lockstep, bit for bit.
    from rl_rosetta_layer.envs import GridConfig
    from rl_rosetta_layer.layers.registry import seed_candidates

    x = (np.random.default_rng(0).random((7, 256)) < 0.1).astype(np.float32)
    for layer in seed_candidates(GridConfig()).values():
        net = QNetwork(256, layer, A, adapter=adapter)
        together = net.encode(x)
        alone = np.concatenate([net.encode(x[i:i + 1]) for i in range(len(x))])
        np.testing.assert_array_equal(together, alone, err_msg=layer.name)
        np.testing.assert_array_equal(net.encode(x[2]), alone[2], err_msg=layer.name)
