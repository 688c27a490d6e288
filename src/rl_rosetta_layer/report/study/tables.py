"""The study's tables, as rows (dicts), from :class:`~.data.StudyData`.

Every paired comparison goes through :func:`pair_row` (difference, CI, sign-flip p,
equivalence p) and gets its verdict after Holm's correction within its family
(:func:`decide`), by the rules of :mod:`.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ... import stats
from .data import (
    LEARNED,
    MARGIN,
    POOLED,
    StudyData,
    block_of,
    layer_kind,
    prefix_of,
    twin_of,
    verdict,
)
from .figures import short_name

PAIR_COLUMNS = ("env", "family", "a", "b", "units", "n_units", "mean_a", "mean_b",
                "mean_diff", "diff_ci_low", "diff_ci_high", "p_sign_flip", "p_holm",
                "margin", "p_equivalence", "p_equivalence_holm", "prob_improvement",
                "flagged", "verdict")


def row_envs(data: StudyData) -> list[str]:
    """The tasks, then the pooled rows when there are several tasks."""
    return data.envs + ([POOLED] if len(data.envs) > 1 else [])


def units_of(env: str) -> str:
    return "task x seed, normalised" if env == POOLED else "seed"


def pair_row(data: StudyData, env: str, x: np.ndarray, a: str, b: str, family: str,
             layers: Sequence[str], rng: np.random.Generator) -> dict:
    """Paired comparison of columns 0 (``a``) and 1 (``b``) of ``x`` (units, 2): a - b.
    ``layers``: the layers behind them (their flags count)."""
    r = stats.compare_to_selected(x, ["a", "b"], "a", rng, strata=data.strata(env))[0]
    margin = MARGIN if env == POOLED else MARGIN * data.scale(env)
    d = x[:, 0] - x[:, 1]
    p_eq = stats.equivalence_test(d, margin, rng) if len(d) >= 2 else math.nan
    return {"env": env, "family": family, "a": a, "b": b, "units": units_of(env),
            "n_units": r["n_seeds"], "mean_a": r["mean_selected"], "mean_b": r["mean_other"],
            "mean_diff": r["mean_diff"], "diff_ci_low": r["diff_ci_low"],
            "diff_ci_high": r["diff_ci_high"], "p_sign_flip": r["p_sign_flip"],
            "p_holm": math.nan, "margin": margin, "p_equivalence": p_eq,
            "p_equivalence_holm": math.nan, "prob_improvement": r["prob_improvement"],
            "flagged": data.flagged(env, layers), "verdict": ""}


def decide(data: StudyData, rows: list[dict], key=lambda r: (r["family"],)) -> list[dict]:
    """Holm within each family (rows sharing ``key``), then each row's verdict."""
    families: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault(key(r), []).append(i)
    for idx in families.values():
        for p_key in ("p_sign_flip", "p_equivalence"):
            adjusted = stats.holm(np.array([rows[i][p_key] for i in idx]))
            holm_key = "p_holm" if p_key == "p_sign_flip" else "p_equivalence_holm"
            for i, p in zip(idx, adjusted):
                rows[i][holm_key] = float(p)
    for r in rows:
        learned = data.control_learned(r["env"])
        r["verdict"] = verdict(r["diff_ci_low"], r["diff_ci_high"], r["p_holm"],
                               r["p_equivalence_holm"], r["margin"], flagged=r["flagged"],
                               informative=learned is not False)
    return rows


