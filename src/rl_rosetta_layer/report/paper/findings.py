"""The sentences of the paper that state a finding, each worded by the verdicts of
:mod:`.claims` and carrying the numbers behind them.

Every function takes the :class:`.inputs.Outputs` of one output folder and returns
text; none reads a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .. import claims
from ..figures import layer_kind
from .environment import env_limitations
from .formatting import ci, code, f3, fp, names_list, seeds_text, sg, to_float
from .inputs import Outputs

# ----------------------------------------------------------------------------- verdicts
#: What a validity verdict says about a score, as the end of a sentence.
PREDICATE = {
    claims.PREDICTS: "predicts RL return",
    claims.PREDICTS_NS: "correlates positively with RL return, but not significantly",
    claims.NOT_RELIABLE: "does not reliably predict RL return",
    claims.DOES_NOT: "does not predict RL return",
    claims.NOT_COMPUTABLE: "could not be tested against RL return",
}


def validity_verdicts(o: Outputs) -> dict[str, str]:
    """Verdict of every score (the selection score on its own p, the others Holm-adjusted)."""
    return claims.validity_verdicts(o.validity, o.select_by)


def validity_verdict(o: Outputs, score: str) -> str:
    """Verdict of ``score`` (NOT_COMPUTABLE when it was not tested)."""
    return validity_verdicts(o).get(score, claims.NOT_COMPUTABLE)


def budget_text(tr: Mapping) -> str:
    """The budget every run had: '350 episodes', or '3000 env steps' for runs trained
    with ``--env-steps`` (whose configured episode count is not used)."""
    if tr.get("env_steps_budget"):
        return f"{tr['env_steps_budget']} env steps"
    return f"{tr['episodes']} episodes"


def kinds_text(tr: Mapping) -> str:
    """'4 candidates, 2 baselines and 8 random-bank layers' (the kinds present)."""
    names = {"candidate": ("candidate", "candidates"), "baseline": ("baseline", "baselines"),
             "bank": ("random-bank layer", "random-bank layers")}
    counts = tr.get("n_layers_by_kind", {})
    parts = [f"{counts[kind]} {names[kind][counts[kind] != 1]}" for kind in names
             if counts.get(kind)]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def comparison_verdicts(o: Outputs) -> dict[str, str]:
    """Verdict of the selected layer against each other layer, by the other layer's name."""
    return {r["other"]: claims.comparison_verdict(r) for r in o.comparisons}


#: The study's control whose failure leaves a task unanswered (as :mod:`..study` says).
POSITIVE_CONTROL = "positive control learned"


def failed_controls(o: Outputs) -> list[dict]:
    """The study's pipeline controls of this task that failed (:func:`.inputs.study_controls`;
    [] outside a study). Whether a task can tell layers apart is a finding about the task,
    not a failure of the pipeline, so those rows are not among them."""
    from ..study.controls import PIPELINE

    return [r for r in o.extra.get("controls", [])
            if r["control"] in PIPELINE and str(r["passed"]) != "True"]


def hypothesis(o: Outputs) -> str:
    """The verdict on the hypothesis: :data:`~..claims.NOT_ANSWERED` when the study's
    positive control did not learn this task (the pipeline failed there, so no comparison
    answers it), else the comparisons' (:func:`~..claims.hypothesis_verdict`)."""
    if any(r["control"] == POSITIVE_CONTROL for r in failed_controls(o)):
        return claims.NOT_ANSWERED
    return claims.hypothesis_verdict(list(comparison_verdicts(o).values()))


def control_sentence(o: Outputs) -> str:
    """Why the hypothesis is not answered: the positive control that did not learn."""
    row = next(r for r in failed_controls(o) if r["control"] == POSITIVE_CONTROL)
    return (f"The study's positive control {code(row['layer'])} did not learn this task (the "
            f"lower end of its IQM's 95% CI stays below half of the achievable return, "
            f"`study_controls.csv`): the pipeline failed here, so its comparisons "
            f"cannot tell whether the selected layer beats the other layer choices, and the "
            f"hypothesis is *{claims.NOT_ANSWERED}*.")


def validity_row(o: Outputs, score: str) -> dict | None:
    """The row of ``score`` in ``score_validity.csv`` (None when it was not tested)."""
    return next((r for r in o.validity if r["score"] == score), None)


def strongest_other(o: Outputs, kinds: Sequence[str]) -> dict | None:
    """The summary row with the best mean final return among the layers of ``kinds``
    other than the selected one (None when there is none)."""
    rows = [r for r in o.summary if r["layer"] != o.selected and layer_kind(r["layer"]) in kinds]
    return max(rows, key=lambda r: to_float(r["mean_last_50"]), default=None)


