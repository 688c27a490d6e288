"""What the Gymnasium adapter knows about MiniGrid: its symbolic view, true state and value.

MiniGrid is optional; everything here imports it only when called, so
:mod:`.gym_adapter` can import this module without it.

- :func:`is_minigrid`: whether an environment is a ``MiniGridEnv``.
- :func:`is_symbolic`: whether an image Box holds MiniGrid's (object, color, state)
  indices rather than RGB pixels; :func:`symbolic_divisor` scales them to [0, 1].
- :class:`MiniGridTracker`: the ``info["state"]`` and ``info["optimal_return"]`` of one
  copy (the rules are in :mod:`.gym_adapter`'s docstring).
"""

from __future__ import annotations

from collections import deque

import numpy as np


def is_minigrid(unwrapped) -> bool:
    """Whether ``unwrapped`` is a MiniGrid environment (False when MiniGrid is absent)."""
    try:
        from minigrid.minigrid_env import MiniGridEnv
    except ImportError:
        return False
    return isinstance(unwrapped, MiniGridEnv)


def is_symbolic(box, env) -> bool:
    """Whether a MiniGrid image Box holds (object, color, state) indices, not RGB pixels:
    3 channels over the agent's view or the whole grid."""
    if box is None or len(box.shape) != 3 or box.shape[2] != 3:
        return False
    view = getattr(env, "agent_view_size", None)
    return tuple(box.shape[:2]) in {(view, view), (env.width, env.height)}


def symbolic_divisor() -> np.ndarray:
    """The largest index of each channel's table (object, color, state): (3,) float32."""
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

    return np.array([len(OBJECT_TO_IDX) - 1, len(COLOR_TO_IDX) - 1, len(STATE_TO_IDX) - 1],
                    np.float32)


class MiniGridTracker:
    """True state and shortest-path return of one MiniGrid copy (updated once per reset)."""

    SIMPLE = frozenset({"wall", "floor", "goal"})
    PASSABLE = frozenset({"floor", "goal"})

    def __init__(self, moves: frozenset[int], with_goal: bool) -> None:
        self.moves = moves                 # exposed env actions among 0 left, 1 right, 2 fwd
        self.with_goal = with_goal
        self.goal: tuple[int, int] | None = None
        self.dist: np.ndarray | None = None   # (width, height, 4) steps to a goal, -1 never

    def on_reset(self, env) -> None:
        from minigrid.minigrid_env import MiniGridEnv
        w, h = env.width, env.height
        goals, simple = [], True
        passable = np.zeros((w, h), bool)
        for idx, cell in enumerate(env.grid.grid):
            x, y = idx % w, idx // w
            if cell is None:
                passable[x, y] = True
                continue
            if cell.type == "goal":
                goals.append((x, y))
            simple &= cell.type in self.SIMPLE
            passable[x, y] = cell.type in self.PASSABLE
        self.goal = goals[0] if goals else None
        standard = type(env).step is MiniGridEnv.step and type(env)._reward is MiniGridEnv._reward
        self.dist = self._distances(passable, goals) if simple and goals and standard else None

    def _distances(self, passable: np.ndarray, goals: list) -> np.ndarray:
        """Breadth-first search backwards from the goals over (x, y, direction)."""
        from minigrid.core.constants import DIR_TO_VEC
        w, h = passable.shape
        dist = np.full((w, h, 4), -1, np.int64)
        queue = deque()
        for gx, gy in goals:
            dist[gx, gy, :] = 0
            queue.extend((gx, gy, d) for d in range(4))
        while queue:
            x, y, d = queue.popleft()
            k = dist[x, y, d] + 1
            before = []
            if 0 in self.moves and (x, y) not in goals:      # left: direction d+1 -> d
                before.append((x, y, (d + 1) % 4))
            if 1 in self.moves and (x, y) not in goals:      # right: direction d-1 -> d
                before.append((x, y, (d - 1) % 4))
            if 2 in self.moves:                              # forward: from the cell behind
                dx, dy = DIR_TO_VEC[d]
                px, py = x - int(dx), y - int(dy)
                if 0 <= px < w and 0 <= py < h and passable[px, py] \
                        and (px, py) not in goals:
                    before.append((px, py, d))
            for s in before:
                if dist[s] < 0:
                    dist[s] = k
                    queue.append(s)
        return dist

    def state(self, env) -> np.ndarray:
        sx, sy = env.width - 1, env.height - 1
        (x, y), d = env.agent_pos, env.agent_dir
        values = [x / sx, y / sy, d / 3.0]
        if self.with_goal:
            values += [self.goal[0] / sx, self.goal[1] / sy] if self.goal else [np.nan] * 2
        return np.asarray(values, np.float32)

    def optimal_return(self, env) -> float:
        if self.dist is None:
            return float("nan")
        (x, y), d = env.agent_pos, env.agent_dir
        steps = int(self.dist[int(x), int(y), int(d)])
        total = env.step_count + steps
        if steps < 0 or total > env.max_steps:
            return 0.0
        return 1.0 - 0.9 * total / env.max_steps
