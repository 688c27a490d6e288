"""Double DQN that trains S seeds of one (env, layer) in lockstep.

Each seed has its own environment copy, replay buffer, parameters and generators (from
:func:`rl_rosetta_layer.seeding.run_generators`), so a seed's numbers are the same whether it
trains alone or beside others; lockstep only saves Python and numpy call overhead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError
from ..seeding import run_generators
from .config import DQNConfig
from .evaluation import checkpoint_steps, evaluate
from .health import HealthRecorder
from .learner import make_learner
from .replay import LockstepReplay
from .result import RunResult

ProgressFn = Callable[[int], None]
#: Env steps between progress reports under an env-step budget.
STEP_REPORT = 100


def train_lockstep(env, layer, seeds: list[int], config: DQNConfig, *,
                   progress: ProgressFn | None = None,
                   probe: np.ndarray | None = None,
                   eval_env: Callable[[int], object] | None = None,
                   monitor: Callable[[dict], None] | None = None) -> list[RunResult]:
    """Train one agent per seed on copies of ``env`` (a vector env with len(seeds) copies).

    Returns one :class:`RunResult` per seed, in the order of ``seeds``. A seed whose loss or
    gradient becomes NaN or infinite stops there, is marked diverged with the reason, and the
    others go on. The budget is ``config.episodes`` per seed, or ``config.env_steps`` when
    set. ``progress(n)`` is called with the budget units just used: episodes finished, or
    env steps taken by the seeds still running (every ``STEP_REPORT`` steps). The
    networks and their update live in a learner (:mod:`.learner`): numpy by default, the
    layer's own when it brings one. Each observation is encoded once, as it arrives, by the
    learner's ``encode`` (the fixed front of its network), and the replay holds the codes.
    ``probe`` (N, D), the task's probe observations (:mod:`.health`), turns on the health
    checks recorded in each result's ``health``. With ``config.eval_checkpoints`` each seed
    is evaluated at those checkpoints (:mod:`.evaluation`) on copies of the task that
    ``eval_env(n)`` makes, recorded in each result's ``evaluations``; each result keeps its
    final network (``network``). ``monitor(state)``, when given, is called every
    ``STEP_REPORT`` env steps, after a health check and at the last step, with a dict of
    ``step``, ``epsilon``, ``updates`` (S,), ``active`` (S,), ``records``, ``health``,
    ``learner`` and ``replay``; it only reads them (e.g. a live TensorBoard log), so the
    run's numbers do not depend on it.
    """
    start = time.perf_counter()
    n = len(seeds)
    gens = [run_generators(s) for s in seeds]
    env.seed_with([g["env"] for g in gens])
    explore = [g["explore"] for g in gens]
    sampler = [g["replay"] for g in gens]
    learner = make_learner(layer, env.obs_dim, env.n_actions, config,
                           [g["init"] for g in gens])
    encode = learner.encode
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
    book = Episodes(n, config, progress)
    checkpoints = []
    if config.eval_checkpoints:
        if eval_env is None:
            raise ConfigError("eval_checkpoints needs eval_env, the task's vector env maker")
        checkpoints = checkpoint_steps(config.env_steps, config.eval_checkpoints)
    evaluations: list[list[dict]] = [[] for _ in seeds]
    step = updates = 0
    seed_updates = np.zeros(n, np.int64)   # updates while each seed was still running
    networks: list[dict | None] = [None] * n     # each seed's, taken when its budget ends
    while book.active.any():
        was_active = book.active.copy()
        actions = epsilon_greedy(learner, obs, explore, config.epsilon(step), env.n_actions)
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
        training = book.active.copy()
        checked = False
        finished = book.record(step, reward, done, info.get("success", terminated))
        # Health points are reached at a step (env-step budget) or at an episode's end.
        if health is not None and (finished if config.env_steps is None
                                   else step >= health.next_step):
            used = book.used(step)
            due = health.due(used, training)
            if due.size:
                health.check(due, learner, step, seed_updates, used)
                checked = True

        # ---- learn
        if step >= config.learning_starts and step % config.train_every == 0 \
                and replay.can_sample():
            both, a, ret, disc = replay.sample(sampler, config.batch_size)   # both = [o; o2]
            norms, td_finite = learner.update(both, a, ret, disc)
            if health is not None:
                health.add_norms(norms, book.active)
            book.stop_diverged(norms, td_finite, step, updates + 1)
            updates += 1
            seed_updates += book.active
            if updates % config.target_update == 0:
                learner.sync_target()
        index = len(evaluations[0])               # the next checkpoint
        if index < len(checkpoints) and step == checkpoints[index]:
            for i, got in enumerate(evaluate(eval_env, learner, seeds, index, step, config)):
                evaluations[i].append(got)
        if config.env_steps is not None and step >= config.env_steps:
            book.active[:] = False
        # A seed whose budget just ended keeps its network as it is now: seeds beside it in
        # lockstep still train (the shared update moves it on), alone it would stop here.
        for i in np.flatnonzero(was_active & ~book.active):
            networks[i] = learner.network(int(i))
        if monitor is not None and (checked or step % STEP_REPORT == 0
                                    or not book.active.any()):
            monitor({"step": step, "epsilon": config.epsilon(step), "updates": seed_updates,
                     "active": book.active, "records": book.records, "health": health,
                     "learner": learner, "replay": replay})

    results = book.results(layer.name, seeds, seed_updates, health,
                           time.perf_counter() - start)
    for i, result in enumerate(results):
        result.evaluations = evaluations[i]
        result.network = networks[i]
    return results


def epsilon_greedy(learner, obs: np.ndarray, explore: list[np.random.Generator], eps: float,
                   n_actions: int) -> np.ndarray:
    """Actions (S,) int64: seed i explores with probability ``eps`` (drawn from its own
    generator ``explore[i]``), else takes the learner's greedy action for obs (S, D)."""
    explore_now = [rng.random() < eps for rng in explore]
    actions = np.zeros(len(explore), np.int64)
    if not all(explore_now):
        actions[:] = learner.act(obs)
    for i, rng in enumerate(explore):
        if explore_now[i]:
            actions[i] = rng.integers(n_actions)
    return actions


