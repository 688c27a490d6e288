"""``study.md``: the study's paper section, every number taken from the study's tables.

The answers follow fixed rules (:func:`.study.verdict`): a difference is "better" or
"worse" only when its 95 % CI excludes zero *and* its Holm-corrected sign-flip p is below
0.05; otherwise it is "not shown", whatever the point estimate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .markdown import markdown_table
from .study import POOLED, block_of, layer_kind
from .study_figures import short_name


def _f(v, spec: str = ".3f") -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(v) else format(v, spec)


def _ci(lo, hi) -> str:
    return f"[{_f(lo, '+.3f')}, {_f(hi, '+.3f')}]"


def _p(p) -> str:
    return _f(p, ".3g")


def _diff(r: Mapping) -> str:
    return f"{_f(r['mean_diff'], '+.3f')} {_ci(r['diff_ci_low'], r['diff_ci_high'])}"


def _setup(data, plan: Mapping) -> str:
    cfg = plan.get("config", {})
    envs = ", ".join(f"`{e}`" for e in data.envs)
    seeds = plan.get("seeds", [])
    layers = data.layers(data.envs[0])
    kinds = {k: sum(layer_kind(n) == k for n in layers)
             for k in ("pretrained", "twin", "synthetic", "baseline")}
    adapter = ("a patch-embedding input adapter" if cfg.get("adapter") != "none"
               else "the patch embedding frozen at its initial draw")
    budget = (f"{cfg['env_steps']} env steps" if cfg.get("env_steps")
              else f"{cfg.get('episodes', '?')} episodes")
    norm = "; ".join(f"`{e}` random {_f(data.random[e])}, reference {_f(data.optimal[e])}"
                     for e in data.envs)
    return (
        f"We froze each block of the `{plan.get('backbone', '?')}` video model and trained "
        f"the same {'Double ' if cfg.get('double_dqn', True) else ''}DQN through it ({adapter} "
        f"and {'an MLP' if cfg.get('head') == 'mlp' else 'a linear'} head trained, the block "
        f"frozen) on {envs}. The layers: {kinds['pretrained']} pretrained "
        f"blocks, their {kinds['twin']} random-initialised twins (same architecture, fresh "
        f"weights), {kinds['synthetic']} synthetic candidates and {kinds['baseline']} "
        f"baselines, each with {len(seeds)} seeds ({', '.join(map(str, seeds))}) and the "
        f"same budget of {budget} per run (batch {cfg.get('batch_size', '?')}, an update "
        f"every {cfg.get('train_every', '?')} steps). The final return of a run is the mean "
        f"return of its last 50 episodes. Before RL, the analysis scored every frozen layer "
        f"on {plan.get('dataset_steps', '?')} random-policy transitions per task.\n\n"
        f"To compare across tasks, returns are read as a fraction of the achievable: "
        f"(return - random) / (reference - random), with the mean returns of a random and "
        f"of the optimal reference policy over the same {plan.get('task_episodes', '?')} "
        f"episode starts ({norm}). Pooled statistics treat each (task, seed) as one unit "
        f"and resample seeds within tasks. A difference counts as shown only when its 95% "
        f"bootstrap CI excludes zero and its Holm-corrected sign-flip p is below 0.05. "
        f"{_power(len(seeds), len(data.envs))}")


def _power(n_seeds: int, n_tasks: int) -> str:
    """What the exact sign-flip test can show with these units."""
    one = 2 / 2 ** n_seeds
    text = f"With {n_seeds} seeds the smallest sign-flip p within one task is {_p(one)}"
    if one >= 0.05:
        text += ", so no single-task difference can pass"
    if n_tasks > 1:
        text += (f"; pooled over {n_tasks} tasks ({n_tasks * n_seeds} units) it is "
                 f"{_p(2 / 2 ** (n_seeds * n_tasks))}")
    return text + "."


def _q1(twins: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["pretrained_vs_twin"]
    overall = q["overall"]
    if overall is None:
        return "No pretrained block was run with its twin: the question is not answered."
    word = {"better": "Yes", "worse": "No, the reverse",
            "not shown": "Not shown"}[overall["verdict"]]
    where = "pooled over tasks" if overall["env"] == POOLED else f"on `{overall['env']}`"
    lines = [
        f"**{word}.** {where.capitalize()}, the pretrained blocks minus their random twins: "
        f"{_diff(overall)} ({overall['units']}, {overall['n_units']} units; sign-flip p "
        f"{_p(overall['p_sign_flip'])}, Holm {_p(overall['p_holm'])}). Of "
        f"{q['block_tests']} (task, block) pairs, {q['blocks_better']} show the pretrained "
        f"block better and {q['blocks_worse']} worse."]
    rows = [{"task": r["env"], "block": r["block"],
             "pretrained": _f(r["mean_pretrained"]), "twin": _f(r["mean_twin"]),
             "difference [95% CI]": _diff(r), "p (Holm)": _p(r["p_holm"]),
             "P(pretrained > twin)": _f(r["prob_improvement"], ".2f"),
             "verdict": r["verdict"]} for r in twins]
    cols = list(rows[0]) if rows else []
    lines.append(markdown_table(rows, cols))
    return "\n\n".join(lines)


def _q2(best: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["best_block_vs_others"]
    if not q:
        return "No pretrained block was run: the question is not answered."
    parts = []
    for env, s in q.items():
        where = "Pooled over tasks" if env == POOLED else f"On `{env}`"
        parts.append(f"{where} the best pretrained block is `{short_name(s['best_block'])}`: "
                     f"it beats {s['beats']} of the {s['others']} other layers, loses to "
                     f"{s['loses_to']}, and the rest are not told apart.")
    rows = [{"task": r["env"], "best block": short_name(r["best_block"]),
             "vs layer": short_name(r["other"]), "kind": r["other_kind"],
             "difference [95% CI]": _diff(r), "p (Holm)": _p(r["p_holm"]),
             "verdict": r["verdict"]} for r in best]
    note = ("The best block was chosen as the highest IQM on these same runs, so its wins "
            "are optimistic; its losses and ties are not.")
    return " ".join(parts) + " " + note + "\n\n" + markdown_table(rows, list(rows[0]))


def _q3(ans: Mapping) -> str:
    parts, rows = [], []
    for r in ans["analysis_picked_it"]:
        picked = "yes" if r["picked_best_block"] else "no"
        parts.append(
            f"On `{r['env']}` the analysis' top pretrained block is "
            f"`{short_name(r['analysis_top_block'] or '—')}` and RL's best is "
            f"`{short_name(r['rl_best_block'] or '—')}` ({picked}); of the "
            f"{r['n_layers']} analysed layers it selected `{short_name(r['analysis_selected'])}` "
            f"({r['analysis_selected_kind']}), which ranked {r['analysis_selected_return_rank']}"
            f" by RL return.")
        rows.append({"task": r["env"], "selected": short_name(r["analysis_selected"]),
                     "its return rank": r["analysis_selected_return_rank"],
                     "top block (analysis)": short_name(r["analysis_top_block"] or "—"),
                     "best block (RL)": short_name(r["rl_best_block"] or "—"),
                     "same block": picked,
                     "Spearman (composite vs return) [95% CI]":
                         f"{_f(r['spearman'], '+.2f')} "
                         f"[{_f(r['spearman_ci_low'], '+.2f')}, "
                         f"{_f(r['spearman_ci_high'], '+.2f')}]",
                     "p": _p(r["spearman_p"])})
    if not rows:
        return "The analysis was not run: the question is not answered."
    return " ".join(parts) + "\n\n" + markdown_table(rows, list(rows[0]))


def _layer_table(layers: Sequence[Mapping]) -> str:
    rows = [{"task": r["env"], "layer": short_name(r["layer"]), "kind": r["kind"],
             "IQM [95% CI] ('all': fraction)":
                 f"{_f(r['iqm'])} [{_f(r['iqm_ci_low'])}, {_f(r['iqm_ci_high'])}]",
             "fraction of achievable": _f(r["norm_iqm"], ".2f"),
             "composite score": _f(r["composite_score"]),
             "rank (score / return)": f"{r['score_rank'] or '—'} / {r['return_rank']}"}
            for r in layers]
    return markdown_table(rows, list(rows[0])) if rows else ""


def _figure(path: Path, study_md: Path, number: int, caption: str) -> str:
    rel = os.path.relpath(Path(path).resolve(), study_md.resolve().parent).replace(os.sep, "/")
    return f"![Figure {number}: {caption}]({rel})\n\n*Figure {number}. {caption}*"


def study_markdown(data, plan: Mapping, layers, twins, best, validity, ans,
                   figures: Mapping[str, Path]) -> str:
    """The paper section (Markdown) of one study."""
    study_md = data.out_dir / "study.md"
    out = [f"## Study: frozen blocks of `{plan.get('backbone', 'a video model')}` as RL "
           f"representations\n", _setup(data, plan)]
    if "returns" in figures:
        out.append(_figure(figures["returns"], study_md, 1,
                           "Final return per layer and task as a fraction of the achievable "
                           "(0 random policy, 1 reference): IQM over seeds with 95% "
                           "bootstrap CI."))
    out += ["### Does a pretrained block beat its random twin?", _q1(twins, ans)]
    if "twins" in figures:
        out.append(_figure(figures["twins"], study_md, 2,
                           "Pretrained block minus its random twin, paired by seed."))
    out += ["### Does the best pretrained block beat the other layers?", _q2(best, ans),
            "### Did the analysis pick it?", _q3(ans),
            "### Every layer", _layer_table(layers)]
    dropped = ans.get("dropped_layers") or {}
    if dropped:
        out.append("Left out (runs failed or diverged on some seeds): " + "; ".join(
            f"`{e}`: {', '.join(short_name(n) for n in v)}" for e, v in dropped.items()) + ".")
    blocks = sorted({block_of(r["layer"]) for r in layers if r["kind"] == "pretrained"})
    out.append(f"*Generated by `rosetta study` from the files beside this one "
               f"({len(blocks)} blocks; tables study_layers.csv, study_twins.csv, "
               f"study_best.csv, study_validity.csv).*")
    return "\n\n".join(s.rstrip() for s in out if s) + "\n"
