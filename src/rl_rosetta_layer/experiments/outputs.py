"""Seed-compatible result files: per-episode returns, the summary, and one folder per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import stats
from ..agent.result import RunResult
from ..errors import CorruptFileError
from ..io import write_csv
from ..provenance import git_commit, versions  # noqa: F401 - API
from .spec import RunSpec
from .store import RunStore

#: The seed's columns first; new ones after.
RETURNS_COLUMNS = ("layer", "seed", "episode", "return", "env_steps", "length", "success",
                   "status")
SEED_SUMMARY_COLUMNS = ("layer", "mean_last_50", "std_last_50", "mean_auc")
SUMMARY_COLUMNS = SEED_SUMMARY_COLUMNS + ("n_seeds", "success_last_50", "mean_env_steps",
                                          "runs_not_ok") + stats.SUMMARY_COLUMNS + (
    "runs_flagged", "flags")
#: One row per run: its status, the flags of its last health check and that check's numbers.
HEALTH_COLUMNS = ("q_spread", "q_abs", "greedy_actions", "greedy_top_share", "saturated_share",
                  "dead_share", "feature_std", "feature_rel_std", "grad_norm_mean")
RUNS_FILE = "experiment_runs.csv"
RUNS_COLUMNS = ("layer", "seed", "status", "flags", "episodes", "env_steps", "updates",
                "mean_last_50") + HEALTH_COLUMNS + ("final_eval", "auc_eval", "run_id")
#: One row per run and evaluation checkpoint (runs trained with ``eval_checkpoints``).
EVALUATIONS_FILE = "experiment_evaluations.csv"
EVALUATIONS_COLUMNS = ("layer", "seed", "checkpoint", "env_steps", "episodes", "mean_return",
                       "success_rate", "mean_length")
LAST = 50


def returns_rows(results: Sequence[RunResult]):
    """One row per episode of every run (episodes numbered from 0)."""
    for r in results:
        steps = r.env_steps
        for e in range(len(r.returns)):
            yield {"layer": r.layer, "seed": r.seed, "episode": e, "return": float(r.returns[e]),
                   "env_steps": int(steps[e]), "length": int(r.lengths[e]),
                   "success": int(r.successes[e]), "status": r.status}


def final_return(r: RunResult, last: int = LAST) -> float:
    """Mean return over a run's last ``last`` episodes (NaN if it has none)."""
    return float(np.mean(r.returns[-last:])) if len(r.returns) else float("nan")


def final_matrix(results: Sequence[RunResult], layers: Sequence[str]):
    """(seeds, layers) final returns over the seeds every layer finished without error.

    Returns the matrix and those seeds.
    """
    ok = {(r.layer, r.seed): r for r in results if r.status == "ok"}
    seeds = sorted({r.seed for r in results})
    common = [s for s in seeds if all((layer, s) in ok for layer in layers)]
    x = np.array([[final_return(ok[(layer, s)]) for layer in layers] for s in common])
    return x.reshape(len(common), len(layers)), common


def runs_rows(results: Sequence[RunResult]):
    """One row per run: status, flags (';'-joined, '' when healthy), the numbers of its
    last health check (empty when it was not checked), its evaluations' final and mean
    returns (empty without evaluations) and its run id (its folder under ``runs/``)."""
    for r in results:
        last = r.health[-1] if r.health else {}
        yield {"layer": r.layer, "seed": r.seed, "status": r.status, "flags": ";".join(r.flags),
               "episodes": len(r.returns), "env_steps": int(r.lengths.sum()),
               "updates": r.updates, "mean_last_50": final_return(r),
               **{k: "" if last.get(k) is None else last[k] for k in HEALTH_COLUMNS},
               "final_eval": r.final_eval if r.evaluations else "",
               "auc_eval": r.auc_eval if r.evaluations else "",
               "run_id": r.extra.get("run_id", "")}


def evaluation_rows(results: Sequence[RunResult]):
    """One row per run and evaluation checkpoint: the greedy episodes' means."""
    for r in results:
        for e in r.evaluations:
            yield {"layer": r.layer, "seed": r.seed, "checkpoint": e["checkpoint"],
                   "env_steps": e["env_steps"], "episodes": len(e["returns"]),
                   "mean_return": float(np.mean(e["returns"])),
                   "success_rate": float(np.mean(e["successes"])),
                   "mean_length": float(np.mean(e["lengths"]))}


