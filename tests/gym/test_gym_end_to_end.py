"""The DQN trainer, the analysis dataset and the CLI run unchanged on Gymnasium environments.

Speed and random-policy returns are measured by ``bench/gym_envs.py``, not here."""

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


EMPTY = "minigrid:MiniGrid-Empty-6x6-v0"


def test_cli_runs_analysis_training_and_report_on_minigrid(tmp_path, rosetta):
    out = tmp_path / "out"
    rc, text, err = rosetta(["run", "--env", EMPTY, "--output-dir", out, "--dataset-steps", 300,
                             "--episodes", 2, "--seeds", "0,1", "--layers", "candidates",
                             "--workers", 1, "--quiet", "--set", "learning_starts=20"])
    assert rc == 0, err
    rows = (out / "layer_analysis.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["random_wide", "random_narrow",
                                                   "bottleneck"]
    summary = (out / "experiment_summary.csv").read_text()
    assert "structured_mid" not in summary and "random_wide" in summary
    import json

    run_dirs = sorted((out / "runs").glob("random_wide-s0-*"))
    config = json.loads((run_dirs[0] / "config.json").read_text())
    assert config["env"]["name"] == EMPTY and config["env"]["max_steps"] is None


def test_cli_names_the_layer_a_minigrid_cannot_have(tmp_path, rosetta):
    rc, _, err = rosetta(["analyze", "--env", EMPTY, "--output-dir", tmp_path,
                          "--analysis-layers", "structured_mid", "--dataset-steps", 100,
                          "--quiet"])
    assert rc == 2
    assert err.strip().splitlines() == [
        f"rosetta: error: structured_mid reads the grid's agent and goal maps, but the "
        f"observations come from {EMPTY!r}; accepted layers there: random_wide, "
        f"random_narrow, bottleneck, identity, mlp_full, random_bank_0, random_bank_1, "
        f"random_bank_2, random_bank_3, random_bank_4, random_bank_5, random_bank_6, "
        f"random_bank_7"]
    assert not list(tmp_path.iterdir())


def test_cli_rejects_an_unknown_environment_in_one_line(tmp_path, rosetta):
    rc, _, err = rosetta(["train", "--env", "atari:Pong", "--output-dir", tmp_path])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "unknown environment 'atari:Pong'; accepted: grid" in err
    assert not list(tmp_path.iterdir())
