"""Procedural moving-sprite videos in the RL tasks' frame format (numpy only).

A video is ``(frames, 2, size, size)`` float32: each frame has two channels of
``size x size`` binary maps (0 or 1), like the grid's agent and goal maps, but here each
channel holds one or more *sprites* of several shapes that move in straight lines at a
constant integer velocity (zero included) and bounce off the walls. Sprites in one channel
may overlap; the map is their union, so every value is exactly 0 or 1.

Nothing here comes from the RL tasks (no grid episodes, no moving goal, no catch game):
these are the videos ``tiny-video`` was pretrained on, drawn fresh from a generator.

>>> import numpy as np
>>> v = sprite_videos(3, np.random.default_rng(0))
>>> v.shape, v.dtype.name, sorted(np.unique(v).tolist())
((3, 4, 2, 8, 8), 'float32', [0.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...checks import is_int
from ...errors import ConfigError

#: Every sprite shape as a binary mask (rows are y, columns are x). Drawn uniformly.
SHAPES: dict[str, np.ndarray] = {
    name: np.array(rows, dtype=bool)
    for name, rows in {
        "dot": [[1]],
        "square2": [[1, 1], [1, 1]],
        "hbar2": [[1, 1]],
        "hbar3": [[1, 1, 1]],
        "vbar2": [[1], [1]],
        "vbar3": [[1], [1], [1]],
        "plus": [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
        "corner": [[1, 0], [1, 1]],
        "L": [[1, 0], [1, 0], [1, 1]],
    }.items()
}
SHAPE_NAMES = tuple(SHAPES)
_PAD = max(max(m.shape) for m in SHAPES.values())


def _padded_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks padded to ``(n_shapes, _PAD, _PAD)`` plus their heights and widths."""
    masks = np.zeros((len(SHAPES), _PAD, _PAD), dtype=bool)
    heights = np.zeros(len(SHAPES), dtype=np.int64)
    widths = np.zeros(len(SHAPES), dtype=np.int64)
    for i, m in enumerate(SHAPES.values()):
        masks[i, : m.shape[0], : m.shape[1]] = m
        heights[i], widths[i] = m.shape
    return masks, heights, widths


@dataclass(frozen=True)
class SpriteConfig:
    """How sprite videos are drawn (defaults: what ``tiny-video`` saw)."""

    frames: int = 4
    """Frames per video."""
    size: int = 8
    """Side of each square frame, in cells (at least 3, the largest sprite)."""
    channels: int = 2
    """Channels per frame; each channel is drawn independently."""
    max_sprites: int = 2
    """Sprites per channel are drawn uniformly from 1..max_sprites."""
    max_speed: int = 1
    """Velocity components are drawn uniformly from -max_speed..max_speed (0 included)."""

    def __post_init__(self) -> None:
        for name, low in (("frames", 1), ("size", _PAD), ("channels", 1), ("max_sprites", 1),
                          ("max_speed", 0)):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise ConfigError(f"sprite {name} must be an integer >= {low}, got {value!r}")
        if self.max_speed > self.size - _PAD:
            raise ConfigError(f"sprite max_speed must be <= size - {_PAD} = "
                              f"{self.size - _PAD} so one bounce per frame suffices, "
                              f"got {self.max_speed!r}")


