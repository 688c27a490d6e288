"""The video candidate's DQN learner on the device (the torch twin of NumpyLearner).

The candidates here ask for it (``learner='torch'``); by default a frozen input adapter
trains with the numpy learner (``tests/video/test_learner_parity.py`` checks they agree)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from token_blocks import CogTokenBlock  # noqa: E402

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.learner import Learner, NumpyLearner, make_learner  # noqa: E402
from rl_rosetta_layer.agent.optim import SGD, Adam, clip_by_norm  # noqa: E402
from rl_rosetta_layer.agent.torch_learner import TorchLearner  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.video.candidates.candidate import VideoCandidate  # noqa: E402

OBS = (2, 2, 4, 4)
D, A = 64, 5


def candidate(dtype="float32", feature_norm="none", readout="project", learner="torch"):
    return VideoCandidate(CogTokenBlock(), OBS, dtype=dtype, feature_norm=feature_norm,
                          readout=readout, learner=learner)


def learner(cand, seeds, **config):
    cfg = DQNConfig(**{"batch_size": 8, "head_hidden": 8, **config})
    return make_learner(cand, D, A, cfg, [np.random.default_rng(s) for s in seeds])


def batch(step, n_seeds=2, b=8, n_actions=A):
    """Random replay batch number ``step``: both (S, 2B, D), actions, returns, discounts."""
    rng = np.random.default_rng(1000 + step)
    both = rng.random((n_seeds, 2 * b, D), dtype=np.float32)
    actions = rng.integers(n_actions, size=(n_seeds, b))
    returns = rng.normal(size=(n_seeds, b)).astype(np.float32)
    discounts = np.where(rng.random((n_seeds, b)) < 0.2, 0.0, 0.95 ** 3).astype(np.float32)
    return both, actions, returns, discounts


def rows(data, i):
    return tuple(x[i:i + 1] for x in data)


def test_is_the_layers_learner_and_follows_the_protocol():
    cand = candidate()
    got = make_learner(cand, D, A, DQNConfig(head_hidden=8), [np.random.default_rng(0)])
    assert isinstance(got, TorchLearner) and isinstance(got, Learner)
    obs = batch(0)[0][0]
    assert got.encode(obs) is obs          # the input adapter trains: nothing is fixed
    # patch map (C*p*p, width) + bias + positions (T, width); read-out 32 -> 4 per token;
    # mlp head 8 tokens x 4 -> 8 -> 5.
    assert got.n_params() == (8 * 32 + 32 + 8 * 32) + (32 * 4 + 4) + (32 * 8 + 8 + 8 * A + A)


@pytest.mark.parametrize("feature_norm", ["none", "running"])
def test_a_seed_is_bit_identical_alone_and_in_lockstep(feature_norm):
    cand = candidate(feature_norm=feature_norm)
    together = learner(cand, [3, 4])
    alone = [learner(cand, [3]), learner(cand, [4])]
    for step in range(100):
        data = batch(step)
        norms, finite = together.update(*data)
        for i, solo in enumerate(alone):
            n, f = solo.update(*rows(data, i))
            assert n[0] == norms[i] and f[0] == finite[i]
        if step % 10 == 9:
            together.sync_target()
            for solo in alone:
                solo.sync_target()
    obs = batch(100)[0][:, 0]
    for i, solo in enumerate(alone):
        for target in (False, True):
            mine, ref = together.params(i, target=target), solo.params(0, target=target)
            for name in ref:
                np.testing.assert_array_equal(mine[name], ref[name], err_msg=name)
        assert together.act(obs)[i] == solo.act(obs[i:i + 1])[0]
    assert np.isfinite(norms).all() and finite.all()


@pytest.mark.parametrize("feature_norm", ["running", "tokens"])
def test_numpy_learner_with_running_statistics_is_bit_identical_alone_and_in_lockstep(
        feature_norm):
    """The study's video learner (numpy, frozen input, running statistics of the head's
    input or of the codes): a seed's parameters and statistics are the same trained alone
    or beside another seed."""
    cand = candidate(feature_norm=feature_norm, learner="numpy")
    together = learner(cand, [3, 4], adapter="none")
    alone = [learner(cand, [3], adapter="none"), learner(cand, [4], adapter="none")]
    assert isinstance(together, NumpyLearner) and together.norm is not None
    for step in range(60):
        both, *rest = batch(step)
        data = (together.encode(both), *rest)
        norms, _ = together.update(*data)
        for i, solo in enumerate(alone):
            assert solo.update(*rows(data, i))[0][0] == norms[i]
        if step % 10 == 9:
            for lrn in (together, *alone):
                lrn.sync_target()
    for i, solo in enumerate(alone):
        mine, ref = together.network(i), solo.network(0)
        assert set(ref) >= {"feature_mean", "feature_var"}
        for name in ref:
            np.testing.assert_array_equal(mine[name], ref[name], err_msg=name)


def huber(td, kappa):
    a = np.abs(td)
    return np.where(a <= kappa, 0.5 * td * td, kappa * (a - 0.5 * kappa))


@pytest.mark.parametrize("double_dqn", [True, False])
def test_gradients_match_finite_differences_of_the_huber_loss(double_dqn):
    kappa, b = 0.3, 8
    cand = candidate("float64")
    lrn = learner(cand, [0], huber_delta=kappa, double_dqn=double_dqn)
    for step in range(3):                  # so the target network differs from the online one
        lrn.update(*rows(batch(step), 0))
    both, actions, returns, discounts = rows(batch(50), 0)
    cols = np.arange(b)

    def loss():
        # Written from the algorithm, not from the learner: Double DQN picks the next action
        # with the online network and values it with the target network.
        q = lrn.q_values(both[:, :b])[0]
        q_next = lrn.q_values(both[:, b:], target=True)[0]
        pick = lrn.q_values(both[:, b:])[0] if double_dqn else q_next
        y = returns[0] + discounts[0] * q_next[cols, pick.argmax(axis=1)]
        return huber(q[cols, actions[0]] - y, kappa).mean(), q[cols, actions[0]] - y

    _, td = loss()
    assert (np.abs(td) > kappa).any() and (np.abs(td) < kappa).any()   # both Huber branches
    grads = lrn.gradients(both, actions, returns, discounts)[0]
    rng = np.random.default_rng(7)
    split = sum(int(np.prod(s)) for s in lrn.adapter_shapes.values())
    for part, shapes in (("adapter", lrn.adapter_shapes), ("head", lrn.head_shapes)):
        flat = lrn.online[0, :split] if part == "adapter" else lrn.online[0, split:]
        start = 0
        for name, shape in shapes.items():          # one direction inside each parameter
            size = int(np.prod(shape))
            v = np.zeros(flat.numel())
            v[start:start + size] = rng.normal(size=size)
            start += size
            saved, step = flat.detach().clone(), torch.from_numpy(v * 1e-6)
            with torch.no_grad():
                flat.add_(step)
                up = loss()[0]
                flat.copy_(saved - step)
                down = loss()[0]
                flat.copy_(saved)
            fd = (up - down) / 2e-6
            assert fd == pytest.approx(float(grads[part] @ v), rel=1e-5, abs=1e-9), name


def test_update_is_sgd_on_the_adapter_and_adam_on_the_head_after_clipping():
    # The numpy learner's own optimiser pieces, fed the torch learner's gradients, must
    # give the parameters the torch learner ends with.
    cfg = dict(grad_clip=0.05, lr=3e-3, adapter_lr=1e-2, adam_eps=1e-6)
    lrn = learner(candidate(), [0, 1], **cfg)
    split = sum(int(np.prod(s)) for s in lrn.adapter_shapes.values())

    def flat_params():
        return lrn.online.numpy().copy()       # each seed's row: [adapter | head]

    ref = flat_params()
    sgd = SGD(ref[:, :split], cfg["adapter_lr"])
    adam = Adam(ref[:, split:], cfg["lr"], eps=cfg["adam_eps"])
    for step in range(4):
        data = batch(step)
        g = lrn.gradients(*data)
        grad = np.stack([np.concatenate([gi["adapter"], gi["head"]]) for gi in g])
        grad = grad.astype(np.float32)
        expected_norms = clip_by_norm(grad, cfg["grad_clip"])
        assert (expected_norms > cfg["grad_clip"]).all()           # clipping is active
        sgd.step(grad[:, :split])
        adam.step(grad[:, split:])
        norms, finite = lrn.update(*data)
        np.testing.assert_allclose(norms, expected_norms, rtol=1e-5)
        np.testing.assert_allclose(flat_params(), ref, rtol=1e-4, atol=1e-6)
    assert finite.all() and norms.dtype == np.float64


def test_a_diverged_seed_is_parked_and_the_other_trains_on():
    cand = candidate()
    pair, solo = learner(cand, [0, 1]), learner(cand, [0])
    for step in range(12):
        data = batch(step)
        if step == 5:
            data[2][1, 3] = np.nan                            # seed 1's returns only
        norms, finite = pair.update(*data)
        solo_norm, _ = solo.update(*rows(data, 0))
        assert np.isfinite(norms[0]) and finite[0] and norms[0] == solo_norm[0]
        if step < 5:
            assert np.isfinite(norms[1]) and finite[1]
        else:
            assert not finite[1] and np.isnan(norms[1])
    assert pair.parked.tolist() == [False, True]
    for target in (False, True):
        assert all(not v.any() for v in pair.params(1, target=target).values())
        mine, ref = pair.params(0, target=target), solo.params(0, target=target)
        assert all(np.array_equal(mine[k], ref[k]) for k in ref)
    assert not pair.m[1].any() and not pair.v[1].any()


def test_the_block_weights_never_change():
    cand = candidate()
    before = {k: v.clone() for k, v in cand.block.state_dict().items()}
    lrn = learner(cand, [0, 1])
    for step in range(5):
        lrn.update(*batch(step))
    after = cand.block.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in cand.block.parameters())


def test_frozen_input_adapter_encodes_once_and_trains_the_readout_and_head():
    cand = candidate()
    lrn = learner(cand, [0], adapter="none")
    obs = rows(batch(0), 0)[0][0]
    np.testing.assert_array_equal(lrn.encode(obs), cand.encode(obs))
    assert lrn.input_dim == 8 * 32
    assert lrn.n_params() == (32 * 4 + 4) + (32 * 8 + 8 + 8 * A + A)
    both, actions, returns, discounts = rows(batch(0), 0)
    codes = cand.encode(both[0])[None]
    start = lrn.params(0)
    for step in range(5):
        b, a, r, d = rows(batch(step), 0)
        lrn.update(cand.encode(b[0])[None], a, r, d)
    end = lrn.params(0)
    assert set(start) == {"R", "rb", "W2", "b2", "Wo", "bo"}
    assert all(not np.array_equal(start[k], end[k]) for k in ("R", "W2", "Wo"))
    assert set(lrn.gradients(codes, actions, returns, discounts)[0]) == {"head"}
    with pytest.raises(ConfigError, match=r"codes must have shape \(1, \.\.\., 256\), got "
                                          r"\(1, 16, 64\)"):
        lrn.update(both, actions, returns, discounts)


def test_act_is_the_greedy_action_and_sync_copies_the_online_network():
    lrn = learner(candidate(), [0, 1])
    for step in range(3):
        lrn.update(*batch(step))
    obs = batch(10)[0][:, :1]                                  # (S, 1, D)
    q = lrn.q_values(obs)[:, 0]
    got = lrn.act(obs[:, 0])
    assert got.dtype == np.int64 and got.tolist() == q.argmax(axis=1).tolist()
    assert not np.array_equal(lrn.params(0)["Wo"], lrn.params(0, target=True)["Wo"])
    lrn.sync_target()
    assert all(np.array_equal(v, lrn.params(0, target=True)[k])
               for k, v in lrn.params(0).items())


def test_learner_fits_a_fixed_bandit():
    # Four fixed observations, one-step returns R[context, action], discount 0: the
    # Q-values must move to R.
    rng = np.random.default_rng(11)
    contexts = rng.random((4, D), dtype=np.float32)
    reward = rng.uniform(-1, 1, size=(4, A)).astype(np.float32)
    lrn = learner(candidate(), [0], batch_size=16, lr=1e-2, adapter_lr=1e-2)

    def loss():
        return float(((lrn.q_values(contexts[None])[0] - reward) ** 2).mean())

    first = loss()
    for _ in range(200):
        ctx, act = rng.integers(4, size=16), rng.integers(A, size=16)
        both = np.concatenate([contexts[ctx], contexts[ctx]])[None]
        norms, finite = lrn.update(both, act[None], reward[ctx, act][None],
                                   np.zeros((1, 16), np.float32))
        assert finite.all()
    last = loss()
    assert last < 0.1 * first, (first, last)
    top2 = np.sort(reward, axis=1)[:, -2:]
    clear = np.flatnonzero(top2[:, 1] - top2[:, 0] > 0.2)       # a clear best action
    assert clear.size >= 2
    for i in clear:
        assert lrn.act(contexts[None, i])[0] == reward[i].argmax()


def test_bfloat16_block_with_float32_adapters_on_the_device():
    cand = candidate("bfloat16", feature_norm="running")
    lrn = learner(cand, [0, 1])
    for step in range(3):
        norms, finite = lrn.update(*batch(step))
    assert np.isfinite(norms).all() and finite.all()
    assert next(cand.block.parameters()).dtype == torch.bfloat16
    assert all(t.dtype == torch.float32 and t.device == cand.device
               for t in lrn.state_tensors())
    # online, target and gradient (S, P); Adam's m and v; feature mean and variance (S, K)
    assert len(lrn.state_tensors()) == 3 + 2 + 2


def test_update_of_the_wrong_shape_is_named():
    lrn = learner(candidate(), [0, 1])
    both, actions, returns, discounts = batch(0)
    with pytest.raises(ConfigError, match=r"an update takes both \(2, 2B, D\), actions, "
                                          r"returns and discounts \(2, B\); got \(2, 16, 64\), "
                                          r"\(2, 7\)"):
        lrn.update(both, actions[:, :7], returns, discounts)


def test_the_dqn_loop_trains_a_video_candidate_and_lockstep_changes_nothing():
    from rl_rosetta_layer.agent.dqn import train_lockstep
    from rl_rosetta_layer.envs import make_vector_env

    config = DQNConfig(episodes=4, learning_starts=20, batch_size=8, buffer_size=500,
                       head_hidden=8, target_update=5, eps_decay_steps=50)

    def run(seeds):
        env = make_vector_env("grid", len(seeds), grid_size=4, history=2, max_steps=20)
        assert env.obs_shape == OBS
        return train_lockstep(env, candidate(), seeds, config)

    pair, solo = run([0, 1]), run([1])
    assert [r.seed for r in pair] == [0, 1]
    assert all(not r.diverged and r.updates > 0 and len(r.returns) == 4 for r in pair)
    np.testing.assert_array_equal(pair[1].returns, solo[0].returns)
    np.testing.assert_array_equal(pair[1].lengths, solo[0].lengths)
    assert pair[1].updates == solo[0].updates


def test_running_feature_norm_starts_from_the_first_batch_and_follows_later_ones():
    from rl_rosetta_layer.agent.params import NORM_MOMENTUM
    from rl_rosetta_layer.agent.torch_learner import views

    cand = candidate(feature_norm="running")
    lrn = learner(cand, [0, 1], adapter="none")
    plain = learner(candidate(), [0, 1], adapter="none")

    def coded(data):
        return (np.stack([cand.encode(b) for b in data[0]]), *data[1:])

    codes = coded(batch(50))[0][:, :3]
    # not set yet: mean 0, variance 1
    np.testing.assert_allclose(lrn.q_values(codes), plain.q_values(codes), atol=1e-5)

    def batch_stats(i, data):
        """Mean and variance of seed i's head inputs for the batch's observations, under
        its read-out now."""
        with torch.no_grad():
            z = lrn.readout.apply(torch.from_numpy(data[0][i, :8]),
                                  views(lrn.online[i], lrn.head_shapes)).numpy()
        return z.mean(0), z.var(0)

    first, second = coded(batch(0)), coded(batch(1))
    expected = {i: batch_stats(i, first) for i in (0, 1)}
    lrn.update(*first)        # set from the first batch, then moved towards the same codes
    for i in (0, 1):
        stepped = batch_stats(i, first)
        for k in (0, 1):
            want = (1 - NORM_MOMENTUM) * expected[i][k] + NORM_MOMENTUM * stepped[k]
            got = (lrn.norm.mean if k == 0 else lrn.norm.var)[i].numpy()
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    before = {i: (lrn.norm.mean[i].numpy().copy(), lrn.norm.var[i].numpy().copy())
              for i in (0, 1)}
    lrn.update(*second)
    for i in (0, 1):
        now = batch_stats(i, second)
        for k in (0, 1):
            want = (1 - NORM_MOMENTUM) * before[i][k] + NORM_MOMENTUM * now[k]
            got = (lrn.norm.mean if k == 0 else lrn.norm.var)[i].numpy()
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    assert lrn.describe()["feature_norm"] == "running"
    assert plain.describe()["feature_norm"] == "none"
    assert not np.array_equal(lrn.q_values(codes), plain.q_values(codes))


def test_feature_norm_is_checked_and_kept_out_of_old_run_ids():
    from rl_rosetta_layer.errors import ConfigError
    from rl_rosetta_layer.video.candidates.settings import VideoSettings

    with pytest.raises(ConfigError, match="--feature-norm must be one of none, running"):
        VideoSettings(feature_norm="batch")
    assert "feature_norm" not in VideoSettings().to_dict()
    assert VideoSettings(feature_norm="running").to_dict()["feature_norm"] == "running"
    with pytest.raises(ConfigError, match="feature_norm must be"):
        candidate(feature_norm="layer")


def _numpy_pair(seeds):
    """A numpy learner with ``feature_norm='tokens'`` and one without, same init draws."""
    tokens, plain = (learner(candidate(feature_norm=norm, learner="numpy"), seeds,
                             adapter="none") for norm in ("tokens", "none"))
    assert isinstance(tokens, NumpyLearner) and tokens.norm is not None
    return tokens, plain


def _q(lrn, codes):
    return lrn.net.forward(lrn.online, codes, norm=lrn.norm)


def test_tokens_feature_norm_standardises_the_codes_before_the_read_out():
    """With 'tokens' the read-out reads (codes - mean) / sqrt(var + eps): Q-values and one
    update match a plain learner given the standardised codes; the statistics are the
    codes' own, set from the first batch and moved towards later ones."""
    from rl_rosetta_layer.agent.params import NORM_EPS, NORM_MOMENTUM

    tokens, plain = _numpy_pair([0, 1])
    c = tokens.net.code_dim
    assert tokens.net.norm_width == c and c != tokens.net.head_input_dim
    rng = np.random.default_rng(7)
    stats = [{"feature_mean": rng.normal(size=c).astype(np.float32),
              "feature_var": rng.uniform(0.5, 2.0, c).astype(np.float32)} for _ in (0, 1)]
    for i in (0, 1):
        tokens.norm.load(i, stats[i])
    mean = np.stack([s["feature_mean"] for s in stats])[:, None, :]
    var = np.stack([s["feature_var"] for s in stats])[:, None, :]

    def standardised(codes):
        return ((codes - mean) / np.sqrt(var + NORM_EPS)).astype(np.float32)

    both, *rest = batch(0)
    codes = tokens.encode(both)
    np.testing.assert_allclose(_q(tokens, codes), _q(plain, standardised(codes)),
                               rtol=1e-5, atol=1e-6)
    tokens.update(codes, *rest)
    plain.update(standardised(codes), *rest)
    for i in (0, 1):
        mine, ref = tokens.network(i), plain.network(i)
        for name in ref:
            np.testing.assert_allclose(mine[name], ref[name], rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        # the codes do not move with the read-out: the batch's own moments
        b = codes[i, :8]
        np.testing.assert_allclose(mine["feature_mean"], (1 - NORM_MOMENTUM)
                                   * stats[i]["feature_mean"] + NORM_MOMENTUM * b.mean(0),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mine["feature_var"], (1 - NORM_MOMENTUM)
                                   * stats[i]["feature_var"] + NORM_MOMENTUM * b.var(0),
                                   rtol=1e-5, atol=1e-6)

    fresh, _ = _numpy_pair([0])
    fresh.update(*rows((codes, *rest), 0))      # not set yet: the first batch sets them
    np.testing.assert_allclose(fresh.network(0)["feature_mean"], codes[0, :8].mean(0),
                               rtol=1e-5, atol=1e-6)


def test_a_tokens_feature_norm_network_reloads_with_its_statistics():
    tokens, _ = _numpy_pair([3])
    for step in range(5):
        both, *rest = batch(step, n_seeds=1)
        tokens.update(tokens.encode(both), *rest)
    saved = tokens.network(0)
    assert saved["feature_mean"].shape == (tokens.net.code_dim,)
    again, _ = _numpy_pair([9])
    again.load_network(0, saved)
    codes = tokens.encode(batch(50, n_seeds=1)[0])
    np.testing.assert_array_equal(_q(again, codes), _q(tokens, codes))


def test_tokens_feature_norm_is_refused_where_the_numpy_learner_cannot_train_it():
    from rl_rosetta_layer.video.candidates.settings import VideoSettings, video_learner

    refused = "--feature-norm tokens trains with the numpy learner only"
    for bad in (("numpy", "none", "attention"), ("torch", "none", "project"),
                ("numpy", "lowrank", "project")):
        with pytest.raises(ConfigError, match=refused):
            video_learner(*bad, "tokens")
        assert video_learner(*bad, "running") == "torch"
    assert video_learner("numpy", "none", "flatten", "tokens") == "numpy"
    with pytest.raises(ConfigError, match=refused):
        learner(candidate(feature_norm="tokens", learner="torch"), [0], adapter="none")
    with pytest.raises(ConfigError, match=refused):
        learner(candidate(feature_norm="tokens", learner="numpy"), [0])   # adapter trains
    with pytest.raises(ConfigError, match="'tokens' trains with the numpy learner only"):
        TorchLearner(candidate(feature_norm="tokens"), D, A, DQNConfig(head_hidden=8),
                     [np.random.default_rng(0)])
    assert VideoSettings(feature_norm="tokens").to_dict()["feature_norm"] == "tokens"


@pytest.mark.parametrize("feature_norm", ["running", "tokens"])
def test_a_parked_seed_leaves_the_others_running_statistics_as_alone(feature_norm):
    """The numpy learner with running statistics: once seed 1 diverges and is parked, its
    statistics are zero and stay so, and seed 0's parameters and statistics are those it
    has trained alone."""
    cand = candidate(feature_norm=feature_norm, learner="numpy")
    pair, solo = (learner(cand, seeds, adapter="none") for seeds in ([0, 1], [0]))
    for step in range(12):
        both, *rest = batch(step)
        data = (pair.encode(both), *rest)
        if step == 5:
            data[2][1, 3] = np.nan                            # seed 1's returns only
        norms, _ = pair.update(*data)
        assert norms[0] == solo.update(*rows(data, 0))[0][0]
    assert pair.parked.tolist() == [False, True]
    parked, mine, ref = pair.network(1), pair.network(0), solo.network(0)
    assert not parked["feature_mean"].any() and not parked["feature_var"].any()
    for name in ref:
        np.testing.assert_array_equal(mine[name], ref[name], err_msg=name)
