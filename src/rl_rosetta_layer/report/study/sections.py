"""The answer sections of ``study.md``, each from its table: the twins, what each twin
removes, the best block, the stacks, the analysis' pick, which score tracks return, and
every layer. Every return and difference is a fraction of the achievable."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .data import MARGIN, POOLED, VERDICTS
from .figures import short_name
from .fmt import count, estimate, number, p_value, table
from .tables import block_label, label

WORDS = {"better": "Yes", "worse": "No, the reverse", "equivalent": "No difference",
         "inconclusive": "Too noisy to tell", "flagged": "Not answered (flagged runs)",
         "control failed": "Not answered (the positive control failed)"}


def _diff(r: Mapping, suffix: str = "") -> str:
    return estimate(r[f"diff_frac{suffix}"], r[f"diff_frac_ci_low{suffix}"],
                    r[f"diff_frac_ci_high{suffix}"], sign=True)


def _unflagged(r: Mapping) -> str:
    """The row's answer with the flagged runs' units left out."""
    if r["n_units_unflagged"] == r["n_units"]:
        return "same (no flagged run)"
    units = count(r["n_units_unflagged"], "unit")
    if r["n_units_unflagged"] < 2:
        return f"{r['verdict_unflagged']} ({units})"
    return f"{_diff(r, '_unflagged')}, {r['verdict_unflagged']} ({units})"


def pair_table(rows: Sequence[Mapping], a: str, b: str) -> str:
    out = [{"task": r["env"], a: label(r, "a"), b: label(r, "b"),
            "a, fraction": number(r["mean_a_frac"]), "b, fraction": number(r["mean_b_frac"]),
            "a - b, fraction [95% CI]": _diff(r), "p (Holm)": p_value(r["p_holm"]),
            f"p equiv. +-{MARGIN} (Holm)": p_value(r["p_equivalence_holm"]),
            "verdict": r["verdict"],
            "without flagged runs": _unflagged(r)} for r in rows]
    return table(out)


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v))


def _headline(r: Mapping, variant: str) -> str:
    where = "pooled over tasks" if r["env"] == POOLED else f"on `{r['env']}`"
    return (f"{where.capitalize()}: **{WORDS[r['verdict']]}.** The pretrained blocks minus "
            f"their {variant} twins: {_diff(r)} of the achievable ({r['units']}, "
            f"{count(r['n_units'], 'unit')}; sign-flip p {p_value(r['p_sign_flip'])}, Holm "
            f"{p_value(r['p_holm'])}; equivalence within +-{MARGIN} p "
            f"{p_value(r['p_equivalence_holm'])}; without flagged runs: {_unflagged(r)}).")


def twins(rows: Sequence[Mapping], ans: Mapping, variant: str) -> str:
    """'Does a pretrained block beat its random (shuffled) twin?': the pooled row when the
    tasks can be pooled, else each task's mean over blocks, then every pair."""
    q = ans["pretrained_vs_twin" if variant == "random" else "pretrained_vs_shuffled"]
    what = {"random": "random twin (the same architecture with fresh weights: what "
                      "pretraining adds)",
            "shuffled": "shuffled twin (each pretrained tensor's entries permuted: the same "
                        "weight statistics without their arrangement)"}[variant]
    if q["overall"] is None:
        return f"No pretrained block was run with its {what}: the question is not answered."
    heads = ([q["overall"]] if q["overall"]["env"] == POOLED else []) + q["per_task"]
    lines = [
        f"Each pretrained block against its {what}. "
        + " ".join(_headline(r, variant) for r in heads)
        + f" Of {q['block_tests']} (task, block) pairs: "
        f"{counts_text(q['block_verdicts']) or 'none'}; with the flagged runs left out: "
        f"{counts_text(q['block_verdicts_unflagged']) or 'none'}.",
        pair_table([{**r, "a": block_label(r), "b": f"{variant} twin"
                     if r["family"] == "block" else r["b"]} for r in rows
                    if r["twin"] == variant], "pretrained", "twin")]
    return "\n\n".join(lines)


def similarity(rows: Sequence[Mapping]) -> str:
    """'What each twin removes': linear CKA of each block's twins to the block and to the
    bypass."""
    if not rows:
        return ("The feature similarity of the twins was not measured for this study "
                "(`layer_similarity.csv`, written by the study's analysis since the "
                "shuffled twins).")
    cells = [{"task": r["env"], "layer": short_name(r["layer"]), "kind": r["kind"],
              "CKA to the pretrained block": number(r["cka_to_block"]),
              "CKA to the bypass": number(r["cka_to_bypass"])} for r in rows]
    return ("Linear CKA (1 = the same features up to rotation and scale) of each layer's "
            "features on the same random-policy observations of the task, to the pretrained "
            "block's and to the bypass's (the same adapters with no block). A twin close to "
            "the bypass and far from the block removes what the block computes; one close to "
            "the block removes little that a linear read-out sees.\n\n"
            + table(cells))


