"""The study's statistics, tables and paper section, from the files ``rosetta study`` wrote.

Returns are compared within a task in the task's own units and across tasks as a fraction
of the achievable: ``(return - random) / (reference - random)`` with the random and
reference (optimal) policies' mean returns of ``tasks.csv`` (0 = random policy, 1 =
optimal). The statistical unit is a (task, seed) run set: pooled rows resample seeds
within tasks (stratified bootstrap) and test by sign flips over those units.

Files (under the study folder):

- ``study_layers.csv``: per task and pooled ('all'): each layer's kind, IQM of the final
  return with its 95 % CI, the same normalised, the analysis' composite score and the
  ranks by score and by return (on the 'all' rows every return column is normalised).
- ``study_twins.csv``: pretrained block minus its random twin, paired by seed: per task
  and block, per block pooled over tasks, per task over all blocks (mean of the blocks
  minus mean of the twins), and over all blocks and tasks. Holm within each family
  (family 'block': every single-block row; family 'pooled': the all-blocks rows).
- ``study_best.csv``: the best pretrained block of each task (highest IQM) against every
  other layer (Holm within the task). It was picked on the same runs, so its wins are
  optimistic; a loss or a tie is not.
- ``study_validity.csv``: rank correlation of every analysis score with RL return across
  the analysed layers, per task.
- ``study_answers.json`` and ``study.md`` (the paper section), ``figures/study_*.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import stats
from ..analysis.run import read_selected
from ..errors import MissingInputError
from ..io import atomic_write_text, read_csv, write_csv, write_json
from ..layers.registry import BANK_NAMES, BASELINES
from .statistics import final_returns, load_scores

#: Seed of the generator behind the study's resampling (fixed: same tables each time).
STUDY_SEED = 20_241_126
ALPHA = 0.05
KINDS = ("pretrained", "twin", "synthetic", "baseline")
POOLED = "all"
LAYER_COLUMNS = ("env", "layer", "kind", "n_seeds", "mean", "iqm", "iqm_ci_low",
                 "iqm_ci_high", "norm_iqm", "norm_ci_low", "norm_ci_high", "composite_score",
                 "score_rank", "return_rank")
TWIN_COLUMNS = ("env", "block", "family", "pretrained", "twin", "units", "n_units",
                "mean_pretrained", "mean_twin", "mean_diff", "diff_ci_low", "diff_ci_high",
                "p_sign_flip", "p_holm", "prob_improvement", "verdict")
BEST_COLUMNS = ("env", "best_block", "other", "other_kind", "units", "n_units", "mean_diff",
                "diff_ci_low", "diff_ci_high", "p_sign_flip", "p_holm", "prob_improvement",
                "verdict")
VALIDITY_COLUMNS = ("env",) + stats.VALIDITY_COLUMNS


def layer_kind(name: str) -> str:
    """'pretrained' (BACKBONE:BLOCK), 'twin' (BACKBONE:BLOCK:random), 'baseline' or
    'synthetic' (the seed's candidates)."""
    if ":" in name:
        return "twin" if name.endswith(":random") else "pretrained"
    return "baseline" if name in BASELINES or name in BANK_NAMES else "synthetic"


def twin_of(name: str) -> str:
    return f"{name}:random"


def block_of(name: str) -> str:
    """``tiny-video:transformer_blocks.1[:random]`` -> ``transformer_blocks.1``."""
    return name.split(":")[1]


def verdict(lo: float, hi: float, p: float, alpha: float = ALPHA) -> str:
    """'better' / 'worse' when the CI excludes 0 and the (corrected) p < alpha, else
    'not shown'."""
    if math.isfinite(lo) and lo > 0 and p < alpha:
        return "better"
    if math.isfinite(hi) and hi < 0 and p < alpha:
        return "worse"
    return "not shown"


# ----------------------------------------------------------------------------- inputs
class StudyData:
    """Final returns of one study: per task {layer: {seed: return}}, normalised too."""

    def __init__(self, out_dir: Path, envs: Sequence[str]) -> None:
        self.out_dir = Path(out_dir)
        self.envs = list(envs)
        tasks = read_csv(self.out_dir / "tasks.csv", ("env", "policy", "mean_return",
                                                      "mean_optimal_return"),
                         hint="rosetta study")
        self.random, self.optimal = {}, {}
        for row in tasks:
            if row["policy"] == "random":
                self.random[row["env"]] = float(row["mean_return"])
            if row["policy"] == "reference":
                self.optimal[row["env"]] = float(row["mean_optimal_return"])
        missing = [e for e in self.envs if e not in self.random or e not in self.optimal]
        if missing:
            raise MissingInputError(f"{self.out_dir / 'tasks.csv'} lacks the random or "
                                    f"reference returns of {', '.join(missing)}; run "
                                    f"`rosetta study` again")
        self.final: dict[str, dict[str, dict[int, float]]] = {}
        self.dropped: dict[str, list[str]] = {}
        self.selected: dict[str, str] = {}
        self.scores: dict[str, dict] = {}
        self.replicates: dict[str, dict | None] = {}
        for env in self.envs:
            folder = self.out_dir / env
            final = final_returns(folder)
            n = max((len(v) for v in final.values()), default=0)
            self.final[env] = {k: v for k, v in final.items() if len(v) == n}
            self.dropped[env] = sorted(k for k, v in final.items() if len(v) < n)
            self.selected[env] = read_selected(folder)
            self.scores[env], self.replicates[env] = load_scores(folder)

    def normalise(self, env: str, value):
        """Fraction of the achievable (float or array): 0 = random policy, 1 = reference
        (optimal)."""
        return (value - self.random[env]) / (self.optimal[env] - self.random[env])

    def matrix(self, env: str, layers: Sequence[str], *, normalised: bool = False
               ) -> np.ndarray:
        """(seeds, layers) final returns of one task (or pooled: (tasks*seeds, layers),
        normalised, when env is 'all')."""
        if env == POOLED:
            return np.concatenate([self.matrix(e, layers, normalised=True) for e in self.envs])
        x, _, _ = stats.align_seeds({k: self.final[env][k] for k in layers})
        return self.normalise(env, x) if normalised else x

    def strata(self, env: str) -> np.ndarray | None:
        """(tasks*seeds,) task index of each pooled row, or None for one task."""
        if env != POOLED:
            return None
        return np.concatenate([[i] * len(next(iter(self.final[e].values())))
                               for i, e in enumerate(self.envs)])

    def layers(self, env: str) -> list[str]:
        """Layers with every seed, in a fixed order: kind, then name."""
        if env == POOLED:
            common = set.intersection(*(set(self.final[e]) for e in self.envs))
            names = list(common)
        else:
            names = list(self.final[env])
        return sorted(names, key=lambda n: (KINDS.index(layer_kind(n)), n))

    def blocks(self, env: str) -> list[str]:
        """Pretrained blocks whose twin was run too."""
        names = self.layers(env)
        return [n for n in names if layer_kind(n) == "pretrained" and twin_of(n) in names]


# ----------------------------------------------------------------------------- tables
def layer_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    rows = []
    for env in data.envs + ([POOLED] if len(data.envs) > 1 else []):
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
            rows.append({"env": env, "layer": name, "kind": layer_kind(name),
                         "n_seeds": raw.shape[0], "mean": float(raw[:, j].mean()),
                         "iqm": summ[j]["iqm"], "iqm_ci_low": summ[j]["iqm_ci_low"],
                         "iqm_ci_high": summ[j]["iqm_ci_high"],
                         "norm_iqm": norm_summ[j]["iqm"],
                         "norm_ci_low": norm_summ[j]["iqm_ci_low"],
                         "norm_ci_high": norm_summ[j]["iqm_ci_high"],
                         "composite_score": score.get(name, float("nan")),
                         "score_rank": score_rank.get(name, ""),
                         "return_rank": return_rank[name]})
    return rows


def twin_rows(data: StudyData, rng: np.random.Generator) -> list[dict]:
    rows = []
    pooled_envs = data.envs + ([POOLED] if len(data.envs) > 1 else [])
    for env in pooled_envs:
        blocks = data.blocks(env)
        if not blocks:
            continue
        units = "task x seed, normalised" if env == POOLED else "seed"
        norm = env == POOLED
        strata = data.strata(env)
        for b in blocks:
            x = data.matrix(env, [b, twin_of(b)], normalised=norm)
            r = stats.compare_to_selected(x, [b, twin_of(b)], b, rng, strata=strata)[0]
            rows.append(_twin_row(env, block_of(b), "block", b, twin_of(b), units, r))
        pre = data.matrix(env, blocks, normalised=norm).mean(axis=1)
        twin = data.matrix(env, [twin_of(b) for b in blocks], normalised=norm).mean(axis=1)
        r = stats.compare_to_selected(np.stack([pre, twin], axis=1), ["pretrained", "twin"],
                                      "pretrained", rng, strata=strata)[0]
        rows.append(_twin_row(env, f"all {len(blocks)} blocks", "pooled",
                              "mean of the pretrained blocks", "mean of their twins", units, r))
    for family in ("block", "pooled"):
        idx = [i for i, r in enumerate(rows) if r["family"] == family]
        if idx:
            p = stats.holm(np.array([rows[i]["p_sign_flip"] for i in idx]))
            for i, ph in zip(idx, p):
                rows[i]["p_holm"] = float(ph)
                rows[i]["verdict"] = verdict(rows[i]["diff_ci_low"], rows[i]["diff_ci_high"],
                                             float(ph))
    return rows


def _twin_row(env, block, family, pretrained, twin, units, r) -> dict:
    return {"env": env, "block": block, "family": family, "pretrained": pretrained,
            "twin": twin, "units": units, "n_units": r["n_seeds"],
            "mean_pretrained": r["mean_selected"], "mean_twin": r["mean_other"],
            "mean_diff": r["mean_diff"], "diff_ci_low": r["diff_ci_low"],
            "diff_ci_high": r["diff_ci_high"], "p_sign_flip": r["p_sign_flip"],
            "p_holm": float("nan"), "prob_improvement": r["prob_improvement"],
            "verdict": ""}


def best_block(data: StudyData, env: str, layer_table: Sequence[Mapping]) -> str | None:
    """The pretrained block with the highest IQM in ``env`` (normalised when pooled)."""
    key = "norm_iqm" if env == POOLED else "iqm"
    rows = [r for r in layer_table if r["env"] == env and r["kind"] == "pretrained"]
    return max(rows, key=lambda r: r[key])["layer"] if rows else None


def best_rows(data: StudyData, layer_table: Sequence[Mapping], rng) -> list[dict]:
    rows = []
    for env in data.envs + ([POOLED] if len(data.envs) > 1 else []):
        best = best_block(data, env, layer_table)
        if best is None:
            continue
        names = data.layers(env)
        x = data.matrix(env, names, normalised=env == POOLED)
        units = "task x seed, normalised" if env == POOLED else "seed"
        for r in stats.compare_to_selected(x, names, best, rng, strata=data.strata(env)):
            rows.append({"env": env, "best_block": best, "other": r["other"],
                         "other_kind": layer_kind(r["other"]), "units": units,
                         "n_units": r["n_seeds"], "mean_diff": r["mean_diff"],
                         "diff_ci_low": r["diff_ci_low"], "diff_ci_high": r["diff_ci_high"],
                         "p_sign_flip": r["p_sign_flip"], "p_holm": r["p_sign_flip_holm"],
                         "prob_improvement": r["prob_improvement"],
                         "verdict": verdict(r["diff_ci_low"], r["diff_ci_high"],
                                            r["p_sign_flip_holm"])})
    return rows


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
        best = best_block(data, env, layer_table)
        sel = data.selected[env]
        rank = {r["layer"]: r["return_rank"] for r in rows}
        out.append({"env": env, "analysis_selected": sel,
                    "analysis_selected_kind": layer_kind(sel),
                    "analysis_selected_return_rank": rank.get(sel, ""),
                    "analysis_top_block": top, "rl_best_block": best,
                    "picked_best_block": top is not None and top == best,
                    "n_layers": len(scored)})
    return out


# ----------------------------------------------------------------------------- answers
def answers(data: StudyData, twins, best, validity, picks) -> dict:
    """The three questions, answered from the tables (JSON-ready)."""
    pooled = [r for r in twins if r["family"] == "pooled"]
    per_task = [r for r in twins if r["family"] == "block" and r["env"] != POOLED]
    overall = next((r for r in pooled if r["env"] == POOLED), pooled[-1] if pooled else None)
    q1 = {"overall": overall, "per_task": [r for r in pooled if r["env"] != POOLED],
          "blocks_better": sum(r["verdict"] == "better" for r in per_task),
          "blocks_worse": sum(r["verdict"] == "worse" for r in per_task),
          "block_tests": len(per_task)}
    q2 = {}
    for env in data.envs + ([POOLED] if len(data.envs) > 1 else []):
        rows = [r for r in best if r["env"] == env]
        if rows:
            q2[env] = {"best_block": rows[0]["best_block"], "others": len(rows),
                       "beats": sum(r["verdict"] == "better" for r in rows),
                       "loses_to": sum(r["verdict"] == "worse" for r in rows),
                       "strongest_other": min(rows, key=lambda r: r["mean_diff"])["other"]}
    comp = {r["env"]: r for r in validity if r["score"] == "composite_score"}
    keys = ("spearman", "spearman_ci_low", "spearman_ci_high", "spearman_p")
    q3 = [{**p, **{k: comp.get(p["env"], {}).get(k, float("nan")) for k in keys}}
          for p in picks]
    return {"pretrained_vs_twin": q1, "best_block_vs_others": q2, "analysis_picked_it": q3,
            "dropped_layers": {e: v for e, v in data.dropped.items() if v}}


def write_study_report(out_dir: Path, envs: Sequence[str], plan: Mapping | None = None
                       ) -> dict:
    """Read the study's outputs, write the study tables, answers, figures and
    ``study.md``; return the answers."""
    from .study_figures import write_study_figures
    from .study_text import study_markdown

    out_dir = Path(out_dir)
    data = StudyData(out_dir, envs)
    rng = np.random.default_rng(STUDY_SEED)
    layers = layer_rows(data, rng)
    twins = twin_rows(data, rng)
    best = best_rows(data, layers, rng)
    validity = validity_rows(data, rng)
    picks = analysis_picks(data, layers)
    ans = answers(data, twins, best, validity, picks)
    write_csv(out_dir / "study_layers.csv", layers, LAYER_COLUMNS)
    write_csv(out_dir / "study_twins.csv", twins, TWIN_COLUMNS)
    write_csv(out_dir / "study_best.csv", best, BEST_COLUMNS)
    write_csv(out_dir / "study_validity.csv", validity, VALIDITY_COLUMNS)
    write_json(out_dir / "study_answers.json", ans)
    figures = write_study_figures(out_dir, data, layers, twins)
    atomic_write_text(out_dir / "study.md", study_markdown(
        data, plan or {}, layers, twins, best, validity, ans, figures))
    return ans
