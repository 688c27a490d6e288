"""Invariants of the video-like grid and its vectorised form."""

import numpy as np
import pytest

from rl_rosetta_layer.envs import GridConfig, VectorVideoGrid, VideoGridEnv
from rl_rosetta_layer.errors import ConfigError

#: (dx, dy) of each action as documented: 0 stay, 1 up, 2 down, 3 left, 4 right.
DOC_MOVES = {0: (0, 0), 1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}


def frames(obs, config):
    """(history, 2, size*size) view of a flat observation."""
    return np.asarray(obs).reshape(config.history, 2, config.size * config.size)


def positions(info, config):
    """(agent_xy, goal_xy) as ints from info['state']."""
    cells = np.rint(np.asarray(info["state"]) * (config.size - 1)).astype(int)
    return tuple(cells[:2]), tuple(cells[2:])


def one_hot_xy(channel, size):
    """(x, y) of the single 1 in a one-hot map."""
    (idx,) = np.flatnonzero(channel)
    return int(idx % size), int(idx // size)


def test_obs_shape_dtype_and_one_hot_structure():
    config = GridConfig(size=5, history=3)
    env = VideoGridEnv(config)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3 * 2 * 5 * 5,) == (env.obs_dim,)
    assert obs.dtype == np.float32
    assert env.obs_shape == (3, 2, 5, 5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        fr = frames(obs, config)
        assert set(np.unique(obs)) <= {0.0, 1.0}
        # exactly one agent cell and one goal cell in every frame
        np.testing.assert_array_equal(fr.sum(axis=2), np.ones((3, 2)))
        obs, _, terminated, truncated, info = env.step(int(rng.integers(5)))
        if terminated or truncated:
            obs, info = env.reset()


def test_reset_fills_history_with_copies_of_first_frame():
    config = GridConfig(size=4, history=4)
    env = VideoGridEnv(config)
    obs, info = env.reset(seed=3)
    fr = frames(obs, config)
    for k in range(1, 4):
        np.testing.assert_array_equal(fr[k], fr[0])
    agent, goal = positions(info, config)
    assert one_hot_xy(fr[-1, 0], 4) == agent
    assert one_hot_xy(fr[-1, 1], 4) == goal


def test_step_shifts_history_oldest_first():
    config = GridConfig(size=6, history=3, max_steps=200)
    env = VideoGridEnv(config)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(30):
        new, _, terminated, truncated, info = env.step(int(rng.integers(5)))
        old_fr, new_fr = frames(obs, config), frames(new, config)
        np.testing.assert_array_equal(new_fr[:-1], old_fr[1:])
        agent, goal = positions(info, config)
        assert one_hot_xy(new_fr[-1, 0], 6) == agent
        obs = new
        if terminated or truncated:
            obs, _ = env.reset()


def test_history_two_oldest_frame_is_previous_newest():
    config = GridConfig(size=5)
    env = VideoGridEnv(config)
    obs, _ = env.reset(seed=2)
    new, *_ = env.step(4)
    np.testing.assert_array_equal(frames(new, config)[0], frames(obs, config)[1])


def test_actions_move_as_documented_and_clip_at_border():
    config = GridConfig(size=3, max_steps=100)
    clipped = moved = 0
    for seed in range(25):
        for action, (dx, dy) in DOC_MOVES.items():
            env = VideoGridEnv(config)
            _, info = env.reset(seed=seed)
            (ax, ay), goal = positions(info, config)
            obs, reward, terminated, truncated, info = env.step(action)
            expect = (min(max(ax + dx, 0), 2), min(max(ay + dy, 0), 2))
            clipped += expect != (ax + dx, ay + dy)
            moved += expect != (ax, ay)
            assert positions(info, config) == (expect, goal)
            assert one_hot_xy(frames(obs, config)[-1, 0], 3) == expect
            assert not truncated
            if expect == goal:
                assert terminated and reward == 1.0
            else:
                assert not terminated and reward == pytest.approx(-0.01)
    assert clipped > 0 and moved > 0   # both cases were exercised


def test_rewards_along_a_path_to_the_goal():
    env = VideoGridEnv(GridConfig(size=2, max_steps=10))
    _, info = env.reset(seed=0)
    # on a 2x2 grid the shortest path reaches the goal in at most 2 steps
    rewards = []
    terminated = False
    while not terminated:
        _, r, terminated, _, _ = env.step(env.shortest_path_action())
        rewards.append(r)
    assert rewards[-1] == 1.0
    assert all(r == float(np.float32(-0.01)) for r in rewards[:-1])


def test_truncation_at_max_steps():
    env = VideoGridEnv(GridConfig(size=5, max_steps=4))
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(4)]   # stay: never reaches the goal
    assert flags == [(False, False)] * 3 + [(False, True)]