def seed_power(o: Outputs) -> str:
    """What the number of seeds allows, from the comparisons."""
    c = o.facts.get("comparisons", {})
    n, m = c.get("n_seeds"), c.get("n_comparisons")
    if not c or n is None:
        return ""
    if c["smallest_p_holm"] > claims.ALPHA:
        return (f"With {seeds_text(n)} no paired test can reach p ≤ {claims.ALPHA:g}: the "
                f"smallest attainable two-sided p is {fp(c['smallest_p'])}, and "
                f"{fp(c['smallest_p_holm'])} after Holm over the {m} comparisons; a significant "
                f"difference needs at least {c['min_seeds']} seeds ({c['min_seeds_holm']} with "
                f"Holm over {m}).")
    return (f"With {n} seeds the smallest attainable Holm-adjusted p over the {m} comparisons "
            f"is {fp(c['smallest_p_holm'])}, so a significant difference is possible.")


def left_out_runs(tr: Mapping) -> str:
    """' (identity: diverged 1 of 3; ...)' from the report's counts ('' without them)."""
    by_layer = tr.get("runs_left_out_by_layer") or {}
    parts = [f"{layer}: " + ", ".join(f"{status} {v[status]} of {v['runs']}"
                                      for status in ("diverged", "failed") if v.get(status))
             for layer, v in by_layer.items()]
    return f" ({'; '.join(parts)})" if parts else ""


# ----------------------------------------------------------------------------- findings
def result_sentence(o: Outputs) -> str:
    """The selected layer's final return, its rank, and the hypothesis verdict with the
    comparisons behind it (the abstract's result)."""
    sel = o.row(o.selected)
    verdicts = comparison_verdicts(o)
    hyp = hypothesis(o)
    best = max(o.summary, key=lambda r: to_float(r["mean_last_50"]))
    n_layers = o.facts["training"]["n_layers"]
    out = (f"The selected layer, {code(o.selected)}, reaches a final return of "
           f"{f3(sel['iqm'])} (IQM over seeds, {ci(sel['iqm_ci_low'], sel['iqm_ci_high'])})")
    if best["layer"] == o.selected:
        out += f", the highest of the {n_layers} layers trained."
    elif f3(best["mean_last_50"]) == f3(sel["mean_last_50"]):
        out += f", level with {code(best['layer'])} ({f3(best['iqm'])})."
    else:
        out += f", below {code(best['layer'])} ({f3(best['iqm'])})."
    m = len(verdicts)
    counts = claims.count_verdicts(list(verdicts.values()))
    if hyp == claims.NOT_ANSWERED:
        out += " " + control_sentence(o)
    elif hyp == claims.SUPPORTED:
        out += (f" It is significantly better than each of the {m} other layers (Holm-adjusted "
                f"p ≤ {claims.ALPHA:g} in both paired tests).")
    elif hyp == claims.CONSISTENT:
        closest = min(o.comparisons, key=lambda r: to_float(r["mean_diff"]))
        out += (f" Against each of the {m} other layers the paired 95% CI of its advantage "
                f"lies above zero (smallest mean difference {sg(closest['mean_diff'])}, against "
                f"{code(closest['other'])}), but "
                + (f"none of the {m} differences is significant: " if not counts[claims.SIG_BETTER]
                   else f"only {counts[claims.SIG_BETTER]} of the {m} differences are "
                        f"significant: "))
        c = o.facts.get("comparisons", {})
        if c and c["smallest_p_holm"] > claims.ALPHA:
            out += (f"with {c['n_seeds']} seeds no paired test can reach p < {claims.ALPHA:g} "
                    f"(the smallest attainable p is {fp(c['smallest_p'])}), so the advantage is "
                    f"consistent but not statistically significant.")
        else:
            out += "the advantage is consistent but not statistically established."
    elif hyp == claims.NOT_SUPPORTED:
        worse = [k for k, v in verdicts.items() if v in (claims.SIG_WORSE,
                                                        claims.CONSISTENT_WORSE)]
        out += (f" It is worse than {names_list(worse)} (paired 95% CI of the difference below "
                f"zero), so the hypothesis is not supported.")
    else:
        unclear = [k for k, v in verdicts.items() if v in (claims.UNCLEAR,
                                                          claims.NOT_COMPUTABLE)]
        out += (f" Against {names_list(unclear)} the paired 95% CI of the difference contains "
                f"zero (or cannot be computed), so the data do not establish that it beats the "
                f"other layer choices.")
    return out


