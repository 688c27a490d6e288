"""The two learners agree: a numpy layer trained by the torch learner (``NAME@torch``) gives
the numpy learner's numbers, for every head, to float tolerance."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.learner import NumpyLearner  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.layers.synthetic import RandomTanhLayer  # noqa: E402
from rl_rosetta_layer.video.learner import TorchLearner, TorchTrained  # noqa: E402

D, A, B = 24, 4, 8


def batch(step, n_seeds=2):
    rng = np.random.default_rng(500 + step)
    both = (rng.random((n_seeds, 2 * B, D)) < 0.2).astype(np.float32)
    actions = rng.integers(A, size=(n_seeds, B))
    returns = rng.normal(size=(n_seeds, B)).astype(np.float32)
    discounts = np.where(rng.random((n_seeds, B)) < 0.2, 0.0, 0.9).astype(np.float32)
    return both, actions, returns, discounts


@pytest.mark.parametrize("double_dqn", [True, False])
@pytest.mark.parametrize("head", [("mlp", "tanh", "none"), ("mlp", "tanh", "layer"),
                                  ("mlp", "relu", "none"), ("linear", "tanh", "none")])
def test_torch_learner_gives_the_numpy_learners_numbers(head, double_dqn):
    kind, activation, norm = head
    layer = RandomTanhLayer("random_wide", D, 12, 0.3, np.random.default_rng(7))
    config = DQNConfig(adapter="none", batch_size=B, head=kind, head_hidden=6,
                       head_activation=activation, head_norm=norm, grad_clip=1.0,
                       double_dqn=double_dqn)
    seeds = [3, 4]
    numpy_learner = NumpyLearner(layer, D, A, config, [np.random.default_rng(s) for s in seeds])
    body = TorchTrained(layer)
    torch_learner = body.make_learner(D, A, config, [np.random.default_rng(s) for s in seeds])
    assert isinstance(torch_learner, TorchLearner) and body.name == "random_wide@torch"
    assert torch_learner.n_params() == numpy_learner.n_params()
    for step in range(40):
        both, a, r, d = batch(step)
        codes = np.stack([body.encode(x) for x in both])
        n_np, f_np = numpy_learner.update(both, a, r, d)
        n_t, f_t = torch_learner.update(codes, a, r, d)
        np.testing.assert_allclose(n_t, n_np, rtol=1e-4)
        assert f_t.tolist() == f_np.tolist()
        if step % 10 == 9:
            numpy_learner.sync_target()
            torch_learner.sync_target()
    for i in range(len(seeds)):
        mine = torch_learner.params(i)
        for name, value in mine.items():
            np.testing.assert_allclose(value, numpy_learner.online[name][i], rtol=1e-3,
                                       atol=1e-5, err_msg=name)
    obs = batch(99)[0][:, :5]
    q_np = numpy_learner.net.forward(numpy_learner.online, obs)
    q_t = torch_learner.q_values(np.stack([body.encode(x) for x in obs]))
    np.testing.assert_allclose(q_t, q_np, rtol=1e-3, atol=1e-5)
    probe_np = numpy_learner.probe(obs[0])
    probe_t = torch_learner.probe(body.encode(obs[0]))
    for key in ("q", "features", "pre", "hidden"):
        if probe_np[key] is None:
            assert probe_t[key] is None
        else:
            np.testing.assert_allclose(probe_t[key], probe_np[key], rtol=1e-3, atol=1e-5)
    groups_np, groups_t = numpy_learner.grad_norms(), torch_learner.grad_norms()
    assert set(groups_t) == set(groups_np) == {"head"}
    np.testing.assert_allclose(groups_t["head"], groups_np["head"], rtol=1e-3)


def test_torch_learner_refuses_a_trainable_input_adapter_for_a_numpy_layer():
    layer = RandomTanhLayer("random_wide", D, 12, 0.3, np.random.default_rng(7))
    with pytest.raises(ConfigError, match="random_wide@torch: the torch learner trains a "
                                          "numpy layer with a frozen input adapter only"):
        TorchTrained(layer).make_learner(D, A, DQNConfig(adapter="lowrank"),
                                         [np.random.default_rng(0)])
