"""The motion tasks (moving-goal, catch): dynamics, format, seeding, autoreset, policies."""

import itertools

import numpy as np
import pytest

from rl_rosetta_layer.envs.catch import CatchConfig, CatchEnv, VectorCatch
from rl_rosetta_layer.envs.motion import bounce_path, bounce_step
from rl_rosetta_layer.envs.moving_goal import (
    VELOCITIES,
    MovingGoalConfig,
    MovingGoalEnv,
    VectorMovingGoal,
)
from rl_rosetta_layer.envs.reference import (
    one_frame_actions,
    policy_actions,
    random_actions,
    reference_actions,
)
from rl_rosetta_layer.envs.registry import ENV_NAMES, make_vector_env, split_env_name
from rl_rosetta_layer.errors import ConfigError

STAY, UP, DOWN, LEFT, RIGHT = range(5)          # moving-goal actions (the grid's)
C_STAY, C_LEFT, C_RIGHT = range(3)              # catch actions
TASKS = {"moving-goal": (VectorMovingGoal, MovingGoalEnv, MovingGoalConfig),
         "catch": (VectorCatch, CatchEnv, CatchConfig)}


def frames(obs, config):
    """(..., history, 2, size, size) view of flat observations."""
    obs = np.asarray(obs)
    return obs.reshape(*obs.shape[:-1], config.history, 2, config.size, config.size)


def cells(channel):
    """Sorted (x, y) of the ones of a (size, size) map."""
    ys, xs = np.nonzero(channel)
    return sorted(zip(xs.tolist(), ys.tolist()))


def goal_env(agent, goal, velocity, **config):
    """A one-copy moving-goal environment put into a chosen state (no autoreset)."""
    env = VectorMovingGoal(1, MovingGoalConfig(**config), autoreset=False)
    env.reset(seed=0)
    env.agent[0], env.goal[0], env.velocity[0] = agent, goal, velocity
    return env


def catch_env(paddle, ball, drift, **config):
    env = VectorCatch(1, CatchConfig(**config), autoreset=False)
    env.reset(seed=0)
    env.paddle[0], env.ball[0], env.drift[0] = paddle, ball, drift
    return env


def step1(env, action):
    obs, r, te, tr, info = env.step(np.array([action]))
    return obs[0], float(r[0]), bool(te[0]), bool(tr[0]), {k: v[0] for k, v in info.items()}


# --------------------------------------------------------------------------------- bouncing
def test_bounce_path_matches_repeated_bounce_steps():
    rng = np.random.default_rng(0)
    for size in (2, 3, 5, 8):
        pos = rng.integers(size, size=200)
        vel = rng.choice([-1, 0, 1], size=200)
        vel[(pos + vel < 0) | (pos + vel > size - 1)] *= -1     # next move stays inside
        p, v = pos.copy(), vel.copy()
        for k in range(1, 3 * size):
            bounce_step(p, v, size)
            assert p.min() >= 0 and p.max() <= size - 1
            np.testing.assert_array_equal(bounce_path(pos, vel, k, size), p)


def test_goal_bounces_off_walls_and_velocity_flips():
    env = goal_env((7, 7), (1, 3), (-1, 1), size=8)
    path = []
    for _ in range(5):
        *_, info = step1(env, STAY)
        path.append((tuple(env.goal[0]), tuple(env.velocity[0])))
    assert path == [((0, 4), (1, 1)), ((1, 5), (1, 1)), ((2, 6), (1, 1)), ((3, 7), (1, -1)),
                    ((4, 6), (1, -1))]
    np.testing.assert_allclose(info["state"], [1, 1, 4 / 7, 6 / 7, 1, -1])


# ------------------------------------------------------------------ moving-goal: catching
def test_caught_when_agent_steps_onto_the_goal_and_goal_stays():
    env = goal_env((2, 2), (3, 2), (1, 0))
    obs, r, te, tr, info = step1(env, RIGHT)
    assert (r, te, tr, bool(info["success"])) == (1.0, True, False, True)
    assert tuple(env.goal[0]) == (3, 2)                 # it did not move on
    fr = frames(obs, env.config)[-1]
    assert cells(fr[0]) == cells(fr[1]) == [(3, 2)]


