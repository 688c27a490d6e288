"""TensorBoard logs of runs, written while they train (off by default).

``rosetta train|run|sweep --tensorboard`` makes each worker write the logs of the runs it
trains as they train (:class:`LiveLog`, fed by the DQN loop's ``monitor``: at every health
check, every :data:`LOG_EVERY` env steps and at the end), so ``tensorboard --logdir
OUTPUT_DIR/tensorboard`` shows them while the command runs; runs trained on Ray get theirs
from the calling process when they are saved, and ``rosetta tensorboard OUTPUT_DIR``
writes one for every finished run that has none, from what the run stored. Each run gets
``OUTPUT_DIR/tensorboard/RUN_ID/`` (a run trained again starts its log afresh), holding,
against env steps:

- ``episode/return``, ``episode/length``, ``episode/success``: every finished episode;
- ``health/...``: every number of each run-health check (:mod:`..agent.health`: Q spread and
  size, greedy actions, saturated and dead head units, feature spread, the mean gradient
  norm since the previous check and the norm per parameter group);
- ``train/loss`` (the Huber TD loss of the online network on a batch drawn from the run's
  replay by the log's own generator, never the run's), ``train/q_mean`` (the mean over
  the task's probe observations of the greedy Q-value), ``train/epsilon``,
  ``train/updates`` and ``train/env_steps_per_second`` (the unit's loop, seeds in lockstep
  share it): written during training only.

Needs ``tensorboardX`` to write and ``tensorboard`` to view (``pip install -e
'.[tensorboard]'`` installs both); nothing else in the package imports them. Writing a
log reads the run's state and draws from no generator of the run (the parameters' gradient
buffer a loss evaluation uses is put back), so a run's id, numbers and files do not depend
on it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..agent.result import RunResult
from ..errors import ConfigError, CorruptFileError, MissingInputError
from ..io import check_writable
from .spec import RunSpec
from .store import RunStore

FOLDER = "tensorboard"
#: Env steps between two writes of the ``train/`` scalars (also at each health check).
LOG_EVERY = 500
#: Seconds between two flushes of a live log to disk.
FLUSH_SECS = 10
#: Seed of the generator that draws the loss's batches (apart from every run's own).
LOSS_SEED = 20_261_207


def check_available() -> None:
    """A ConfigError saying how to install tensorboardX when it is missing."""
    if importlib.util.find_spec("tensorboardX") is None:
        raise ConfigError("--tensorboard needs tensorboardX: pip install -e '.[tensorboard]'")


def episode_scalars(returns, lengths, successes, start: int = 0
                    ) -> Iterable[tuple[str, float, int]]:
    """(tag, value, env step) of finished episodes, the first ending ``start`` + its
    length env steps into the run."""
    steps = start + np.cumsum(np.asarray(lengths, np.int64))
    for ret, length, success, step in zip(returns, lengths, successes, steps):
        yield "episode/return", float(ret), int(step)
        yield "episode/length", float(length), int(step)
        yield "episode/success", float(success), int(step)


def health_scalars(point: dict) -> Iterable[tuple[str, float, int]]:
    """(tag, value, env step) of one run-health check."""
    step = int(point["env_step"])
    for key, value in point.items():
        if key in ("env_step", "budget_used"):
            continue
        if isinstance(value, dict):
            for group, norm in value.items():
                if norm is not None:
                    yield f"health/{key}/{group}", float(norm), step
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"health/{key}", float(value), step


def scalars(result: RunResult) -> Iterable[tuple[str, float, int]]:
    """(tag, value, env step) of every number a finished run stored (its episodes and
    health checks)."""
    yield from episode_scalars(result.returns, result.lengths, result.successes)
    for point in result.health:
        yield from health_scalars(point)


def huber_loss(td: np.ndarray, delta: float) -> np.ndarray:
    """Mean Huber loss per row of TD errors ``td`` (S, B) -> (S,).

    >>> huber_loss(np.array([[0.5, -2.0]]), 1.0).tolist()
    [0.8125]
    """
    a = np.abs(td)
    return np.where(a <= delta, 0.5 * td * td, delta * (a - 0.5 * delta)).mean(axis=1)


def td_loss(learner, replay, rng: np.random.Generator, batch: int, delta: float
            ) -> np.ndarray | None:
    """Each seed's Huber TD loss (S,) of the online network on ``batch`` transitions drawn
    from ``replay`` by ``rng``, through the learner's own update (its ``gradient``), whose
    gradient buffer is put back after; None when the replay cannot sample yet or the
    learner has no such update."""
    if not replay.can_sample() or not callable(getattr(learner, "gradient", None)):
        return None
    both, actions, returns, discounts = replay.sample([rng] * replay.n_seeds, batch)
    grad = learner._flat()[2]
    saved = grad.clone() if hasattr(grad, "clone") else grad.copy()
    try:
        td, _ = learner.gradient(both, actions, returns, discounts)
    finally:
        if hasattr(grad, "copy_"):
            grad.copy_(saved)
        else:
            grad[...] = saved
    if not isinstance(td, np.ndarray):
        td = td.detach().double().cpu().numpy()
    return huber_loss(np.asarray(td, np.float64), delta)


class LiveLog:
    """The TensorBoard logs of one unit's runs (seeds in lockstep), written while they
    train: the DQN loop's ``monitor`` (:func:`~..agent.dqn.train_lockstep`). ``folders``
    holds each seed's log folder (emptied first: a run trained again starts afresh);
    ``config`` is the runs' DQN config."""

    def __init__(self, folders: list[Path], config, every: int = LOG_EVERY) -> None:
        from tensorboardX import SummaryWriter

        self.config, self.every = config, every
        self.writers = []
        for folder in map(Path, folders):
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            self.writers.append(SummaryWriter(logdir=str(folder), flush_secs=FLUSH_SECS))
        n = len(self.writers)
        self.episodes, self.steps, self.checks = [0] * n, [0] * n, [0] * n
        self.ended = [False] * n
        self.rng = np.random.default_rng(LOSS_SEED)
        self.last: tuple[int, float] | None = None     # (env step, clock) of the last write

    def __call__(self, state: dict) -> None:
        for i, w in enumerate(self.writers):
            rec = state["records"][i]
            new = slice(self.episodes[i], len(rec["returns"]))
            for tag, value, step in episode_scalars(rec["returns"][new], rec["lengths"][new],
                                                    rec["successes"][new], self.steps[i]):
                w.add_scalar(tag, value, step)
            self.steps[i] += int(sum(rec["lengths"][new]))
            self.episodes[i] = len(rec["returns"])
        health = state["health"]
        checked = False
        if health is not None:
            for i, w in enumerate(self.writers):
                for point in health.points[i][self.checks[i]:]:
                    checked = True
                    for tag, value, step in health_scalars(point):
                        w.add_scalar(tag, value, step)
                self.checks[i] = len(health.points[i])
        step = state["step"]
        if checked or self.last is None or step - self.last[0] >= self.every \
                or not state["active"].any():
            self._train_scalars(state, step)

    def _train_scalars(self, state: dict, step: int) -> None:
        import time

        now = time.perf_counter()
        rate = None
        if self.last is not None and now > self.last[1] and step > self.last[0]:
            rate = (step - self.last[0]) / (now - self.last[1])
        learner, health = state["learner"], state["health"]
        loss = td_loss(learner, state["replay"], self.rng, self.config.batch_size,
                       self.config.huber_delta)
        q = None
        if health is not None:
            q = np.asarray(learner.probe(health.probe_input)["q"], np.float64).max(axis=2)
        for i, w in enumerate(self.writers):
            if self.ended[i]:
                continue                     # this seed's budget ended at an earlier write
            self.ended[i] = not state["active"][i]
            w.add_scalar("train/epsilon", float(state["epsilon"]), step)
            w.add_scalar("train/updates", float(state["updates"][i]), step)
            if rate is not None:
                w.add_scalar("train/env_steps_per_second", rate, step)
            if loss is not None and np.isfinite(loss[i]):
                w.add_scalar("train/loss", float(loss[i]), step)
            if q is not None and np.isfinite(q[i]).all():
                w.add_scalar("train/q_mean", float(q[i].mean()), step)
            w.flush()
        self.last = (step, now)

    def close(self, results: list[RunResult] | None = None) -> None:
        """Close every log, each with a line naming its run's layer, seed and status."""
        for i, w in enumerate(self.writers):
            if results is not None:
                r = results[i]
                w.add_text("run", f"{r.layer}, seed {r.seed}, {r.status}")
            w.close()


