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
from .network import QNetwork
from .optim import SGD, Adam, clip_by_norm
from .replay import LockstepReplay
from .result import RunResult

ProgressFn = Callable[[int], None]


def huber_grad(delta: np.ndarray, kappa: float) -> np.ndarray:
    """d/d(delta) of the Huber loss: delta clipped to [-kappa, kappa]."""
    return np.clip(delta, -kappa, kappa)


def train_lockstep(env, layer, seeds: list[int], config: DQNConfig, *,
                   progress: ProgressFn | None = None) -> list[RunResult]:
    """Train one agent per seed on copies of ``env`` (a vector env with len(seeds) copies).

    Returns one :class:`RunResult` per seed, in the order of ``seeds``. A seed whose loss or
    gradient becomes NaN or infinite stops there, is marked diverged with the reason, and the
    others go on. ``progress(n)`` is called with the number of episodes just finished.
    """
    start = time.perf_counter()
    n = len(seeds)
    gens = [run_generators(s) for s in seeds]
    env.seed_with([g["env"] for g in gens])
    explore = [g["explore"] for g in gens]
    sampler = [g["replay"] for g in gens]
    net = QNetwork(env.obs_dim, layer, env.n_actions, adapter=config.adapter,
                   rank=config.adapter_rank, init_noise=config.init_noise,
                   head=config.head, head_hidden=config.head_hidden)
    online = net.init([g["init"] for g in gens])
    target = online.copy()
    grad = online.zeros_like()
    # The input adapter's parameters lead each row: plain SGD there, Adam for the rest.
    split = net.n_adapter_params()
    optimizers = [(slice(0, split), SGD(online.data[:, :split], config.adapter_lr)),
                  (slice(split, None), Adam(online.data[:, split:], config.lr,
                                            eps=config.adam_eps))]
    replay = LockstepReplay(n, config.buffer_size, env.obs_dim, n_step=config.n_step,
                            gamma=config.gamma)

    records = [{"returns": [], "lengths": [], "successes": []} for _ in range(n)]
    active = np.ones(n, bool)          # still inside its episode budget and not diverged
    diverged = [""] * n
    ep_return = np.zeros(n)
    ep_len = np.zeros(n, np.int64)
    obs, _ = env.reset()
    step = updates = 0
    seed_updates = np.zeros(n, np.int64)   # updates while each seed was still running
    batch = config.batch_size
    seed_rows, batch_rows = np.arange(n)[:, None], np.arange(batch)[None, :]
    while active.any():
        # ---- act: epsilon-greedy, each seed drawing from its own generator
        eps = config.epsilon(step)
        explore_now = [rng.random() < eps for rng in explore]
        actions = np.zeros(n, np.int64)
        if not all(explore_now):
            actions[:] = net.forward(online, obs[:, None, :])[:, 0].argmax(axis=1)
        for i, rng in enumerate(explore):
            if explore_now[i]:
                actions[i] = rng.integers(env.n_actions)
        next_obs, reward, terminated, truncated, info = env.step(actions)
        done = terminated | truncated
        stored_next = info["final_obs"] if done.any() else next_obs
        replay.add(obs, actions, reward, stored_next, terminated, done)
        obs = next_obs
        step += 1
        ep_return += reward
        ep_len += 1
        finished = 0
        for i in np.flatnonzero(done):
            if active[i]:
                rec = records[i]
                rec["returns"].append(float(ep_return[i]))
                rec["lengths"].append(int(ep_len[i]))
                rec["successes"].append(bool(terminated[i]))
                finished += 1
                if len(rec["returns"]) >= config.episodes:
                    active[i] = False
            ep_return[i] = 0.0
            ep_len[i] = 0
        if finished and progress is not None:
            progress(finished)

        # ---- learn
        if step >= config.learning_starts and step % config.train_every == 0 \
                and replay.can_sample():
            both, a, ret, disc = replay.sample(sampler, batch)     # both = [o; o2]
            q_next_target = net.forward(target, both[:, batch:])
            if config.double_dqn:
                # One online pass over [o; o2]: Q(o) for the loss, Q(o2) to pick actions.
                q_both, cache = net.forward(online, both, train=True, keep=batch)
                q = q_both[:, :batch]
                best = q_both[:, batch:].argmax(axis=2)
            else:
                q, cache = net.forward(online, both[:, :batch], train=True)
                best = q_next_target.argmax(axis=2)
            y = ret + disc * q_next_target[seed_rows, batch_rows, best]
            td = q[seed_rows, batch_rows, a] - y
            dq = np.zeros_like(q)
            dq[seed_rows, batch_rows, a] = huber_grad(td, config.huber_delta) / batch
            net.backward(online, cache, dq, grad)
            norms = clip_by_norm(grad.data, config.grad_clip)
            bad = ~np.isfinite(norms) | ~np.isfinite(td).all(axis=1)
            if bad.any():
                for i in np.flatnonzero(bad & active):
                    what = "gradient" if not np.isfinite(norms[i]) else "TD error"
                    diverged[i] = (f"non-finite {what} at env step {step} "
                                   f"(update {updates + 1}); this run stopped there")
                    active[i] = False
                # Park stopped seeds at zero so their NaNs cannot spread into warnings.
                stop = np.flatnonzero(bad)
                online.data[stop] = 0.0
                target.data[stop] = 0.0
                grad.data[stop] = 0.0
                for _, opt in optimizers:
                    opt.reset_rows(stop)
            for part, opt in optimizers:
                opt.step(grad.data[:, part])
            updates += 1
            seed_updates += active
            if updates % config.target_update == 0:
                target.copy_from(online)

    wall = time.perf_counter() - start
    return [RunResult(layer=layer.name, seed=int(seeds[i]),
                      returns=np.asarray(records[i]["returns"], np.float64),
                      lengths=np.asarray(records[i]["lengths"], np.int64),
                      successes=np.asarray(records[i]["successes"], bool),
                      diverged=bool(diverged[i]), error=diverged[i],
                      updates=int(seed_updates[i]),
                      wall_seconds=wall, extra={"lockstep": n})
            for i in range(n)]
