"""The torch bridge: any frozen torch module on the numpy layer protocol, and device names."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.learner import NumpyLearner  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.layers.base import FrozenLayer  # noqa: E402
from rl_rosetta_layer.video.candidates.bridge import TorchLayer  # noqa: E402
from rl_rosetta_layer.video.candidates.devices import resolve_device, resolve_dtype  # noqa: E402


def mlp(rng, d_in=6, hidden=8, d_out=3):
    """Linear -> tanh -> Linear with weights drawn by numpy (float32)."""
    m = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.Tanh(),
                            torch.nn.Linear(hidden, d_out))
    with torch.no_grad():
        for p in m.parameters():
            fan = p.shape[1] if p.ndim > 1 else 4
            p.copy_(torch.from_numpy(rng.normal(0.0, 1.0 / np.sqrt(fan), tuple(p.shape))))
    return m


def numpy_mlp(m, x):
    w1, b1, w2, b2 = (p.detach().double().numpy() for p in m.parameters())
    return np.tanh(x @ w1.T + b1) @ w2.T + b2


def weights(m):
    return [p.detach().clone() for p in m.parameters()]


def test_forward_is_the_module_on_any_leading_shape():
    m = mlp(np.random.default_rng(0))
    layer = TorchLayer("mlp", m, 6, 3)
    x = np.random.default_rng(1).normal(size=(2, 5, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.shape == (2, 5, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y, numpy_mlp(m, x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert isinstance(layer, FrozenLayer)


@pytest.mark.parametrize("dtype, eps, rtol", [("float64", 1e-3, 1e-4), ("float32", 1e-2, 2e-3)])
def test_backward_matches_finite_differences(dtype, eps, rtol):
    rng = np.random.default_rng(2)
    layer = TorchLayer("mlp", mlp(rng), 6, 3, dtype=dtype)
    x = rng.normal(size=(4, 6))
    g = rng.normal(size=(4, 3))
    x = x.astype(np.float32) if dtype == "float32" else x
    grad = layer.backward(x, g)
    assert grad.shape == (4, 6) and grad.dtype == np.float32

    def loss(z):
        return float((layer.forward(z).astype(np.float64) * g).sum())

    for i, j in [(0, 0), (1, 3), (3, 5), (2, 2)]:     # single coordinates
        e = np.zeros_like(x)
        e[i, j] = eps
        fd = (loss(x + e) - loss(x - e)) / (2 * eps)
        assert fd == pytest.approx(grad[i, j], rel=rtol, abs=rtol)
    v = rng.normal(size=x.shape).astype(x.dtype)         # one random direction
    fd = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
    assert fd == pytest.approx(float((grad * v).sum()), rel=rtol)


def test_chunks_give_the_result_of_one_chunk():
    rng = np.random.default_rng(3)
    m = mlp(rng)
    x = rng.normal(size=(23, 6)).astype(np.float32)
    g = rng.normal(size=(23, 3)).astype(np.float32)
    small, whole = TorchLayer("a", m, 6, 3, chunk_size=4), TorchLayer("b", m, 6, 3)
    np.testing.assert_allclose(small.forward(x), whole.forward(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(small.backward(x, g), whole.backward(x, g), rtol=1e-6,
                               atol=1e-7)


def test_weights_are_frozen_and_unchanged_after_backward():
    rng = np.random.default_rng(4)
    m = torch.nn.Sequential(mlp(rng), torch.nn.Dropout(0.5))
    before = weights(m)
    layer = TorchLayer("mlp", m, 6, 3)
    x = rng.normal(size=(8, 6)).astype(np.float32)
    layer.backward(x, np.ones((8, 3), np.float32))
    layer.backward(x, np.ones((8, 3), np.float32))
    assert all(torch.equal(a, b) for a, b in zip(before, weights(m)))
    assert not m.training and not any(p.requires_grad for p in m.parameters())
    assert all(p.grad is None for p in m.parameters())
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))   # dropout is off


def test_bfloat16_module_is_fed_float32_and_returns_float32():
    rng = np.random.default_rng(5)
    m32 = mlp(np.random.default_rng(6))
    layer16 = TorchLayer("bf16", mlp(np.random.default_rng(6)), 6, 3, dtype="bfloat16")
    layer32 = TorchLayer("f32", m32, 6, 3)
    assert next(layer16.module.parameters()).dtype == torch.bfloat16
    x = rng.normal(size=(10, 6)).astype(np.float32)
    g = rng.normal(size=(10, 3)).astype(np.float32)
    y, dx = layer16.forward(x), layer16.backward(x, g)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_allclose(y, layer32.forward(x), atol=0.05)
    np.testing.assert_allclose(dx, layer32.backward(x, g), atol=0.05)


def test_plugs_into_the_numpy_learner():
    rng = np.random.default_rng(7)
    layer = TorchLayer("mlp", mlp(rng), 6, 3)
    learner = NumpyLearner(layer, 6, 2, DQNConfig(batch_size=4),
                           [np.random.default_rng(0), np.random.default_rng(1)])
    both = rng.normal(size=(2, 8, 6)).astype(np.float32)
    norms, finite = learner.update(both, rng.integers(2, size=(2, 4)),
                                   rng.normal(size=(2, 4)).astype(np.float32),
                                   np.full((2, 4), 0.9, np.float32))
    assert np.isfinite(norms).all() and finite.all() and (norms > 0).all()
    assert learner.act(both[:, 0]).shape == (2,)


def test_describe_is_json_ready():
    d = TorchLayer("mlp", mlp(np.random.default_rng(8)), 6, 3, chunk_size=7).describe()
    assert json.loads(json.dumps(d))["chunk_size"] == 7
    assert (d["name"], d["input_dim"], d["output_dim"], d["dtype"], d["device"]) == \
        ("mlp", 6, 3, "float32", "cpu")
    assert d["frozen_params"] == 6 * 8 + 8 + 8 * 3 + 3


# ------------------------------------------------------------------------------ bad input

def test_wrong_input_width_is_named():
    layer = TorchLayer("mlp", mlp(np.random.default_rng(9)), 6, 3)
    with pytest.raises(ConfigError, match=r"mlp: input must have shape \(\.\.\., 6\), "
                                          r"got \(4, 5\)"):
        layer.forward(np.zeros((4, 5), np.float32))


def test_mismatched_grad_out_is_named():
    layer = TorchLayer("mlp", mlp(np.random.default_rng(9)), 6, 3)
    with pytest.raises(ConfigError, match=r"grad_out \(3, 3\) does not match input \(4, 6\)"):
        layer.backward(np.zeros((4, 6), np.float32), np.zeros((3, 3), np.float32))


def test_module_of_the_wrong_output_width_is_named():
    layer = TorchLayer("mlp", mlp(np.random.default_rng(9)), 6, 4)
    with pytest.raises(ConfigError, match=r"the module returned \(2, 3\), expected \(2, 4\)"):
        layer.forward(np.zeros((2, 6), np.float32))


def test_bad_chunk_size_is_named():
    with pytest.raises(ConfigError, match="chunk_size must be a positive integer, got 0"):
        TorchLayer("mlp", mlp(np.random.default_rng(9)), 6, 3, chunk_size=0)


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_unknown_device_is_named():
    with pytest.raises(ConfigError, match=r"device must be one of auto, cpu, cuda, cuda:N, "
                                          r"got 'tpu'"):
        resolve_device("tpu")


def test_cuda_without_cuda_says_so():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match=r"device 'cuda:0' asked for, but CUDA is not "
                                          r"available"):
        resolve_device("cuda:0")


def test_dtype_names():
    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype(torch.bfloat16) is torch.bfloat16
    with pytest.raises(ConfigError, match=r"dtype must be one of float32, bfloat16, float64, "
                                          r"got 'float16'"):
        resolve_dtype("float16")