# ----------------------------------------------------------------------------- layers
def layer_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Per task and pooled: each layer's IQM with CI (raw and normalised), its analysis
    score, ranks, and how many of its runs were flagged."""
    rows = []
    for env in row_envs(data):
        names = data.layers(env)
        norm = data.matrix(env, names, normalised=True)
        raw = norm if env == POOLED else data.matrix(env, names)
        summ = stats.summary_columns(raw, rng, layers=names, strata=data.strata(env))
        norm_summ = summ if env == POOLED else stats.summary_columns(norm, rng, layers=names)
        score = data.scores[env]["composite_score"] if env != POOLED else {}
        iqm = np.array([r["iqm"] for r in summ])
        scored = [n for n in names if n in score]
        score_rank = {n: i + 1 for i, n in enumerate(sorted(scored, key=lambda n: -score[n]))}
        return_rank = {n: i + 1 for i, n in enumerate(
            sorted(names, key=lambda n: -iqm[names.index(n)]))}
        for j, name in enumerate(names):
            runs = [r for e in data.task_envs(env) for r in data.runs(e, name)]
            rows.append({"env": env, "layer": name, "kind": layer_kind(name),
                         "n_seeds": raw.shape[0], "mean": float(raw[:, j].mean()),
                         "iqm": summ[j]["iqm"], "iqm_ci_low": summ[j]["iqm_ci_low"],
                         "iqm_ci_high": summ[j]["iqm_ci_high"],
                         "norm_iqm": norm_summ[j]["iqm"],
                         "norm_ci_low": norm_summ[j]["iqm_ci_low"],
                         "norm_ci_high": norm_summ[j]["iqm_ci_high"],
                         "composite_score": score.get(name, float("nan")),
                         "score_rank": score_rank.get(name, ""),
                         "return_rank": return_rank[name],
                         "runs_flagged": sum(bool(r["flags"]) for r in runs)})
    return rows


# ------------------------------------------------------------------ paired families
def twin_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Pretrained block minus its random twin: per task and block ('block' family), and
    the mean of all blocks minus the mean of their twins ('pooled' family)."""
    rows = []
    for env in row_envs(data):
        blocks = data.blocks(env)
        if not blocks:
            continue
        norm = env == POOLED
        for b in blocks:
            x = data.matrix(env, [b, twin_of(b)], normalised=norm)
            rows.append(pair_row(data, env, x, b, twin_of(b), "block", [b, twin_of(b)], rng))
        twins = [twin_of(b) for b in blocks]
        x = np.stack([data.matrix(env, blocks, normalised=norm).mean(axis=1),
                      data.matrix(env, twins, normalised=norm).mean(axis=1)], axis=1)
        rows.append(pair_row(data, env, x, f"all {len(blocks)} blocks (mean)",
                             "their twins (mean)", "pooled", blocks + twins, rng))
    return decide(data, rows)