def validity_sentence(o: Outputs, short: bool = False) -> str:
    """How well the selection score predicts RL return; unless ``short``, also the other
    score that predicts it best, when that one beats the selection score."""
    row = validity_row(o, o.select_by)
    if row is None:
        return f"The selection score {code(o.select_by)} was not tested against RL return."
    verdict = validity_verdict(o, o.select_by)
    if verdict == claims.NOT_COMPUTABLE:
        note = str(row.get("note", "")).split("; ")[0].removeprefix("not computable: ")
        return (f"Whether the pre-RL score that made the choice, {code(o.select_by)}, predicts "
                f"RL return cannot be said: its rank correlation across {row['n_layers']} "
                f"layers is not computable" + (f" ({note})" if note else "") + ".")
    out = (f"The pre-RL score that made the choice, {code(o.select_by)}, has a Spearman rank "
           f"correlation of {f3(row['spearman'])} with RL return across {row['n_layers']} "
           f"layers ({ci(row['spearman_ci_low'], row['spearman_ci_high'])}, permutation "
           f"p = {fp(row['spearman_p'])}): it {PREDICATE[verdict]}.")
    if short:
        return out
    verdicts = validity_verdicts(o)
    p_used = claims.validity_p(o.validity, o.select_by)
    others = [r for r in o.validity if r["score"] != o.select_by
              and math.isfinite(to_float(r["spearman"]))]
    if others:
        best = max(others, key=lambda r: to_float(r["spearman"]))
        if to_float(best["spearman"]) > to_float(row["spearman"]):
            out += (f" Among the other scores, {code(best['score'])} correlates best (ρ = "
                    f"{f3(best['spearman'])}, p = {fp(best['spearman_p'])}, "
                    f"{fp(p_used[best['score']])} after Holm over the {len(others)} other "
                    f"scores): it {PREDICATE[verdicts[best['score']]]}.")
    return out


def bank_claim(o: Outputs) -> str:
    """Where the selected layer's IQM lies against the random layer bank's range."""
    bank = o.facts.get("bank")
    sel = o.row(o.selected)
    if not bank:
        return ("No random layer bank was trained (`rosetta train --layers bank`), so what an "
                "arbitrary frozen layer of the selected layer's shape gets is not measured "
                "here.")
    v = to_float(sel["iqm"])
    where = ("above the whole range" if v > bank["iqm_max"] else
             "below the whole range" if v < bank["iqm_min"] else "inside the range")
    return (f"Its IQM ({f3(v)}) lies {where} of the {bank['n_layers']} random frozen layers of "
            f"the same shape (IQM {f3(bank['iqm_min'])} to {f3(bank['iqm_max'])}), which shows "
            f"what an arbitrary frozen layer gets.")


def mlp_claim(o: Outputs) -> str:
    """The verdict of the selected layer against the fully trainable MLP baseline."""
    row = next((r for r in o.comparisons if r["other"] == "mlp_full"), None)
    if row is None:
        return ("The fully trainable MLP baseline (`mlp_full`) was not trained here "
                "(`rosetta train --layers baselines`).")
    verdict = claims.comparison_verdict(row)
    other = o.row("mlp_full")
    return (f"Against the fully trainable MLP `mlp_full` (IQM {f3(other['iqm'])}), the selected "
            f"frozen layer is *{verdict}* (mean paired difference {sg(row['mean_diff'])}, "
            f"{ci(row['diff_ci_low'], row['diff_ci_high'])}).")


# ----------------------------------------------------------------------------- closing
def discussion(o: Outputs, hyp: str) -> str:
    """What the selection and the scores show, and what would settle the comparison."""
    vv = validity_verdict(o, o.select_by)
    best = max(o.summary, key=lambda r: to_float(r["mean_last_50"]))
    out = []
    if best["layer"] == o.selected and vv != claims.PREDICTS:
        out.append(f"The selection score picked the layer that did best in RL, but across all "
                   f"layers it {PREDICATE[vv]}: one correct pick does not show that the "
                   f"score ranks layers, and a score that cannot rank them is not yet a "
                   f"substitute for RL on a new backbone.")
    elif best["layer"] == o.selected:
        out.append("The selection score picked the layer that did best in RL and ranks the "
                   "layers by their RL return, which is what a pre-RL score must do to save RL "
                   "runs on a new backbone.")
    else:
        out.append(f"The selection score did not pick the layer that did best in RL, and "
                   f"across all layers it {PREDICATE[vv]}.")
    verdicts = validity_verdicts(o)
    sel_rho = to_float(validity_row(o, o.select_by)["spearman"]) if validity_row(
        o, o.select_by) else -math.inf
    good = [r["score"] for r in o.validity if r["score"] != o.select_by
            and verdicts[r["score"]] in (claims.PREDICTS, claims.PREDICTS_NS)
            and to_float(r["spearman"]) > sel_rho]
    if good:
        out.append(f"{names_list(good)} rank the layers more like RL does than the selection "
                   f"score (a CI of ρ above zero), which makes "
                   f"{'them candidates' if len(good) > 1 else 'it a candidate'} for selecting "
                   f"layers of a real backbone; as {'they were' if len(good) > 1 else 'it was'} "
                   f"picked after seeing the results, this needs confirming on new layers.")
    if hyp == claims.CONSISTENT and o.facts.get("comparisons", {}).get(
            "smallest_p_holm", 0) > claims.ALPHA:
        longer = ("more env steps" if o.facts["training"].get("env_steps_budget")
                  else "more episodes")
        out.append(f"The comparison of layers is limited by the number of seeds, not by the "
                   f"size of the differences: more seeds, not {longer}, would settle it.")
    elif hyp == claims.NOT_ESTABLISHED:
        out.append("Some differences are too small for these runs to resolve: more seeds "
                   "would narrow their CIs.")
    elif hyp == claims.NOT_ANSWERED:
        out.append("The positive control did not learn the task, so the pipeline (its "
                   "adapters, head or budget), not the layers, limits these runs: it has to "
                   "learn the task before any layer can be judged on it.")
    return " ".join(out)


