"""Evaluation as RL papers do it: greedy episodes at checkpoints, apart from training.

At ``eval_checkpoints`` K points of an env-step budget (every ``env_steps / K`` steps, the
last at the end) each seed's online network plays ``eval_episodes`` N episodes with an
epsilon-greedy policy (``eval_epsilon``, 0.01 by default: against ties and loops). The
episodes are not counted in the budget and never enter the replay. Episode ``j`` of
checkpoint ``k`` starts from the same state for every layer and seed (its copy of the task
is seeded ``(EVAL_SEED, k, j)``); seed ``s``'s exploration draws at checkpoint ``k`` come
from ``(EVAL_SEED, k, s)``: so a run's evaluation is the same alone, in lockstep, in
another worker, and when re-run from its saved network (``rosetta evaluate``).

A run's final return is its last checkpoint's mean; its sample efficiency the mean over
checkpoints (the area under the evaluation curve).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Root of the seeds of evaluation episodes and of their exploration draws.
EVAL_SEED = 9191
#: Env steps after which an evaluation episode that never ended is an error.
EPISODE_LIMIT = 100_000


def checkpoint_steps(env_steps: int, checkpoints: int) -> list[int]:
    """The env steps of ``checkpoints`` evenly spaced checkpoints, the last at the end.

    >>> checkpoint_steps(1000, 4)
    [250, 500, 750, 1000]
    """
    if checkpoints < 1 or env_steps < checkpoints:
        raise ConfigError(f"{checkpoints} evaluation checkpoints need a budget of at least as "
                          f"many env steps, got env_steps={env_steps}")
    return [round(env_steps * (k + 1) / checkpoints) for k in range(checkpoints)]


def play_episodes(make_env, encode, greedy, seeds: list[int], index: int, episodes: int,
                  epsilon: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each seed's (returns, lengths, successes) (N,) over ``episodes`` N episodes.

    ``make_env(n)`` gives a vector env of n copies; ``encode`` maps observations (M, D) to
    codes (M, C); ``greedy`` maps codes (S, N, C) to each seed's greedy actions (S, N).
    Seed ``i`` explores with probability ``epsilon`` (uniform actions) with draws from
    ``(EVAL_SEED, index, seeds[i])``; copy ``j`` of every seed starts from the state seeded
    ``(EVAL_SEED, index, j)``.
    """
    s, n = len(seeds), episodes
    env = make_env(s * n)
    env.seed_with([np.random.default_rng([EVAL_SEED, index, j]) for _ in range(s)
                   for j in range(n)])
    explore = [np.random.default_rng([EVAL_SEED, index, int(seed)]) for seed in seeds]
    obs, _ = env.reset()
    total = np.zeros(s * n)
    length = np.zeros(s * n, np.int64)
    success = np.zeros(s * n, bool)
    running = np.ones(s * n, bool)
    codes = None
    for _ in range(EPISODE_LIMIT):
        fresh = encode(obs[running])                     # only episodes still running
        if codes is None:
            codes = np.zeros((s * n, fresh.shape[-1]), fresh.dtype)
        codes[running] = fresh
        actions = np.asarray(greedy(codes.reshape(s, n, -1)), np.int64).reshape(-1)
        for i, rng in enumerate(explore):
            draws = rng.random(n) < epsilon
            uniform = rng.integers(env.n_actions, size=n)
            rows = slice(i * n, (i + 1) * n)
            actions[rows] = np.where(draws, uniform, actions[rows])
        obs, reward, terminated, truncated, info = env.step(actions)
        total[running] += reward[running]
        length[running] += 1
        ended = running & (terminated | truncated)
        success[ended] = np.asarray(info.get("success", terminated), bool)[ended]
        running &= ~ended
        if not running.any():
            break
    else:
        raise ConfigError(f"an evaluation episode ran {EPISODE_LIMIT} env steps without "
                          f"ending; the task needs a step limit")
    return [(total[i * n:(i + 1) * n].copy(), length[i * n:(i + 1) * n].copy(),
             success[i * n:(i + 1) * n].copy()) for i in range(s)]


def evaluate(make_env, learner, seeds: list[int], index: int, env_steps: int,
             config) -> list[dict]:
    """Checkpoint ``index`` of every seed, each seed's online network playing
    ``config.eval_episodes`` episodes with ``config.eval_epsilon``: per seed a JSON-ready
    dict (``checkpoint``, ``env_steps``, ``returns``, ``lengths``, ``successes``: lists of
    N). A diverged seed plays its parked (all-zero) network: a broken policy, evaluated as
    it is."""
    played = play_episodes(make_env, learner.encode, learner.greedy, seeds, index,
                           config.eval_episodes, config.eval_epsilon)
    return [{"checkpoint": index, "env_steps": int(env_steps),
             "returns": played[i][0].tolist(), "lengths": played[i][1].tolist(),
             "successes": played[i][2].tolist()} for i in range(len(seeds))]


def final_and_auc(evaluations: list[dict]) -> tuple[float, float]:
    """(the last checkpoint's mean return, the mean over checkpoints of their means) of one
    run's evaluations; NaN when it has none."""
    means = [float(np.mean(e["returns"])) for e in evaluations]
    if not means:
        return float("nan"), float("nan")
    return means[-1], float(np.mean(means))


def replay_final(layer, obs_dim: int, n_actions: int, config, network: dict, seed: int,
                 make_env, *, episodes: int | None = None,
                 epsilon: float | None = None) -> dict:
    """The last checkpoint of a run, played again by its saved ``network`` (the final
    online parameters by name) around ``layer``: the same episodes and draws as training
    played there (so the same numbers), unless ``episodes`` or ``epsilon`` change them."""
    from dataclasses import replace

    from .learner import make_learner

    if not config.eval_checkpoints:
        raise ConfigError("the run was trained without evaluation checkpoints "
                          "(eval_checkpoints=0): there is no checkpoint to play again")
    learner = make_learner(layer, obs_dim, n_actions, config, [np.random.default_rng(0)])
    learner.load_network(0, network)
    config = replace(config, eval_episodes=episodes or config.eval_episodes,
                     eval_epsilon=config.eval_epsilon if epsilon is None else epsilon)
    return evaluate(make_env, learner, [seed], config.eval_checkpoints - 1, config.env_steps,
                    config)[0]
