"""rosetta/GridVideo-v0: a real Gymnasium environment around the project's grid."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from rl_rosetta_layer.envs.gym_registration import ENV_ID, ENV_IDS, register_envs  # noqa: E402


def test_register_envs_is_idempotent():
    assert register_envs() == list(ENV_IDS)
    spec = gym.envs.registry[ENV_ID]
    assert register_envs() == list(ENV_IDS) and gym.envs.registry[ENV_ID] is spec


@pytest.mark.parametrize("kwargs", [{}, {"size": 4, "history": 1, "render_mode": "rgb_array"}])
def test_grid_env_passes_gymnasiums_env_checker(kwargs):
    register_envs()
    env = gym.make(ENV_ID, **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    size, history = kwargs.get("size", 8), kwargs.get("history", 2)
    assert env.observation_space.shape == (history * 2 * size * size,)
    assert env.observation_space.dtype == np.float32 and env.action_space.n == 5
    assert env.unwrapped.frame_layout == (history, 2, size, size)


def test_grid_env_seeding_step_info_and_render():
    register_envs()
    env = gym.make(ENV_ID, size=5, render_mode="rgb_array")
    a, info = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    assert np.array_equal(a, b) and info["state"].shape == (4,)
    obs, reward, term, trunc, info = env.step(0)
    assert reward == pytest.approx(-0.01) and not term and not trunc
    assert env.observation_space.contains(obs) and "optimal_return" in info
    image = env.render()
    assert image.shape == (5, 5, 3) and image.dtype == np.uint8
    assert (image[..., 0] == 255).sum() == 1 and (image[..., 1] == 255).sum() == 1


def test_grid_env_instances_pickle():
    from rl_rosetta_layer.envs.gym_registration import GymGridEnv
    env = GymGridEnv(size=4)
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    assert type(clone) is GymGridEnv
    assert np.array_equal(clone.step(4)[0], env.step(4)[0])


def _fresh_python(code: str) -> str:
    """stdout of ``code`` run by a fresh interpreter (nothing registered or imported yet)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_envs_does_not_import_gymnasium():
    code = ("import sys, rl_rosetta_layer, rl_rosetta_layer.envs, "
            "rl_rosetta_layer.envs.gym_adapter, rl_rosetta_layer.envs.gym_registration; "
            "print('gymnasium' in sys.modules)")
    assert _fresh_python(code) == "False"


def test_module_colon_id_registers_by_importing_the_package():
    code = ("import gymnasium as gym\n"
            "assert 'rosetta/GridVideo-v0' not in gym.envs.registry\n"
            "env = gym.make('rl_rosetta_layer:rosetta/GridVideo-v0', size=4)\n"
            "print(env.spec.id, env.observation_space.shape, env.action_space.n)")
    assert _fresh_python(code) == "rosetta/GridVideo-v0 (64,) 5"


def test_plain_ids_work_after_importing_the_package():
    code = ("import gymnasium as gym\n"
            "import rl_rosetta_layer\n"
            "print(gym.make('rosetta/GridVideo-v0').action_space.n, "
            "gym.make('rosetta/MovingGoal-v0').action_space.n, "
            "gym.make('rosetta/Catch-v0').action_space.n)")
    assert _fresh_python(code) == "5 5 3"


def test_package_imported_before_gymnasium_registers_by_hand():
    code = ("import rl_rosetta_layer\n"
            "import gymnasium as gym\n"
            "from rl_rosetta_layer.envs.gym_registration import ENV_ID, register_envs\n"
            "print(ENV_ID in gym.envs.registry, end=' ')\n"
            "register_envs()\n"
            "print(gym.make(ENV_ID).action_space.n)")
    assert _fresh_python(code) == "False 5"
