"""Shared pieces of the benchmark scripts: machine report, one BLAS thread, tables, FLOP
counts from shapes, the SB3-matched DQN schedule, a Gymnasium view of the grid, and the
library's own agent update, timed part by part.

Every script prints :func:`machine_lines` first and runs its work inside
:func:`one_thread` (one BLAS thread for numpy, and for torch when it is loaded), so the
numbers of both sides of a comparison come from the same single core.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info

from rl_rosetta_layer.agent import DQNConfig
from rl_rosetta_layer.agent.learner import make_learner
from rl_rosetta_layer.agent.network import QNetwork
from rl_rosetta_layer.agent.replay import LockstepReplay
from rl_rosetta_layer.agent.update import PARTS as UPDATE_PARTS
from rl_rosetta_layer.envs import VideoGridEnv, make_vector_env
from rl_rosetta_layer.layers.baselines import TrainableBody
from rl_rosetta_layer.seeding import run_generators
from rl_rosetta_layer.threads import one_thread  # noqa: F401 - the scripts import it here

# ----------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def blas_lines() -> list[str]:
    """One line per BLAS/OpenMP library loaded in this process (threadpoolctl's view)."""
    out = []
    for lib in threadpool_info():
        name = lib.get("internal_api", "?")
        arch = lib.get("architecture") or ""
        out.append(f"{lib.get('user_api', '?')}: {name} {lib.get('version') or ''}"
                   f"{' (' + arch + ')' if arch else ''}, {lib.get('num_threads')} threads, "
                   f"{os.path.basename(lib.get('filepath', ''))}")
    return out


def machine_lines() -> list[str]:
    """What the numbers were measured on: CPU, cores, numpy, BLAS kernel, load."""
    flags = cpu_flags()
    simd = ",".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                    if f in flags) or "-"
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    lines = [f"machine: {cpu_model()} ({simd}), {os.cpu_count()} cores, "
             f"load average {load}",
             f"python {platform.python_version()}, numpy {np.__version__}"]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        lines[-1] += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    lines += [f"  {b}" for b in blas_lines()]
    return lines


def print_machine() -> None:
    for line in machine_lines():
        print(line)
    print()




# ------------------------------------------------------------------------------------ output


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


def spread(xs: Sequence[float], fmt: str = "{:.0f}") -> str:
    """'median (min-max)' of repeated measurements."""
    if not len(xs):
        return "-"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table (readable in a terminal, pasteable into bench/README.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    def fmt(r):
        return "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"
    print(fmt(cells[0]))
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for r in cells[1:]:
        print(fmt(r))


#: The clock of every timing in bench/: CPU seconds of the calling thread. With one thread
#: it equals wall time on a quiet core, and it does not count the time other jobs on a busy
#: machine take the core away (measured here: wall time was 2x the CPU time under load).
clock = time.thread_time


#: Smoke-test mode (``--quick``): timings take a few rounds of a few milliseconds.
QUICK = False


def best_time(fn: Callable[[], object], *, repeat: int = 5, min_seconds: float = 0.05) -> float:
    """Best over ``repeat`` rounds of the mean CPU seconds per call (rounds of at least
    ``min_seconds``). The best round is the least disturbed one: the machine's limit.
    """
    if QUICK:
        repeat, min_seconds = min(repeat, 2), min(min_seconds, 0.002)
    fn()
    n, t = 1, 0.0
    while True:
        start = clock()
        for _ in range(n):
            fn()
        t = clock() - start
        if t >= min_seconds:
            break
        n *= 2
    best = t / n
    for _ in range(repeat - 1):
        start = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - start) / n)
    return best


# ------------------------------------------------------------------------- the matched schedule

