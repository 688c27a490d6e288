"""n-step returns and bootstrap discounts of the lockstep replay, on hand-built sequences."""

import numpy as np
import pytest

from rl_rosetta_layer.agent.replay import LockstepReplay

GAMMA = 0.5
# Step t stores obs [t], reward 2^t and next_obs [t + 0.5]. Seed 0's episode ends at a goal
# after step 2 (terminal) and is truncated after step 5 (done, not terminal); seed 1 never ends.
T = 8
TERMINAL = {2}
DONE = {2, 5}


def fill(replay, steps=T):
    for t in range(steps):
        obs = np.array([[t], [t]], np.float32)
        terminal = np.array([t in TERMINAL, False])
        done = np.array([t in DONE, False])
        replay.add(obs, np.array([t % 5, (t + 1) % 5]), np.array([2.0 ** t, 3.0 ** t]),
                   obs + 0.5, terminal, done)


# first step t -> (return, discount, bootstrap step) for seed 0, n = 3, gamma = 0.5
SEED0_N3 = {
    0: (1 + 0.5 * 2 + 0.25 * 4, 0.0, 2),     # window 0,1,2 ends at the goal at 2
    1: (2 + 0.5 * 4, 0.0, 2),                # goal at the window's 2nd step
    2: (4.0, 0.0, 2),                        # goal at its first step
    3: (8 + 0.5 * 16 + 0.25 * 32, 0.125, 5),  # truncated at the 3rd step: still bootstraps
    4: (16 + 0.5 * 32, 0.25, 5),             # truncated at the 2nd step
    5: (32.0, 0.5, 5),                       # truncated at its first step
}


def sample_all(replay, batch=400):
    """(obs, actions, returns, bootstrap obs, discounts) from one sample."""
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    both, actions, returns, disc = replay.sample(rngs, batch)
    assert both.shape == (2, 2 * batch, 1)
    return both[:, :batch], actions, returns, both[:, batch:], disc


def check_seed0(sample, table):
    obs, actions, returns, boot, disc = sample
    firsts = obs[0, :, 0].astype(int)
    assert set(firsts) == set(table)      # every valid start sampled, nothing else
    for b, t in enumerate(firsts):
        ret, d, last = table[t]
        assert returns[0, b] == pytest.approx(ret)
        assert disc[0, b] == pytest.approx(d)
        assert boot[0, b, 0] == last + 0.5
        assert actions[0, b] == t % 5


def test_n_step_returns_and_discounts_with_episode_ends():
    replay = LockstepReplay(2, 20, 1, n_step=3, gamma=GAMMA)
    fill(replay)
    sample = sample_all(replay)
    check_seed0(sample, SEED0_N3)
    obs, _, returns, boot, disc = sample
    assert returns.dtype == np.float32 and disc.dtype == np.float32
    # seed 1 never ends: full 3-step windows, discount gamma^3, bootstrap from t + 2
    for b, t in enumerate(obs[1, :, 0].astype(int)):
        assert returns[1, b] == pytest.approx(3.0 ** t * (1 + 0.5 * 3 + 0.25 * 9))
        assert disc[1, b] == pytest.approx(0.125)
        assert boot[1, b, 0] == t + 2 + 0.5
    assert set(obs[1, :, 0].astype(int)) == set(range(6))


def test_n_step_after_the_ring_wraps():
    replay = LockstepReplay(2, 6, 1, n_step=3, gamma=GAMMA)
    fill(replay)            # steps 0 and 1 are overwritten; 2..7 remain
    assert replay.size == 6
    check_seed0(sample_all(replay), {t: SEED0_N3[t] for t in (2, 3, 4, 5)})


def test_one_step_returns():
    replay = LockstepReplay(2, 20, 1, n_step=1, gamma=GAMMA)
    fill(replay)
    table = {t: (2.0 ** t, 0.0 if t in TERMINAL else GAMMA, t) for t in range(T)}
    check_seed0(sample_all(replay), table)


def test_can_sample_needs_n_steps():
    replay = LockstepReplay(1, 10, 1, n_step=3, gamma=GAMMA)
    for _ in range(3):
        assert not replay.can_sample()
        replay.add(np.zeros((1, 1)), np.zeros(1, int), np.zeros(1), np.zeros((1, 1)),
                   np.zeros(1, bool), np.zeros(1, bool))
    assert replay.can_sample()


def test_seeds_sample_with_their_own_generators():
    replay = LockstepReplay(2, 20, 1, n_step=2, gamma=GAMMA)
    fill(replay)
    a = replay.sample([np.random.default_rng(4), np.random.default_rng(5)], 16)
    b = replay.sample([np.random.default_rng(4), np.random.default_rng(9)], 16)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][1], b[0][1])
