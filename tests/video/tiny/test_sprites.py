"""Procedural sprite videos: format, motion, bounces, determinism, bad input."""

import numpy as np
import pytest

from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.video.tiny.sprites import (
    SHAPE_NAMES,
    SHAPES,
    SpriteConfig,
    bounce,
    render,
    sprite_trajectories,
    sprite_videos,
)


@pytest.mark.parametrize("frames,size,channels", [(4, 8, 2), (1, 3, 1), (6, 12, 3)])
def test_shape_dtype_and_binary_values(frames, size, channels):
    v = sprite_videos(50, np.random.default_rng(0), frames=frames, size=size,
                      channels=channels, max_speed=0 if size == 3 else 1)
    assert v.shape == (50, frames, channels, size, size)
    assert v.dtype == np.float32
    assert set(np.unique(v).tolist()) <= {0.0, 1.0}


def test_every_channel_of_every_frame_shows_a_sprite():
    v = sprite_videos(500, np.random.default_rng(1), max_sprites=3)
    on = v.sum(axis=(3, 4))                      # (n, frames, channels)
    assert on.min() >= 1
    assert on.max() <= 3 * max(m.sum() for m in SHAPES.values())
    assert 0.03 < v.mean() < 0.2                 # sparse maps, like the RL frames


def test_one_sprite_renders_its_shape_at_its_position():
    config = SpriteConfig(max_sprites=1)
    traj = sprite_trajectories(200, np.random.default_rng(2), config)
    video = render(traj, config)
    for i in range(200):
        for f in range(config.frames):
            for c in range(config.channels):
                mask = SHAPES[SHAPE_NAMES[traj["shape"][i, c, 0]]]
                y, x = traj["y"][i, f, c, 0], traj["x"][i, f, c, 0]
                expected = np.zeros((config.size, config.size), dtype=np.float32)
                expected[y:y + mask.shape[0], x:x + mask.shape[1]] = mask
                np.testing.assert_array_equal(video[i, f, c], expected)


def test_sprites_move_at_their_speed_and_stay_inside():
    config = SpriteConfig(frames=8, max_speed=1)
    traj = sprite_trajectories(1000, np.random.default_rng(3), config)
    heights = np.array([SHAPES[n].shape[0] for n in SHAPE_NAMES])[traj["shape"]]
    widths = np.array([SHAPES[n].shape[1] for n in SHAPE_NAMES])[traj["shape"]]
    y, x = traj["y"], traj["x"]
    assert (y >= 0).all() and (x >= 0).all()
    assert (y <= (config.size - heights)[:, None]).all()
    assert (x <= (config.size - widths)[:, None]).all()
    # with speed <= 1 a bounce keeps the step length: every step moves by |v|
    np.testing.assert_array_equal(np.abs(np.diff(y, axis=1)),
                                  np.broadcast_to(np.abs(traj["vy"])[:, None], y[:, 1:].shape))
    np.testing.assert_array_equal(np.abs(np.diff(x, axis=1)),
                                  np.broadcast_to(np.abs(traj["vx"])[:, None], x[:, 1:].shape))
    # zero velocity, both directions, and bounces (a step against the drawn velocity) occur
    assert set(np.unique(traj["vx"]).tolist()) == {-1, 0, 1}
    steps = np.diff(x, axis=1) * traj["vx"][:, None]
    assert (steps < 0).any() and (steps > 0).any()


def test_static_sprites_when_speed_is_zero():
    v = sprite_videos(20, np.random.default_rng(4), max_speed=0)
    np.testing.assert_array_equal(v, np.broadcast_to(v[:, :1], v.shape))


def test_moving_sprites_change_frames():
    v = sprite_videos(200, np.random.default_rng(5))
    changed = (v[:, 1:] != v[:, :-1]).any(axis=(1, 2, 3, 4))
    assert 0.5 < changed.mean() < 1.0            # most videos move, some are static


def test_bounce_reflects_at_both_walls():
    pos, vel = bounce(np.array([6, 1, 0, 3]), np.array([2, -2, 0, 1]), np.array([7, 7, 7, 7]))
    np.testing.assert_array_equal(pos, [6, 1, 0, 4])
    np.testing.assert_array_equal(vel, [-2, 2, 0, 1])


def test_same_generator_state_same_videos():
    a = sprite_videos(30, np.random.default_rng(7))
    b = sprite_videos(30, np.random.default_rng(7))
    c = sprite_videos(30, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_draws_come_only_from_the_passed_generator():
    np.random.seed(0)
    a = sprite_videos(10, np.random.default_rng(9))
    np.random.seed(1)
    b = sprite_videos(10, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


def test_zero_videos():
    assert sprite_videos(0, np.random.default_rng(0)).shape == (0, 4, 2, 8, 8)


def test_bad_count_is_refused():
    with pytest.raises(ConfigError, match=r"^number of videos must be an integer >= 0, got -1$"):
        sprite_videos(-1, np.random.default_rng(0))


def test_too_small_frame_is_refused():
    with pytest.raises(ConfigError, match=r"^sprite size must be an integer >= 3, got 2$"):
        sprite_videos(1, np.random.default_rng(0), size=2)


def test_too_fast_sprites_are_refused():
    with pytest.raises(ConfigError, match=r"^sprite max_speed must be <= size - 3 = 5 so one "
                                          r"bounce per frame suffices, got 6$"):
        sprite_videos(1, np.random.default_rng(0), max_speed=6)