def write_run_log(out_dir: Path, run_id: str, result: RunResult) -> Path:
    """Write the log of run ``run_id`` under ``out_dir/tensorboard`` (replacing an older
    one) and return its folder."""
    from tensorboardX import SummaryWriter

    root = Path(out_dir) / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    final = root / run_id
    tmp = root / f".{run_id}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with SummaryWriter(logdir=str(tmp)) as writer:
        for tag, value, step in scalars(result):
            writer.add_scalar(tag, value, step)
        writer.add_text("run", f"{result.layer}, seed {result.seed}, {result.status}")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def export_store(out_dir: Path) -> list[Path]:
    """Write the log of every finished run in ``out_dir/runs`` that has none (a log
    written while the run trained, with its ``train/`` scalars, is kept); each run is
    checked as the store reads it. Returns the folders written."""
    check_available()
    store = RunStore(Path(out_dir) / "runs")
    ids = store.finished_ids()
    if not ids:
        raise MissingInputError(f"no finished runs in {store.root}; train some first "
                                f"(rosetta train --output-dir {out_dir})")
    check_writable(Path(out_dir))
    written = []
    for run_id in ids:
        if (Path(out_dir) / FOLDER / run_id).is_dir():
            continue
        config = json.loads((store.path(run_id) / "config.json").read_text(encoding="utf-8"))
        spec = RunSpec.from_dict(config)
        if spec.run_id != run_id:         # e.g. stored before the id left out a setting
            raise CorruptFileError(f"{store.path(run_id)}: its config.json is the run "
                                   f"{spec.run_id}, not {run_id}; delete the folder (the run "
                                   f"trains again under its id)")
        written.append(write_run_log(out_dir, run_id, store.load(spec)))
    return written
