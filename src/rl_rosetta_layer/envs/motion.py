"""What the tasks where motion matters share: bouncing motion, stacked frames, autoreset.

The tasks (:mod:`.moving_goal`, :mod:`.catch`) are drop-in replacements for
:class:`~rl_rosetta_layer.envs.grid.VectorVideoGrid`: the same constructor shape, seeding,
attributes and observation format. An observation is the last ``history`` frames, oldest
first, each frame 2 one-hot channels of ``size x size`` cells (channel 0: the agent or
paddle, channel 1: the goal or ball), flattened to ``history * 2 * size * size`` float32
values. One frame shows where things are, never where they go: the velocity is visible only
in the difference of stacked frames.

**Episodes start in motion.** At reset the moving object has already made ``history - 1``
moves (the agent standing still), so the reset observation's frames are its last
``history`` positions and the velocity can be read from the very first observation
(with ``history >= 2``).

**Bouncing.** A moving object has a position and a velocity per axis, each velocity in
{-1, 0, +1}. The stored velocity is always the direction of the *next* move: when a move
brings the object against a wall while heading into it, that velocity component flips
(so an object in cell 0 of an axis never has velocity -1 there). Position after ``k`` more
moves is therefore the triangle wave :func:`bounce_path`.
"""

from __future__ import annotations

import numpy as np

from ..checks import is_int
from ..errors import ConfigError
from .copies import SeededCopies, SingleCopy

#: Largest side of the grid-format tasks: observations are one-hot maps of
#: ``history * 2 * size**2`` values, so 64 already gives 16,384 per frame pair.
MAX_SIZE = 64
#: Most frames stacked in one observation.
MAX_HISTORY = 16


