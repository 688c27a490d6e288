"""The video pathway's positive controls, through the same training code the study runs.

Fast: the read-out as first shipped (mean over tokens) comes out flagged by the run-health
check, and the chosen one (per-token LayerNorm and projection) does not, on the same short
run with the study's head. Slow (``pytest -m slow``): with the block bypassed, the token
adapters learn catch as well as the numpy ``identity`` layer at the same budget, and the
grid about as badly.
"""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.dqn import train_lockstep  # noqa: E402
from rl_rosetta_layer.agent.health import probe_observations  # noqa: E402
from rl_rosetta_layer.experiments.spec import EnvSpec  # noqa: E402
from rl_rosetta_layer.layers.registry import build_layers  # noqa: E402
from rl_rosetta_layer.video.candidates.settings import VideoSettings  # noqa: E402

BYPASS = "tiny-video:bypass"


def train(layer_name, env_name, steps, seeds, readout="project"):
    env = EnvSpec(env_name)
    config = DQNConfig(env_steps=steps, batch_size=32, learning_starts=250,
                       eps_decay_steps=1500, adapter="none", head_norm="layer")
    layer = build_layers([layer_name], env.observations(), None,
                         VideoSettings(readout=readout))[layer_name]
    return train_lockstep(env.make(len(seeds)), layer, seeds, config,
                          probe=probe_observations(env.make(1)))


def test_the_mean_readout_is_flagged_and_the_projection_is_not():
    shipped = train(BYPASS, "catch", 4000, [0], readout="mean")[0]
    chosen = train(BYPASS, "catch", 4000, [0])[0]
    assert "constant_policy" in shipped.flags
    assert shipped.health[-1]["q_spread"] < 0.01
    assert chosen.flags == []
    assert chosen.health[-1]["greedy_actions"] == 3
    assert chosen.health[-1]["q_spread"] > 10 * shipped.health[-1]["q_spread"]


def fraction(env_name, returns):
    """Mean final returns as a fraction of the achievable, from the task's reference rows."""
    from rl_rosetta_layer.experiments.study import task_rows

    rows = {r["policy"]: r for r in task_rows(EnvSpec(env_name), 1000)}
    low, high = rows["random"]["mean_return"], rows["reference"]["mean_optimal_return"]
    return (np.mean(returns) - low) / (high - low)


@pytest.mark.slow
@pytest.mark.parametrize("env_name, learns", [("catch", True), ("grid", False)])
def test_the_bypass_learns_as_well_as_numpy_identity(env_name, learns):
    seeds = [0, 1, 2]
    finals = {}
    for name in (BYPASS, "identity"):
        runs = train(name, env_name, 10_000, seeds)
        finals[name] = fraction(env_name, [np.mean(r.returns[-50:]) for r in runs])
    assert abs(finals[BYPASS] - finals["identity"]) <= 0.15, finals
    if learns:
        assert finals[BYPASS] >= 0.5 and finals["identity"] >= 0.5, finals
