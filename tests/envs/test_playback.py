"""Playing hand-coded policies: the numbers the study reads returns against."""

import numpy as np
import pytest

from rl_rosetta_layer.envs.playback import play, summary
from rl_rosetta_layer.envs.registry import make_vector_env
from rl_rosetta_layer.errors import ConfigError


def test_on_the_grid_the_reference_walks_straight_to_the_goal():
    runs = {p: play(make_vector_env("grid", 10), p, 5, seed=3)
            for p in ("random", "one-frame", "reference")}
    ref = runs["reference"]
    np.testing.assert_allclose(ref["return"], ref["optimal"], atol=1e-9)
    assert ref["success"].all()
    # the goal stands still: seeing one frame is enough
    np.testing.assert_array_equal(runs["one-frame"]["return"], ref["return"])
    np.testing.assert_array_equal(runs["random"]["optimal"], ref["optimal"])   # same starts
    assert summary(runs["random"])["mean_return"] < summary(ref)["mean_return"] - 0.3


def test_play_rejects_a_bad_episode_count():
    with pytest.raises(ConfigError, match="episodes per copy"):
        play(make_vector_env("catch", 2), "random", 0, seed=0)
