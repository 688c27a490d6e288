"""The two learners agree: a numpy layer trained by the torch learner (``NAME@torch``) gives
the numpy learner's numbers, for every head, to float tolerance."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.learner import NumpyLearner, make_learner  # noqa: E402
from rl_rosetta_layer.agent.torch_learner import TorchLearner  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.layers.synthetic import RandomTanhLayer  # noqa: E402
from rl_rosetta_layer.video.candidates.torch_trained import TorchTrained  # noqa: E402

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
    torch_learner = make_learner(body, D, A, config, [np.random.default_rng(s) for s in seeds])
    assert isinstance(torch_learner, TorchLearner) and body.name == "random_wide@torch"
    assert torch_learner.n_params() == numpy_learner.n_params()
    for step in range(40):
        both, a, r, d = batch(step)
        codes = np.stack([body.encode(x) for x in both])
        n_np, f_np = numpy_learner.update(numpy_learner.encode(both), a, r, d)
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
    q_np = numpy_learner.net.forward(numpy_learner.online, numpy_learner.encode(obs))
    q_t = torch_learner.q_values(np.stack([body.encode(x) for x in obs]))
    np.testing.assert_allclose(q_t, q_np, rtol=1e-3, atol=1e-5)
    probe_np = numpy_learner.probe(numpy_learner.encode(obs[0]))
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
        make_learner(TorchTrained(layer), D, A, DQNConfig(adapter="lowrank"),
                                         [np.random.default_rng(0)])


def test_both_learners_run_the_one_dqn_update():
    from rl_rosetta_layer.agent.update import FlatLearner

    for learner in (NumpyLearner, TorchLearner):
        assert issubclass(learner, FlatLearner)
        for name in ("update", "gradient", "sync_target", "group_norms"):
            assert getattr(learner, name) is getattr(FlatLearner, name), (learner, name)


def test_optimisers_and_clipping_give_numpys_numbers_on_torch_tensors():
    from rl_rosetta_layer.agent.optim import SGD, Adam, clip_by_norm

    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 50)).astype(np.float32)
    grads = [rng.normal(size=(3, 50)).astype(np.float32) * 3 for _ in range(5)]
    grads[2][1] = np.inf                                     # a non-finite row stays as is
    mine = {"numpy": start.copy(), "torch": torch.from_numpy(start.copy())}
    for kind, params in mine.items():
        adam, sgd = Adam(params[:, 10:], 1e-2), SGD(params[:, :10], 0.1)
        for g in grads:
            g = g.copy() if kind == "numpy" else torch.from_numpy(g.copy())
            norms = clip_by_norm(g, 5.0)
            assert not np.isfinite(np.asarray(norms)[1]) if g is grads[2] else True
            g[1] = 0.0
            sgd.step(g[:, :10])
            adam.step(g[:, 10:])
    np.testing.assert_allclose(mine["torch"].numpy(), mine["numpy"], rtol=1e-6, atol=1e-7)
    assert not np.array_equal(mine["numpy"], start)


@pytest.mark.parametrize("readout,head_norm,feature_norm", [
    ("project", "layer", "none"), ("project", "none", "none"), ("flatten", "layer", "none"),
    ("flatten", "none", "none"), ("mean", "layer", "none"), ("mean", "none", "none"),
    ("project", "layer", "running"), ("project", "none", "running"),
    ("flatten", "layer", "running")])
def test_a_video_blocks_read_out_and_head_train_alike_in_numpy_and_torch(readout, head_norm,
                                                                         feature_norm):
    """With a frozen input adapter the numpy learner trains a block's read-out and head on
    the stored codes (the default, ``learner='numpy'``); the torch learner
    (``learner='torch'``) gives the same initial parameters, gradients and steps, and the
    same running statistics of the head's input (``feature_norm='running'``)."""
    from token_blocks import CogTokenBlock

    from rl_rosetta_layer.video.candidates.candidate import VideoCandidate

    obs_shape, n_actions, b = (2, 2, 4, 4), 3, 16
    config = DQNConfig(adapter="none", batch_size=b, head_norm=head_norm, head_hidden=8,
                       grad_clip=1.0)
    made = {}
    for learner in ("numpy", "torch"):
        cand = VideoCandidate(CogTokenBlock(), obs_shape, readout=readout, learner=learner,
                              feature_norm=feature_norm)
        assert cand.learner_for(config) == learner
        made[learner] = (cand, make_learner(cand, cand.input_dim, n_actions, config,
                                            [np.random.default_rng(s) for s in (5, 6)]))
    (cand, mine), (_, theirs) = made["numpy"], made["torch"]
    assert isinstance(mine, NumpyLearner) and isinstance(theirs, TorchLearner)
    assert mine.n_params() == theirs.n_params()
    rng = np.random.default_rng(1)
    obs = (rng.random((2, 2 * b, cand.input_dim)) < 0.2).astype(np.float32)
    codes = mine.encode(obs)
    np.testing.assert_array_equal(codes, theirs.encode(obs.reshape(-1, cand.input_dim))
                                  .reshape(codes.shape))
    for i in range(2):
        for name, value in theirs.params(i).items():
            np.testing.assert_array_equal(value, mine.online[name][i], err_msg=name)
    for step in range(30):
        a = rng.integers(n_actions, size=(2, b))
        r = rng.normal(size=(2, b)).astype(np.float32)
        d = np.where(rng.random((2, b)) < 0.2, 0.0, 0.9).astype(np.float32)
        n_np, f_np = mine.update(codes, a, r, d)
        n_t, f_t = theirs.update(codes, a, r, d)
        np.testing.assert_allclose(n_np, n_t, rtol=1e-4)
        assert f_np.tolist() == f_t.tolist()
        if step % 10 == 9:
            mine.sync_target()
            theirs.sync_target()
    for i in range(2):
        for name, value in theirs.params(i).items():
            np.testing.assert_allclose(mine.online[name][i], value, rtol=1e-3, atol=2e-5,
                                       err_msg=name)
    np.testing.assert_array_equal(mine.act(codes[:, 0]), theirs.act(codes[:, 0]))
    probe_np, probe_t = mine.probe(codes[0, :5]), theirs.probe(codes[0, :5])
    for key in ("q", "features", "hidden"):
        np.testing.assert_allclose(probe_np[key], probe_t[key], rtol=1e-3, atol=2e-5)
    assert set(mine.grad_norms()) == set(theirs.grad_norms())
    saved = [mine.network(i) for i in range(2)]
    for i in range(2):
        for name, value in theirs.network(i).items():     # statistics included
            np.testing.assert_allclose(saved[i][name], value, rtol=1e-3, atol=2e-5,
                                       err_msg=name)
    assert ("feature_mean" in saved[0]) == (feature_norm == "running")
    # a saved network, statistics included, gives the same Q-values once loaded
    fresh = make_learner(cand, cand.input_dim, n_actions, config,
                         [np.random.default_rng(s) for s in (7, 8)])
    for i in range(2):
        fresh.load_network(i, saved[i])
    np.testing.assert_array_equal(fresh.probe(codes[0, :5])["q"], probe_np["q"])


