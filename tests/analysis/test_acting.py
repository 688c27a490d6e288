"""Demonstrations, the acting probes' settings and scores, and how a probe's columns reach
``layer_analysis.csv`` (with a probe built here: the agent's own are tested in
tests/agent/test_acting_probes.py)."""

import csv
import json
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rl_rosetta_layer.analysis import analyze_layers, collect_transitions
from rl_rosetta_layer.analysis.acting import (
    ActingSettings,
    best_is_optimal,
    mean_replicates,
    prepare_acting_data,
)
from rl_rosetta_layer.analysis.demos import collect_demonstrations
from rl_rosetta_layer.analysis.run import analysis_columns, run_analysis
from rl_rosetta_layer.analysis.score import METRICS, prepare_split
from rl_rosetta_layer.envs import GridConfig
from rl_rosetta_layer.envs.catch import VectorCatch
from rl_rosetta_layer.envs.lookahead import optimal_actions
from rl_rosetta_layer.envs.moving_goal import VectorMovingGoal
from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.experiments.spec import EnvSpec
from rl_rosetta_layer.layers import seed_candidates


def demos(env_class=VectorMovingGoal, steps=120, epsilon=0.2, seed=0, n=6):
    env = env_class(n)
    env.seed_with([np.random.default_rng([seed, i]) for i in range(n)])
    return collect_demonstrations(env, steps, np.random.default_rng(seed), epsilon=epsilon,
                                  gamma=0.9)


def test_demonstrations_shapes_and_labels():
    d = demos()
    assert len(d) == 120 and d.n_actions == 5
    assert d.obs.shape == (120, 256) and d.obs.dtype == np.float32
    assert d.optimal.shape == d.q_values.shape == (120, 5) and d.optimal.dtype == bool
    assert d.optimal[np.arange(120), d.reference].all()         # the reference is optimal
    best = d.q_values.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(d.q_values >= best - 1e-6, d.optimal)
    assert (d.optimal.sum(axis=1) > 1).mean() > 0.3             # ties are common here


def test_demonstrations_are_reproducible_and_follow_the_reference_without_noise():
    a, b = demos(seed=4), demos(seed=4)
    for field in ("obs", "reference", "optimal", "q_values"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.obs, demos(seed=5).obs)
    # With epsilon 0 every catch copy is under the ball when it lands: the demonstrations
    # never hold a state from which the ball can no longer be caught.
    env = VectorCatch(4)
    env.seed_with([np.random.default_rng(i) for i in range(4)])
    d = collect_demonstrations(env, 200, np.random.default_rng(0), epsilon=0.0)
    assert (d.q_values.max(axis=1) > 0).sum() > 0.9 * len(d)


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=5), "demonstration steps must be an integer >= 10, got 5"),
    (dict(epsilon=1.5), r"epsilon must be in \[0, 1\], got 1.5"),
])
def test_bad_demonstration_settings(kwargs, message):
    args = dict(steps=50, epsilon=0.2) | kwargs
    env = VectorCatch(2)
    env.seed_with([np.random.default_rng(i) for i in range(2)])
    with pytest.raises(ConfigError, match=message):
        collect_demonstrations(env, args["steps"], np.random.default_rng(0),
                               epsilon=args["epsilon"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(demo_steps=10), "demo_steps must be >= 20, got 10"),
    (dict(epsilon=-0.1), r"epsilon must be a number in \[0, 1\], got -0.1"),
    (dict(test_fraction=1.0), r"test_fraction must be in \(0, 1\)"),
    (dict(epochs=0), r"epochs must be a number in \(0, 1000\], got 0"),
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(rl_seeds=(1, 1)), r"rl_seeds must be distinct seeds, at least one, got \(1, 1\)"),
    (dict(rl_seeds=(-1,)), "seed must be a non-negative integer, got -1"),
])
def test_bad_acting_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ActingSettings(**kwargs)


def test_budgets_of_the_settings():
    s = ActingSettings(epochs=2, batch_size=10, rl_fraction=0.05)
    assert s.updates(100, 3) == 60 and s.updates(1, 1) == 1
    assert s.rl_steps(20_000) == 1000 and s.rl_steps(3) == 1


