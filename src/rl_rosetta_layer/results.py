"""Outputs read back as tables, for notebooks: :func:`load` and :func:`to_rliable`.

A table is a pandas ``DataFrame`` when pandas is installed, else a dict of numpy arrays,
one per column (a "tidy" table either way: one row per observation, one column per
variable). Columns of integers become int64, of numbers float64 (an empty cell is NaN),
anything else str. The files are read with the same checks as ``rosetta report`` (a
missing column or a file cut short raises :class:`~rl_rosetta_layer.errors.CorruptFileError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, MissingInputError
from .io import read_csv

#: Tables :func:`load` reads: attribute -> file.
FILES = {"returns": "experiment_returns.csv", "summary": "experiment_summary.csv",
         "runs": "experiment_runs.csv", "analysis": "layer_analysis.csv",
         "comparisons": "comparisons.csv"}


def _column(values: list[str]) -> np.ndarray:
    """A CSV column as int64, float64 (empty cells NaN) or str."""
    present = [v for v in values if v != ""]
    if not present:
        return np.array(values, dtype=str)
    if len(present) == len(values):
        try:
            return np.array([int(v) for v in values], dtype=np.int64)
        except ValueError:
            pass
    try:
        return np.array([float(v) if v != "" else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def table(rows: list[dict], columns: list[str] | None = None, *, pandas: bool | None = None):
    """``rows`` (dicts of CSV text) as a tidy table (see the module docstring).

    >>> t = table([{"layer": "a", "seed": "0", "x": "0.5"}, {"layer": "b", "seed": "1",
    ...                                                      "x": ""}], pandas=False)
    >>> t["seed"].tolist(), t["x"].tolist(), t["layer"].tolist()
    ([0, 1], [0.5, nan], ['a', 'b'])
    """
    columns = list(columns if columns is not None else (rows[0] if rows else []))
    data = {c: _column([r[c] for r in rows]) for c in columns}
    if pandas is None:
        try:
            import pandas as pd
        except ImportError:
            return data
        return pd.DataFrame(data, columns=columns)
    if pandas:
        import pandas as pd

        return pd.DataFrame(data, columns=columns)
    return data


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        return f.readline().rstrip("\r\n").split(",")


@dataclass(frozen=True)
class Outputs:
    """The tables of one output folder; a table whose file is absent is None."""

    output_dir: Path
    returns: Any
    """``experiment_returns.csv``: one row per episode (layer, seed, episode, return, ...)."""
    summary: Any
    """``experiment_summary.csv``: one row per layer."""
    runs: Any
    """``experiment_runs.csv``: one row per run (status, flags, last health check)."""
    analysis: Any
    """``layer_analysis.csv``: one row per analysed layer (scores with CIs)."""
    comparisons: Any
    """``comparisons.csv``: the selected layer against every other (``rosetta report``)."""
    selected: str | None
    """The layer in ``selected_layer.txt``."""


def load(output_dir: str | Path = "outputs", *, pandas: bool | None = None) -> Outputs:
    """The returns, summary, runs, analysis and comparisons of ``output_dir`` as tidy
    tables (``pandas``: None uses pandas when installed; False always gives dicts of numpy
    arrays). Raises MissingInputError when the folder holds none of them."""
    from .analysis.run import SELECTED_FILE, read_selected

    out = Path(output_dir)
    if not out.is_dir():
        raise MissingInputError(f"output folder {out} does not exist; run `rosetta run` (or "
                                f"rr.run) first")
    tables = {}
    for name, file in FILES.items():
        path = out / file
        if path.is_file():
            header = _header(path)
            tables[name] = table(read_csv(path, header[:1]), header, pandas=pandas)
        else:
            tables[name] = None
    selected = read_selected(out) if (out / SELECTED_FILE).is_file() else None
    if all(t is None for t in tables.values()) and selected is None:
        raise MissingInputError(f"{out} holds none of {', '.join(FILES.values())}; run "
                                f"`rosetta run` (or rr.run) first")
    return Outputs(out, selected=selected, **tables)


def _study_tasks(out: Path) -> list[str] | None:
    if not (out / "study_plan.json").is_file():
        return None
    from .experiments.study import read_plan

    return [e["name"] for e in read_plan(out)["envs"]]


def to_rliable(output_dir: str | Path = "outputs", *, normalize: bool = False
               ) -> dict[str, np.ndarray]:
    """``{layer: scores (runs, tasks)}``, the score dict rliable's functions take
    (``rliable.library.get_interval_estimates(to_rliable(out), ...)``).

    A score is a run's mean return over its last 50 episodes; a diverged or failed run has
    none and is left out. ``output_dir`` of ``rosetta train`` or ``run`` gives one task
    (one column); a study's folder (``rosetta study``) gives one column per task, in the
    study's order, keeping for each layer the seeds it finished on every task. With
    ``normalize`` (a study only) scores are fractions of the achievable:
    ``(score - random) / (reference - random)`` with the policies' returns of ``tasks.csv``.
    Rows follow the seeds in increasing order.
    """
    from .report.statistics import final_returns

    out = Path(output_dir)
    tasks = _study_tasks(out)
    if normalize and tasks is None:
        raise ConfigError(f"normalize=True needs a study folder (with study_plan.json and "
                          f"tasks.csv); {out} is not one")
    folders = [out] if tasks is None else [out / t for t in tasks]
    finals = [final_returns(f) for f in folders]
    scale = None
    if normalize:
        from .report.study.data import StudyData

        scale = StudyData(out, tasks)
    scores: dict[str, np.ndarray] = {}
    for layer in finals[0]:
        if not all(layer in f for f in finals):
            continue
        seeds = sorted(set.intersection(*(set(f[layer]) for f in finals)))
        if not seeds:
            continue
        x = np.array([[f[layer][s] for f in finals] for s in seeds], dtype=np.float64)
        if scale is not None:
            x = np.stack([scale.normalise(t, x[:, j]) for j, t in enumerate(tasks)], axis=1)
        scores[layer] = x
    if not scores:
        raise MissingInputError(f"{out} has no finished run of a layer on every task; run "
                                f"`rosetta train` (or rr.train) first")
    return scores