def test_caught_when_goal_runs_into_the_agent():
    env = goal_env((2, 2), (3, 2), (-1, 0))
    _, r, te, _, info = step1(env, STAY)
    assert (r, te) == (1.0, True) and tuple(env.goal[0]) == (2, 2)


def test_agent_and_goal_cannot_swap_through_each_other():
    env = goal_env((2, 2), (3, 2), (-1, 0))             # heading at each other
    _, r, te, _, _ = step1(env, RIGHT)
    assert (r, te) == (1.0, True) and tuple(env.agent[0]) == (3, 2)


def test_passing_diagonally_is_no_catch():
    env = goal_env((2, 2), (3, 3), (-1, -1))
    _, r, te, tr, info = step1(env, RIGHT)              # agent to (3, 2), goal to (2, 2)
    assert (r, te, tr, bool(info["success"])) == (pytest.approx(-0.01), False, False, False)
    assert tuple(env.agent[0]) == (3, 2) and tuple(env.goal[0]) == (2, 2)


def test_goal_moving_away_is_not_caught_by_following():
    env = goal_env((0, 0), (2, 0), (1, 0), size=8)
    for _ in range(4):
        _, r, te, _, _ = step1(env, RIGHT)
        assert not te and r == pytest.approx(-0.01)
    assert tuple(env.agent[0]) == (4, 0) and tuple(env.goal[0]) == (6, 0)