def test_scores_by_hand():
    scores = np.array([[0.0, 1.0, 0.5], [2.0, 1.0, 2.0], [0.1, 0.0, 0.0]])
    optimal = np.array([[1, 1, 0], [0, 0, 1], [0, 1, 1]], bool)
    # row 0: best is 1 (optimal); row 1: a tie 0/2 goes to the first, 0 (not optimal);
    # row 2: best is 0 (not optimal)
    np.testing.assert_array_equal(best_is_optimal(scores, optimal), [True, False, False])
    counts = np.array([[3, 0, 0], [0, 1, 1], [1, 1, 1]], float)
    np.testing.assert_allclose(mean_replicates([1.0, 0.0, 0.0], counts), [1.0, 0.0, 1 / 3])


def test_prepared_data_is_shared_and_reproducible():
    s = ActingSettings(demo_steps=60, episodes=7)
    make = EnvSpec("catch").make
    a = prepare_acting_data(make, s, gamma=0.9, n_bootstrap=15, copies=4)
    b = prepare_acting_data(make, s, gamma=0.9, n_bootstrap=15, copies=4)
    np.testing.assert_array_equal(a.demos.obs, b.demos.obs)
    np.testing.assert_array_equal(a.test_counts, b.test_counts)
    assert len(a.test) == 12 and len(a.train) == 48
    assert np.intersect1d(a.train, a.test).size == 0
    assert a.test_counts.shape == (15, 12) and (a.test_counts.sum(axis=1) == 12).all()
    assert a.episode_counts.shape == (15, 7) and (a.episode_counts.sum(axis=1) == 7).all()
    other = prepare_acting_data(make, ActingSettings(demo_steps=60, episodes=7, seed=1),
                                gamma=0.9, n_bootstrap=15, copies=4)
    assert not np.array_equal(a.demos.obs, other.demos.obs)


class ShapeProbe:
    """A probe with two columns: the layer's width and a constant, with given replicates."""

    columns = ("width", "half")

    def __init__(self, n_bootstrap):
        self.n = n_bootstrap
        self.calls = []

    def __call__(self, layer):
        self.calls.append(layer.name)
        return {"width": (float(layer.output_dim), np.full(self.n, float(layer.output_dim))),
                "half": (0.5, np.linspace(0.0, 1.0, self.n))}

    def describe(self):
        return {"kind": "shape"}


def grid_data(steps=300):
    env = EnvSpec("grid").make(4)
    env.seed_with([np.random.default_rng(i) for i in range(4)])
    return collect_transitions(env, steps, np.random.default_rng(0))


def test_a_probe_adds_its_columns_with_cis():
    data = grid_data()
    layers = seed_candidates(GridConfig())
    probe = ShapeProbe(20)
    rng = np.random.default_rng(0)
    out = analyze_layers(layers, data, rng, split=prepare_split(data, rng, n_bootstrap=20),
                         probe=probe)
    assert probe.calls == list(layers)
    for r in out:
        assert tuple(r.scores) == METRICS + probe.columns
        assert r.scores["width"] == layers[r.layer].output_dim
        assert r.ci["width"] == (r.scores["width"],) * 2     # no spread, no interval
        low, high = r.ci["half"]                              # basic interval around 0.5
        assert low == pytest.approx(1.0 - np.percentile(np.linspace(0, 1, 20), 97.5))
        assert high == pytest.approx(1.0 - np.percentile(np.linspace(0, 1, 20), 2.5))


def test_a_probe_with_other_resamples_is_refused():
    data = grid_data()
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match=re.escape(
            "probe column 'width' gave replicates of shape (7,); the analysis draws 20 "
            "resamples: build the probe with n_bootstrap=20")):
        analyze_layers(seed_candidates(GridConfig()), data, rng,
                       split=prepare_split(data, rng, n_bootstrap=20), probe=ShapeProbe(7))


