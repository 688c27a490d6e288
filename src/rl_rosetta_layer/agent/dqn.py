"""Double DQN that trains S seeds of one (env, layer) in lockstep.

Each seed has its own environment copy, replay buffer, parameters and generators (from
:func:`rl_rosetta_layer.seeding.run_generators`), so a seed's numbers are the same whether it
trains alone or beside others; lockstep only saves Python and numpy call overhead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..seeding import run_generators
from .config import DQNConfig
from .health import HealthRecorder
from .learner import make_learner
from .replay import LockstepReplay
from .result import RunResult

ProgressFn = Callable[[int], None]
#: Env steps between progress reports under an env-step budget.
STEP_REPORT = 100


def train_lockstep(env, layer, seeds: list[int], config: DQNConfig, *,
                   progress: ProgressFn | None = None,
                   probe: np.ndarray | None = None) -> list[RunResult]:
    """Train one agent per seed on copies of ``env`` (a vector env with len(seeds) copies).

    Returns one :class:`RunResult` per seed, in the order of ``seeds``. A seed whose loss or
    gradient becomes NaN or infinite stops there, is marked diverged with the reason, and the
    others go on. The budget is ``config.episodes`` per seed, or ``config.env_steps`` when
    set. ``progress(n)`` is called with the budget units just used: episodes finished, or
    env steps taken by the seeds still running (every ``STEP_REPORT`` steps). The
    networks and their update live in a learner (:mod:`.learner`): numpy by default, the
    layer's own when it brings one. A learner with an ``encode`` method (a frozen front of
    its network) has each observation encoded once, as it arrives, and its replay holds the
    codes. ``probe`` (N, D), the task's probe observations (:mod:`.health`), turns on the
    health checks recorded in each result's ``health``.
    """
    start = time.perf_counter()
    n = len(seeds)
    gens = [run_generators(s) for s in seeds]
    env.seed_with([g["env"] for g in gens])
    explore = [g["explore"] for g in gens]
    sampler = [g["replay"] for g in gens]
    learner = make_learner(layer, env.obs_dim, env.n_actions, config,
                           [g["init"] for g in gens])
    encode = getattr(learner, "encode", None) or (lambda x: x)
    obs, _ = env.reset()
    obs = encode(obs)
    # A ring longer than the budget never wraps: same samples, less memory (codes are wide).
    capacity = config.buffer_size if config.env_steps is None else min(config.buffer_size,
                                                                       config.env_steps)
    replay = LockstepReplay(n, capacity, obs.shape[1], n_step=config.n_step,
                            gamma=config.gamma)
    health = None
    if probe is not None:
        health = HealthRecorder(encode(np.asarray(probe, np.float32)), config, n)

    records = [{"returns": [], "lengths": [], "successes": []} for _ in range(n)]
    active = np.ones(n, bool)          # still inside its episode budget and not diverged
    diverged = [""] * n
    ep_return = np.zeros(n)
    ep_len = np.zeros(n, np.int64)
    step = updates = 0
    seed_updates = np.zeros(n, np.int64)   # updates while each seed was still running
    batch = config.batch_size
    step_budget = config.env_steps
    reported_step = 0                      # env steps already counted by ``progress``
    while active.any():
        # ---- act: epsilon-greedy, each seed drawing from its own generator
        eps = config.epsilon(step)
        explore_now = [rng.random() < eps for rng in explore]
        actions = np.zeros(n, np.int64)
        if not all(explore_now):
            actions[:] = learner.act(obs)
        for i, rng in enumerate(explore):
            if explore_now[i]:
                actions[i] = rng.integers(env.n_actions)
        next_obs, reward, terminated, truncated, info = env.step(actions)
        done = terminated | truncated
        next_obs = encode(next_obs)
        stored_next = next_obs
        if done.any():
            stored_next = next_obs.copy()
            stored_next[done] = encode(info["final_obs"][done])
        replay.add(obs, actions, reward, stored_next, terminated, done)
        obs = next_obs
        step += 1
        ep_return += reward
        ep_len += 1
        finished = 0
        success = info.get("success", terminated)   # a catch can end in a miss
        training = active.copy()
        for i in np.flatnonzero(done):
            if active[i]:
                rec = records[i]
                rec["returns"].append(float(ep_return[i]))
                rec["lengths"].append(int(ep_len[i]))
                rec["successes"].append(bool(success[i]))
                finished += 1
                if step_budget is None and len(rec["returns"]) >= config.episodes:
                    active[i] = False
            ep_return[i] = 0.0
            ep_len[i] = 0
        if progress is not None:
            if step_budget is None and finished:
                progress(finished)
            elif step_budget is not None and (step % STEP_REPORT == 0
                                              or step == step_budget):
                progress(int(active.sum()) * (step - reported_step))
                reported_step = step
        # Health points are reached at a step (env-step budget) or at an episode's end.
        if health is not None and (finished if step_budget is None
                                   else step >= health.next_step):
            used = (np.full(n, step) if step_budget is not None
                    else np.array([len(r["returns"]) for r in records]))
            due = health.due(used, training)
            if due.size:
                health.check(due, learner, step, seed_updates, used)

        # ---- learn
        if step >= config.learning_starts and step % config.train_every == 0 \
                and replay.can_sample():
            both, a, ret, disc = replay.sample(sampler, batch)     # both = [o; o2]
            norms, td_finite = learner.update(both, a, ret, disc)
            if health is not None:
                health.add_norms(norms, active)
            for i in np.flatnonzero((~np.isfinite(norms) | ~td_finite) & active):
                what = "gradient" if not np.isfinite(norms[i]) else "TD error"
                diverged[i] = (f"non-finite {what} at env step {step} "
                               f"(update {updates + 1}); this run stopped there")
                active[i] = False
            updates += 1
            seed_updates += active
            if updates % config.target_update == 0:
                learner.sync_target()
        if step_budget is not None and step >= step_budget:
            active[:] = False

    wall = time.perf_counter() - start
    return [RunResult(layer=layer.name, seed=int(seeds[i]),
                      returns=np.asarray(records[i]["returns"], np.float64),
                      lengths=np.asarray(records[i]["lengths"], np.int64),
                      successes=np.asarray(records[i]["successes"], bool),
                      diverged=bool(diverged[i]), error=diverged[i],
                      updates=int(seed_updates[i]),
                      health=health.points[i] if health is not None else [],
                      wall_seconds=wall, extra={"lockstep": n})
            for i in range(n)]
