"""The study's statistics, tables and paper section, from the files ``rosetta study`` wrote.

The rules (normalisation, units, verdicts) are in :mod:`.data`, the tables in
:mod:`.tables`. Files (under the study folder):

- ``study_layers.csv``: per task and pooled ('all'): each layer's kind, IQM of the final
  return with its 95 % CI, the same normalised, the analysis' composite score, the ranks
  by score and by return, and its runs flagged by the health check (on the 'all' rows
  every return column is normalised).
- ``study_controls.csv``: can the pipeline learn, and do its learners agree: the positive
  control's return, the bypass against numpy ``identity``, ``NAME@torch`` against
  ``NAME``, per task and pooled.
- ``study_health.csv``: per task and layer, runs flagged (constant greedy policy, saturated
  head) and the last health check's numbers, averaged over seeds.
- ``study_twins.csv``: pretrained block (a) minus its random twin (b), paired by seed: per
  task and block, per block pooled over tasks ('block' family), and the mean of all blocks
  minus the mean of their twins ('pooled' family); Holm within each family.
- ``study_prefix.csv``: blocks 0..k as one frozen stack (a) minus block k alone (b).
- ``study_best.csv``: the best pretrained block of each task (highest IQM; a) minus every
  other layer (b); Holm within the task. It was picked on the same runs, so its wins are
  optimistic; a loss or a tie is not.
- ``study_validity.csv``: rank correlation of every analysis score with RL return across
  the analysed layers, per task.
- ``study_answers.json`` and ``study.md`` (the paper section), ``figures/study_*.png``.

Every paired row has a verdict: better, worse, equivalent (within +-0.1 of the
achievable), inconclusive (too noisy to tell) or flagged (see :func:`.data.verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ... import stats
from ...io import atomic_write_text, write_csv, write_json
from .data import MARGIN, POOLED, StudyData
from .tables import (
    CONTROL_COLUMNS,
    HEALTH_COLUMNS,
    PAIR_COLUMNS,
    analysis_picks,
    best_rows,
    control_rows,
    health_rows,
    layer_rows,
    prefix_rows,
    row_envs,
    twin_rows,
    validity_rows,
)

#: Seed of the generator behind the study's resampling (fixed: same tables each time).
STUDY_SEED = 20_241_126
LAYER_COLUMNS = ("env", "layer", "kind", "n_seeds", "mean", "iqm", "iqm_ci_low",
                 "iqm_ci_high", "norm_iqm", "norm_ci_low", "norm_ci_high", "composite_score",
                 "score_rank", "return_rank", "runs_flagged")
BEST_COLUMNS = PAIR_COLUMNS + ("other_kind",)
VALIDITY_COLUMNS = ("env",) + stats.VALIDITY_COLUMNS
VERDICTS = ("better", "worse", "equivalent", "inconclusive", "flagged")


def _counts(rows: Sequence[Mapping]) -> dict[str, int]:
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}


def answers(data: StudyData, tables: Mapping[str, list]) -> dict:
    """The questions, answered from the tables (JSON-ready)."""
    twins, best, prefix = tables["twins"], tables["best"], tables["prefix"]
    pooled = [r for r in twins if r["family"] == "pooled"]
    per_task = [r for r in twins if r["family"] == "block" and r["env"] != POOLED]
    overall = next((r for r in pooled if r["env"] == POOLED), pooled[-1] if pooled else None)
    q1 = {"overall": overall, "per_task": [r for r in pooled if r["env"] != POOLED],
          "block_verdicts": _counts(per_task), "block_tests": len(per_task)}
    q2 = {}
    for env in row_envs(data):
        rows = [r for r in best if r["env"] == env]
        if rows:
            q2[env] = {"best_block": rows[0]["a"], "others": len(rows), **_counts(rows),
                       "strongest_other": min(rows, key=lambda r: r["mean_diff"])["b"]}
    comp = {r["env"]: r for r in tables["validity"] if r["score"] == "composite_score"}
    keys = ("spearman", "spearman_ci_low", "spearman_ci_high", "spearman_p")
    q3 = [{**p, **{k: comp.get(p["env"], {}).get(k, float("nan")) for k in keys}}
          for p in tables["picks"]]
    q4 = {env: {"rows": [r for r in prefix if r["env"] == env],
                **_counts([r for r in prefix if r["env"] == env])}
          for env in row_envs(data) if any(r["env"] == env for r in prefix)}
    health = tables["health"]
    recorded = all(data.health[e] is not None for e in data.envs)
    return {"pretrained_vs_twin": q1, "best_block_vs_others": q2, "analysis_picked_it": q3,
            "prefix_vs_block": q4, "controls": tables["controls"],
            "controls_passed": all(r["passed"] for r in tables["controls"]),
            "health": {"recorded": recorded, "runs": sum(r["runs"] for r in health),
                       "runs_flagged": sum(r["runs_flagged"] for r in health),
                       "flagged_layers": sorted({f"{r['env']}: {r['layer']}" for r in health
                                                 if r["runs_flagged"]})},
            "margin": MARGIN,
            "dropped_layers": {e: v for e, v in data.dropped.items() if v}}


def write_study_report(out_dir: Path, envs: Sequence[str], plan: Mapping | None = None
                       ) -> dict:
    """Read the study's outputs, write the study tables, answers, figures and
    ``study.md``; return the answers."""
    from .figures import write_study_figures
    from .text import study_markdown

    out_dir = Path(out_dir)
    data = StudyData(out_dir, envs)
    rng = np.random.default_rng(STUDY_SEED)
    layers = layer_rows(data, rng)
    tables = {"layers": layers, "controls": control_rows(data, rng),
              "health": health_rows(data), "twins": twin_rows(data, rng),
              "prefix": prefix_rows(data, rng), "best": best_rows(data, layers, rng),
              "validity": validity_rows(data, rng)}
    tables["picks"] = analysis_picks(data, layers)
    ans = answers(data, tables)
    write_csv(out_dir / "study_layers.csv", layers, LAYER_COLUMNS)
    write_csv(out_dir / "study_controls.csv", tables["controls"], CONTROL_COLUMNS)
    write_csv(out_dir / "study_health.csv", tables["health"], HEALTH_COLUMNS)
    write_csv(out_dir / "study_twins.csv", tables["twins"], PAIR_COLUMNS)
    write_csv(out_dir / "study_prefix.csv", tables["prefix"], PAIR_COLUMNS)
    write_csv(out_dir / "study_best.csv", tables["best"], BEST_COLUMNS)
    write_csv(out_dir / "study_validity.csv", tables["validity"], VALIDITY_COLUMNS)
    write_json(out_dir / "study_answers.json", ans)
    figures = write_study_figures(out_dir, data, layers, tables["twins"])
    atomic_write_text(out_dir / "study.md", study_markdown(data, plan or {}, tables, ans,
                                                           figures))
    return ans


def write_study_reports(out_dir: Path, plan: Mapping, selected: Mapping[str, str]) -> dict:
    """Each task's statistics, figures and facts (what ``rosetta report`` writes in
    ``<task>/``, against the task's ``selected`` layer), then the study's own tables and
    ``study.md``; returns the answers. ``plan`` is the study's ``study_plan.json``."""
    from ..build import write_report_extras
    from ..statistics import write_statistics

    envs = [e["name"] for e in plan["envs"]]
    for env in envs:
        write_statistics(Path(out_dir) / env, selected[env])
        write_report_extras(Path(out_dir) / env, selected[env])
    return write_study_report(out_dir, envs, plan)