def test_agent_never_starts_on_goal_and_state_is_scaled():
    config = GridConfig(size=3)
    env = VideoGridEnv(config)
    seen = []
    for seed in range(300):
        _, info = env.reset(seed=seed)
        state = info["state"]
        assert state.dtype == np.float32 and state.shape == (4,)
        assert np.all((state >= 0.0) & (state <= 1.0))
        agent, goal = positions(info, config)
        np.testing.assert_allclose(state, np.array(agent + goal) / 2.0)
        assert agent != goal
        seen.append(state)
    seen = np.array(seen)
    assert seen.min() == 0.0 and seen.max() == 1.0   # the range is reached, not just bounded


def test_reset_seed_is_reproducible():
    runs = []
    for _ in range(2):
        env = VideoGridEnv(GridConfig(size=6))
        obs, _ = env.reset(seed=42)
        trace = [obs]
        for a in [1, 4, 4, 2, 0, 3]:
            trace.append(env.step(a)[0])
        runs.append(np.array(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def _compare_vector_with_singles(vec, singles, steps, rng):
    obs, info = vec.obs0, vec.info0
    dones = 0
    for _ in range(steps):
        actions = rng.integers(5, size=len(singles))
        obs, reward, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(int(actions[i]))
            assert (r, te, tr) == (float(reward[i]), bool(terminated[i]), bool(truncated[i]))
            if te or tr:
                dones += 1
                np.testing.assert_array_equal(info["final_obs"][i], o)
                np.testing.assert_array_equal(info["final_state"][i], inf["state"])
                o, inf = env.reset()
            np.testing.assert_array_equal(obs[i], o)
            np.testing.assert_array_equal(info["state"][i], inf["state"])
            np.testing.assert_array_equal(info["optimal_return"][i], inf["optimal_return"])
    return dones


def test_vector_copy_equals_single_env_seeded_the_same():
    config = GridConfig(size=4, max_steps=8)
    vec = VectorVideoGrid(3, config)
    vec.obs0, vec.info0 = vec.reset(seed=[10, 20, 30])
    singles = [VideoGridEnv(config) for _ in range(3)]
    for i, (env, s) in enumerate(zip(singles, [10, 20, 30])):
        o, _ = env.reset(seed=s)
        np.testing.assert_array_equal(vec.obs0[i], o)
    dones = _compare_vector_with_singles(vec, singles, 120, np.random.default_rng(0))
    assert dones > 10   # autoreset was exercised many times


def test_vector_seed_with_and_int_seed_semantics():
    config = GridConfig(size=5, max_steps=6)
    a = VectorVideoGrid(3, config)
    a.seed_with([np.random.default_rng(s) for s in (7, 8, 9)])
    a.obs0, a.info0 = a.reset()
    b = VectorVideoGrid(3, config)
    b_obs, _ = b.reset(seed=7)   # an int seeds copy i with seed + i
    np.testing.assert_array_equal(a.obs0, b_obs)
    singles = [VideoGridEnv(config) for _ in range(3)]
    for env, s in zip(singles, (7, 8, 9)):
        env.reset(seed=s)
    _compare_vector_with_singles(a, singles, 60, np.random.default_rng(1))


def test_autoreset_returns_final_obs_for_done_copies():
    config = GridConfig(size=5, history=2, max_steps=3)
    vec = VectorVideoGrid(2, config)
    obs, _ = vec.reset(seed=[0, 1])
    before = obs
    for _ in range(2):
        before, _, term, trunc, info = vec.step(np.array([0, 0]))
        assert not (term | trunc).any() and "final_obs" not in info
    obs, _, term, trunc, info = vec.step(np.array([0, 0]))   # both truncated on step 3
    np.testing.assert_array_equal(trunc, [True, True])
    np.testing.assert_array_equal(term, [False, False])
    # the final observation is the stepped one (agent stayed: both frames equal `before`'s)
    np.testing.assert_array_equal(info["final_obs"], before)
    # the returned obs is a fresh episode: its history is copies of one frame
    fr = obs.reshape(2, 2, -1)
    np.testing.assert_array_equal(fr[:, 0], fr[:, 1])


def test_autoreset_only_done_rows_change():
    config = GridConfig(size=5, max_steps=50)
    vec = VectorVideoGrid(4, config)
    vec.reset(seed=0)
    rng = np.random.default_rng(3)
    checked = False
    for _ in range(300):
        obs, _, term, trunc, info = vec.step(rng.integers(5, size=4))
        done = term | trunc
        if done.any() and not done.all():
            np.testing.assert_array_equal(info["final_obs"][~done], obs[~done])
            assert not np.array_equal(info["final_obs"][done], obs[done])
            np.testing.assert_array_equal(info["success"], term)
            checked = True
    assert checked


@pytest.mark.parametrize("seed", range(12))
def test_shortest_path_reaches_goal_in_manhattan_distance(seed):
    config = GridConfig(size=8)
    env = VideoGridEnv(config)
    _, info = env.reset(seed=seed)
    (ax, ay), (gx, gy) = positions(info, config)
    distance = abs(ax - gx) + abs(ay - gy)
    expected_return = info["optimal_return"]
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        _, r, terminated, truncated, _ = env.step(env.shortest_path_action())
        assert not truncated
        total += r
        steps += 1
    assert steps == distance
    assert total == pytest.approx(1.0 - 0.01 * (distance - 1))
    assert expected_return == pytest.approx(total, abs=1e-6)


@pytest.mark.parametrize("action", [7, -1, 5])
def test_bad_action_raises_config_error_naming_it(action):
    env = VideoGridEnv(GridConfig(size=4))
    env.reset(seed=0)
    message = rf"action must be an integer in \[0, 5\), got {action}$"
    with pytest.raises(ConfigError, match=message):
        env.step(action)


def test_vector_bad_actions_float_array():
    vec = VectorVideoGrid(2, GridConfig(size=4))
    vec.reset(seed=0)
    message = r"actions must be 2 integers in \[0, 5\), got array\(\[1\., 2\.\]\)"
    with pytest.raises(ConfigError, match=message):
        vec.step(np.array([1.0, 2.0]))


def test_vector_bad_actions_wrong_count():
    vec = VectorVideoGrid(2, GridConfig(size=4))
    vec.reset(seed=0)
    message = r"actions must be 2 integers in \[0, 5\), got array\(\[0\]\)"
    with pytest.raises(ConfigError, match=message):
        vec.step(np.array([0]))


@pytest.mark.parametrize("action", [2.5, True, 5, -1])
def test_single_env_bad_action_raises(action):
    env = VideoGridEnv(GridConfig(size=4))
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"action must be an integer in \[0, 5\), got "):
        env.step(action)


def test_step_before_reset():
    env = VideoGridEnv(GridConfig(size=4))
    with pytest.raises(ConfigError, match=r"call reset\(\) before step\(\)"):
        env.step(0)


def test_grid_size_one_raises():
    with pytest.raises(ConfigError, match="grid size must be an integer in \\[2, 64\\], got 1"):
        GridConfig(size=1)


def test_grid_history_zero_raises():
    with pytest.raises(ConfigError, match="grid history must be an integer in \\[1, 16\\], got 0"):
        GridConfig(history=0)


def test_vector_wrong_seed_count_raises():
    vec = VectorVideoGrid(2, GridConfig(size=4))
    with pytest.raises(ConfigError, match=r"need 2 seeds, got 1: \[1\]"):
        vec.reset(seed=[1])


@pytest.mark.parametrize("size", [65, 1000])
def test_grid_size_has_a_cap(size):
    # a 1000-cell side allocated gigabytes before failing; now it is bad input at once
    message = rf"grid size must be an integer in \[2, 64\], got {size}"
    with pytest.raises(ConfigError, match=message):
        GridConfig(size=size)
