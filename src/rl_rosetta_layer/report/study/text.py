"""``study.md``: the study's paper section, every number taken from the study's tables.

The answers follow fixed rules (:func:`.data.verdict`): a difference is "better" or
"worse" only when its 95 % CI excludes zero *and* its Holm-corrected sign-flip p is below
0.05, "equivalent" only when two one-sided tests put it inside +-0.1 of the achievable,
"flagged" when a run behind it failed the health check, "control failed" on a task whose
positive control did not learn it, and "inconclusive" otherwise, whatever the point
estimate. The answer sections are in :mod:`.sections`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from . import sections
from .controls import DISCRIMINATION
from .data import CEILING, KINDS, LEARNED, MARGIN, ROOM, block_of, layer_kind
from .figures import short_name
from .fmt import OUTSIDE, OUTSIDE_NOTE, count, estimate, number, p_value, table

MEASURE_TEXT = {
    "final_eval": "The final return of a run is the mean return of its last greedy "
                  "evaluation ({episodes} episodes with epsilon {epsilon} at the end of its "
                  "budget), and its sample efficiency the mean of its {checkpoints} "
                  "evaluation checkpoints' means (`final_eval` and `auc_eval` of "
                  "`experiment_runs.csv`).",
    "mean_last_50": "The final return of a run is the mean return of its last 50 training "
                    "episodes (`mean_last_50`): {why}, so no greedy evaluation and no "
                    "sample efficiency is reported."}


def _budget(data, plan: Mapping, cfg: Mapping) -> str:
    budgets = plan.get("budgets") or {}
    if budgets and len(set(budgets.values())) > 1:
        return "a budget per task (" + ", ".join(f"`{e}` {budgets[e]:,} env steps"
                                                 for e in data.envs if e in budgets) + ")"
    if budgets:
        return f"the same budget of {next(iter(budgets.values())):,} env steps"
    return (f"the same budget of {cfg['env_steps']:,} env steps" if cfg.get("env_steps")
            else f"the same budget of {cfg.get('episodes', '?')} episodes")


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
    why = data.measure_note or "the runs were trained before greedy evaluations existed"
    measure = MEASURE_TEXT[data.measure].format(
        episodes=cfg.get("eval_episodes", 50), epsilon=cfg.get("eval_epsilon", 0.01),
        checkpoints=cfg.get("eval_checkpoints", "?"), why=why)
    norm = "; ".join(f"`{e}` random {number(data.random[e])}, reference "
                     f"{number(data.optimal[e])}" for e in data.envs)
    return (
        f"We froze each block of the `{plan.get('backbone', '?')}` video model and trained "
        f"the same {'Double ' if cfg.get('double_dqn', True) else ''}DQN through it on "
        f"{envs}: {adapter}, the block frozen, then its output tokens read by "
        f"{readout_text}, and {head}; the read-out and head train. The layers: "
        f"{count(kinds['pretrained'], 'pretrained block')}, their "
        f"{count(kinds['twin'], 'random twin')} (same architecture, fresh weights) and "
        f"{count(kinds['shuffled'], 'shuffled twin')} (each pretrained tensor's entries "
        f"permuted), {count(kinds['prefix'], 'stack')} of the model's blocks 0..k (its own "
        f"intermediate representation), {count(kinds['control'], 'control')} (the bypass: "
        f"the same adapters with no block), {count(kinds['synthetic'], 'synthetic candidate')}"
        f" and {count(kinds['baseline'], 'baseline')} (numpy layers get the same input "
        f"setting and the same head), each with {len(seeds)} seeds ({_seed_text(seeds)}) "
        f"and {_budget(data, plan, cfg)} per run (batch {cfg.get('batch_size', '?')}, an "
        f"update every {cfg.get('train_every', '?')} steps). {measure} Before RL, the "
        f"analysis scored every frozen layer on {plan.get('dataset_steps', '?')} "
        f"random-policy transitions per task.\n\n"
        f"Every return and every difference below is a fraction of the achievable: "
        f"(return - random) / (reference - random), with the mean returns of a random and "
        f"of the optimal reference policy over the same {plan.get('task_episodes', '?')} "
        f"episode starts ({norm}); 0 is the random policy, 1 optimal. Pooled statistics "
        f"treat each (task, seed) as one unit, resample seeds within tasks, and pool only "
        f"the tasks whose positive control learned. A difference counts as shown only when "
        f"its 95% bootstrap CI excludes zero and its Holm-corrected sign-flip p is below "
        f"0.05; two layers count as equivalent only when two one-sided sign-flip tests "
        f"(Holm) put their difference inside +-{MARGIN} of the achievable and its 95% CI "
        f"lies inside that margin; otherwise the comparison is inconclusive. A task whose "
        f"positive control did not learn it gives no answer (\"control failed\"), and a "
        f"comparison with a run flagged by the health check (constant greedy policy or "
        f"saturated head) is reported as flagged, never as a result; each comparison is "
        f"also given with the flagged runs' seeds left out, beside the main verdict.")


def _seed_text(seeds) -> str:
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _controls(data, ans: Mapping) -> str:
    rows = ans["controls"]
    if not rows:
        return ("No control was run (`--layers bypass,identity`): nothing shows that this "
                "pipeline can learn these tasks or that they can tell layers apart.")
    text = []
    for env in data.envs:
        mine = {r["control"]: r for r in rows if r["env"] == env}
        learned = ans["control_learned"].get(env)
        c = mine.get("positive control learned")
        if c is None:
            text.append(f"On `{env}` no positive control (the bypass or `identity`) was run: "
                        f"nothing shows the pipeline can learn it.")
        else:
            ci = estimate(c["value_frac"], c["value_frac_ci_low"], c["value_frac_ci_high"])
            text.append(f"On `{env}` the positive control ({short_name(c['layer'])}) "
                        f"{'learned' if learned else 'did NOT learn'} the task ({ci}; the "
                        f"lower end must reach {LEARNED})"
                        + (": answers are given." if learned else
                           ": the task gives no answer."))
        apart = ans["tells_layers_apart"].get(env)
        if apart is None:
            text.append("Whether it can tell layers apart is not known (`identity` was not "
                        "run).")
        else:
            ceiling, room = (mine[k] for k in DISCRIMINATION)
            text.append(
                f"It {'can' if apart else 'can NOT'} tell layers apart: `identity` reaches "
                f"{estimate(ceiling['value_frac'], ceiling['value_frac_ci_low'], ceiling['value_frac_ci_high'])}"  # noqa: E501
                f" (the upper end must be at most {CEILING}), and the layer furthest above "
                f"it, {short_name(room['layer'])}, by "
                f"{estimate(room['value_frac'], room['value_frac_ci_low'], room['value_frac_ci_high'], sign=True)}"  # noqa: E501
                f" (the lower end must reach {ROOM}).")
    health = ans["health"]
    if not health["recorded"]:
        text.append("Run health was not recorded for these runs (made before it existed).")
    else:
        where = [f"{e}: {short_name(n)}" for e, _, n in
                 (x.partition(": ") for x in health["flagged_layers"])]
        text.append(f"Of {health['runs']} runs, {health['runs_flagged']} were flagged by the "
                    f"health check" + (f" ({', '.join(where)})" if where else "") + ".")
    cells = [{"task": r["env"], "control": r["control"], "layer": short_name(r["layer"]),
              "reference": short_name(r["reference"]) if r["reference"] else "",
              "value, fraction [95% CI]": estimate(
                  r["value_frac"], r["value_frac_ci_low"], r["value_frac_ci_high"],
                  sign=r["control"] not in ("positive control learned",
                                            "identity below ceiling")),
              "target": r["target"], "passed": "yes" if r["passed"] else "NO"} for r in rows]
    return " ".join(text) + "\n\n" + table(cells)


def _power(ans: Mapping) -> str:
    rows = ans["power"]
    if not rows:
        return ""
    cells = [{"Holm family": r["holm_family"], "units": r["units"], "n": r["n_units"],
              "tests": r["holm_size"], "smallest Holm p": p_value(r["smallest_p_holm"]),
              "SD of paired differences (median)": number(r["diff_frac_sd"]),
              "minimum detectable effect, fraction": number(r["mde_frac"])} for r in rows]
    none = [r["holm_family"] for r in rows if r["mde_frac"] == math.inf]
    text = ("For each Holm family, the smallest true difference (fraction of the achievable) "
            "that a paired test at 0.05 divided by the family's size finds 80% of the time, "
            "from the family's units and the median standard deviation of its paired "
            "differences (a paired t-test approximation of the sign-flip test; "
            "`study_power.csv`). A difference smaller than this that is reported as "
            "inconclusive is what these seeds cannot see, not evidence of no difference.")
    if none:
        text += (f" In {'; '.join(none)} the exact sign-flip test cannot reach 0.05 after "
                 f"Holm with so few units: no difference can pass there.")
    return text + "\n\n" + table(cells)


def _figure(path: Path, study_md: Path, number_: int, caption: str) -> str:
    rel = os.path.relpath(Path(path).resolve(), study_md.resolve().parent).replace(os.sep, "/")
    return f"![Figure {number_}: {caption}]({rel})\n\n*Figure {number_}. {caption}*"


def study_markdown(data, plan: Mapping, tables: Mapping, ans: Mapping,
                   figures: Mapping[str, Path]) -> str:
    """The paper section (Markdown) of one study."""
    study_md = data.out_dir / "study.md"
    layers = tables["layers"]
    what = "final evaluation" if data.measure == "final_eval" else "final training return"
    out = [f"## Study: frozen blocks of `{plan.get('backbone', 'a video model')}` as RL "
           f"representations\n", _setup(data, plan),
           "### Controls: can this pipeline learn, and can each task tell layers apart?",
           _controls(data, ans), "### What these seeds can detect", _power(ans)]
    n = 1
    if "returns" in figures:
        out.append(_figure(figures["returns"], study_md, n,
                           f"Final return ({what}) per layer and task as a fraction of the "
                           f"achievable (0 random policy, 1 reference): IQM over seeds with "
                           f"95% bootstrap CI."))
        n += 1
    for variant, key in (("random", "twins"), ("shuffled", "shuffled")):
        out += [f"### Does a pretrained block beat its {variant} twin?",
                sections.twins(tables["twins"], ans, variant)]
        if key in figures:
            out.append(_figure(figures[key], study_md, n,
                               f"Pretrained block minus its {variant} twin, paired by seed, "
                               f"fraction of the achievable."))
            n += 1
    out += ["### What each twin removes", sections.similarity(tables["similarity"]),
            "### Does the best pretrained block beat the other layers?",
            sections.best(tables["best"], ans),
            "### Is one isolated block the right unit?", sections.prefix(tables["prefix"], ans),
            "### Did the analysis pick it?", sections.picks(ans),
            "### Which analysis score tracks RL return?",
            sections.validity(tables["validity"], data.envs),
            "### Every layer", _every_layer(data, ans), sections.layer_table(layers)]
    dropped = ans.get("dropped_layers") or {}
    if dropped:
        out.append("Left out (runs failed or diverged on some seeds): " + "; ".join(
            f"`{e}`: {', '.join(short_name(n) for n in v)}" for e, v in dropped.items()) + ".")
    if any(OUTSIDE in s for s in out):
        out.append(OUTSIDE_NOTE)
    blocks = sorted({block_of(r["layer"]) for r in layers if r["kind"] == "pretrained"})
    out.append(f"*Generated by `rosetta study` from the files beside this one "
               f"({count(len(blocks), 'block')}; tables study_layers.csv, study_controls.csv, "
               f"study_health.csv, study_twins.csv, study_prefix.csv, study_best.csv, "
               f"study_similarity.csv, study_validity.csv, study_power.csv). "
               f"`study_runs.csv` has one row per run (final evaluation, mean over "
               f"evaluation checkpoints and last 50 training episodes, as fractions of the "
               f"achievable and raw, and the health flags): every table here can be "
               f"recomputed from it and `tasks.csv`.*")
    return "\n\n".join(s.rstrip() for s in out if s) + "\n"


def _every_layer(data, ans: Mapping) -> str:
    pooled = ans.get("pooled_envs") or []
    text = (f"Per task, each layer's final return ({'final evaluation' if data.measure == 'final_eval' else 'last 50 training episodes'}) as an IQM over "  # noqa: E501
            f"seeds with its 95% bootstrap CI, as a fraction of the achievable and in the "
            f"task's own units")
    if data.has_auc:
        text += ", and its sample efficiency (the mean over evaluation checkpoints)"
    text += "."
    if pooled:
        text += (f" The 'all' rows pool {', '.join(f'`{e}`' for e in pooled)} (the tasks "
                 f"whose positive control learned).")
    elif len(data.envs) > 1:
        text += " No 'all' rows: fewer than two tasks' positive controls learned."
    return text

