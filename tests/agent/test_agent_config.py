"""DQNConfig validation and helpers."""

import re

import pytest

from rl_rosetta_layer.agent import DQNConfig
from rl_rosetta_layer.errors import ConfigError


@pytest.mark.parametrize("kwargs,message", [
    ({"episodes": 0}, "episodes must be a positive integer, got 0"),
    ({"episodes": 2.5}, "episodes must be a positive integer, got 2.5"),
    ({"batch_size": True}, "batch_size must be a positive integer, got True"),
    ({"adapter": "x"}, "adapter must be one of ('dense', 'lowrank', 'none'), got 'x'"),
    ({"head": "conv"}, "head must be one of ('linear', 'mlp'), got 'conv'"),
    ({"gamma": 1.0}, "gamma must be in [0, 1), got 1.0"),
    ({"gamma": -0.1}, "gamma must be in [0, 1), got -0.1"),
    ({"lr": 0.0}, "lr must be > 0, got 0.0"),
    ({"eps_end": 1.5}, "eps_end must be in [0, 1], got 1.5"),
    ({"learning_starts": -1}, "learning_starts must be an integer >= 0, got -1"),
    ({"batch_size": 600, "buffer_size": 500},
     "batch_size (600) must not exceed buffer_size (500)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_validation_messages(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        DQNConfig(**kwargs)


def test_epsilon_schedule():
    c = DQNConfig(eps_start=1.0, eps_end=0.1, eps_decay_steps=100)
    assert c.epsilon(0) == 1.0
    assert c.epsilon(50) == pytest.approx(0.55)
    assert c.epsilon(100) == pytest.approx(0.1)
    assert c.epsilon(10_000) == pytest.approx(0.1)


def test_dict_round_trip():
    c = DQNConfig(episodes=7, adapter="dense")
    assert DQNConfig.from_dict(c.to_dict()) == c


def test_from_dict_unknown_key():
    with pytest.raises(ConfigError, match=r"^unknown DQN setting\(s\) \['bogus'\]"):
        DQNConfig.from_dict({"bogus": 1})
