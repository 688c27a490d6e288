"""The DQN trainer and the analysis dataset run unchanged on GymVectorEnv; speed figures."""

import time

import numpy as np
import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("minigrid")

from rl_rosetta_layer.agent import DQNConfig, train_lockstep  # noqa: E402
from rl_rosetta_layer.analysis.dataset import collect_transitions  # noqa: E402
from rl_rosetta_layer.envs.gym_adapter import GymVectorEnv  # noqa: E402
from rl_rosetta_layer.layers import RandomTanhLayer  # noqa: E402


def test_train_lockstep_runs_on_minigrid():
    env = GymVectorEnv("MiniGrid-Empty-6x6-v0", 1, actions=(0, 1, 2))
    layer = RandomTanhLayer("r", env.obs_dim, 16, 0.3, np.random.default_rng(0))
    (result,) = train_lockstep(env, layer, [0],
                               DQNConfig(episodes=3, learning_starts=20, buffer_size=500))
    assert len(result.returns) == 3 and np.isfinite(result.returns).all()
    assert not result.diverged and result.updates > 0


def test_collect_transitions_on_minigrid():
    env = GymVectorEnv("MiniGrid-Empty-6x6-v0", 2, actions=(0, 1, 2), max_steps=30)
    env.seed_with([np.random.default_rng(0), np.random.default_rng(1)])
    data = collect_transitions(env, 200, np.random.default_rng(0))
    assert len(data) == 200 and data.obs.shape == (200, env.obs_dim)
    assert data.next_obs.shape == data.obs.shape and data.state.shape == (200, 5)
    assert np.isfinite(data.optimal_return).all() and data.n_actions == 3
    assert ((0 <= data.optimal_return) & (data.optimal_return <= 1)).all()


def steps_per_second(env_id, num_envs, steps=800):
    env = GymVectorEnv(env_id, num_envs)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(env.n_actions, size=(steps // num_envs,
                                                                    num_envs))
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    return len(actions) * num_envs / (time.perf_counter() - start)


def random_mean_return(env_id, episodes=200, num_envs=8, actions=None):
    """Mean return and success rate of ``episodes // num_envs`` random episodes per copy
    (the first episodes of each copy, so short episodes are not favoured)."""
    env = GymVectorEnv(env_id, num_envs, actions=actions)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    per_copy = episodes // num_envs
    returns = [[] for _ in range(num_envs)]
    running = np.zeros(num_envs)
    while min(len(r) for r in returns) < per_copy:
        _, reward, term, trunc, _ = env.step(rng.integers(env.n_actions, size=num_envs))
        running += reward
        for i in np.flatnonzero(term | trunc):
            returns[i].append(running[i])
            running[i] = 0.0
    kept = np.array([r[:per_copy] for r in returns]).ravel()
    return float(kept.mean()), float((kept > 0).mean())


def test_adapter_speed_is_reported():
    for env_id in ("MiniGrid-Empty-6x6-v0", "MiniGrid-DoorKey-5x5-v0"):
        for n in (1, 8):
            rate = steps_per_second(env_id, n)
            print(f"\n{env_id} num_envs={n}: {rate:.0f} env steps/s (random actions)")
            assert rate > 0


@pytest.mark.slow
def test_random_policy_mean_return_is_reported():
    for env_id in ("MiniGrid-Empty-6x6-v0", "MiniGrid-DoorKey-5x5-v0"):
        for actions in (None, (0, 1, 2)):
            mean, success = random_mean_return(env_id, actions=actions)
            print(f"\n{env_id} actions={actions}: random-policy mean return {mean:.4f}, "
                  f"success rate {success:.3f} over 200 episodes")