class Episodes:
    """Each seed's finished episodes (return, length, success), which seeds are still
    running, and the progress reports, for S seeds stepped together."""

    def __init__(self, n: int, config: DQNConfig, progress: ProgressFn | None) -> None:
        self.config, self.progress = config, progress
        self.records = [{"returns": [], "lengths": [], "successes": []} for _ in range(n)]
        self.active = np.ones(n, bool)     # still inside its episode budget and not diverged
        self.diverged = [""] * n
        self.ep_return = np.zeros(n)
        self.ep_len = np.zeros(n, np.int64)
        self.reported_step = 0             # env steps already counted by ``progress``

    def record(self, step: int, reward: np.ndarray, done: np.ndarray,
               success: np.ndarray) -> int:
        """Add one step's rewards (S,); close the episodes that ended (``done`` (S,));
        report progress. Returns the number of episodes of running seeds that ended."""
        self.ep_return += reward
        self.ep_len += 1
        finished, budget = 0, self.config.env_steps
        for i in np.flatnonzero(done):
            if self.active[i]:
                rec = self.records[i]
                rec["returns"].append(float(self.ep_return[i]))
                rec["lengths"].append(int(self.ep_len[i]))
                rec["successes"].append(bool(success[i]))
                finished += 1
                if budget is None and len(rec["returns"]) >= self.config.episodes:
                    self.active[i] = False
            self.ep_return[i] = 0.0
            self.ep_len[i] = 0
        if self.progress is not None:
            if budget is None and finished:
                self.progress(finished)
            elif budget is not None and (step % STEP_REPORT == 0 or step == budget):
                self.progress(int(self.active.sum()) * (step - self.reported_step))
                self.reported_step = step
        return finished

    def used(self, step: int) -> np.ndarray:
        """Budget units each seed has used (S,): env steps, or episodes finished."""
        if self.config.env_steps is not None:
            return np.full(len(self.records), step)
        return np.array([len(r["returns"]) for r in self.records])

    def results(self, layer: str, seeds: list[int], updates: np.ndarray, health,
                wall: float) -> list[RunResult]:
        """One :class:`RunResult` per seed, in the order of ``seeds``."""
        n = len(seeds)
        return [RunResult(layer=layer, seed=int(seeds[i]),
                          returns=np.asarray(self.records[i]["returns"], np.float64),
                          lengths=np.asarray(self.records[i]["lengths"], np.int64),
                          successes=np.asarray(self.records[i]["successes"], bool),
                          diverged=bool(self.diverged[i]), error=self.diverged[i],
                          updates=int(updates[i]),
                          health=health.points[i] if health is not None else [],
                          wall_seconds=wall, extra={"lockstep": n})
                for i in range(n)]

    def stop_diverged(self, norms: np.ndarray, td_finite: np.ndarray, step: int,
                      update: int) -> None:
        """Stop the running seeds whose gradient norm or TD errors were not finite."""
        if td_finite.all() and np.isfinite(norms).all():
            return
        for i in np.flatnonzero((~np.isfinite(norms) | ~td_finite) & self.active):
            what = "gradient" if not np.isfinite(norms[i]) else "TD error"
            self.diverged[i] = (f"non-finite {what} at env step {step} "
                                f"(update {update}); this run stopped there")
            self.active[i] = False
