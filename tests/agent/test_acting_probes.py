"""The acting probes (agent/acting.py) at tiny sizes: a layer that sees the task beats one
that sees nothing, the numbers are the same whatever the BLAS (and torch) threads, and the
video path runs through the same code."""

import re
from dataclasses import replace

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rl_rosetta_layer.agent.acting import PROBES, ActingProbes
from rl_rosetta_layer.analysis.acting import ACTING_METRICS, ActingSettings
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.experiments.study_defaults import STUDY_CONFIG
from rl_rosetta_layer.layers.base import NumpyLayer
from rl_rosetta_layer.layers.registry import build_layers

#: The study's DQN with a tiny budget: the RL proxy trains 5 % of 400 = 20 env steps.
CONFIG = replace(STUDY_CONFIG, env_steps=400, learning_starts=10)
SETTINGS = ActingSettings(demo_steps=600, episodes=30, epochs=32)
R = 20


class Blind(NumpyLayer):
    """A layer that sees nothing: four zeros for every observation."""

    name, input_dim, output_dim = "blind", 256, 4

    def forward(self, x):
        return np.zeros((*np.shape(x)[:-1], 4), np.float32)


class ThreadSpy(NumpyLayer):
    """The first 8 inputs, noting the BLAS threads every call runs with."""

    name, input_dim, output_dim = "spy", 256, 8

    def __init__(self):
        self.threads = set()

    def forward(self, x):
        self.threads |= {lib["num_threads"] for lib in threadpool_info()
                         if lib["user_api"] == "blas"}
        return np.asarray(x, np.float32)[..., :8]


@pytest.fixture(scope="module")
def catch():
    env = EnvSpec("catch")
    return env, ActingProbes(env.make, CONFIG, SETTINGS, n_bootstrap=R)


def numbers(out):
    return {k: (v[0], v[1].tolist()) for k, v in out.items()}


def test_every_column_with_replicates(catch):
    env, probes = catch
    assert probes.columns == ACTING_METRICS
    out = probes(build_layers(["identity"], env.observations())["identity"])
    assert tuple(out) == ACTING_METRICS
    for name, (score, reps) in out.items():
        assert np.isfinite(score) and reps.shape == (R,), name
    assert 0.0 <= out["bc_accuracy"][0] <= 1.0
    for name in ("bc_return", "q_return", "rl_proxy_return"):      # catch returns are +-1
        assert -1.0 <= out[name][0] <= 1.0
    assert set(probes.seconds["identity"]) == {"features", "fit bc+q", "greedy bc+q", "rl"}
    described = probes.describe()
    assert described["rl_proxy"] == {"env_steps_per_seed": 20, "seeds": 3, "env_steps": 60,
                                     "share_of_a_run": 0.05}
    assert described["demonstrations"] == 600 and described["test_states"] == 120


def test_a_layer_that_sees_the_task_beats_one_that_sees_nothing(catch):
    env, probes = catch
    seeing = probes(build_layers(["identity"], env.observations())["identity"])
    blind = probes(Blind())
    assert seeing["bc_accuracy"][0] > blind["bc_accuracy"][0] + 0.05
    assert seeing["bc_accuracy_decisive"][0] > blind["bc_accuracy_decisive"][0] + 0.1
    assert blind["bc_accuracy_decisive"][0] < blind["bc_accuracy"][0]     # ties excluded
    assert seeing["bc_return"][0] > blind["bc_return"][0] + 0.3
    assert seeing["q_r2"][0] > 0.3 and blind["q_r2"][0] < 0.05


def test_the_numbers_do_not_depend_on_threads_or_on_what_ran_before(catch):
    env, probes = catch
    layer = build_layers(["random_wide"], env.observations())["random_wide"]
    with threadpool_limits(limits=2):
        two = numbers(probes(layer))
    with threadpool_limits(limits=1):
        one = numbers(probes(layer))
    np.testing.assert_equal(one, two)          # exactly, NaN where both are NaN
    fresh = ActingProbes(env.make, CONFIG, SETTINGS, n_bootstrap=R)
    np.testing.assert_equal(numbers(fresh(layer)), one)


def test_the_layer_runs_with_one_blas_thread_whatever_the_caller_set(catch):
    _, probes = catch
    with threadpool_limits(limits=2):
        if {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} \
                != {2}:
            pytest.skip("this BLAS cannot be set to 2 threads here")
        spy = ThreadSpy()
        probes(spy)
    assert spy.threads == {1}


def test_a_subset_of_probes_gives_its_columns_only(catch):
    env, probes = catch
    only_q = ActingProbes(env.make, CONFIG, SETTINGS, probes=("q",), n_bootstrap=R,
                          data=probes.data)
    assert only_q.columns == PROBES["q"]
    layer = build_layers(["random_wide"], env.observations())["random_wide"]
    got = only_q(layer)
    assert tuple(got) == ("q_r2", "q_return")
    # trained alone, the Q head (seed 0 of its learner now) starts from other weights, so
    # only the shape of the result is shared with the lockstep run; it is still a fit
    assert got["q_r2"][0] > 0.2


def test_bad_probe_settings_are_refused(catch):
    env, probes = catch
    with pytest.raises(ConfigError, match=re.escape(
            "unknown acting probe(s) ['nope']; accepted: bc, q, rl")):
        ActingProbes(env.make, CONFIG, SETTINGS, probes=("bc", "nope"), data=probes.data)
    episodes = ActingProbes(env.make, replace(CONFIG, env_steps=None, eval_checkpoints=0),
                            SETTINGS, probes=("bc",), n_bootstrap=R, data=probes.data)
    with pytest.raises(ConfigError, match="the RL proxy needs a budget in env steps "
                                          r"\(env_steps\), got 350 episodes"):
        episodes.rl_config()


def test_video_blocks_go_through_the_same_probes():
    pytest.importorskip("torch")
    import torch

    env = EnvSpec("catch")
    small = replace(SETTINGS, demo_steps=300, episodes=10, epochs=4)
    probes = ActingProbes(env.make, CONFIG, small, n_bootstrap=R)
    name = "tiny-video:transformer_blocks.1"
    layer = build_layers([name], env.observations())[name]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threadpool_limits(limits=2):
            two = numbers(probes(layer))
        assert torch.get_num_threads() == 2              # restored after the probe
    finally:
        torch.set_num_threads(before)
    with threadpool_limits(limits=1):
        one = numbers(probes(layer))
    np.testing.assert_equal(one, two)
    assert all(np.isfinite(v[0]) for v in one.values())