def flag_counts(runs: Sequence[RunResult]) -> str:
    """'constant_policy x2; saturated_head x1' over the runs' flags ('' when none)."""
    counts: dict[str, int] = {}
    for r in runs:
        for f in r.flags:
            counts[f] = counts.get(f, 0) + 1
    return "; ".join(f"{k} x{v}" for k, v in counts.items())


def summary_rows(results: Sequence[RunResult], rng: np.random.Generator) -> list[dict]:
    """The summary per layer, sorted best first by mean_last_50.

    ``std_last_50`` is the standard deviation across seeds of each seed's last-50 mean;
    ``mean_auc`` is the mean return over all episodes (the area under the learning curve
    divided by its length), averaged over seeds. Diverged or failed runs are left out of
    every number and counted in ``runs_not_ok``. Finished runs whose last health check
    raised a flag (a constant greedy policy, a saturated head: the pipeline failed, not
    necessarily the layer) stay in the numbers and are counted in ``runs_flagged``, with
    their flags in ``flags``: a layer with flagged runs has no result to read.
    """
    layers = list(dict.fromkeys(r.layer for r in results))
    rows = []
    for layer in layers:
        runs = [r for r in results if r.layer == layer]
        good = [r for r in runs if r.status == "ok"]
        finals = np.array([final_return(r) for r in good])
        row = {
            "layer": layer,
            "mean_last_50": float(finals.mean()) if len(good) else float("nan"),
            "std_last_50": float(finals.std()) if len(good) else float("nan"),
            "mean_auc": float(np.mean([r.returns.mean() for r in good])) if good else float("nan"),
            "n_seeds": len(good),
            "success_last_50": (float(np.mean([r.successes[-LAST:].mean() for r in good]))
                                if good else float("nan")),
            "mean_env_steps": (float(np.mean([r.lengths.sum() for r in good]))
                               if good else float("nan")),
            "runs_not_ok": len(runs) - len(good),
            "runs_flagged": sum(bool(r.flags) for r in good),
            "flags": flag_counts(good),
        }
        if len(good):
            row.update(stats.summary_columns(finals[:, None], rng, layers=[layer])[0])
        else:
            row.update({c: float("nan") for c in stats.SUMMARY_COLUMNS})
            row["ci_method"], row["ci_note"] = "", "not computable: no finished run"
        rows.append(row)
    rows.sort(key=lambda r: -np.inf if np.isnan(r["mean_last_50"]) else -r["mean_last_50"])
    return rows


def write_experiment_outputs(out_dir: Path, results: Sequence[RunResult],
                             rng: np.random.Generator) -> list[dict]:
    """Write ``experiment_returns.csv``, ``experiment_runs.csv`` and
    ``experiment_summary.csv``; return the summary."""
    write_csv(out_dir / "experiment_returns.csv", returns_rows(results), RETURNS_COLUMNS)
    write_csv(out_dir / RUNS_FILE, runs_rows(results), RUNS_COLUMNS)
    if any(r.evaluations for r in results):
        write_csv(out_dir / EVALUATIONS_FILE, evaluation_rows(results), EVALUATIONS_COLUMNS)
    else:                         # never leave one that describes other runs than these
        (out_dir / EVALUATIONS_FILE).unlink(missing_ok=True)
    summary = summary_rows(results, rng)
    write_csv(out_dir / "experiment_summary.csv", summary, SUMMARY_COLUMNS)
    return summary


def write_run(runs_dir: Path, spec: RunSpec, result: RunResult, executor: str = "") -> Path:
    """Atomically write the run's folder ``runs_dir/<run_id>/`` (see :mod:`.store`)."""
    return RunStore(runs_dir).write(spec, result, executor)


def load_run(path: Path) -> RunResult:
    """The run stored in the folder ``path`` (``runs/<run_id>``)."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        spec = RunSpec.from_dict(config)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path} is not a run folder with a readable config.json: "
                               f"{exc}") from exc
    return RunStore(path.parent).load(spec)