def prefix_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Blocks 0..k as one stack minus block k alone, per task and pooled ('prefix')."""
    rows = []
    for env in row_envs(data):
        names = data.layers(env)
        for b in (n for n in names if layer_kind(n) == "pretrained"):
            if prefix_of(b) in names:
                x = data.matrix(env, [prefix_of(b), b], normalised=env == POOLED)
                rows.append(pair_row(data, env, x, prefix_of(b), b, "prefix",
                                     [prefix_of(b), b], rng))
    return decide(data, rows)


def best_block(layer_table: Sequence[Mapping], env: str) -> str | None:
    """The pretrained block with the highest IQM in ``env`` (normalised when pooled)."""
    key = "norm_iqm" if env == POOLED else "iqm"
    rows = [r for r in layer_table if r["env"] == env and r["kind"] == "pretrained"]
    return max(rows, key=lambda r: r[key])["layer"] if rows else None


def best_rows(data: StudyData, layer_table: Sequence[Mapping], rng) -> list[dict]:
    """The best pretrained block of each task (and pooled) minus every other layer (Holm
    within the task). Picked on the same runs: its wins are optimistic."""
    rows = []
    for env in row_envs(data):
        best = best_block(layer_table, env)
        if best is None:
            continue
        for other in (n for n in data.layers(env) if n != best):
            x = data.matrix(env, [best, other], normalised=env == POOLED)
            row = pair_row(data, env, x, best, other, "best", [best, other], rng)
            rows.append({**row, "other_kind": layer_kind(other)})
    return decide(data, rows, key=lambda r: (r["env"],))


# ----------------------------------------------------------------------------- controls
CONTROL_COLUMNS = ("env", "control", "layer", "reference", "n_units", "value", "target",
                   "mean_diff", "diff_ci_low", "diff_ci_high", "passed", "note")


def control_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    """Can this pipeline learn, and do its two learners agree? Per task and pooled:

    - ``positive control learned``: the bypass (else ``identity``) reaches ``LEARNED`` of
      the achievable (IQM, normalised);
    - ``bypass vs identity``: the bypass's IQM within ``MARGIN`` of numpy ``identity``'s;
    - ``torch vs numpy learner``: ``NAME@torch`` minus ``NAME``, paired, CI inside
      +-``MARGIN`` (normalised).
    """
    rows = []
    for env in row_envs(data):
        names = data.layers(env)

        def norm(layer, env=env):
            return data.matrix(env, [layer], normalised=True)[:, 0]

        control = data.positive_control(env)
        if control is not None:
            value = float(stats.iqm(norm(control)))
            rows.append({"env": env, "control": "positive control learned", "layer": control,
                         "reference": "", "n_units": len(norm(control)), "value": value,
                         "target": f">= {LEARNED}", "mean_diff": math.nan,
                         "diff_ci_low": math.nan, "diff_ci_high": math.nan,
                         "passed": value >= LEARNED,
                         "note": "IQM, fraction of the achievable"})
        if control is not None and control != "identity" and "identity" in names:
            diff = float(stats.iqm(norm(control)) - stats.iqm(norm("identity")))
            d = norm(control) - norm("identity")
            lo, hi = stats.bootstrap_ci(d[:, None], "mean", rng, strata=data.strata(env))
            rows.append({"env": env, "control": "bypass vs identity", "layer": control,
                         "reference": "identity", "n_units": len(d), "value": diff,
                         "target": f"|IQM difference| <= {MARGIN}", "mean_diff": float(d.mean()),
                         "diff_ci_low": float(lo[0]), "diff_ci_high": float(hi[0]),
                         "passed": abs(diff) <= MARGIN,
                         "note": "value: IQM of the bypass minus IQM of identity"})
        for torch_layer in (n for n in names if n.endswith("@torch")):
            numpy_layer = torch_layer.removesuffix("@torch")
            if numpy_layer not in names:
                continue
            d = norm(torch_layer) - norm(numpy_layer)
            lo, hi = stats.bootstrap_ci(d[:, None], "mean", rng, strata=data.strata(env))
            rows.append({"env": env, "control": "torch vs numpy learner", "layer": torch_layer,
                         "reference": numpy_layer, "n_units": len(d), "value": float(d.mean()),
                         "target": f"95% CI inside +-{MARGIN}", "mean_diff": float(d.mean()),
                         "diff_ci_low": float(lo[0]), "diff_ci_high": float(hi[0]),
                         "passed": bool(-MARGIN < lo[0] and hi[0] < MARGIN),
                         "note": "paired by seed, fraction of the achievable"})
    return rows


HEALTH_COLUMNS = ("env", "layer", "kind", "runs", "runs_flagged", "constant_policy",
                  "saturated_head", "q_spread", "saturated_share", "dead_share",
                  "feature_rel_std")


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


# ----------------------------------------------------------------------------- analysis
def validity_rows(data: StudyData, rng) -> list[dict]:
    rows = []
    for env in data.envs:
        scores, reps = data.scores[env], data.replicates[env]
        names = [n for n in data.layers(env) if n in scores["composite_score"]]
        if len(names) < 3:
            continue
        x = data.matrix(env, names)
        point = {m: np.array([scores[m][n] for n in names]) for m in scores}
        rep = None
        if reps is not None and all(n in reps["composite_score"] for n in names):
            rep = {m: np.stack([reps[m][n] for n in names], axis=1) for m in reps}
        rows += [{"env": env, **r} for r in stats.score_validity(point, rep, x, rng)]
    return rows


def analysis_picks(data: StudyData, layer_table: Sequence[Mapping]) -> list[dict]:
    """Per task: the analysis' selection, its top pretrained block, RL's best block."""
    out = []
    for env in data.envs:
        rows = [r for r in layer_table if r["env"] == env]
        scored = [r for r in rows if math.isfinite(r["composite_score"])]
        blocks = [r for r in scored if r["kind"] == "pretrained"]
        top = max(blocks, key=lambda r: r["composite_score"])["layer"] if blocks else None
        best = best_block(layer_table, env)
        sel = data.selected[env]
        rank = {r["layer"]: r["return_rank"] for r in rows}
        out.append({"env": env, "analysis_selected": sel,
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
