"""The study's descriptive tables, as rows (dicts), from :class:`~.data.StudyData`: every
layer's returns, every run, run health, the twins' feature similarity and what the analysis
picked. The paired comparisons are in :mod:`.pairs`, the controls in :mod:`.controls`.

Returns are fractions of the achievable wherever a column name ends in ``_frac`` (0 = the
random policy, 1 = the reference) and in the task's own units where it ends in ``_raw``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ... import stats
from ...io import read_csv
from .data import POOLED, StudyData, block_of, layer_kind
from .figures import short_name
from .pairs import best_block, row_envs

LAYER_COLUMNS = ("env", "layer", "kind", "n_seeds", "measure", "final_mean_raw",
                 "final_iqm_raw", "final_iqm_raw_ci_low", "final_iqm_raw_ci_high",
                 "final_iqm_frac", "final_iqm_frac_ci_low", "final_iqm_frac_ci_high",
                 "auc_iqm_frac", "auc_iqm_frac_ci_low", "auc_iqm_frac_ci_high",
                 "select_by", "selection_score", "score_rank", "return_rank", "runs_flagged")
RUN_COLUMNS = ("env", "layer", "kind", "seed", "final_eval", "auc_eval", "final_train",
               "flagged", "flags", "final_eval_raw", "auc_eval_raw", "final_train_raw")
SIMILARITY_COLUMNS = ("env", "layer", "kind", "block", "cka_to_block", "cka_to_bypass")
HEALTH_COLUMNS = ("env", "layer", "kind", "runs", "runs_flagged", "constant_policy",
                  "saturated_head", "q_spread", "saturated_share", "dead_share",
                  "feature_rel_std")
#: Each task's feature similarity, written by the study's analysis.
SIMILARITY_FILE = "layer_similarity.csv"


def _iqm_columns(x: np.ndarray, names: Sequence[str], rng, strata, prefix: str,
                 to_frac=None) -> list[dict]:
    """Per column of ``x`` (units, layers): IQM and 95 % CI as ``{prefix}_iqm_frac...``,
    and in raw units too when ``to_frac`` (raw -> fraction, monotone affine: the fraction's
    interval is the raw interval's image) is given."""
    summ = stats.summary_columns(x, rng, layers=list(names), strata=strata)
    out = []
    for s in summ:
        keys = ("iqm", "iqm_ci_low", "iqm_ci_high")
        if to_frac is None:
            out.append({f"{prefix}_iqm_frac{k[3:]}": s[k] for k in keys})
        else:
            out.append({**{f"{prefix}_iqm_raw{k[3:]}": s[k] for k in keys},
                        **{f"{prefix}_iqm_frac{k[3:]}": float(to_frac(s[k])) for k in keys}})
    return out


def layer_rows(data: StudyData, rng: np.random.Generator,
               envs: Sequence[str] | None = None) -> list[dict]:
    """Per task (``envs``, default every task and the pooled rows): each layer's final
    return (IQM with 95 % CI, raw and as a fraction; pooled rows: fractions only), its
    sample efficiency (IQM of ``auc_eval``, fraction), analysis score, ranks and how many of
    its runs were flagged."""
    rows = []
    for env in row_envs(data) if envs is None else envs:
        names = data.layers(env)
        if not names:
            continue
        strata = data.strata(env)
        if env == POOLED:
            final = _iqm_columns(data.matrix(env, names), names, rng, strata, "final")
            raw_mean = [""] * len(names)
            final = [{**f, "final_iqm_raw": "", "final_iqm_raw_ci_low": "",
                      "final_iqm_raw_ci_high": ""} for f in final]
        else:
            raw = data.matrix(env, names)
            final = _iqm_columns(raw, names, rng, None, "final",
                                 lambda v, env=env: data.normalise(env, v))
            raw_mean = [float(v) for v in raw.mean(axis=0)]
        if data.has_auc:
            auc = _iqm_columns(data.matrix(env, names, normalised=True, value="auc"), names,
                               rng, strata, "auc")
        else:
            auc = [dict.fromkeys(("auc_iqm_frac", "auc_iqm_frac_ci_low",
                                  "auc_iqm_frac_ci_high"), "")] * len(names)
        metric = data.select_by[env] if env != POOLED else ""
        score = data.scores[env].get(metric, {}) if env != POOLED else {}
        scored = [n for n in names if n in score]
        score_rank = {n: i + 1 for i, n in enumerate(sorted(scored, key=lambda n: -score[n]))}
        order = sorted(range(len(names)), key=lambda j: -final[j]["final_iqm_frac"])
        return_rank = {names[j]: i + 1 for i, j in enumerate(order)}
        n_units = len(data.units(env, names))
        for j, name in enumerate(names):
            runs = [r for e in data.task_envs(env) for r in data.runs(e, name)]
            rows.append({"env": env, "layer": name, "kind": layer_kind(name),
                         "n_seeds": n_units, "measure": data.measure,
                         "final_mean_raw": raw_mean[j], **final[j], **auc[j],
                         "select_by": metric, "selection_score": score.get(name, math.nan),
                         "score_rank": score_rank.get(name, ""),
                         "return_rank": return_rank[name],
                         "runs_flagged": sum(bool(r["flags"]) for r in runs)})
    return rows


def run_rows(data: StudyData) -> list[dict]:
    """``study_runs.csv``: one row per run behind the tables (every layer with every seed
    of its task): its final evaluation, mean over evaluation checkpoints and last 50
    training episodes' mean, as fractions of the achievable and raw; whether the health
    check flagged it, and its flags. The evaluation columns are empty for a study made
    before evaluations existed."""
    rows = []
    for env in data.envs:
        flags = {(r["layer"], r["seed"]): r["flags"] for r in data.health[env] or []}
        for layer in data.layers(env):
            for seed in sorted(data.final[env][layer]):
                raw = {"final_eval": data.final[env][layer][seed] if data.has_auc else "",
                       "auc_eval": (data.values["auc"][env][layer][seed] if data.has_auc
                                    else ""),
                       "final_train": data.values["train"][env].get(layer, {}).get(seed, "")}
                f = flags.get((layer, seed), [])
                rows.append({"env": env, "layer": layer, "kind": layer_kind(layer),
                             "seed": seed, **{k: "" if v == "" else float(data.normalise(env, v))
                                              for k, v in raw.items()},
                             "flagged": bool(f), "flags": ";".join(f),
                             **{f"{k}_raw": v for k, v in raw.items()}})
    return rows


def similarity_rows(data: StudyData) -> list[dict]:
    """``study_similarity.csv``: each task's ``layer_similarity.csv`` (linear CKA of every
    pretrained block and its twins to the block and to the bypass) with the task's name;
    none for a task whose analysis predates it."""
    rows = []
    for env in data.envs:
        path = data.out_dir / env / SIMILARITY_FILE
        if not path.is_file():
            continue
        for r in read_csv(path, SIMILARITY_COLUMNS[1:], hint="rosetta study"):
            rows.append({"env": env, "layer": r["layer"], "kind": r["kind"],
                         "block": r["block"],
                         **{k: float(r[k]) if r[k] != "" else math.nan
                            for k in ("cka_to_block", "cka_to_bypass")}})
    return rows


def health_rows(data: StudyData) -> list[dict]:
    """Per task and layer: runs, flagged runs by flag, and the mean over seeds of the last
    health check's numbers (empty when health was not recorded)."""
    rows = []
    for env in data.envs:
        for name in data.layers(env):
            runs = [r for r in data.runs(env, name) if r["status"] == "ok"]
            if not runs:
                continue

            def mean(key, runs=runs):
                values = [r[key] for r in runs if math.isfinite(r[key])]
                return float(np.mean(values)) if values else math.nan

            rows.append({"env": env, "layer": name, "kind": layer_kind(name),
                         "runs": len(runs), "runs_flagged": sum(bool(r["flags"]) for r in runs),
                         "constant_policy": sum("constant_policy" in r["flags"] for r in runs),
                         "saturated_head": sum("saturated_head" in r["flags"] for r in runs),
                         **{k: mean(k) for k in ("q_spread", "saturated_share", "dead_share",
                                                 "feature_rel_std")}})
    return rows


def analysis_picks(data: StudyData, layer_table: Sequence[Mapping]) -> list[dict]:
    """Per task: the analysis' selection, its top pretrained block, RL's best block."""
    out = []
    for env in data.envs:
        rows = [r for r in layer_table if r["env"] == env]
        scored = [r for r in rows if math.isfinite(r["selection_score"])]
        blocks = [r for r in scored if r["kind"] == "pretrained"]
        top = max(blocks, key=lambda r: r["selection_score"])["layer"] if blocks else None
        best = best_block(layer_table, env)
        sel = data.selected[env]
        rank = {r["layer"]: r["return_rank"] for r in rows}
        out.append({"env": env, "select_by": data.select_by[env], "analysis_selected": sel,
                    "analysis_selected_kind": layer_kind(sel),
                    "analysis_selected_return_rank": rank.get(sel, ""),
                    "analysis_top_block": top, "rl_best_block": best,
                    "picked_best_block": top is not None and top == best,
                    "n_layers": len(scored)})
    return out


def label(row: Mapping, key: str) -> str:
    """A short name for column ``key`` ('a' or 'b') of a pair row."""
    return short_name(row[key]) if ":" in row[key] or "@" in row[key] else row[key]


def block_label(row: Mapping) -> str:
    """'block 1' for a single-block row, the pooled row's own text otherwise."""
    return short_name(f"x:{block_of(row['a'])}") if row["family"] == "block" else row["a"]
