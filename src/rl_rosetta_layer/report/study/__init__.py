"""The study's statistics, tables and paper section, from the files ``rosetta study`` wrote.

The rules (final return, normalisation, units, verdicts) are in :mod:`.data`, the paired
comparisons in :mod:`.pairs`, the controls in :mod:`.controls`. Every return below is a
fraction of the achievable (``(return - random) / (reference - random)``, ``tasks.csv``)
where its column name ends in ``_frac``, raw where it ends in ``_raw``. A run's final
return is its last greedy evaluation (``final_eval``), or, for a study made before
evaluations existed, its last 50 training episodes' mean (``measure`` says which). Files
(under the study folder):

- ``study_runs.csv``: one row per run behind the tables: env, layer, kind, seed,
  final_eval, auc_eval (mean over evaluation checkpoints), final_train (last 50 training
  episodes), flagged, flags, and the same three returns raw (``*_raw``): every table can be
  recomputed from it.
- ``study_layers.csv``: per task and pooled ('all': the tasks whose positive control
  learned): each layer's kind, the final return's IQM with its 95 % CI (raw and
  fraction), the sample efficiency's (``auc_eval``) IQM with CI, the analysis score that
  selected the task's layer (``select_by``, the study's ``--select-by``) and its value
  (``selection_score``), the ranks by that score and by return, and its runs flagged by the
  health check.
- ``study_controls.csv``: per task, by 95 % CIs: did the positive control learn, does
  the bypass match ``identity``, do the learners agree, and can the task tell layers apart
  (``identity`` below the ceiling, some layer above ``identity``).
- ``study_health.csv``: per task and layer, runs flagged (constant greedy policy, saturated
  head) and the last health check's numbers, averaged over seeds.
- ``study_twins.csv``: pretrained block (a) minus its random twin and minus its shuffled
  twin (b, column ``twin``), paired by seed: per task and block, per block pooled over
  tasks ('block' family), and the mean of all blocks minus the mean of their twins
  ('pooled' family); Holm within each family (``holm_family``).
- ``study_prefix.csv``: blocks 0..k as one frozen stack (a) minus block k alone (b).
- ``study_best.csv``: the best pretrained block of each task (highest IQM; a) minus every
  other layer (b); Holm within the task. It was picked on the same runs, so its wins are
  optimistic; a loss or a tie is not.
- ``study_similarity.csv``: linear CKA of each block and its twins to the block and to the
  bypass, per task (what each twin removes).
- ``study_validity.csv``: env, score, n_layers, spearman, ci_low, ci_high, p: the Spearman
  correlation of every analysis score with the final return across the analysed layers.
- ``study_power.csv``: per Holm family, the minimum detectable effect at its units.
- ``study_answers.json`` and ``study.md`` (the paper section), ``figures/study_*.png``.

Every paired row has a verdict on every unit (``verdict``) and with the flagged runs' units
left out (``verdict_unflagged``): better, worse, equivalent (within +-0.1 of the
achievable), inconclusive (too noisy to tell), flagged, or control failed (see
:func:`.data.verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...io import atomic_write_text, write_csv, write_json
from .controls import CONTROL_COLUMNS, control_rows, pipeline_passed, tells_apart
from .data import MARGIN, POOLED, VERDICTS, StudyData
from .pairs import PAIR_COLUMNS, best_rows, prefix_rows, row_envs, twin_rows
from .power import POWER_COLUMNS, power_rows
from .tables import (
    HEALTH_COLUMNS,
    LAYER_COLUMNS,
    RUN_COLUMNS,
    SIMILARITY_COLUMNS,
    analysis_picks,
    health_rows,
    layer_rows,
    run_rows,
    similarity_rows,
)
from .validity import VALIDITY_COLUMNS, validity_rows

#: Seed of the generator behind the study's resampling (fixed: same tables each time).
STUDY_SEED = 20_241_126
BEST_COLUMNS = PAIR_COLUMNS + ("other_kind",)
#: File -> (table, columns).
FILES = {"study_layers.csv": ("layers", LAYER_COLUMNS),
         "study_runs.csv": ("runs", RUN_COLUMNS),
         "study_controls.csv": ("controls", CONTROL_COLUMNS),
         "study_health.csv": ("health", HEALTH_COLUMNS),
         "study_twins.csv": ("twins", PAIR_COLUMNS),
         "study_prefix.csv": ("prefix", PAIR_COLUMNS),
         "study_best.csv": ("best", BEST_COLUMNS),
         "study_similarity.csv": ("similarity", SIMILARITY_COLUMNS),
         "study_validity.csv": ("validity", VALIDITY_COLUMNS),
         "study_power.csv": ("power", POWER_COLUMNS)}


def _counts(rows: Sequence[Mapping], key: str = "verdict") -> dict[str, int]:
    return {v: sum(r[key] == v for r in rows) for v in VERDICTS}


def _twin_answer(twins: Sequence[Mapping], variant: str) -> dict:
    rows = [r for r in twins if r["twin"] == variant]
    pooled = [r for r in rows if r["family"] == "pooled"]
    per_task = [r for r in rows if r["family"] == "block" and r["env"] != POOLED]
    overall = next((r for r in pooled if r["env"] == POOLED), pooled[-1] if pooled else None)
    return {"overall": overall, "per_task": [r for r in pooled if r["env"] != POOLED],
            "block_verdicts": _counts(per_task),
            "block_verdicts_unflagged": _counts(per_task, "verdict_unflagged"),
            "block_tests": len(per_task)}


def answers(data: StudyData, tables: Mapping[str, list]) -> dict:
    """The questions, answered from the tables (JSON-ready)."""
    best, prefix, controls = tables["best"], tables["prefix"], tables["controls"]
    q2 = {}
    for env in row_envs(data):
        rows = [r for r in best if r["env"] == env]
        if rows:
            q2[env] = {"best_block": rows[0]["a"], "others": len(rows), **_counts(rows),
                       "unflagged": _counts(rows, "verdict_unflagged"),
                       "strongest_other": min(rows, key=lambda r: r["diff_frac"])["b"]}
    comp = {r["env"]: r for r in tables["validity"] if r["score"] == data.select_by[r["env"]]}
    keys = ("spearman", "ci_low", "ci_high", "p")
    q3 = [{**p, **{k: comp.get(p["env"], {}).get(k, float("nan")) for k in keys}}
          for p in tables["picks"]]
    q4 = {env: {"rows": [r for r in prefix if r["env"] == env],
                **_counts([r for r in prefix if r["env"] == env])}
          for env in row_envs(data) if any(r["env"] == env for r in prefix)}
    health = tables["health"]
    recorded = all(data.health[e] is not None for e in data.envs)
    return {"measure": data.measure, "measure_note": data.measure_note,
            "pooled_envs": data.pooled_envs if POOLED in row_envs(data) else [],
            "pretrained_vs_twin": _twin_answer(tables["twins"], "random"),
            "pretrained_vs_shuffled": _twin_answer(tables["twins"], "shuffled"),
            "best_block_vs_others": q2, "analysis_picked_it": q3, "prefix_vs_block": q4,
            "controls": controls, "controls_passed": pipeline_passed(controls),
            "control_learned": {e: data.learned.get(e) for e in data.envs},
            "tells_layers_apart": {e: tells_apart(controls, e) for e in data.envs},
            "health": {"recorded": recorded, "runs": sum(r["runs"] for r in health),
                       "runs_flagged": sum(r["runs_flagged"] for r in health),
                       "flagged_layers": sorted({f"{r['env']}: {r['layer']}" for r in health
                                                 if r["runs_flagged"]})},
            "power": tables["power"], "margin": MARGIN,
            "dropped_layers": {e: v for e, v in data.dropped.items() if v}}


def study_tables(data: StudyData, rng: np.random.Generator) -> dict[str, list]:
    """Every table of the study, in the order they depend on each other: the tasks' layer
    rows judge the positive controls, which decide the tasks the pooled rows pool."""
    layers = layer_rows(data, rng, data.envs)
    data.set_learned(layers)
    layers += layer_rows(data, rng, [POOLED] if POOLED in row_envs(data) else [])
    tables = {"layers": layers, "runs": run_rows(data),
              "controls": control_rows(data, layers, rng), "health": health_rows(data),
              "twins": twin_rows(data, rng), "prefix": prefix_rows(data, rng),
              "best": best_rows(data, layers, rng), "similarity": similarity_rows(data),
              "validity": validity_rows(data, rng)}
    tables["power"] = power_rows(tables["twins"] + tables["prefix"] + tables["best"])
    tables["picks"] = analysis_picks(data, layers)
    return tables


def write_study_report(out_dir: Path, envs: Sequence[str], plan: Mapping | None = None
                       ) -> dict:
    """Read the study's outputs, write the study tables, answers, figures and
    ``study.md``; return the answers."""
    from .figures import write_study_figures
    from .text import study_markdown

    out_dir = Path(out_dir)
    data = StudyData(out_dir, envs)
    tables = study_tables(data, np.random.default_rng(STUDY_SEED))
    ans = answers(data, tables)
    for name, (key, columns) in FILES.items():
        write_csv(out_dir / name, tables[key], columns)
    write_json(out_dir / "study_answers.json", ans)
    figures = write_study_figures(out_dir, data, tables["layers"], tables["twins"])
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