#: The schedule both sides use in bench/vs_sb3.py (SB3's names in brackets).
MATCHED = dict(
    batch_size=64,          # batch_size
    buffer_size=20_000,     # buffer_size
    learning_starts=500,    # learning_starts
    gamma=0.98,             # gamma
    train_every=1,          # train_freq=1, gradient_steps=1
    n_step=1,               # (SB3's DQN is one-step)
    target_update=500,      # target_update_interval (ours counts updates, SB3 env steps)
    eps_start=1.0,          # exploration_initial_eps
    eps_end=0.05,           # exploration_final_eps
    eps_decay_steps=10_000,  # exploration_fraction = 10_000 / total steps
    lr=1e-3,                # learning_rate (Adam on both sides)
    adam_eps=1e-8,          # torch.optim.Adam's default eps
    grad_clip=10.0,         # max_grad_norm
    huber_delta=1.0,        # smooth_l1_loss
    double_dqn=False,       # SB3's DQN is not Double DQN
)


def matched_config(episodes: int) -> DQNConfig:
    """Our DQN with SB3's DQN schedule: one-step, one update per env step, no Double DQN,
    a plain network (``adapter='none'``, ``head='linear'``) so the trainable body is the MLP."""
    return DQNConfig(episodes=episodes, adapter="none", head="linear", **MATCHED)


def mlp_body(hidden: int, obs_dim: int = 256) -> TrainableBody:
    """One trainable tanh hidden layer of ``hidden`` units (the shape of ``mlp_full``)."""
    return TrainableBody(f"mlp_{hidden}", obs_dim, hidden)


# ------------------------------------------------------------------------ Gymnasium wrapper

try:  # gymnasium is a bench extra: only vs_sb3.py needs it
    import gymnasium as _gym
except ImportError:  # pragma: no cover - exercised only without the extra
    _gym = None


class GridGymEnv(_gym.Env if _gym is not None else object):
    """The seed's grid as a ``gymnasium.Env``: Box(0, 1, (256,), float32), Discrete(5).

    Records every finished episode's return and success, so a benchmark can read the
    returns an SB3 agent reached without SB3's logger.
    """

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        if _gym is None:
            raise ImportError("gymnasium is not installed: pip install -e '.[bench]'")
        self._env = VideoGridEnv()
        d = self._env.obs_dim
        self.observation_space = _gym.spaces.Box(0.0, 1.0, (d,), np.float32)
        self.action_space = _gym.spaces.Discrete(self._env.n_actions)
        self.episode_returns: list[float] = []
        self.episode_successes: list[bool] = []
        self._ret = 0.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        # A seed restarts the grid's own generator; None continues its stream.
        obs, _ = self._env.reset(seed=seed)
        self._ret = 0.0
        return obs, {}

    def step(self, action):
        obs, reward, terminated, truncated, info = self._env.step(int(action))
        self._ret += reward
        if terminated or truncated:
            self.episode_returns.append(self._ret)
            self.episode_successes.append(bool(terminated))
        return obs, reward, terminated, truncated, {"success": bool(info["success"])}


# ------------------------------------------------------------------------ FLOPs from shapes


@dataclass(frozen=True)
class MatMul:
    """``count`` float32 products (m x k) @ (k x n) per seed: 2 m k n FLOPs each."""

    label: str
    m: int
    k: int
    n: int
    count: int = 1

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def _pre_width(net: QNetwork) -> int:
    """M, the pre-activations of a folded layer's input map (``QNetwork.fold``)."""
    return net.input_map[0].shape[1]


def forward_matmuls(net: QNetwork, rows: int, tag: str) -> list[MatMul]:
    """The products of one forward pass of ``net`` over ``rows`` observation codes (a
    folded network reads the layer's output, or ``[x, x W + b]``: see ``QNetwork.fold``)."""
    d, k, a = net.obs_dim, net.layer.output_dim, net.n_actions
    out = []
    if net.fold == "input_map":
        out += [MatMul(f"{tag} x@U", rows, d, net.rank),
                MatMul(f"{tag} t@(VW)", rows, net.rank, _pre_width(net))]
    elif net.fold is None:
        if net.adapter == "dense":
            out.append(MatMul(f"{tag} x@A", rows, d, d))
        elif net.adapter == "lowrank":
            out += [MatMul(f"{tag} x@U", rows, d, net.rank),
                    MatMul(f"{tag} t@V", rows, net.rank, d)]
        if net.trainable_body or hasattr(net.layer, "weight"):
            out.append(MatMul(f"{tag} h@W1", rows, d, k))
        elif hasattr(net.layer, "projection"):
            p = net.layer.projection
            out.append(MatMul(f"{tag} layer", rows, p.shape[0], p.shape[1]))
    if net.head == "mlp":
        out += [MatMul(f"{tag} z@W2", rows, k, net.head_hidden),
                MatMul(f"{tag} u@Wo", rows, net.head_hidden, a)]
    else:
        out.append(MatMul(f"{tag} z@Wo", rows, k, a))
    return out