def test_moving_goal_truncates_at_max_steps():
    env = goal_env((0, 0), (7, 7), (0, -1), size=8, max_steps=3)   # goal far, moving up
    flags = [step1(env, STAY)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_moving_goal_velocities_all_drawn_and_never_zero():
    env = VectorMovingGoal(400)
    _, info = env.reset(seed=0)
    v = info["state"][:, 4:]
    assert not (v == 0).all(axis=1).any()
    assert {tuple(x) for x in v.astype(int)} == {tuple(x) for x in VELOCITIES}
    a, g = env.agent, env.goal
    assert not (a == g).all(axis=1).any()


# --------------------------------------------------------------------------- catch: dynamics
def test_ball_falls_drifts_and_bounces_off_side_walls():
    env = catch_env(3, (1, 2), -1, size=8)
    seen = []
    for _ in range(3):
        step1(env, C_STAY)
        seen.append((tuple(env.ball[0]), int(env.drift[0])))
    assert seen == [((0, 3), 1), ((1, 4), 1), ((2, 5), 1)]


@pytest.mark.parametrize("paddle, reward, success", [(4, 1.0, True), (5, 1.0, True),
                                                     (6, -1.0, False), (3, -1.0, False)])
def test_catch_reward_when_the_ball_lands(paddle, reward, success):
    # ball at (4, 6) drifting +1 lands at (5, 7); a width-2 paddle at p covers p, p + 1
    env = catch_env(paddle, (4, 6), 1, size=8, paddle_width=2)
    obs, r, te, tr, info = step1(env, C_STAY)
    assert (r, te, tr, bool(info["success"])) == (reward, True, False, success)
    assert info["optimal_return"] == 0.0                 # nothing left to win
    with pytest.raises(ConfigError, match=r"the ball of copy 0 has landed: call reset\(\)"):
        env.step(np.array([C_STAY]))


def test_paddle_moves_and_clips_and_intermediate_steps_give_zero():
    env = catch_env(0, (3, 0), 1, size=8, paddle_width=2)
    moves = [(C_LEFT, 0), (C_RIGHT, 1), (C_RIGHT, 2), (C_STAY, 2)]
    for action, expect in moves:
        _, r, te, _, _ = step1(env, action)
        assert env.paddle[0] == expect and r == 0.0 and not te
    env = catch_env(6, (3, 0), 1, size=8, paddle_width=2)
    step1(env, C_RIGHT)
    assert env.paddle[0] == 6                           # right wall: 6 and 7 covered


def test_catch_episode_lasts_size_minus_history_steps():
    for size, history in ((8, 2), (6, 3), (5, 1)):
        env = CatchEnv(CatchConfig(size=size, history=history))
        obs, info = env.reset(seed=1)
        assert frames(obs, env.config)[0, 1].nonzero()[0].tolist() == [0]   # top row
        steps, done = 0, False
        while not done:
            _, _, te, tr, _ = env.step(C_STAY)
            steps, done = steps + 1, te or tr
        assert te and steps == size - history


def test_catch_max_steps_truncates_before_landing():
    env = CatchEnv(CatchConfig(max_steps=2))
    _, info = env.reset(seed=0)
    assert info["optimal_return"] == 0.0                # it cannot land in time
    assert env.step(C_STAY)[2:4] == (False, False)
    assert env.step(C_STAY)[2:4] == (False, True)


# ------------------------------------------------------------------------ observation format
@pytest.mark.parametrize("task", TASKS)
def test_obs_shape_one_hot_channels_and_history_order(task):
    vec_class, _, config_class = TASKS[task]
    config = config_class(size=6, history=3)
    env = vec_class(5, config)
    obs, info = env.reset(seed=2)
    assert obs.shape == (5, 3 * 2 * 36) == (5, env.obs_dim) and obs.dtype == np.float32
    assert env.obs_shape == (3, 2, 6, 6)
    ones = 1 if task == "moving-goal" else config.paddle_width
    rng = np.random.default_rng(2)
    for _ in range(30):
        fr = frames(obs, config)
        assert set(np.unique(obs)) <= {0.0, 1.0}
        np.testing.assert_array_equal(fr.sum(axis=(3, 4)),
                                      np.broadcast_to([ones, 1], (5, 3, 2)))
        new, _, te, tr, info = env.step(rng.integers(env.n_actions, size=5))
        keep = ~(te | tr)
        np.testing.assert_array_equal(frames(new, config)[keep, :-1], fr[keep, 1:])
        obs = new


@pytest.mark.parametrize("task", TASKS)
def test_newest_frame_shows_the_true_positions(task):
    vec_class, _, config_class = TASKS[task]
    config = config_class(size=7)
    env = vec_class(4, config)
    obs, info = env.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(20):
        fr = frames(obs, config)[:, -1]
        cellxy = np.rint(info["state"][:, :-2 if task == "moving-goal" else -1] * 6).astype(int)
        for i in range(4):
            if task == "moving-goal":
                assert cells(fr[i, 0]) == [tuple(cellxy[i, :2])]
                assert cells(fr[i, 1]) == [tuple(cellxy[i, 2:])]
            else:
                p = cellxy[i, 0]
                assert cells(fr[i, 0]) == [(p, 6), (p + 1, 6)]
                assert cells(fr[i, 1]) == [tuple(cellxy[i, 1:])]
        obs, *_, info = env.step(rng.integers(env.n_actions, size=4))


def test_reset_history_shows_the_goal_already_moving():
    config = MovingGoalConfig(size=8, history=3)
    env = VectorMovingGoal(300, config)
    obs, info = env.reset(seed=5)
    fr = frames(obs, config)
    for i in range(300):
        agent = [cells(fr[i, k, 0]) for k in range(3)]
        goal = np.array([cells(fr[i, k, 1])[0] for k in range(3)])
        assert agent[0] == agent[1] == agent[2]              # the agent stood still
        first_move = goal[1] - goal[0]
        assert first_move.any() and np.abs(first_move).max() == 1
        # the three frames and the state's velocity (the next move) lie on one bouncing path
        path = bounce_path(goal[0][:, None], first_move[:, None], np.arange(4), 8).T
        np.testing.assert_array_equal(path[:3], goal)
        np.testing.assert_array_equal(path[3] - goal[2], info["state"][i, 4:])


def test_velocity_is_in_the_frame_difference_not_in_one_frame():
    # two goals reach (4, 4) from opposite sides: the newest frames are identical, the
    # stacked frames (and the true velocities) are not
    a = goal_env((0, 0), (2, 4), (1, 0))
    b = goal_env((0, 0), (6, 4), (-1, 0))
    for _ in range(2):
        oa, *_, info_a = step1(a, STAY)
        ob, *_, info_b = step1(b, STAY)
    fa, fb = frames(oa, a.config), frames(ob, b.config)
    np.testing.assert_array_equal(fa[-1], fb[-1])
    assert cells(fa[-1, 1]) == [(4, 4)]
    assert cells(fa[0, 1]) == [(3, 4)] and cells(fb[0, 1]) == [(5, 4)]
    assert info_a["state"][4] == 1 and info_b["state"][4] == -1


# ----------------------------------------------------------------- determinism and seeding
def _trace(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        out.append(env.step(a)[0])
    return np.array(out)


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_trajectory(task):
    _, single_class, _ = TASKS[task]
    actions = [int(a) for a in np.random.default_rng(0).integers(3, size=5)]
    first = _trace(single_class(), 42, actions)
    np.testing.assert_array_equal(first, _trace(single_class(), 42, actions))
    assert not np.array_equal(first, _trace(single_class(), 43, actions))


@pytest.mark.parametrize("task", TASKS)
def test_vector_copy_equals_single_env_seeded_the_same(task):
    vec_class, single_class, config_class = TASKS[task]
    config = config_class(size=5, max_steps=8)
    vec = vec_class(3, config)
    vec.seed_with([np.random.default_rng(s) for s in (10, 11, 12)])
    obs, info = vec.reset()
    assert np.array_equal(obs, vec_class(3, config).reset(seed=10)[0])   # int: seed + i
    singles = [single_class(config) for _ in range(3)]
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=10 + i)
        np.testing.assert_array_equal(obs[i], o)
    rng = np.random.default_rng(0)
    dones = 0
    for _ in range(80):
        actions = rng.integers(vec.n_actions, size=3)
        obs, reward, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(int(actions[i]))
            assert (r, te, tr) == (float(reward[i]), bool(terminated[i]), bool(truncated[i]))
            assert inf["success"] == info["success"][i]
            if te or tr:
                dones += 1
                np.testing.assert_array_equal(info["final_obs"][i], o)
                np.testing.assert_array_equal(info["final_state"][i], inf["state"])
                o, inf = env.reset()
            np.testing.assert_array_equal(obs[i], o)
            np.testing.assert_array_equal(info["state"][i], inf["state"])
            np.testing.assert_array_equal(info["optimal_return"][i], inf["optimal_return"])
    assert dones > 10


@pytest.mark.parametrize("task", TASKS)
def test_autoreset_final_obs_and_only_done_rows_change(task):
    vec_class, _, config_class = TASKS[task]
    config = config_class(size=5, max_steps=12)
    vec = vec_class(6, config)
    obs, _ = vec.reset(seed=0)
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(100):
        before = obs
        obs, _, te, tr, info = vec.step(rng.integers(vec.n_actions, size=6))
        done = te | tr
        if not done.any():
            assert "final_obs" not in info
            continue
        final = frames(info["final_obs"], config)
        fresh = frames(obs, config)
        np.testing.assert_array_equal(info["final_obs"][~done], obs[~done])
        np.testing.assert_array_equal(final[done, 0], frames(before, config)[done, 1])
        for i in np.flatnonzero(done):
            assert info["final_state"][i].tolist() != info["state"][i].tolist()
            if task == "catch":        # a fresh ball: top row in the oldest frame
                assert cells(fresh[i, 0, 1])[0][1] == 0 and cells(final[i, -1, 1])[0][1] == 4
        if task == "moving-goal":
            np.testing.assert_array_equal(info["success"], te)
        else:                                       # catch: success = landed on the paddle
            assert not (info["success"] & ~te).any()
        checked += 1
    assert checked > 5


# ---------------------------------------------------------------- optimal return and policies
def _best_return_by_brute_force(vec_class, config, seed, n_actions, horizon):
    """The best undiscounted return over every action sequence of length ``horizon``."""
    sequences = np.array(list(itertools.product(range(n_actions), repeat=horizon)))
    env = vec_class(len(sequences), config, autoreset=False)
    _, info = env.reset(seed=[seed] * len(sequences))
    total = np.zeros(len(sequences))
    live = np.ones(len(sequences), bool)
    for t in range(horizon):
        _, r, te, tr, _ = env.step(sequences[:, t])
        total += np.where(live, r, 0.0)
        live &= ~(te | tr)
        if not live.any():
            break
    return float(total.max()), float(info["optimal_return"][0])


def test_moving_goal_optimal_return_is_the_best_over_all_action_sequences():
    config = MovingGoalConfig(size=4, max_steps=4)
    claims = []
    for seed in range(12):
        best, claimed = _best_return_by_brute_force(VectorMovingGoal, config, seed, 5, 4)
        assert claimed == pytest.approx(best, abs=1e-6)
        claims.append(claimed)
    assert min(claims) < 0 < max(claims)         # both caught and uncatchable starts seen


def test_catch_optimal_return_is_the_best_over_all_action_sequences():
    config = CatchConfig(size=7, history=3, paddle_width=1)       # 4 moves to land
    claims = []
    for seed in range(12):
        best, claimed = _best_return_by_brute_force(VectorCatch, config, seed, 3, 4)
        assert claimed == best
        claims.append(claimed)
    assert set(claims) == {-1.0, 1.0}            # reachable and unreachable starts seen


def play(env, policy, episodes_per_copy, seed):
    """Returns (copies, episodes) and successes of ``policy`` on ``env``."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    n = env.num_envs
    returns = np.zeros((n, episodes_per_copy))
    success = np.zeros((n, episodes_per_copy), bool)
    optimal = np.zeros((n, episodes_per_copy))
    count, running = np.zeros(n, int), np.zeros(n)
    start = info["optimal_return"].copy()
    while count.min() < episodes_per_copy:
        obs, r, te, tr, info = env.step(policy_actions(policy, env, obs, rng))
        running += r
        rows = np.flatnonzero((te | tr) & (count < episodes_per_copy))
        returns[rows, count[rows]] = running[rows]
        success[rows, count[rows]] = info["success"][rows]
        optimal[rows, count[rows]] = start[rows]
        done = te | tr
        count[done] += 1
        running[done] = 0.0
        start[done] = info["optimal_return"][done]
    return returns, success, optimal


@pytest.mark.parametrize("task, margin", [("moving-goal", 0.1), ("catch", 0.2)])
def test_reference_beats_one_frame_policy_on_the_same_seeds(task, margin):
    # measured with these seeds (20 copies x 10 episodes): moving-goal reference 1.000,
    # one-frame 0.775, random 0.545; catch 1.000, 0.710, 0.275 (bench/motion_tasks.py)
    runs = {p: play(make_vector_env(task, 20), p, 10, 0)
            for p in ("random", "one-frame", "reference")}
    rate = {p: runs[p][1].mean() for p in runs}
    assert rate["reference"] == 1.0
    assert rate["reference"] - rate["one-frame"] >= margin
    assert rate["one-frame"] > rate["random"]
    ref_returns, _, optimal = runs["reference"]
    np.testing.assert_allclose(ref_returns, optimal, atol=1e-5)   # the reference is optimal
    np.testing.assert_array_equal(runs["one-frame"][2], optimal)  # same episode starts
    assert (runs["reference"][1] & ~runs["one-frame"][1]).any()


def test_one_frame_policy_reads_only_the_newest_frame():
    env = VectorMovingGoal(50)
    obs, _ = env.reset(seed=3)
    older = frames(obs, env.config).copy()
    older[:, 0] = 0.0                                    # wipe the oldest frame
    np.testing.assert_array_equal(one_frame_actions(env, older.reshape(50, -1)),
                                  one_frame_actions(env, obs))


def test_policy_errors():
    env = VectorCatch(2)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ConfigError, match="unknown policy 'greedy'; accepted: random, "
                                          "one-frame, reference$"):
        policy_actions("greedy", env, obs, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"reference policies need a vector environment with "
                                          r"the methods reference_actions\(\) and "
                                          r"one_frame_actions\(obs\), got str$"):
        reference_actions("catch")
    with pytest.raises(ConfigError, match=r"obs must have shape \(2, 256\), got \(256,\)$"):
        one_frame_actions(env, obs[0])
    assert random_actions(env, np.random.default_rng(0)).max() < 3


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("config_class, kwargs, message", [
    (MovingGoalConfig, {"size": 1}, r"moving-goal size must be an integer in \[2, 64\], got 1"),
    (MovingGoalConfig, {"history": 0},
     r"moving-goal history must be an integer in \[1, 16\], got 0"),
    (MovingGoalConfig, {"max_steps": True},
     "moving-goal max_steps must be an integer >= 1, got True"),
    (MovingGoalConfig, {"step_reward": float("nan")},
     "moving-goal step_reward must be a finite number, got nan"),
    (CatchConfig, {"size": 2}, r"catch size must be an integer in \[3, 64\], got 2"),
    (CatchConfig, {"history": 8}, r"catch history must be an integer in \[1, 7\], got 8"),
    (CatchConfig, {"paddle_width": 0},
     r"catch paddle_width must be an integer in \[1, 7\], got 0"),
    (CatchConfig, {"max_steps": 2.5}, "catch max_steps must be an integer >= 1, got 2.5"),
    (CatchConfig, {"miss_reward": "x"}, "catch miss_reward must be a finite number, got 'x'"),
])
def test_bad_config_raises_config_error_naming_the_value(config_class, kwargs, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        config_class(**kwargs)


@pytest.mark.parametrize("task", TASKS)
def test_bad_actions_and_step_before_reset(task):
    vec_class, single_class, _ = TASKS[task]
    n = vec_class.n_actions
    with pytest.raises(ConfigError, match=r"call reset\(\) before step\(\)"):
        vec_class(2).step(np.array([0, 0]))
    vec = vec_class(2)
    vec.reset(seed=0)
    with pytest.raises(ConfigError, match=rf"actions must be 2 integers in \[0, {n}\), got "
                                          rf"array\(\[0, {n}\]\)"):
        vec.step(np.array([0, n]))
    env = single_class()
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=rf"action must be an integer in \[0, {n}\), got -1$"):
        env.step(-1)
    with pytest.raises(ConfigError, match="num_envs must be a positive integer, got 0"):
        vec_class(0)


# ------------------------------------------------------------------ registry and Gymnasium
def test_make_vector_env_builds_the_motion_tasks_with_settings_passed_through():
    for name, vec_class in (("moving-goal", VectorMovingGoal), ("catch", VectorCatch)):
        env = make_vector_env(name, 4)
        assert type(env) is vec_class and env.num_envs == 4
        assert env.config == vec_class(1).config               # the task's own defaults
        obs, _ = env.reset(seed=0)
        assert obs.shape == (4, 256)
        env = make_vector_env(name, 4, grid_size=6, history=3, max_steps=9, autoreset=False)
        assert (env.config.size, env.config.history, env.config.max_steps) == (6, 3, 9)
        assert env.obs_shape == (3, 2, 6, 6) and not env.autoreset
        assert split_env_name(name) == (name, "")
    assert ENV_NAMES[:3] == ("grid", "moving-goal", "catch")


def test_unknown_env_name_lists_every_accepted_name():
    message = ("unknown environment 'pong'; accepted: grid, moving-goal, catch, gym:<id>, "
               "minigrid:<id>$")
    with pytest.raises(ConfigError, match=message):
        make_vector_env("pong", 4)


@pytest.mark.parametrize("env_id, n_actions", [("rosetta/MovingGoal-v0", 5),
                                               ("rosetta/Catch-v0", 3)])
@pytest.mark.parametrize("kwargs", [{}, {"size": 5, "history": 3, "render_mode": "rgb_array"}])
def test_gymnasium_registrations_pass_check_env(env_id, n_actions, kwargs):
    gym = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    from rl_rosetta_layer.envs.gym_registration import register_envs

    assert env_id in register_envs()
    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    size, history = kwargs.get("size", 8), kwargs.get("history", 2)
    assert env.observation_space.shape == (history * 2 * size * size,)
    assert env.action_space.n == n_actions
    assert env.unwrapped.frame_layout == (history, 2, size, size)
    a, info = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    assert np.array_equal(a, b) and "optimal_return" in info
    if kwargs.get("render_mode"):
        image = env.render()
        assert image.shape == (size, size, 3) and (image[..., 1] == 255).sum() == 1


def test_gymnasium_motion_env_rejects_unknown_settings():
    pytest.importorskip("gymnasium")
    from rl_rosetta_layer.envs.gym_registration import GymCatchEnv

    with pytest.raises(ConfigError, match="unknown GymCatchEnv setting\\(s\\) speed; accepted: "
                                          "render_mode, size, history, paddle_width"):
        GymCatchEnv(speed=2)


def test_motion_bench_quick_runs_and_writes_json(tmp_path, capsys):
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench import motion_tasks

    out = tmp_path / "motion.json"
    assert motion_tasks.main(["--quick", "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("MOTION TASKS: moving-goal success reference 1.000")
    numbers = json.loads(out.read_text())
    for task in ("moving-goal", "catch"):
        rows = numbers["tasks"][task]["policies"]
        assert numbers["tasks"][task]["paired_starts"] is True
        assert rows["reference"]["episodes"] == 100
        assert rows["reference"]["success_rate"] > rows["one-frame"]["success_rate"]
