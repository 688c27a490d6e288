"""GymVectorEnv on real Gymnasium / MiniGrid environments: layout, scaling, seeding, errors."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("minigrid")

from rl_rosetta_layer.envs.gym_adapter import GymVectorEnv, area_weights  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402

EMPTY = "MiniGrid-Empty-6x6-v0"
DOORKEY = "MiniGrid-DoorKey-5x5-v0"
TEST_ID = "rosetta_test/Toy-v0"


class ToyEnv(gym.Env):
    """A small real environment whose observation kind is chosen by ``kind``.

    ``"discrete"``: a Discrete observation and no render (nothing GymVectorEnv can read);
    ``"float_image"``: an unbounded float32 (5, 7, 3) image with values in [-2, 10].
    Episodes never end by themselves (a TimeLimit must cut them).
    """

    metadata = {"render_modes": []}

    def __init__(self, kind: str = "float_image") -> None:
        self.kind = kind
        if kind == "discrete":
            self.observation_space = gym.spaces.Discrete(4)
        else:
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (5, 7, 3), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self):
        if self.kind == "discrete":
            return int(self.np_random.integers(4))
        return self.np_random.uniform(-2.0, 10.0, (5, 7, 3)).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        return self._obs(), float(action), False, False, {}


@pytest.fixture(scope="module", autouse=True)
def _toy_registered():
    if TEST_ID not in gym.envs.registry:
        gym.register(id=TEST_ID, entry_point=ToyEnv)


def gens(seed, n):
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def frames(obs, env):
    return np.asarray(obs).reshape(len(obs), *env.obs_shape)


def rollout(env, rngs, actions):
    """Observations, rewards and final_obs of a seeded run with fixed actions."""
    env.seed_with(rngs)
    obs, _ = env.reset()
    out = [obs]
    for a in actions:
        obs, reward, term, trunc, info = env.step(a)
        out += [obs, reward, term | trunc]
        if (term | trunc).any():
            out.append(info["final_obs"][term | trunc])
    return out


# ------------------------------------------------------------------------ layout and values
def test_shapes_dims_and_value_range_of_minigrid_symbolic_view():
    env = GymVectorEnv(EMPTY, 3, frame_size=8, history=2, actions=(0, 1, 2))
    obs, info = env.reset(seed=0)
    assert (env.num_envs, env.n_actions, env.channels) == (3, 3, 3)
    assert env.obs_shape == (2, 3, 8, 8) and env.obs_dim == 2 * 3 * 8 * 8
    assert obs.shape == (3, env.obs_dim) and obs.dtype == np.float32
    assert info["state"].shape == (3, 5) and info["state"].dtype == np.float32
    assert info["optimal_return"].shape == (3,)
    assert env.scaling == "minigrid_symbolic" and env.frame_shape == (7, 7, 3)
    assert 0.0 <= obs.min() and obs.max() <= 1.0 and obs.max() > 0.5
    f = frames(obs, env)
    assert np.array_equal(f[:, 0], f[:, 1])          # reset fills the history with copies


def test_frame_size_seven_keeps_symbolic_cells_exact():
    from minigrid.core.constants import OBJECT_TO_IDX
    env = GymVectorEnv(EMPTY, 1, frame_size=7, history=1)
    obs, _ = env.reset(seed=0)
    raw = env._envs[0].unwrapped.gen_obs()["image"]
    objects = frames(obs, env)[0, 0, 0]              # channel 0 = object index, (y, x) order
    assert np.allclose(objects, raw[:, :, 0].T / (len(OBJECT_TO_IDX) - 1))


def test_history_shifts_by_one_frame_per_step():
    env = GymVectorEnv(DOORKEY, 2, history=3, frame_size=6)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(6):
        new, _, term, trunc, _ = env.step(rng.integers(env.n_actions, size=2))
        old_f, new_f = frames(obs, env), frames(new, env)
        live = ~(term | trunc)
        assert np.array_equal(new_f[live, :-1], old_f[live, 1:])
        obs = new


def test_grayscale_and_render_source_give_one_channel_in_unit_range():
    env = GymVectorEnv(EMPTY, 2, source="render", grayscale=True, frame_size=12)
    obs, _ = env.reset(seed=0)
    assert env.source == "render" and env.scaling == "uint8"
    assert env.obs_shape == (2, 1, 12, 12) and obs.shape == (2, 2 * 144)
    obs, *_ = env.step(np.array([2, 0]))
    assert 0.0 <= obs.min() and obs.max() <= 1.0 and obs.std() > 0.01


def test_unbounded_float_image_is_scaled_per_frame_into_unit_range():
    env = GymVectorEnv(TEST_ID, 2, frame_size=4, max_steps=3)
    obs, _ = env.reset(seed=0)
    assert env.scaling == "per_frame" and env.source == "obs"
    assert 0.0 <= obs.min() and obs.max() <= 1.0
    assert env._state.shape == (2, 0) and np.isnan(env.reset(seed=0)[1]["optimal_return"]).all()


def test_area_weights_average_exactly_and_handle_non_divisible_sizes():
    assert np.allclose(area_weights(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    w = area_weights(7, 3)
    assert np.allclose(w.sum(axis=1), 1.0) and (w >= 0).all()
    assert np.allclose(area_weights(7, 7), np.eye(7))
    up = area_weights(2, 4)                           # upsampling repeats each input pixel
    assert np.allclose(up, [[1, 0], [1, 0], [0, 1], [0, 1]])


# ------------------------------------------------------------------------ actions and info
def test_action_mapping_exposes_the_chosen_env_actions_in_order():
    env = GymVectorEnv(EMPTY, 1, actions=(1, 2))     # agent 0 = env right, 1 = env forward
    assert env.n_actions == 2 and env.action_names == ("right", "forward")
    _, info = env.reset(seed=0)
    x0, y0, d0 = np.rint(info["state"][0, :3] * [5, 5, 3])
    _, _, _, _, info = env.step(np.array([1]))          # forward: facing right, x + 1
    assert np.allclose(np.rint(info["state"][0, :3] * [5, 5, 3]), [x0 + 1, y0, d0])
    _, _, _, _, info = env.step(np.array([0]))          # right turn: direction + 1
    assert np.allclose(np.rint(info["state"][0, :3] * [5, 5, 3]), [x0 + 1, y0, d0 + 1])


def test_shortest_path_reaches_goal_with_the_predicted_optimal_return():
    env = GymVectorEnv(EMPTY, 1, actions=(0, 1, 2))
    _, info = env.reset(seed=0)
    predicted = float(info["optimal_return"][0])
    assert np.allclose(info["state"][0], [0.2, 0.2, 0.0, 0.8, 0.8])   # (1,1) east; goal (4,4)
    plan = [2, 2, 2, 1, 2, 2, 2]                                     # 3 forward, right, 3 fwd
    for k, a in enumerate(plan):
        _, reward, term, trunc, info = env.step(np.array([a]))
        assert bool(term[0]) == (k == len(plan) - 1)
    assert np.isclose(reward[0], predicted) and np.isclose(predicted, 1 - 0.9 * 7 / 144)
    assert info["success"][0] and np.allclose(info["final_state"][0, :2], [0.8, 0.8])
    assert np.allclose(info["state"][0, :3], [0.2, 0.2, 0.0])         # already reset


def test_optimal_return_is_nan_where_doors_and_keys_make_it_unknown():
    env = GymVectorEnv(DOORKEY, 2)
    _, info = env.reset(seed=0)
    assert np.isnan(info["optimal_return"]).all() and info["state"].shape == (2, 5)


def test_autoreset_returns_final_obs_and_a_fresh_history():
    env = GymVectorEnv(EMPTY, 2, actions=(0, 1, 2), max_steps=4, history=2)
    obs, _ = env.reset(seed=3)
    for _ in range(4):
        prev = obs
        obs, _, term, trunc, info = env.step(np.array([0, 2]))
    assert trunc.all() and not term.any() and "final_obs" in info
    final = frames(info["final_obs"], env)
    assert np.array_equal(final[:, 0], frames(prev, env)[:, 1])   # final obs continued
    assert not np.array_equal(info["final_obs"], obs)
    f = frames(obs, env)
    assert np.array_equal(f[:, 0], f[:, 1])                        # reset history is filled
    assert np.allclose(info["state"][:, :3], [[0.2, 0.2, 0.0]] * 2)
    assert not np.allclose(info["final_state"][1, :2], [0.2, 0.2])


# ------------------------------------------------------------------------ seeding
def test_same_generators_give_identical_sequences_across_resets():
    actions = np.random.default_rng(5).integers(7, size=(30, 2))
    a = rollout(GymVectorEnv(DOORKEY, 2, max_steps=8), gens(11, 2), actions)
    b = rollout(GymVectorEnv(DOORKEY, 2, max_steps=8), gens(11, 2), actions)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    c = rollout(GymVectorEnv(DOORKEY, 2, max_steps=8), gens(12, 2), actions)
    assert not all(np.array_equal(x, y) for x, y in zip(a[:1], c[:1]))


def test_copy_i_of_three_equals_a_single_copy_with_its_generator():
    actions = np.random.default_rng(2).integers(7, size=(25, 3))
    env3 = GymVectorEnv(DOORKEY, 3, max_steps=6)
    env3.seed_with(gens(4, 3))
    obs3 = [env3.reset()[0]] + [env3.step(a)[0] for a in actions]
    for i in range(3):
        env1 = GymVectorEnv(DOORKEY, 1, max_steps=6)
        env1.seed_with([gens(4, 3)[i]])
        obs1 = [env1.reset()[0]] + [env1.step(a[i:i + 1])[0] for a in actions]
        assert all(np.array_equal(o3[i], o1[0]) for o3, o1 in zip(obs3, obs1))


def test_reset_with_int_or_list_seed_is_repeatable():
    env = GymVectorEnv(DOORKEY, 2)
    a, info_a = env.reset(seed=7)
    b, info_b = env.reset(seed=[7, 8])
    assert np.array_equal(a, b) and np.array_equal(info_a["state"], info_b["state"])
    others = [env.reset(seed=s)[1]["state"][0] for s in range(20, 25)]
    assert any(not np.array_equal(info_a["state"][0], o) for o in others)


def test_max_steps_overrides_a_time_limit_of_a_plain_env():
    env = GymVectorEnv(TEST_ID, 1, max_steps=3)
    env.reset(seed=0)
    dones = [env.step(np.array([1]))[3][0] for _ in range(6)]
    assert dones == [False, False, True, False, False, True]


# ------------------------------------------------------------------------ the project's grid
def test_project_grid_through_gymnasium_matches_its_own_observations():
    from rl_rosetta_layer.envs.gym_registration import ENV_ID
    env = GymVectorEnv(ENV_ID, 1, frame_size=4, history=2, env_kwargs={"size": 4})
    assert env.obs_shape == (2, 2, 4, 4) and env.action_names[1] == "up"
    direct = gym.make(ENV_ID, size=4)
    rng = np.random.default_rng(0)
    env.seed_with([np.random.default_rng(0)])
    obs, info = env.reset()
    ref, ref_info = direct.reset(seed=int(rng.integers(2**31 - 1)))
    assert np.array_equal(obs[0], ref) and np.allclose(info["state"][0], ref_info["state"])
    for a in [4, 2, 0, 3, 1, 4]:
        obs, r, term, trunc, info = env.step(np.array([a]))
        ref, ref_r, ref_term, _, ref_info = direct.step(a)
        assert np.array_equal(obs[0], ref) and r[0] == ref_r
        assert np.isclose(info["optimal_return"][0], ref_info["optimal_return"])
        if ref_term:
            break


# ------------------------------------------------------------------------ bad input
def test_unknown_env_id_names_it_and_how_to_list_ids():
    with pytest.raises(ConfigError, match=r"unknown Gymnasium environment id 'MiniGrid-Nope-v0'"
                                          r".*gymnasium\.envs\.registry.*pip install minigrid"):
        GymVectorEnv("MiniGrid-Nope-v0", 1)


def test_env_without_image_or_rgb_render_is_refused():
    with pytest.raises(ConfigError, match=r"rosetta_test/Toy-v0 has no image observation.*"
                                          r"Discrete\(4\).*no rgb_array render"):
        GymVectorEnv(TEST_ID, 1, env_kwargs={"kind": "discrete"})


def test_source_obs_without_image_is_refused():
    with pytest.raises(ConfigError, match=r"CartPole-v1 has no image observation.*"
                                          r"source='obs' needs"):
        GymVectorEnv("CartPole-v1", 1, source="obs")


def test_source_render_without_rgb_array_is_refused():
    with pytest.raises(ConfigError, match=r"Toy-v0 has no rgb_array render.*source='render'"):
        GymVectorEnv(TEST_ID, 1, source="render")


def test_continuous_action_space_is_refused():
    with pytest.raises(ConfigError, match=r"Pendulum-v1 has the action space Box.*"
                                          r"only Discrete\(n\)"):
        GymVectorEnv("Pendulum-v1", 1)


def test_actions_out_of_range_are_refused():
    with pytest.raises(ConfigError, match=r"indices in \[0, 7\), got \(0, 7\)"):
        GymVectorEnv(EMPTY, 1, actions=(0, 7))


def test_unknown_source_is_refused():
    with pytest.raises(ConfigError, match=r"source must be one of auto, obs, render, "
                                          r"got 'pixels'"):
        GymVectorEnv(EMPTY, 1, source="pixels")


def test_bad_env_kwargs_are_refused():
    with pytest.raises(ConfigError, match=r"does not accept the arguments \{'sise': 5\}"):
        GymVectorEnv(EMPTY, 1, env_kwargs={"sise": 5})


def test_bad_frame_size_is_refused():
    with pytest.raises(ConfigError, match=r"frame_size must be a positive integer, got 0"):
        GymVectorEnv(EMPTY, 1, frame_size=0)


def test_step_actions_outside_the_exposed_range_are_refused():
    env = GymVectorEnv(EMPTY, 2, actions=(0, 1, 2))
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"actions must be 2 integers in \[0, 3\)"):
        env.step(np.array([0, 3]))


def test_step_before_reset_is_refused():
    with pytest.raises(ConfigError, match=r"call reset\(\) before step\(\)"):
        GymVectorEnv(EMPTY, 1).step(np.array([0]))