def update_matmuls(net: QNetwork, batch: int, double_dqn: bool) -> list[MatMul]:
    """Every matrix product of one agent update of ``net`` (one seed), as dqn.py runs it:
    target forward on the bootstrap batch, online forward (on [o; o2] with Double DQN),
    backward to the trainable parameters (and through the layer when an input adapter
    trains), and for a folded input map the online ``V W`` it recomputes after the step."""
    d, k, a = net.obs_dim, net.layer.output_dim, net.n_actions
    mm = forward_matmuls(net, batch, "target fwd")
    mm += forward_matmuls(net, 2 * batch if double_dqn else batch, "online fwd")
    kk = net.head_hidden if net.head == "mlp" else k
    mm += [MatMul("bwd dWo", kk, batch, a), MatMul("bwd dq@Wo^T", batch, a, kk)]
    if net.head == "mlp":
        mm += [MatMul("bwd dW2", k, batch, net.head_hidden),
               MatMul("bwd dz@W2^T", batch, net.head_hidden, k)]
    if net.trainable_body:
        mm.append(MatMul("bwd dW1", d, batch, k))
    if net.adapter == "none":
        return mm
    r = net.rank
    if net.fold == "input_map":
        m = _pre_width(net)
        return mm + [MatMul("bwd t^T dpre", r, batch, m),
                     MatMul("bwd dV = (t^T dpre) W^T", r, m, d),
                     MatMul("bwd dpre (VW)^T", batch, m, r), MatMul("bwd dU", d, batch, r),
                     MatMul("refold V@W", r, d, m)]
    mm.append(MatMul("bwd dz@W1^T (input grad)", batch, k, d))
    if net.adapter == "dense":
        mm.append(MatMul("bwd dA", d, batch, d))
    else:
        mm += [MatMul("bwd dV", r, batch, d), MatMul("bwd dh@V^T", batch, d, r),
               MatMul("bwd dU", d, batch, r)]
    return mm


def total_flops(mms: Sequence[MatMul]) -> int:
    return sum(m.flops for m in mms)


def time_matmuls(mms: Sequence[MatMul], n_seeds: int = 1, repeat: int = 7) -> list[float]:
    """Best seconds of each product, float32, stacked over ``n_seeds`` as dqn.py calls it
    ((S, m, k) @ (S, k, n)), in this process and thread setting."""
    rng = np.random.default_rng(0)
    times = []
    for m in mms:
        x = rng.standard_normal((n_seeds, m.m, m.k), dtype=np.float32)
        w = rng.standard_normal((n_seeds, m.k, m.n), dtype=np.float32)
        out = np.empty((n_seeds, m.m, m.n), np.float32)
        times.append(best_time(lambda x=x, w=w, out=out: np.matmul(x, w, out=out),
                               repeat=repeat) * m.count)
    return times


# --------------------------------------------------------------- one update of the library