def best(rows: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["best_block_vs_others"]
    if not q:
        return "No pretrained block was run: the question is not answered."
    parts = []
    for env, s in q.items():
        where = "Pooled over tasks" if env == POOLED else f"On `{env}`"
        parts.append(f"{where} the best pretrained block is `{short_name(s['best_block'])}`; "
                     f"against the {s['others']} other layers: {counts_text(s)} (without "
                     f"flagged runs: {counts_text(s['unflagged'])}).")
    note = ("The best block was chosen as the highest IQM on these same runs, so its wins "
            "are optimistic; its losses and ties are not.")
    return " ".join(parts) + " " + note + "\n\n" + pair_table(rows, "best block", "vs layer")


def prefix(rows: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["prefix_vs_block"]
    if not q:
        return ("No prefix stack was run (`--layers prefixes`): the question is not "
                "answered.")
    parts = [f"{'Pooled over tasks' if env == POOLED else f'On `{env}`'}: "
             f"{counts_text(s) or 'no rows'}." for env, s in q.items()]
    return ("Blocks 0..k as one frozen stack (the model's own representation after block k) "
            "minus block k alone, paired by seed. " + " ".join(parts) + "\n\n"
            + pair_table(rows, "stack", "block alone"))


def picks(ans: Mapping) -> str:
    parts, rows = [], []
    for r in ans["analysis_picked_it"]:
        picked = "yes" if r["picked_best_block"] else "no"
        parts.append(
            f"On `{r['env']}` the analysis' top pretrained block is "
            f"`{short_name(r['analysis_top_block'] or '—')}` and RL's best is "
            f"`{short_name(r['rl_best_block'] or '—')}` ({picked}); of the "
            f"{r['n_layers']} analysed layers it selected `{short_name(r['analysis_selected'])}` "
            f"({r['analysis_selected_kind']}), which ranked {r['analysis_selected_return_rank']}"
            f" by final return.")
        rows.append({"task": r["env"], "selected": short_name(r["analysis_selected"]),
                     "its return rank": r["analysis_selected_return_rank"],
                     "top block (analysis)": short_name(r["analysis_top_block"] or "—"),
                     "best block (RL)": short_name(r["rl_best_block"] or "—"),
                     "same block": picked,
                     "selection score": f"`{r['select_by']}`",
                     "Spearman (score vs return) [95% CI]":
                         estimate(r["spearman"], r["ci_low"], r["ci_high"], 2, sign=True),
                     "p": p_value(r["p"])})
    if not rows:
        return "The analysis was not run: the question is not answered."
    return " ".join(parts) + "\n\n" + table(rows)


def validity(rows: Sequence[Mapping], envs: Sequence[str]) -> str:
    """Every analysis score by its Spearman correlation with the final return, per task."""
    if not rows:
        return "The analysis was not run: no score can be checked against RL return."
    parts, cells = [], []
    for env in envs:
        mine = sorted((r for r in rows if r["env"] == env),
                      key=lambda r: -r["spearman"] if math.isfinite(r["spearman"]) else 2)
        if not mine:
            continue
        ranked = [r["score"] for r in mine if math.isfinite(r["spearman"])]
        parts.append(f"On `{env}`, by Spearman: " + (", ".join(f"`{s}`" for s in ranked)
                                                      or "none computable") + ".")
        cells += [{"task": env, "score": r["score"], "layers": r["n_layers"],
                   "Spearman [95% CI over layers]":
                       estimate(r["spearman"], r["ci_low"], r["ci_high"], 2, sign=True),
                   "permutation p": p_value(r["p"])} for r in mine]
    return ("The Spearman correlation of each analysis score (the ridge probes, the "
            "composite, and the acting probes where the analysis ran them) with the layers' "
            "final return (mean over seeds), across the analysed layers of each task; the "
            "CI resamples layers, the p permutes them. A table to read, not a selection "
            "rule. " + " ".join(parts) + "\n\n" + table(cells))


def layer_table(layers: Sequence[Mapping]) -> str:
    auc = any(r["auc_iqm_frac"] != "" for r in layers)
    rows = []
    for r in layers:
        row = {"task": r["env"], "layer": short_name(r["layer"]), "kind": r["kind"],
               "final, fraction [95% CI]": estimate(r["final_iqm_frac"],
                                                    r["final_iqm_frac_ci_low"],
                                                    r["final_iqm_frac_ci_high"]),
               "final, raw [95% CI]": (estimate(r["final_iqm_raw"], r["final_iqm_raw_ci_low"],
                                                r["final_iqm_raw_ci_high"])
                                       if r["final_iqm_raw"] != "" else "—")}
        if auc:
            row["sample efficiency, fraction [95% CI]"] = estimate(
                r["auc_iqm_frac"], r["auc_iqm_frac_ci_low"], r["auc_iqm_frac_ci_high"])
        row.update({"selection score": number(r["selection_score"]),
                    "rank (score / return)": f"{r['score_rank'] or '—'} / {r['return_rank']}",
                    "runs flagged": r.get("runs_flagged", 0)})
        rows.append(row)
    return table(rows)