def test_run_analysis_writes_the_probe_columns(tmp_path):
    run_analysis(tmp_path, EnvSpec(), dataset_steps=200, seed=0, n_bootstrap=20, quiet=True,
                 probe=ShapeProbe(20))
    with open(tmp_path / "layer_analysis.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == ("layer",) + analysis_columns(("width", "half"))
    assert header[-6:] == ["width", "half", "width_ci_low", "width_ci_high", "half_ci_low",
                           "half_ci_high"]
    with open(tmp_path / "layer_analysis_bootstrap.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {float(r["half"]) for r in rows if r["replicate"] == "19"} == {1.0}
    config = json.loads((tmp_path / "analysis_config.json").read_text())
    assert config["acting_probes"] == {"kind": "shape"}


def test_without_a_probe_the_files_are_as_before(tmp_path):
    run_analysis(tmp_path, EnvSpec(), dataset_steps=200, seed=0, n_bootstrap=20, quiet=True)
    with open(tmp_path / "layer_analysis.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[-2:] == ["dataset_steps", "seed"]
    assert "acting_probes" not in json.loads((tmp_path / "analysis_config.json").read_text())


def test_the_ridge_scores_do_not_depend_on_blas_threads():
    data = grid_data(400)
    layers = seed_candidates(GridConfig())

    def scores(threads):
        rng = np.random.default_rng(0)
        with threadpool_limits(limits=threads):
            out = analyze_layers(layers, data, rng, split=prepare_split(data, rng,
                                                                        n_bootstrap=20))
        return [(r.scores, {m: r.replicates[m].tolist() for m in METRICS}) for r in out]

    assert scores(1) == scores(2)


def test_layers_are_scored_with_one_blas_thread_whatever_the_caller_set():
    class Spy:
        name, input_dim, output_dim = "spy", 256, 8
        threads = set()

        def forward(self, x):
            self.threads |= {lib["num_threads"] for lib in threadpool_info()
                             if lib["user_api"] == "blas"}
            return np.asarray(x, np.float32)[..., :8]

    data = grid_data(200)
    spy = Spy()
    with threadpool_limits(limits=2):
        if {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} \
                != {2}:
            pytest.skip("this BLAS cannot be set to 2 threads here")
        analyze_layers({"spy": spy}, data, np.random.default_rng(0), n_bootstrap=10)
    assert spy.threads == {1}


def test_optimal_actions_of_the_demonstrations_match_the_environment():
    env = VectorMovingGoal(3)
    env.seed_with([np.random.default_rng(i) for i in range(3)])
    env.reset()
    first = optimal_actions(env)          # the first row of each copy, found directly
    env2 = VectorMovingGoal(3)
    env2.seed_with([np.random.default_rng(i) for i in range(3)])
    got = collect_demonstrations(env2, 12, np.random.default_rng(0))
    np.testing.assert_array_equal(got.optimal[:3], first)


def test_the_study_analysis_writes_every_acting_column(tmp_path):
    from dataclasses import replace

    from rl_rosetta_layer.experiments.study import StudyPlan, analyse_task
    from rl_rosetta_layer.experiments.study_defaults import STUDY_CONFIG

    env = EnvSpec("catch")
    plan = StudyPlan(tmp_path, envs=(env,), seeds=(0, 1), layers="identity,random_wide",
                     config=replace(STUDY_CONFIG, env_steps=200, learning_starts=10),
                     dataset_steps=100, n_bootstrap=10)
    analyse_task(plan, env)
    with open(tmp_path / "catch" / "layer_analysis.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["layer"] for r in rows] == ["identity", "random_wide"]
    for r in rows:
        for m in ("bc_accuracy", "bc_return", "q_r2", "q_return", "rl_proxy_return"):
            assert np.isfinite(float(r[m])), m
            assert float(r[f"{m}_ci_low"]) <= float(r[f"{m}_ci_high"]), m
    config = json.loads((tmp_path / "catch" / "analysis_config.json").read_text())
    acting = config["acting_probes"]
    assert acting["demonstrations"] == 100 and acting["settings"]["demo_steps"] == 100
    assert acting["rl_proxy"]["env_steps_per_seed"] == 10