def check_int(task: str, name: str, value: object, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless ``value`` is an integer in [low, high] (high None: no cap)."""
    bad = not is_int(value) or value < low \
        or (high is not None and value > high)
    if bad:
        accepted = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{task} {name} must be an integer {accepted}, got {value!r}")


def check_float(task: str, name: str, value: object) -> None:
    """Raise ConfigError unless ``value`` is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ConfigError(f"{task} {name} must be a finite number, got {value!r}")


def bounce_step(pos: np.ndarray, vel: np.ndarray, size: int) -> None:
    """Move ``pos`` by ``vel`` in place, then flip the components heading out of the grid.

    ``pos``, ``vel``: integer arrays of one shape; ``pos + vel`` must lie in [0, size).
    """
    pos += vel
    vel[(pos + vel < 0) | (pos + vel > size - 1)] *= -1


def bounce_path(pos: np.ndarray, vel: np.ndarray, steps: np.ndarray | int,
                size: int) -> np.ndarray:
    """Position after ``steps`` moves of :func:`bounce_step`, in closed form (broadcasts).

    The unfolded coordinate ``pos + vel * steps`` is folded back into [0, size - 1] by a
    triangle wave of period ``2 * (size - 1)``.

    >>> bounce_path(np.array(2), np.array(-1), np.arange(6), 4).tolist()
    [2, 1, 0, 1, 2, 3]
    """
    period = 2 * (size - 1)
    folded = np.mod(pos + vel * steps, period)
    return np.where(folded <= size - 1, folded, period - folded)


def check_actions(actions: object, num_envs: int, n_actions: int) -> np.ndarray:
    """``actions`` as an integer array of shape (num_envs,) with values in [0, n_actions)."""
    arr = np.asarray(actions)
    if arr.shape != (num_envs,) or arr.dtype.kind not in "iu" or arr.min() < 0 \
            or arr.max() >= n_actions:
        raise ConfigError(f"actions must be {num_envs} integers in [0, {n_actions}), "
                          f"got {actions!r}")
    return arr.astype(np.int64)


class MotionVectorEnv(SeededCopies):
    """``num_envs`` independent copies of a motion task, stepped at once.

    Subclasses set ``n_actions`` and implement :meth:`_start` (draw copy ``i``'s
    first positions from ``self._rngs[i]``), :meth:`_advance` (move the object of some
    copies), :meth:`_transition` (one step of every copy), :meth:`_paint`, :meth:`state` and
    :meth:`optimal_return`. Copy ``i`` draws only from its own generator, at resets only, so
    it behaves like a single environment seeded the same way whatever the other copies do,
    and the k-th episode of a copy starts the same whatever the policy. With ``autoreset`` a
    copy whose episode ended is reset in the same call; its last observation and state are
    in ``info["final_obs"]`` / ``info["final_state"]`` (rows valid where done).
    """

    n_actions: int
    #: Frames are two one-hot maps (mover, target), the grid's format.
    maps = True

    def __init__(self, num_envs: int, config, *, autoreset: bool = True) -> None:
        if not is_int(num_envs) or num_envs < 1:
            raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.config = config
        self.num_envs = int(num_envs)
        self.autoreset = autoreset
        c = self.config
        self.obs_dim = c.history * 2 * c.size * c.size
        self.obs_shape = (c.history, 2, c.size, c.size)
        self._rngs: list[np.random.Generator] | None = None
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self._obs = np.zeros((self.num_envs, c.history, 2 * c.size * c.size), dtype=np.float32)
        self._rows = np.arange(self.num_envs)

    # ------------------------------------------------------------------- subclass hooks
    def _start(self, i: int) -> None:
        """Draw the positions and velocity of copy ``i`` as they are in its oldest frame."""
        raise NotImplementedError

    def _advance(self, rows: np.ndarray) -> None:
        """Move the goal / ball of copies ``rows`` one step."""
        raise NotImplementedError

    def _transition(self, actions: np.ndarray):
        """Step every copy: return reward (N,) float64, terminated (N,), success (N,)."""
        raise NotImplementedError

    def _paint(self, frames: np.ndarray, rows: np.ndarray) -> None:
        """Set the ones of copies ``rows`` in ``frames`` (N, 2 * size * size), zeroed there."""
        raise NotImplementedError

    def state(self) -> np.ndarray:
        raise NotImplementedError

    def optimal_return(self) -> np.ndarray:
        raise NotImplementedError

    # ----------------------------------------------------------------------- machinery
    def _draw(self, rows: np.ndarray, slot: int) -> None:
        frames = self._obs[:, slot]
        frames[rows] = 0.0
        self._paint(frames, rows)

    def _reset_copy(self, i: int) -> None:
        """Start copy ``i``: its history holds the object's first ``history`` positions."""
        self._start(i)
        self.steps[i] = 0
        row = np.array([i])
        for slot in range(self.config.history):
            if slot:
                self._advance(row)
            self._draw(row, slot)

    def _info(self) -> dict[str, np.ndarray]:
        return {"state": self.state(), "optimal_return": self.optimal_return()}

    def _flat_obs(self) -> np.ndarray:
        return self._obs.reshape(self.num_envs, self.obs_dim).copy()

    def reset(self, *, seed: int | list[int] | None = None):
        """Reset every copy. Returns obs (num_envs, obs_dim) and info (arrays per copy)."""
        self._seed(seed)
        for i in range(self.num_envs):
            self._reset_copy(i)
        return self._flat_obs(), self._info()

    def step(self, actions: np.ndarray):
        """Step every copy with ``actions`` (num_envs,) ints in [0, n_actions).

        Returns obs (N, obs_dim), reward (N,), terminated (N,), truncated (N,), info with
        ``"state"``, ``"optimal_return"``, ``"success"`` and, when a copy ended and
        ``autoreset`` is on, ``"final_obs"`` and ``"final_state"``.
        """
        if self._rngs is None:
            raise ConfigError("call reset() before step()")
        actions = check_actions(actions, self.num_envs, self.n_actions)
        reward, terminated, success = self._transition(actions)
        self.steps += 1
        truncated = ~terminated & (self.steps >= self.config.max_steps)
        self._obs[:, :-1] = self._obs[:, 1:]
        self._draw(self._rows, -1)
        info = self._info()
        info["success"] = success
        done = terminated | truncated
        if self.autoreset and done.any():
            info["final_obs"] = self._flat_obs()
            info["final_state"] = info["state"].copy()
            for i in np.flatnonzero(done):
                self._reset_copy(i)
            fresh = self._info()
            info["state"], info["optimal_return"] = fresh["state"], fresh["optimal_return"]
        return self._flat_obs(), reward, terminated, truncated, info


class SingleMotionEnv(SingleCopy):
    """One copy of a motion task with a Gymnasium-style API (no autoreset).

    Subclasses set ``vector_class``; the constructor takes that task's config.
    """

    vector_class: type[MotionVectorEnv]

    @property
    def vector(self) -> MotionVectorEnv:
        """The one-copy vector environment underneath (for the reference policies)."""
        return self._vec