class UpdateBench:
    """The library's own agent update (``NumpyLearner.update``, the one DQN update of
    ``rl_rosetta_layer/agent/update.py``) on a replay filled by a random policy, with the
    learner's ``profile`` saying where its time goes (CPU seconds of this thread).
    """

    PARTS = ("replay sample", *UPDATE_PARTS)

    def __init__(self, layer, config: DQNConfig, n_seeds: int = 1, fill: int = 2_000) -> None:
        self.config, self.n = config, n_seeds
        env = make_vector_env("grid", n_seeds)
        gens = [run_generators(s) for s in range(n_seeds)]
        env.seed_with([g["env"] for g in gens])
        self.sampler = [g["replay"] for g in gens]
        self.learner = make_learner(layer, env.obs_dim, env.n_actions, config,
                                    [g["init"] for g in gens])
        self.learner.profile_clock = clock
        self.net = self.learner.net
        # The replay holds the learner's codes of the observations, as the DQN loop's does.
        self.replay = LockstepReplay(n_seeds, config.buffer_size, self.net.code_dim,
                                     n_step=config.n_step, gamma=config.gamma)
        rng = np.random.default_rng(0)
        obs, _ = env.reset()
        encode = self.learner.encode
        for _ in range(fill):
            actions = rng.integers(env.n_actions, size=n_seeds)
            nxt, r, term, trunc, info = env.step(actions)
            done = term | trunc
            self.replay.add(encode(obs), actions, r,
                            encode(info["final_obs"] if done.any() else nxt), term, done)
            obs = nxt
        self.env, self.obs = env, obs
        self.totals = dict.fromkeys(self.PARTS, 0.0)
        self.count = 0

    def update(self, timed: bool = False) -> None:
        """One update; with ``timed`` the seconds of each part are added to ``totals``."""
        self.learner.profile = self.totals if timed else None
        t0 = clock()
        batch = self.replay.sample(self.sampler, self.config.batch_size)
        if timed:
            self.totals["replay sample"] += clock() - t0
            self.count += 1
        self.learner.update(*batch)

    def seconds_per_update(self, n: int = 300, repeat: int = 3) -> float:
        """Best over ``repeat`` rounds of the mean CPU seconds of one update."""
        for _ in range(10):
            self.update()
        best = float("inf")
        for _ in range(repeat):
            start = clock()
            for _ in range(n):
                self.update()
            best = min(best, (clock() - start) / n)
        return best

    def part_seconds(self, n: int = 300, rounds: int = 3) -> dict[str, float]:
        """Seconds of each part: the least, over ``rounds``, of its mean over ``n`` updates."""
        best = dict.fromkeys(self.PARTS, float("inf"))
        for _ in range(rounds):
            self.totals = dict.fromkeys(self.PARTS, 0.0)
            self.count = 0
            for _ in range(n):
                self.update(timed=True)
            for k, v in self.totals.items():
                best[k] = min(best[k], v / self.count)
        return best

    def loop_part_seconds(self, n: int = 300, rounds: int = 3) -> dict[str, float]:
        """Seconds of the per-env-step work around the update (least over ``rounds`` of
        the mean over ``n`` steps): encoding the new observations (the learner's codes),
        acting (greedy forward of one observation per seed), the env step and the replay
        add."""
        env, learner, replay = self.env, self.learner, self.replay
        best = dict.fromkeys(("encode", "act (greedy forward)", "env step", "replay add"),
                             float("inf"))
        for _ in range(rounds):
            obs, code = self.obs, learner.encode(self.obs)
            spent = dict.fromkeys(best, 0.0)
            for _ in range(n):
                t0 = clock()
                actions = learner.act(code)
                t1 = clock()
                nxt, r, term, trunc, info = env.step(actions)
                done = term | trunc
                t2 = clock()
                next_code = learner.encode(nxt)
                stored = learner.encode(info["final_obs"]) if done.any() else next_code
                t3 = clock()
                replay.add(code, actions, r, stored, term, done)
                t4 = clock()
                obs, code = nxt, next_code
                for k, dt in zip(spent, (t3 - t2, t1 - t0, t2 - t1, t4 - t3)):
                    spent[k] += dt
            self.obs = obs
            for k, v in spent.items():
                best[k] = min(best[k], v / n)
        return best


def env_steps(results) -> int:
    """Env steps the runs spent inside their episode budgets."""
    return int(sum(int(np.sum(r.lengths)) for r in results))


def last_mean(xs: Sequence[float], n: int = 50) -> float:
    xs = list(xs)[-n:]
    return float(np.mean(xs)) if xs else float("nan")