def bounce(pos: np.ndarray, vel: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of ``pos + vel`` reflected into ``[0, high]``; the velocity flips on a bounce.

    All arrays have the same shape (integers); ``|vel| <= high`` or ``high == 0``
    (a sprite as wide as the frame cannot move, its velocity must be 0).

    >>> bounce(np.array([4, 1, 3]), np.array([1, -1, 1]), np.array([5, 5, 3]))
    (array([5, 0, 2]), array([ 1, -1, -1]))
    >>> bounce(np.array([5, 0]), np.array([1, -1]), np.array([5, 5]))
    (array([4, 1]), array([-1,  1]))
    """
    new = pos + vel
    over, under = new > high, new < 0
    new = np.where(over, 2 * high - new, np.where(under, -new, new))
    vel = np.where(over | under, -vel, vel)
    return new, vel


def sprite_trajectories(n: int, rng: np.random.Generator, config: SpriteConfig
                        ) -> dict[str, np.ndarray]:
    """Draw ``n`` videos' sprites: shapes, top-left positions per frame, and which are used.

    Returns ``shape`` (n, C, S) shape indices into :data:`SHAPE_NAMES`, ``active``
    (n, C, S) bool (sprite slots in use, at least the first of each channel), ``y`` and
    ``x`` (n, F, C, S) top-left cell of each sprite in each frame, and ``vy``, ``vx``
    (n, C, S) the velocities drawn for frame 0 (before any bounce), where C is channels,
    S is ``max_sprites`` and F is frames.
    """
    c = config
    _, heights, widths = _padded_masks()
    shape_idx = rng.integers(0, len(SHAPES), size=(n, c.channels, c.max_sprites))
    count = rng.integers(1, c.max_sprites + 1, size=(n, c.channels))
    active = np.arange(c.max_sprites)[None, None, :] < count[..., None]
    high_y = c.size - heights[shape_idx]
    high_x = c.size - widths[shape_idx]
    y = rng.integers(0, high_y + 1)
    x = rng.integers(0, high_x + 1)
    vy0 = rng.integers(-c.max_speed, c.max_speed + 1, size=shape_idx.shape)
    vx0 = rng.integers(-c.max_speed, c.max_speed + 1, size=shape_idx.shape)
    vy, vx = vy0.copy(), vx0.copy()
    ys, xs = [y], [x]
    for _ in range(c.frames - 1):
        y, vy = bounce(y, vy, high_y)
        x, vx = bounce(x, vx, high_x)
        ys.append(y)
        xs.append(x)
    return {"shape": shape_idx, "active": active, "y": np.stack(ys, axis=1),
            "x": np.stack(xs, axis=1), "vy": vy0, "vx": vx0}


def render(traj: dict[str, np.ndarray], config: SpriteConfig) -> np.ndarray:
    """Paint trajectories from :func:`sprite_trajectories`: (n, F, C, size, size) float32."""
    masks, _, _ = _padded_masks()
    y, x = traj["y"], traj["x"]
    n, frames, channels, slots = y.shape
    video = np.zeros((n, frames, channels, config.size, config.size), dtype=np.float32)
    vid, frame, chan, slot = np.meshgrid(np.arange(n), np.arange(frames), np.arange(channels),
                                         np.arange(slots), indexing="ij")
    shape = traj["shape"][vid, chan, slot]
    active = traj["active"][vid, chan, slot]
    for dy in range(_PAD):
        for dx in range(_PAD):
            on = active & masks[shape, dy, dx]
            video[vid[on], frame[on], chan[on], y[on] + dy, x[on] + dx] = 1.0
    return video


def sprite_videos(n: int, rng: np.random.Generator, *, frames: int = SpriteConfig.frames,
                  size: int = SpriteConfig.size, channels: int = SpriteConfig.channels,
                  max_sprites: int = SpriteConfig.max_sprites,
                  max_speed: int = SpriteConfig.max_speed) -> np.ndarray:
    """``n`` random sprite videos: (n, frames, channels, size, size) float32 of 0s and 1s.

    Each channel holds 1..``max_sprites`` sprites (shape uniform over :data:`SHAPES`,
    top-left cell uniform over the positions where it fits, each velocity component uniform
    over -max_speed..max_speed), moving in straight lines and bouncing off the walls.
    """
    if not is_int(n) or n < 0:
        raise ConfigError(f"number of videos must be an integer >= 0, got {n!r}")
    config = SpriteConfig(frames=frames, size=size, channels=channels,
                          max_sprites=max_sprites, max_speed=max_speed)
    return render(sprite_trajectories(int(n), rng, config), config)
