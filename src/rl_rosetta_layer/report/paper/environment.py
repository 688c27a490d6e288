"""What the paper says about the environment: the one report module that knows
environments by name.

Each function reads the ``env`` section of ``report_facts.json`` (for the grid,
:meth:`~rl_rosetta_layer.envs.grid.GridConfig.describe`; for any other environment the
settings its runs recorded). To describe a new environment in the paper, add its branch
here.
"""

from __future__ import annotations

from collections.abc import Mapping

from .formatting import code, f3


def is_grid(env: Mapping) -> bool:
    """Whether the runs used the seed's video-like grid."""
    return env.get("name") == "grid"


def env_phrase(env: Mapping) -> str:
    """The environment in a few words, for the abstract ('the seed's 8×8 video-like grid')."""
    if is_grid(env):
        return f"the seed's {env['size']}×{env['size']} video-like grid"
    return f"the {code(str(env.get('name')))} environment"


def env_paragraph(env: Mapping) -> str:
    """The environment's paragraph of the experimental setup."""
    if not is_grid(env):
        return f"Environment {code(str(env.get('name')))}."
    return (
        f"The seed's video-like grid: an agent moves on a {env['size']}×{env['size']} grid to "
        f"a goal. An observation stacks the last {env['history']} frames, each two one-hot "
        f"maps (agent and goal), {env['obs_dim']} values in all. There are "
        f"{env['n_actions']} actions (stay and four moves); reaching the goal gives "
        f"{env['goal_reward']:g} and ends the episode, every other step gives "
        f"{env['step_reward']:g}, and an episode is cut after {env['max_steps']} steps. Agent "
        f"and goal start on distinct cells drawn uniformly, so the shortest-path return "
        f"averages {f3(env['optimal_return_mean'])}: the best a policy can do on average. The "
        f"goal does not move within an episode.")


def env_limitations(env: Mapping) -> list[str]:
    """Limitations that come from the environment (items of a bullet list)."""
    if is_grid(env):
        return ["One environment, whose goal does not move within an episode: a single "
                "frame is enough, so the task cannot reward a video model's sense of "
                "motion."]
    return []
