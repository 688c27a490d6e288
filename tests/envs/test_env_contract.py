"""One contract for every environment (envs/contract.py), checked on each of them; and a new
environment defined here, registered, then analysed, trained and reported on through the
command line, with no change under src/."""

import numpy as np
import pytest

from rl_rosetta_layer.envs import registry
from rl_rosetta_layer.envs.contract import check_vector_env
from rl_rosetta_layer.errors import ConfigError


@pytest.mark.parametrize("name", ["grid", "moving-goal", "catch"])
def test_the_project_tasks_keep_the_contract(name):
    check_vector_env(registry.make_vector_env(name, 3, grid_size=5))


def test_the_gymnasium_adapter_keeps_the_contract():
    pytest.importorskip("minigrid")
    check_vector_env(registry.make_vector_env("minigrid:MiniGrid-Empty-5x5-v0", 2), steps=60)


class Corridor:
    """A new task: walk right along a corridor of ``size`` cells to its end.

    Frames (history, 1, 1, size) with the agent's cell marked; actions 0 left, 1 right;
    -0.05 per step, +1 at the end (terminated); truncated after ``max_steps``.
    """

    n_actions = 2

    def __init__(self, num_envs, *, grid_size=6, history=2, max_steps=None, autoreset=True):
        self.num_envs, self.size, self.history = num_envs, grid_size, history
        self.max_steps = 4 * grid_size if max_steps is None else max_steps
        self.obs_shape = (history, 1, 1, grid_size)
        self.obs_dim = history * grid_size
        self.rngs = [np.random.default_rng(i) for i in range(num_envs)]
        self.pos = np.zeros(num_envs, np.int64)
        self.t = np.zeros(num_envs, np.int64)
        self.frames = np.zeros((num_envs, history, grid_size), np.float32)

    def seed_with(self, rngs):
        self.rngs = list(rngs)

    def _start(self, i):
        self.pos[i] = self.rngs[i].integers(0, self.size - 1)
        self.t[i] = 0
        self.frames[i] = 0
        self.frames[i, :, self.pos[i]] = 1

    def _info(self):
        left = self.size - 1 - self.pos
        return {"state": (self.pos / (self.size - 1)).astype(np.float32)[:, None],
                "optimal_return": 1.0 - 0.05 * np.maximum(left - 1, 0)}

    def _obs(self):
        return self.frames.reshape(self.num_envs, -1).copy()

    def reset(self, seed=None):
        if seed is not None:
            self.rngs = [np.random.default_rng(seed + i) for i in range(self.num_envs)]
        for i in range(self.num_envs):
            self._start(i)
        return self._obs(), self._info()

    def step(self, actions):
        self.pos = np.clip(self.pos + np.where(np.asarray(actions) == 1, 1, -1), 0,
                           self.size - 1)
        self.t += 1
        self.frames = np.roll(self.frames, -1, axis=1)
        self.frames[:, -1] = 0
        self.frames[np.arange(self.num_envs), -1, self.pos] = 1
        terminated = self.pos == self.size - 1
        truncated = ~terminated & (self.t >= self.max_steps)
        reward = np.where(terminated, 1.0, -0.05)
        info = {"success": terminated.copy()}
        done = terminated | truncated
        if done.any():
            info["final_obs"] = self._obs()
            for i in np.flatnonzero(done):
                self._start(i)
        return self._obs(), reward, terminated, truncated, {**info, **self._info()}


@pytest.fixture
def corridor():
    registry.register_env("corridor", Corridor)
    yield "corridor"
    registry.REGISTERED.pop("corridor")


def test_a_registered_environment_runs_the_whole_pipeline(corridor, rosetta, tmp_path):
    check_vector_env(registry.make_vector_env(corridor, 3))
    out = ["--output-dir", tmp_path, "--env", corridor, "--grid-size", 6, "--quiet"]
    rc, _, err = rosetta(["analyze", "--dataset-steps", 400, "--bootstrap", 20,
                          "--layers", "identity,random_wide", *out])
    assert rc == 0, err
    rc, out_text, err = rosetta(["train", "--episodes", 60, "--seeds", "0,1", "--workers", 1,
                                 "--layers", "identity,random_wide", "--set",
                                 "learning_starts=100", *out])
    assert rc == 0, err
    assert "| identity |" in out_text and "| random_wide |" in out_text
    rc, _, err = rosetta(["report", "--output-dir", tmp_path])
    assert rc == 0, err
    for name in ("layer_analysis.csv", "experiment_summary.csv", "comparisons.csv",
                 "experiment_summary_table.md", "report_facts.json"):
        assert (tmp_path / name).is_file(), name


def test_unknown_names_list_the_registered_ones(corridor):
    with pytest.raises(ConfigError, match=r"accepted: grid, .*, corridor$"):
        registry.split_env_name("corridors")


class Broken(Corridor):
    def _obs(self):
        return super()._obs().astype(np.float64)


def test_the_checker_names_a_broken_environment():
    with pytest.raises(ConfigError, match=r"Broken breaks the vector-environment contract "
                                          r"\(envs/contract.py\): observations are float64"):
        check_vector_env(Broken(2))


@pytest.mark.parametrize("name", ["", "grid", "a:b", 3])
def test_bad_names_are_refused(name):
    with pytest.raises(ConfigError, match="an environment name must be"):
        registry.register_env(name, Corridor)


class PlannedCorridor(Corridor):
    """The corridor with its own reference policies: always walk right."""

    def reference_actions(self):
        return np.ones(self.num_envs, np.int64)

    def one_frame_actions(self, obs):
        return np.ones(len(obs), np.int64)


def factory(num_envs, **settings):
    """A registered factory that is not a class: its abilities are asked of one copy."""
    return PlannedCorridor(num_envs, **settings)


@pytest.mark.parametrize("make", [PlannedCorridor, factory])
def test_a_new_environment_brings_its_own_reference_policies(make):
    from rl_rosetta_layer.envs.playback import play, summary
    from rl_rosetta_layer.experiments.study import has_reference_policies

    registry.register_env("planned", make)
    try:
        assert has_reference_policies("planned")
        assert registry.names_with(has_reference_policies) == ("grid", "moving-goal", "catch",
                                                               "planned")
        assert registry.env_attribute("planned", "maps", False) is False
        rows = summary(play(registry.make_vector_env("planned", 4), "reference", 2, 0))
        assert rows["success_rate"] == 1.0
    finally:
        registry.REGISTERED.pop("planned")


def test_environments_without_reference_policies_are_refused(corridor):
    from rl_rosetta_layer.envs.reference import reference_actions
    from rl_rosetta_layer.experiments.study import has_reference_policies

    assert not has_reference_policies(corridor)
    assert [registry.env_attribute(n, "maps", False) for n in registry.OWN_ENVS] == [True] * 3
    with pytest.raises(ConfigError, match=r"reference policies need a vector environment with "
                                          r"the methods reference_actions\(\) and "
                                          r"one_frame_actions\(obs\), got Corridor$"):
        reference_actions(registry.make_vector_env(corridor, 2))