def limitations(o: Outputs, synthetic: bool) -> str:
    """The limitations, as a Markdown bullet list."""
    tr, env = o.facts["training"], o.facts.get("env", {})
    comp = o.facts.get("comparisons", {})
    items = []
    if synthetic:
        items.append("No video model was used: the layers are synthetic stand-ins"
                     + (", and one of them (`structured_mid`) computes the task's geometry by "
                        "hand" if "structured_mid" in o.facts.get("layers", {}) else "")
                     + ". The results say nothing yet about blocks of CogVideoX, HunyuanVideo "
                       "or VideoMAE.")
    items += env_limitations(env)
    n = tr["n_seeds"]
    if comp and comp.get("smallest_p_holm", 0) > claims.ALPHA:
        items.append(f"{seeds_text(n)} per layer: no paired test can reach "
                     f"p ≤ {claims.ALPHA:g} (at least {comp['min_seeds']} seeds are needed, "
                     f"{comp['min_seeds_holm']} with Holm over {comp['n_comparisons']} "
                     f"comparisons).")
    if n >= 2 and comp.get("max_ci_coverage") is not None and comp["max_ci_coverage"] < 0.95:
        items.append(f"Bootstrap CIs over {n} seeds cover the true value at most "
                     f"{100 * comp['max_ci_coverage']:.0f}% of the time, not 95%.")
    if n < 4:
        items.append(f"With {seeds_text(n)} the IQM equals the mean, so it gives no "
                     f"robustness to outlying seeds.")
    if tr.get("env_steps_budget"):
        items.append(f"Budgets are equal in env steps ({budget_text(tr)} per run), not in "
                     f"episodes: a layer that learns plays more, shorter episodes, so the last "
                     f"{tr['last_episodes']} episodes behind its outcome span fewer env steps.")
    else:
        items.append(f"Budgets are equal in episodes ({budget_text(tr)} per run), not in env "
                     f"steps: layers that learn see fewer env steps.")
    failed = failed_controls(o)
    if failed:
        items.append("Controls of the study that failed on this task: "
                     + "; ".join(f"'{r['control']}' ({code(r['layer'])})" for r in failed)
                     + " (`study_controls.csv`).")
    if tr.get("config_differs"):
        items.append(f"Runs differ in {names_list(tr['config_differs'])}.")
    if tr.get("runs_not_ok"):
        items.append(f"{tr['runs_not_ok']} run(s) diverged or failed and are left out.")
    else:
        items.append(f"No run diverged or failed ({tr['runs_not_ok']} runs left out).")
    items.append("The run records name the host but not its processor, so the timings cannot "
                 "be tied to a machine.")
    return "\n".join(f"- {i}" for i in items)


def conclusion(o: Outputs, hyp: str, synthetic: bool) -> str:
    """The result in two sentences and what the next runs need."""
    vv = validity_verdict(o, o.select_by)
    comp = o.facts.get("comparisons", {})
    sel = o.row(o.selected)
    out = (f"On {'synthetic layers on ' if synthetic else ''}the seed's grid, the layer chosen "
           f"before RL, {code(o.selected)}, reached a final return of {f3(sel['iqm'])} "
           f"(IQM), and the hypothesis that it beats every other layer choice is *{hyp}*. "
           f"The score that chose it, {code(o.select_by)}, {PREDICATE[vv]} across layers.")
    nxt = ["a pipeline whose positive control learns the task"] \
        if hyp == claims.NOT_ANSWERED else []
    if comp and comp.get("smallest_p_holm", 0) > claims.ALPHA:
        nxt.append(f"at least {comp['min_seeds_holm']} seeds per layer")
    if synthetic:
        nxt.append("real video-model blocks")
    nxt.append("tasks where motion matters")
    need = ", ".join(nxt[:-1]) + " and " + nxt[-1] if len(nxt) > 1 else nxt[0]
    out += f" The next runs need {need}."
    return out