def test_run_ids_say_which_learner_trained_a_video_block():
    """A run trained by the torch learner (stored before the numpy learner could train
    blocks, or asked for with learner='torch') keeps its id; the numpy learner's numerics
    get ids of their own, so neither is ever reused for the other."""
    import json

    from rl_rosetta_layer.experiments.spec import RunSpec
    from rl_rosetta_layer.video.candidates.settings import VideoSettings

    stored = {"config": {"adapter": "none", "batch_size": 32, "env_steps": 1500,
                         "eps_decay_steps": 1500, "head_norm": "layer",
                         "learning_starts": 250},
              "env": {"grid_size": 8, "history": 2, "max_steps": None, "name": "catch"},
              "layer": "tiny-video:transformer_blocks.1", "seed": 0, "selected": None,
              "video": {"chunk_size": 1024, "device": "cpu", "dtype": "float32", "patch": 2,
                        "readout": "project", "readout_dim": 4, "timestep": 500,
                        "weights": None}}
    old = RunSpec.from_dict(stored)          # written at 31a537e: the torch learner trained it
    assert old.video.learner == "torch"
    assert old.run_id == "tiny-video:transformer_blocks.1-s0-0bec640a357d"
    new = RunSpec(old.env, old.layer, 0, old.config)          # the default: the numpy learner
    assert new.video.learner == "numpy" and new.run_id != old.run_id
    assert new.to_dict()["video"]["learner"] == "numpy"
    assert RunSpec.from_dict(json.loads(json.dumps(new.to_dict()))) == new
    asked = RunSpec(old.env, old.layer, 0, old.config, video=VideoSettings(learner="torch"))
    assert asked.run_id == old.run_id
    # where the numpy network cannot train the block, the torch learner does, id unchanged
    attention = RunSpec(old.env, old.layer, 0, old.config, video=VideoSettings(
        readout="attention"))
    assert attention.video.learner == "torch" and "learner" not in attention.to_dict()["video"]
