"""``study.md``: the study's paper section, every number taken from the study's tables.

The answers follow fixed rules (:func:`.data.verdict`): a difference is "better" or
"worse" only when its 95 % CI excludes zero *and* its Holm-corrected sign-flip p is below
0.05, "equivalent" only when two one-sided tests put it inside +-0.1 of the achievable on
a task where the positive control learned, "flagged" when a run behind it failed the
health check, and "inconclusive" otherwise, whatever the point estimate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..markdown import markdown_table
from .data import KINDS, LEARNED, MARGIN, POOLED, block_of, layer_kind
from .figures import short_name
from .tables import block_label, label


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
    kinds = {k: sum(layer_kind(n) == k for n in layers) for k in KINDS}
    adapter = ("a trained patch-embedding input adapter" if cfg.get("adapter") != "none"
               else "the model's own patch embedding and positions, frozen, as the input "
                    "adapter")
    video = plan.get("video", {})
    readout = video.get("readout", "mean")
    readout_text = {"project": f"a per-token LayerNorm and a shared per-token projection to "
                               f"{video.get('readout_dim', 4)} values, concatenated",
                    "attention": "a per-token LayerNorm and attention pooling",
                    "flatten": "a per-token LayerNorm, all tokens flattened",
                    "mean": "the mean over tokens"}.get(readout, readout)
    head = ("an MLP" if cfg.get("head") == "mlp" else "a linear") + " head"
    if cfg.get("head") == "mlp":
        head += (f" ({cfg.get('head_activation', 'tanh')}"
                 + (", LayerNorm of its hidden pre-activations" if cfg.get("head_norm") ==
                    "layer" else "") + ")")
    budget = (f"{cfg['env_steps']} env steps" if cfg.get("env_steps")
              else f"{cfg.get('episodes', '?')} episodes")
    norm = "; ".join(f"`{e}` random {_f(data.random[e])}, reference {_f(data.optimal[e])}"
                     for e in data.envs)
    return (
        f"We froze each block of the `{plan.get('backbone', '?')}` video model and trained "
        f"the same {'Double ' if cfg.get('double_dqn', True) else ''}DQN through it on "
        f"{envs}: {adapter}, the block frozen, then its output tokens read by "
        f"{readout_text}, and {head}; the read-out and head train. The layers: "
        f"{_n(kinds['pretrained'], 'pretrained block')}, their "
        f"{_n(kinds['twin'], 'random-initialised twin')} (same architecture, fresh weights), "
        f"{_n(kinds['prefix'], 'stack')} of the model's blocks 0..k (its own intermediate "
        f"representation), {_n(kinds['control'], 'control')} (the bypass: the same adapters "
        f"with no block; a numpy layer trained by the torch learner), "
        f"{_n(kinds['synthetic'], 'synthetic candidate')} and "
        f"{_n(kinds['baseline'], 'baseline')} (numpy layers get the same input setting and "
        f"the same head), each with {len(seeds)} seeds ({_seed_text(seeds)}) and the "
        f"same budget of {budget} per run (batch {cfg.get('batch_size', '?')}, an update "
        f"every {cfg.get('train_every', '?')} steps). The final return of a run is the mean "
        f"return of its last 50 episodes. Before RL, the analysis scored every frozen layer "
        f"on {plan.get('dataset_steps', '?')} random-policy transitions per task.\n\n"
        f"To compare across tasks, returns are read as a fraction of the achievable: "
        f"(return - random) / (reference - random), with the mean returns of a random and "
        f"of the optimal reference policy over the same {plan.get('task_episodes', '?')} "
        f"episode starts ({norm}). Pooled statistics treat each (task, seed) as one unit "
        f"and resample seeds within tasks. A difference counts as shown only when its 95% "
        f"bootstrap CI excludes zero and its Holm-corrected sign-flip p is below 0.05; two "
        f"layers count as equivalent only when two one-sided sign-flip tests (Holm) put "
        f"their difference inside +-{MARGIN} of the achievable and its 95% CI lies inside "
        f"that margin, on a task where the positive control learned (at least {LEARNED} of "
        f"the achievable); otherwise the comparison is inconclusive. A comparison with a "
        f"run flagged by the health check (constant greedy policy or saturated head) is "
        f"reported as flagged, never as a result. {_power(len(seeds), len(data.envs))}")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _seed_text(seeds) -> str:
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


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


WORDS = {"better": "Yes", "worse": "No, the reverse", "equivalent": "No difference",
         "inconclusive": "Too noisy to tell", "flagged": "Not answered (flagged runs)"}


def _pair_table(rows: Sequence[Mapping], a: str, b: str) -> str:
    out = [{"task": r["env"], a: label(r, "a"), b: label(r, "b"),
            "mean a": _f(r["mean_a"]), "mean b": _f(r["mean_b"]),
            "a - b [95% CI]": _diff(r), "p (Holm)": _p(r["p_holm"]),
            f"p equiv. +-{MARGIN} (Holm)": _p(r["p_equivalence_holm"]),
            "verdict": r["verdict"]} for r in rows]
    return markdown_table(out, list(out[0])) if out else ""


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in ("better", "worse", "equivalent",
                                                   "inconclusive", "flagged") if counts.get(v))


def _q1(twins: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["pretrained_vs_twin"]
    overall = q["overall"]
    if overall is None:
        return "No pretrained block was run with its twin: the question is not answered."
    where = "pooled over tasks" if overall["env"] == POOLED else f"on `{overall['env']}`"
    lines = [
        f"**{WORDS[overall['verdict']]}.** {where.capitalize()}, the pretrained blocks minus "
        f"their random twins: {_diff(overall)} ({overall['units']}, {overall['n_units']} "
        f"units; sign-flip p {_p(overall['p_sign_flip'])}, Holm {_p(overall['p_holm'])}; "
        f"equivalence within +-{_f(overall['margin'], '.3g')} p "
        f"{_p(overall['p_equivalence_holm'])}). Of {q['block_tests']} (task, block) pairs: "
        f"{_counts_text(q['block_verdicts']) or 'none'}.",
        _pair_table([{**r, "a": block_label(r), "b": "twin" if r["family"] == "block"
                      else r["b"]} for r in twins], "pretrained", "twin")]
    return "\n\n".join(lines)


def _q2(best: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["best_block_vs_others"]
    if not q:
        return "No pretrained block was run: the question is not answered."
    parts = []
    for env, s in q.items():
        where = "Pooled over tasks" if env == POOLED else f"On `{env}`"
        parts.append(f"{where} the best pretrained block is `{short_name(s['best_block'])}`; "
                     f"against the {s['others']} other layers: {_counts_text(s)}.")
    note = ("The best block was chosen as the highest IQM on these same runs, so its wins "
            "are optimistic; its losses and ties are not.")
    return (" ".join(parts) + " " + note + "\n\n"
            + _pair_table(best, "best block", "vs layer"))


def _q4(prefix: Sequence[Mapping], ans: Mapping) -> str:
    q = ans["prefix_vs_block"]
    if not q:
        return ("No prefix stack was run (`--layers prefixes`): the question is not "
                "answered.")
    parts = [f"{'Pooled over tasks' if env == POOLED else f'On `{env}`'}: "
             f"{_counts_text(s) or 'no rows'}." for env, s in q.items()]
    return ("Blocks 0..k as one frozen stack (the model's own representation after block k) "
            "minus block k alone, paired by seed. " + " ".join(parts) + "\n\n"
            + _pair_table(prefix, "stack", "block alone"))


def _controls(ans: Mapping) -> str:
    rows = ans["controls"]
    if not rows:
        return ("No control was run (`--layers bypass` and a `NAME@torch` layer): nothing "
                "shows that this pipeline can learn these tasks.")
    health = ans["health"]
    verdict = "passed" if ans["controls_passed"] else "did NOT all pass"
    text = [f"Before any answer: can this pipeline learn these tasks, and do its two learners "
            f"agree? The controls {verdict}."]
    if not health["recorded"]:
        text.append("Run health was not recorded for these runs (made before it existed).")
    else:
        where = [f"{e}: {short_name(n)}" for e, _, n in
                 (x.partition(": ") for x in health["flagged_layers"])]
        text.append(f"Of {health['runs']} runs, {health['runs_flagged']} were flagged by the "
                    f"health check" + (f" ({', '.join(where)})" if where else "") + ".")
    table = [{"task": r["env"], "control": r["control"], "layer": short_name(r["layer"]),
              "reference": short_name(r["reference"]) if r["reference"] else "",
              "value": _f(r["value"], "+.3f"),
              "paired difference [95% CI]": (f"{_f(r['mean_diff'], '+.3f')} "
                                             f"{_ci(r['diff_ci_low'], r['diff_ci_high'])}"
                                             if math.isfinite(r["mean_diff"]) else ""),
              "target": r["target"], "passed": "yes" if r["passed"] else "NO"} for r in rows]
    return " ".join(text) + "\n\n" + markdown_table(table, list(table[0]))


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
             "rank (score / return)": f"{r['score_rank'] or '—'} / {r['return_rank']}",
             "runs flagged": r.get("runs_flagged", 0)}
            for r in layers]
    return markdown_table(rows, list(rows[0])) if rows else ""


def _figure(path: Path, study_md: Path, number: int, caption: str) -> str:
    rel = os.path.relpath(Path(path).resolve(), study_md.resolve().parent).replace(os.sep, "/")
    return f"![Figure {number}: {caption}]({rel})\n\n*Figure {number}. {caption}*"


def study_markdown(data, plan: Mapping, tables: Mapping, ans: Mapping,
                   figures: Mapping[str, Path]) -> str:
    """The paper section (Markdown) of one study."""
    study_md = data.out_dir / "study.md"
    layers = tables["layers"]
    out = [f"## Study: frozen blocks of `{plan.get('backbone', 'a video model')}` as RL "
           f"representations\n", _setup(data, plan),
           "### Controls: can this pipeline learn?", _controls(ans)]
    if "returns" in figures:
        out.append(_figure(figures["returns"], study_md, 1,
                           "Final return per layer and task as a fraction of the achievable "
                           "(0 random policy, 1 reference): IQM over seeds with 95% "
                           "bootstrap CI."))
    out += ["### Does a pretrained block beat its random twin?", _q1(tables["twins"], ans)]
    if "twins" in figures:
        out.append(_figure(figures["twins"], study_md, 2,
                           "Pretrained block minus its random twin, paired by seed."))
    out += ["### Does the best pretrained block beat the other layers?",
            _q2(tables["best"], ans),
            "### Is one isolated block the right unit?", _q4(tables["prefix"], ans),
            "### Did the analysis pick it?", _q3(ans),
            "### Every layer", _layer_table(layers)]
    dropped = ans.get("dropped_layers") or {}
    if dropped:
        out.append("Left out (runs failed or diverged on some seeds): " + "; ".join(
            f"`{e}`: {', '.join(short_name(n) for n in v)}" for e, v in dropped.items()) + ".")
    blocks = sorted({block_of(r["layer"]) for r in layers if r["kind"] == "pretrained"})
    out.append(f"*Generated by `rosetta study` from the files beside this one "
               f"({len(blocks)} blocks; tables study_layers.csv, study_controls.csv, "
               f"study_health.csv, study_twins.csv, study_prefix.csv, study_best.csv, "
               f"study_validity.csv).*")
    return "\n\n".join(s.rstrip() for s in out if s) + "\n"
