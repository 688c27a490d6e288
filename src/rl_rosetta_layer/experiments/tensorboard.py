"""TensorBoard logs of runs, written offline from what a run stores (off by default).

``rosetta train|run|sweep --tensorboard`` writes each run's log as the run is saved;
``rosetta tensorboard OUTPUT_DIR`` writes them for every finished run already in a store.
Each run gets ``OUTPUT_DIR/tensorboard/RUN_ID/`` (``tensorboard --logdir
OUTPUT_DIR/tensorboard`` shows them side by side), holding, against env steps:

- ``episode/return``, ``episode/length``, ``episode/success``: every finished episode;
- ``health/...``: every number of each run-health check (:mod:`..agent.health`: Q spread and
  size, greedy actions, saturated and dead head units, feature spread, the mean gradient
  norm since the previous check and the norm per parameter group). The DQN keeps no
  per-update loss, so the gradient norms are its optimisation record.

The log is written to a temporary folder and renamed into place, so a log is whole or
absent. Needs ``tensorboardX`` (``pip install -e '.[tensorboard]'``); nothing else in the
package imports it, and a run's id and files do not depend on it.
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


def check_available() -> None:
    """A ConfigError saying how to install tensorboardX when it is missing."""
    if importlib.util.find_spec("tensorboardX") is None:
        raise ConfigError("--tensorboard needs tensorboardX: pip install -e '.[tensorboard]'")


def scalars(result: RunResult) -> Iterable[tuple[str, float, int]]:
    """(tag, value, env step) of every number the log holds for ``result``."""
    steps = np.cumsum(result.lengths)
    for ret, length, success, step in zip(result.returns, result.lengths, result.successes,
                                          steps):
        yield "episode/return", float(ret), int(step)
        yield "episode/length", float(length), int(step)
        yield "episode/success", float(success), int(step)
    for point in result.health:
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
    """Write the log of every finished run in ``out_dir/runs`` (each checked as the store
    reads it); return the folders written."""
    check_available()
    store = RunStore(Path(out_dir) / "runs")
    ids = store.finished_ids()
    if not ids:
        raise MissingInputError(f"no finished runs in {store.root}; train some first "
                                f"(rosetta train --output-dir {out_dir})")
    check_writable(Path(out_dir))
    written = []
    for run_id in ids:
        config = json.loads((store.path(run_id) / "config.json").read_text(encoding="utf-8"))
        spec = RunSpec.from_dict(config)
        if spec.run_id != run_id:         # e.g. stored before the id left out a setting
            raise CorruptFileError(f"{store.path(run_id)}: its config.json is the run "
                                   f"{spec.run_id}, not {run_id}; delete the folder (the run "
                                   f"trains again under its id)")
        written.append(write_run_log(out_dir, run_id, store.load(spec)))
    return written
