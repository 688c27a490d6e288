"""``paper/paper.md`` from ``paper/dummy_paper.md`` and the outputs, and the check on it.

* :func:`load_outputs` reads everything the paper needs and raises
  :class:`~rl_rosetta_layer.errors.MissingInputError` (naming the command that writes the
  missing file) rather than let the paper invent a number;
* :func:`paper_context` turns the outputs into the text of every placeholder, with claims
  chosen by the rules in :mod:`.claims`;
* :func:`render` fills the template; :func:`write_paper` renders, checks and writes;
* :func:`check_paper` lists the problems of a paper: a placeholder left, a number that
  appears in no output file, a citation key missing from the bibliography.

Numbers in the paper are printed at a fixed precision from the output files (or from
``report_facts.json``, which ``rosetta report`` derives from them), so the check can find
every one of them again.
"""

from __future__ import annotations

import json
import math
import os
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..analysis.score import METRICS
from ..errors import CorruptFileError, MissingInputError, RosettaError
from ..io import atomic_write_text, read_csv
from ..layers.registry import KNOWN
from . import claims
from .bib import BibEntry, load_bib
from .facts import EPISODE_ARRAYS, FACTS_FILE, json_field, read_json_object, run_paths
from .figures import FIGURE_FILES, FIGURES_DIR, layer_kind
from .tables import ANALYSIS_TABLE, METRIC_HEADERS

TEMPLATE_NAME = "dummy_paper.md"
BIB_NAME = "references.bib"
DEFAULT_PAPER = Path("paper") / "paper.md"

HYPOTHESIS = ("a single frozen layer of a pretrained video model, wrapped in small trainable "
              "adapters, makes a better reinforcement-learning representation than other "
              "layer choices")

#: Placeholders of the template: ``[fill: key]``, ``[X%: key]``, ``[quantify: key]``,
#: ``[hypothesis]``, ``[baseline layer]``, ``[CITE key, key]``.
PLACEHOLDER = re.compile(r"\[(fill|X%|quantify|CITE|hypothesis|baseline layer)"
                         r"(?:(?::\s*|\s+)([^\]]*))?\]")
_NAMED = {"hypothesis": "hypothesis", "baseline layer": "baseline_layer"}
#: Words that mark unfinished text wherever they appear (outside code).
_MARKERS = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|\?\?\?")
_PLACEHOLDER_WORDS = ("fill", "cite", "x%", "xx", "hypothesis", "baseline layer", "quantify",
                      "todo", "tbd", "insert")
#: A number as printed: optional sign, digits, decimals, exponent, percent. Not part of a
#: word (``random_bank_0``, ``R2``) and not a piece of a version (``3.11.7``).
NUMBER = re.compile(r"(?<![\w.])([-+−]?)(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\.?\d)(\s?%)?")
#: A CI as the tables print it; '—' is their mark of a value that is not computable.
_INTERVAL = re.compile(r"^\s*(?:[-+−]?\d+(?:\.\d+)?|—)\s*,\s*(?:[-+−]?\d+(?:\.\d+)?|—)\s*$")
#: Output files with thousands of per-episode or per-replicate numbers: any number would
#: match one of them, so the check does not accept numbers from them.
BULK_FILES = ("experiment_returns.csv", "layer_analysis_bootstrap.csv")

LAYER_DESCRIPTIONS = {
    "random_wide": "tanh of a fixed random Gaussian projection (the seed's)",
    "random_narrow": "tanh of a fixed random Gaussian projection (the seed's)",
    "bottleneck": "tanh of a fixed random Gaussian projection (the seed's)",
    "structured_mid": "fixed geometric features of the agent and goal maps (the seed's)",
    "identity": "no layer: the adapters alone",
    "mlp_full": "the same network with its body trainable: a fully trainable small MLP",
}


class PaperCheckError(RosettaError, ValueError):
    """The generated paper failed :func:`check_paper`."""


# ----------------------------------------------------------------------------- files
def find_paper_file(name: str) -> Path:
    """``paper/<name>`` of the source tree this package runs from (an editable install),
    else ``./paper/<name>``."""
    here = Path(__file__).resolve()
    candidates = [here.parents[3] / "paper" / name, Path.cwd() / "paper" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise MissingInputError(f"cannot find paper/{name}; looked in "
                            f"{', '.join(str(p) for p in candidates)} (pass its path)")


def paper_sources(template_path: Path | None = None,
                  bib_path: Path | None = None) -> tuple[Path, Path]:
    """(template, bibliography): the given paths, or the defaults of :func:`find_paper_file`;
    MissingInputError when one is not a file (checked before anything is written)."""
    template_path = Path(template_path) if template_path else find_paper_file(TEMPLATE_NAME)
    bib_path = Path(bib_path) if bib_path else find_paper_file(BIB_NAME)
    for what, path in (("paper template", template_path), ("bibliography", bib_path)):
        if not path.is_file():
            raise MissingInputError(f"{what} {path} does not exist; give an existing file")
    return template_path, bib_path


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@dataclass
class Outputs:
    """Everything the paper reads from an output folder."""

    out_dir: Path
    selected: str
    analysis: list[dict]
    summary: list[dict]
    comparisons: list[dict]
    validity: list[dict]
    facts: dict
    tables: dict[str, str]
    figures: dict[str, Path]
    select_by: str = "composite_score"
    extra: dict = field(default_factory=dict)

    def row(self, layer: str) -> dict:
        return next(r for r in self.summary if r["layer"] == layer)


def _need(path: Path, command: str) -> Path:
    if not path.is_file():
        raise MissingInputError(f"the paper needs {path}: run `{command}` first")
    return path


def load_outputs(out_dir: Path) -> Outputs:
    """Read and cross-check the outputs the paper needs.

    Raises MissingInputError, naming the missing file or layer and the command that
    produces it, and CorruptFileError when files disagree (e.g. a stale report).
    """
    from ..analysis.run import read_selected

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise MissingInputError(f"output folder {out_dir} does not exist; run `rosetta "
                                f"analyze`, `rosetta train` and `rosetta report` first")
    analysis = read_csv(_need(out_dir / "layer_analysis.csv", "rosetta analyze"),
                        ("layer",) + METRICS, hint="rosetta analyze")
    selected = read_selected(out_dir)
    summary = read_csv(_need(out_dir / "experiment_summary.csv", "rosetta train"),
                       ("layer", "mean_last_50", "std_last_50", "mean_auc", "n_seeds",
                        "success_last_50", "iqm", "iqm_ci_low", "iqm_ci_high"),
                       hint="rosetta train")
    _need(out_dir / "experiment_returns.csv", "rosetta train")
    if not run_paths(out_dir):
        raise MissingInputError(f"the paper needs the run records in {out_dir / 'runs'}: run "
                                f"`rosetta train` first")
    trained = {r["layer"]: r for r in summary if _f(r["n_seeds"]) > 0}
    no_runs = [r["layer"] for r in summary if r["layer"] not in trained]
    missing_layers = [r["layer"] for r in analysis if r["layer"] not in trained
                      and r["layer"] not in no_runs]
    if selected not in trained:
        raise MissingInputError(f"the selected layer {selected!r} has no finished runs in "
                                f"{out_dir / 'experiment_summary.csv'}: run `rosetta train "
                                f"--layers {selected}` (with the other layers' seeds)")
    if no_runs or missing_layers:
        names = no_runs + missing_layers
        every = list(dict.fromkeys([r["layer"] for r in analysis] + list(trained)))
        raise MissingInputError(
            f"layer(s) {', '.join(names)} have no finished runs in "
            f"{out_dir / 'experiment_summary.csv'} (analysed but not trained, or every run "
            f"diverged); the paper compares every analysed layer: run `rosetta train --layers "
            f"{','.join(every)}` with the same seeds and settings (the summary holds the layers "
            f"of the last `rosetta train` only)")
    facts_path = _need(out_dir / FACTS_FILE, "rosetta report")
    facts = read_json_object(facts_path, "report facts file written by `rosetta report`")
    for key in ("analysis", "training", "env", "layers", "comparisons", "validity", "bank"):
        json_field(facts, key, dict, None, facts_path)
    comp = read_csv(_need(out_dir / "comparisons.csv", "rosetta report"),
                    ("selected", "other", "mean_diff", "diff_ci_low", "diff_ci_high",
                     "p_sign_flip_holm", "p_wilcoxon_holm"), hint="rosetta report")
    valid = read_csv(_need(out_dir / "score_validity.csv", "rosetta report"),
                     ("score", "n_layers", "spearman", "spearman_p", "spearman_ci_low",
                      "spearman_ci_high"), hint="rosetta report")
    stale = []
    if facts.get("selected") != selected or any(r["selected"] != selected for r in comp):
        stale.append(f"the selected layer is {selected!r}")
    if {r["other"] for r in comp} != set(trained) - {selected}:
        stale.append("comparisons.csv does not cover the trained layers")
    if "training" not in facts or facts["training"].get("n_layers") != len(summary):
        stale.append(f"{FACTS_FILE} does not match experiment_summary.csv")
    if stale:
        raise CorruptFileError(f"the report in {out_dir} is out of date ({'; '.join(stale)}): "
                               f"run `rosetta report` (or `rosetta paper` without "
                               f"--skip-report)")
    tables = {}
    for key, name in [("analysis", ANALYSIS_TABLE), ("summary", "experiment_summary_table.md"),
                      ("comparisons", "comparisons_table.md"),
                      ("validity", "score_validity_table.md")]:
        tables[key] = _need(out_dir / name, "rosetta report").read_text(encoding="utf-8")
    figures = {key: _need(out_dir / FIGURES_DIR / name, "rosetta report")
               for key, name in FIGURE_FILES.items()}
    select_by = facts.get("analysis", {}).get("select_by") or "composite_score"
    return Outputs(out_dir, selected, analysis, summary, comp, valid, facts, tables, figures,
                   select_by)


# ----------------------------------------------------------------------------- formats
def f3(v) -> str:
    """Three decimals (the precision of the tables)."""
    return f"{_f(v):.3f}"


def sg(v) -> str:
    """Three decimals with a sign."""
    return f"{_f(v):+.3f}"


def fp(p) -> str:
    """A p-value with three significant digits."""
    return f"{_f(p):.3g}"


def pct(v) -> str:
    return f"{100 * _f(v):.1f}%"


def ci(lo, hi) -> str:
    lo, hi = _f(lo), _f(hi)
    if math.isnan(lo) or math.isnan(hi):
        return "CI not computable"
    return f"95% CI [{lo:.3f}, {hi:.3f}]"


def code(name: str) -> str:
    return f"`{name}`"


def names_list(names: Sequence[str]) -> str:
    items = [code(n) for n in names]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def figure(path: Path, paper_path: Path, number: int, caption: str) -> str:
    rel = os.path.relpath(Path(path).resolve(), Path(paper_path).resolve().parent)
    rel = rel.replace(os.sep, "/")
    return f"![Figure {number}: {caption}]({rel})\n\n*Figure {number}. {caption}*"


# ----------------------------------------------------------------------------- claims
_PREDICATE = {
    claims.PREDICTS: "predicts RL return",
    claims.PREDICTS_NS: "correlates positively with RL return, but not significantly",
    claims.NOT_RELIABLE: "does not reliably predict RL return",
    claims.DOES_NOT: "does not predict RL return",
    claims.NOT_COMPUTABLE: "could not be tested against RL return",
}


def _vverdicts(o: Outputs) -> dict[str, str]:
    """Verdict of every score (the selection score on its own p, the others Holm-adjusted)."""
    return claims.validity_verdicts(o.validity, o.select_by)


def _vverdict(o: Outputs, score: str) -> str:
    return _vverdicts(o).get(score, claims.NOT_COMPUTABLE)


def _kinds_text(tr: Mapping) -> str:
    """'4 candidates, 2 baselines and 8 random-bank layers' (the kinds present)."""
    names = {"candidate": ("candidate", "candidates"), "baseline": ("baseline", "baselines"),
             "bank": ("random-bank layer", "random-bank layers")}
    counts = tr.get("n_layers_by_kind", {})
    parts = [f"{counts[kind]} {names[kind][counts[kind] != 1]}" for kind in names
             if counts.get(kind)]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _verdicts(o: Outputs) -> dict[str, str]:
    return {r["other"]: claims.comparison_verdict(r) for r in o.comparisons}


def _validity_row(o: Outputs, score: str) -> dict | None:
    return next((r for r in o.validity if r["score"] == score), None)


def _strongest(o: Outputs, kinds: Sequence[str]) -> dict | None:
    rows = [r for r in o.summary if r["layer"] != o.selected and layer_kind(r["layer"]) in kinds]
    return max(rows, key=lambda r: _f(r["mean_last_50"]), default=None)


def _seed_power(o: Outputs) -> str:
    """What the number of seeds allows, from the comparisons."""
    c = o.facts.get("comparisons", {})
    n, m = c.get("n_seeds"), c.get("n_comparisons")
    if not c or n is None:
        return ""
    if c["smallest_p_holm"] > claims.ALPHA:
        return (f"With {_seeds(n)} no paired test can reach p ≤ {claims.ALPHA:g}: the smallest "
                f"attainable two-sided p is {fp(c['smallest_p'])}, and {fp(c['smallest_p_holm'])}"
                f" after Holm over the {m} comparisons; a significant difference needs at "
                f"least {c['min_seeds']} seeds ({c['min_seeds_holm']} with Holm over {m}).")
    return (f"With {n} seeds the smallest attainable Holm-adjusted p over the {m} comparisons "
            f"is {fp(c['smallest_p_holm'])}, so a significant difference is possible.")


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _left_out_runs(tr: Mapping) -> str:
    """' (identity: diverged 1 of 3; ...)' from the report's counts ('' without them)."""
    by_layer = tr.get("runs_left_out_by_layer") or {}
    parts = [f"{layer}: " + ", ".join(f"{status} {v[status]} of {v['runs']}"
                                      for status in ("diverged", "failed") if v.get(status))
             for layer, v in by_layer.items()]
    return f" ({'; '.join(parts)})" if parts else ""


def _result_sentence(o: Outputs) -> str:
    sel = o.row(o.selected)
    verdicts = _verdicts(o)
    hyp = claims.hypothesis_verdict(list(verdicts.values()))
    best = max(o.summary, key=lambda r: _f(r["mean_last_50"]))
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
    if hyp == claims.SUPPORTED:
        out += (f" It is significantly better than each of the {m} other layers (Holm-adjusted "
                f"p ≤ {claims.ALPHA:g} in both paired tests).")
    elif hyp == claims.CONSISTENT:
        closest = min(o.comparisons, key=lambda r: _f(r["mean_diff"]))
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


def _validity_sentence(o: Outputs, short: bool = False) -> str:
    row = _validity_row(o, o.select_by)
    if row is None:
        return f"The selection score {code(o.select_by)} was not tested against RL return."
    verdict = _vverdict(o, o.select_by)
    if verdict == claims.NOT_COMPUTABLE:
        note = str(row.get("note", "")).split("; ")[0].removeprefix("not computable: ")
        return (f"Whether the pre-RL score that made the choice, {code(o.select_by)}, predicts "
                f"RL return cannot be said: its rank correlation across {row['n_layers']} "
                f"layers is not computable" + (f" ({note})" if note else "") + ".")
    out = (f"The pre-RL score that made the choice, {code(o.select_by)}, has a Spearman rank "
           f"correlation of {f3(row['spearman'])} with RL return across {row['n_layers']} "
           f"layers ({ci(row['spearman_ci_low'], row['spearman_ci_high'])}, permutation "
           f"p = {fp(row['spearman_p'])}): it {_PREDICATE[verdict]}.")
    if short:
        return out
    verdicts = _vverdicts(o)
    p_used = claims.validity_p(o.validity, o.select_by)
    others = [r for r in o.validity if r["score"] != o.select_by
              and math.isfinite(_f(r["spearman"]))]
    if others:
        best = max(others, key=lambda r: _f(r["spearman"]))
        if _f(best["spearman"]) > _f(row["spearman"]):
            out += (f" Among the other scores, {code(best['score'])} correlates best (ρ = "
                    f"{f3(best['spearman'])}, p = {fp(best['spearman_p'])}, "
                    f"{fp(p_used[best['score']])} after Holm over the {len(others)} other "
                    f"scores): it {_PREDICATE[verdicts[best['score']]]}.")
    return out


def _bank_claim(o: Outputs) -> str:
    bank = o.facts.get("bank")
    sel = o.row(o.selected)
    if not bank:
        return ("No random layer bank was trained (`rosetta train --layers bank`), so what an "
                "arbitrary frozen layer of the selected layer's shape gets is not measured "
                "here.")
    v = _f(sel["iqm"])
    where = ("above the whole range" if v > bank["iqm_max"] else
             "below the whole range" if v < bank["iqm_min"] else "inside the range")
    return (f"Its IQM ({f3(v)}) lies {where} of the {bank['n_layers']} random frozen layers of "
            f"the same shape (IQM {f3(bank['iqm_min'])} to {f3(bank['iqm_max'])}), which shows "
            f"what an arbitrary frozen layer gets.")


def _mlp_claim(o: Outputs) -> str:
    row = next((r for r in o.comparisons if r["other"] == "mlp_full"), None)
    if row is None:
        return ("The fully trainable MLP baseline (`mlp_full`) was not trained here "
                "(`rosetta train --layers baselines`).")
    verdict = claims.comparison_verdict(row)
    other = o.row("mlp_full")
    return (f"Against the fully trainable MLP `mlp_full` (IQM {f3(other['iqm'])}), the selected "
            f"frozen layer is *{verdict}* (mean paired difference {sg(row['mean_diff'])}, "
            f"{ci(row['diff_ci_low'], row['diff_ci_high'])}).")


# ----------------------------------------------------------------------------- context
def paper_context(o: Outputs, paper_path: Path) -> dict[str, str]:
    """The text of every placeholder key of the template."""
    facts, tr = o.facts, o.facts["training"]
    an = facts.get("analysis", {})
    env = facts.get("env", {})
    layers = facts.get("layers", {})
    comp = facts.get("comparisons", {})
    verdicts = _verdicts(o)
    hyp = claims.hypothesis_verdict(list(verdicts.values()))
    sel = o.row(o.selected)
    synthetic = all(name in KNOWN for name in layers)
    n_seeds = tr["n_seeds"]
    last = tr["last_episodes"]
    last_used = min(last, tr["episodes"]) if tr.get("episodes") else last
    cfg = tr.get("config", {})
    ctx: dict[str, str] = {"hypothesis": HYPOTHESIS}

    ctx["generated_note"] = (
        f"Draft generated by `rosetta paper` from the files in `{o.out_dir}`. Regenerate it "
        f"after every run instead of editing it; edit `paper/dummy_paper.md` to change the "
        f"text.")
    grid = (f"the seed's {env['size']}×{env['size']} video-like grid" if env.get("name") == "grid"
            else f"the {code(str(env.get('name')))} environment")
    backbone = ("synthetic numpy stand-ins for video-model blocks" if synthetic
                else "frozen layers")
    ctx["abstract_setup"] = (
        f"On {grid}, we score {an.get('n_layers')} frozen layers ({backbone}) with linear probes "
        f"on {an.get('dataset_steps')} random-policy transitions, select the layer with the best "
        f"{code(o.select_by)}, and train the same Double DQN on {tr['n_layers']} layers "
        f"({_kinds_text(tr)}) with {_seeds(n_seeds)} each and an identical budget of "
        f"{tr['episodes']} episodes per run.")
    ctx["abstract_result"] = _result_sentence(o)
    ctx["abstract_validity"] = _validity_sentence(o)
    if synthetic:
        ctx["abstract_caveat"] = (
            "The layers are synthetic, so these results test the instrument and the selection "
            "procedure, not the value of video priors; that needs real video-model blocks and "
            "tasks where motion matters.")
    else:
        ctx["abstract_caveat"] = "All results come from one environment."
    ctx["intro_scope"] = (
        "In the runs reported here the candidates are synthetic numpy layers on the seed's "
        "video-like grid, not blocks of a pretrained video model: they exercise every part of "
        "the pipeline on a task whose best achievable return is known." if synthetic else
        "The candidate layers are listed in Table 1.")
    ctx["intro_findings"] = (
        f"On this testbed the hypothesis is *{hyp}*, and the score that selected the layer "
        f"{_PREDICATE[_vverdict(o, o.select_by)]}.")

    # ---- method
    if cfg.get("adapter") == "lowrank":
        adapter = (f"The input adapter is a low-rank residual map x + tanh(xU)V of rank "
                   f"{cfg.get('adapter_rank')}, exactly the identity at the start and trained "
                   f"with plain SGD")
    else:
        adapter = "The input adapter is a dense near-identity map tanh(xA + c), trained with SGD"
    if cfg.get("head") == "mlp":
        head = (f"the output adapter is one tanh hidden layer of {cfg.get('head_hidden')} units "
                f"followed by a linear map to the {env.get('n_actions', 'action')} Q-values, "
                f"trained with Adam")
    else:
        head = "the output adapter is a linear map to the Q-values, trained with Adam"
    params = [v["trainable_params"] for k, v in layers.items()
              if "trainable_params" in v and k != "mlp_full"]
    ctx["method_adapters"] = f"{adapter}; {head}."
    if params:
        ctx["method_adapters"] += (
            f" Between {min(params)} and {max(params)} parameters train per layer (Table 1)"
            + (", except for the `mlp_full` baseline, whose body trains as well." if "mlp_full"
               in layers else "."))
    ctx["method_selection"] = (
        f"The layer with the best {code(o.select_by)} is selected, as in the seed."
        + (" The random layer bank copies the selected layer's shape, so it is scored after "
           "the selection and is never selected itself." if facts.get("bank") else ""))
    ctx["method_statistics"] = (
        f"The outcome of a run is its mean return over its last {last} episodes (all of them "
        f"when a run is shorter). Per layer we "
        f"report the mean and the interquartile mean (IQM) over seeds with bootstrap CIs "
        f"[CITE agarwal2021precipice]. The selected layer is compared with every other layer on "
        f"the same seeds: a bootstrap CI of the mean paired difference, exact sign-flip and "
        f"Wilcoxon signed-rank tests with Holm's correction over the comparisons "
        f"[CITE holm1979], the paired probability of improvement and the rank-biserial effect "
        f"size. Whether a score predicts RL return is measured by Spearman's and Kendall's rank "
        f"correlations across layers, with permutation p-values and CIs that resample both the "
        f"seeds and the analysis bootstrap. All claims use α = {claims.ALPHA:g}.")

    # ---- setup
    ctx["setup_backbone"] = (
        ("No pretrained video model was used in these runs. The candidates are the seed's "
         "synthetic numpy layers, standing in for blocks of a video backbone, on the same "
         "protocol a real block would use (Table 1). ") if synthetic else
        "The candidate layers are listed in Table 1. ")
    ctx["setup_backbone"] += (
        f"{an.get('n_layers')} layers were analysed and {tr['n_layers']} trained with RL.")
    ctx["caption_layers"] = ("Kind, what the layer computes, its input and output width, and "
                             "the parameters that train with it under the settings of Table 2.")
    rows = ["| Layer | kind | what it is | input → output | trainable parameters |",
            "|---|---|---|---|---|"]
    order = {n: k for k, n in enumerate(list(facts.get("analysis", {}).get("layers", []))
                                         + [r["layer"] for r in o.summary])}
    kinds = {"candidate": 0, "baseline": 1, "bank": 2}
    for name, info in sorted(layers.items(), key=lambda kv: (
            kinds.get(kv[1]["kind"], 3), order.get(kv[0], len(order)), kv[0])):
        desc = LAYER_DESCRIPTIONS.get(name, "frozen random tanh layer of the selected layer's "
                                      "shape" if layer_kind(name) == "bank" else "frozen layer")
        shape = (f"{info['input_dim']} → {info['output_dim']}" if "input_dim" in info else "—")
        rows.append(f"| {code(name)}{' (selected)' if name == o.selected else ''} | "
                    f"{info['kind']} | {desc} | {shape} | {info.get('trainable_params', '—')} |")
    ctx["table_layers"] = "\n".join(rows)
    if env.get("name") == "grid":
        ctx["setup_env"] = (
            f"The seed's video-like grid: an agent moves on a {env['size']}×{env['size']} grid to "
            f"a goal. An observation stacks the last {env['history']} frames, each two one-hot "
            f"maps (agent and goal), {env['obs_dim']} values in all. There are "
            f"{env['n_actions']} actions (stay and four moves); reaching the goal gives "
            f"{env['goal_reward']:g} and ends the episode, every other step gives "
            f"{env['step_reward']:g}, and an episode is cut after {env['max_steps']} steps. Agent "
            f"and goal start on distinct cells drawn uniformly, so the shortest-path return "
            f"averages {f3(env['optimal_return_mean'])}: the best a policy can do on average. The "
            f"goal does not move within an episode.")
    else:
        ctx["setup_env"] = f"Environment {code(str(env.get('name')))}."
    ctx["setup_budget"] = (
        f"Every run has the same budget of {tr['episodes']} episodes. A layer that learns "
        f"finishes its episodes sooner and so sees fewer env steps: runs took between "
        f"{tr['env_steps_per_run_min']} and {tr['env_steps_per_run_max']} env steps and "
        f"{tr['updates_per_run_min']} to {tr['updates_per_run_max']} updates. The analysis used "
        f"{an.get('dataset_steps')} random-policy transitions and {an.get('n_bootstrap')} "
        f"bootstrap resamples per score.")
    cfg_rows = ["| setting | value |", "|---|---|"]
    cfg_rows += [f"| {code(k)} | {v} |" for k, v in sorted(cfg.items())]
    ctx["table_config"] = "\n".join(cfg_rows)
    if tr.get("config_differs"):
        ctx["table_config"] += (f"\n\nRuns differ in {names_list(tr['config_differs'])}: the "
                                f"budgets are not identical.")
    seeds = ", ".join(str(s) for s in tr["seeds"])
    ctx["setup_seeds"] = (
        f"Seeds {seeds} for every layer ({n_seeds} per layer, {tr['n_runs']} runs in all); "
        f"outcomes are paired by seed. The analysis dataset was drawn with seed "
        f"{an.get('seed')}.")
    versions = ", ".join(f"`{k} {'/'.join(v)}`" for k, v in sorted(tr.get("versions", {}).items()))
    commits = ", ".join(f"`{c[:12]}`" for c in tr.get("commits", [])) or "not recorded"
    ctx["setup_hardware"] = (
        f"The run records name the host{'s' if len(tr['hosts']) > 1 else ''} "
        f"{', '.join(code(h) for h in tr['hosts'])} but not its processor. Training took "
        f"{tr['wall_seconds_total']:.1f} s summed over runs ({tr['wall_seconds_per_run_min']:.1f}"
        f" to {tr['wall_seconds_per_run_max']:.1f} s per run, as recorded; seeds trained in "
        f"lockstep share one process). Software: {versions}; commit {commits}.")

    # ---- results: analysis
    ana = sorted(o.analysis, key=lambda r: -_f(r[o.select_by]))
    first = next(r for r in o.analysis if r["layer"] == o.selected)
    runner = next((r for r in ana if r["layer"] != o.selected
                   and layer_kind(r["layer"]) != "bank"), None)
    text = (f"Table 3 lists every score with its CI and Figure 1 shows them. The selected layer "
            f"{code(o.selected)} has a {code(o.select_by)} of {f3(first[o.select_by])} "
            f"({ci(first[o.select_by + '_ci_low'], first[o.select_by + '_ci_high'])})")
    if runner is not None:
        text += f"; the next non-bank layer is {code(runner['layer'])} ({f3(runner[o.select_by])})"
    text += "."
    rr = [_f(r["reward_r2"]) for r in o.analysis]
    lo_r = min(o.analysis, key=lambda r: _f(r["reward_r2"]))
    hi_r = max(o.analysis, key=lambda r: _f(r["reward_r2"]))
    if max(abs(v) for v in rr) < 0.05:
        text += (f" The seed's reward probe is close to zero for every layer (from "
                 f"{f3(lo_r['reward_r2'])} for {code(lo_r['layer'])} to "
                 f"{f3(hi_r['reward_r2'])} for {code(hi_r['layer'])}): a reward is not "
                 f"predictable from the state alone, so this probe cannot tell layers apart.")
    outside = []
    for r in o.analysis:
        for m in METRICS:
            v, lo, hi = _f(r[m]), _f(r[f"{m}_ci_low"]), _f(r[f"{m}_ci_high"])
            if math.isfinite(lo) and math.isfinite(hi) and not lo <= v <= hi:
                outside.append((max(lo - v, v - hi), r, m))
    if outside:
        _, r, m = max(outside, key=lambda t: t[0])
        text += (f" Some point estimates lie outside their bootstrap CI, e.g. the "
                 f"{METRIC_HEADERS[m]} of {code(r['layer'])}: {f3(r[m])}, "
                 f"{ci(r[m + '_ci_low'], r[m + '_ci_high'])}: the resampling distribution "
                 f"is skewed there, so read that interval with care.")
    ctx["results_analysis"] = text
    ctx["table_analysis"] = o.tables["analysis"].strip()
    ctx["figure_probes"] = figure(o.figures["probe_scores"], paper_path, 1,
                                  "Analysis scores per layer on held-out data, with 95% "
                                  "bootstrap CIs (the selected layer outlined).")

    # ---- results: RL
    best = max(o.summary, key=lambda r: _f(r["mean_last_50"]))
    text = (f"Table 4 gives the final return of every layer; Figure 2 shows the learning curves "
            f"and Figure 3 the final returns with their CIs. {code(best['layer'])} has the "
            f"highest mean final return, {f3(best['mean_last_50'])} (IQM {f3(best['iqm'])}, "
            f"{ci(best['iqm_ci_low'], best['iqm_ci_high'])})")
    if env.get("optimal_return_mean") is not None:
        text += (f", against an average shortest-path return of "
                 f"{f3(env['optimal_return_mean'])}")
    text += "."
    if best["layer"] != o.selected:
        text += (f" The selected layer {code(o.selected)} reaches {f3(sel['mean_last_50'])} and "
                 f"ranks {tr['rank_by_mean_last_50'][o.selected]} of {tr['n_layers']}: the "
                 f"analysis did not pick the best layer.")
    if tr.get("runs_not_ok"):
        text += (f" {tr['runs_not_ok']} run(s) diverged or failed and are left out of every "
                 f"number{_left_out_runs(tr)}.")
    ctx["results_rl"] = text
    strongest = _strongest(o, ("baseline", "bank"))
    if strongest is None:
        strongest = _strongest(o, ("candidate",))
        ctx["baseline_layer"] = (f"{code(strongest['layer'])}, the strongest other layer (no "
                                 f"baseline was trained)")
    else:
        ctx["baseline_layer"] = f"{code(strongest['layer'])}, the strongest baseline"
    ctx["success_selected"] = pct(sel["success_last_50"])
    ctx["success_baseline"] = pct(strongest["success_last_50"])
    ctx["last_episodes"] = str(last_used)
    ctx["selected_vs_bank"] = _bank_claim(o)
    ctx["selected_vs_mlp"] = _mlp_claim(o)
    ctx["caption_summary"] = (
        f"per layer, the mean over seeds of each run's mean return over its last {last} "
        f"episodes, its standard deviation across seeds, the mean return over all episodes "
        f"(AUC) and the IQM over seeds with its 95% bootstrap CI")
    ctx["table_summary"] = o.tables["summary"].strip()
    ctx["figure_curves"] = figure(
        o.figures["learning_curves"], paper_path, 2,
        "Learning curves against env steps: each seed's return smoothed over episodes, mean "
        "over seeds with a 95% bootstrap CI band; the random bank as the range of its layers' "
        "mean curves.")
    ctx["figure_finals"] = figure(
        o.figures["final_returns"], paper_path, 3,
        "Final return per layer: IQM over seeds with its 95% bootstrap CI, seeds as ticks, the "
        "random bank's range shaded.")

    # ---- results: comparisons
    ctx["comparison_rules"] = claims.rules_text(claims.COMPARISON_RULES)
    counts = claims.count_verdicts(list(verdicts.values()))
    parts = [f"{k} {'is' if k == 1 else 'are'} *{v}*" for v, k in counts.items() if k]
    if len(parts) == 1 and len(verdicts) > 1:
        parts = [f"all {parts[0]}"]
    text = (f"Of the {len(verdicts)} comparisons of the selected layer with another layer "
            f"(Table 5), {'; '.join(parts)}. The hypothesis that it beats every other layer is "
            f"therefore *{hyp}*. {_seed_power(o)}")
    if comp.get("n_seeds", 0) >= 2 and comp.get("max_ci_coverage") is not None \
            and comp["max_ci_coverage"] < 0.95:
        text += (f" With so few seeds a bootstrap CI cannot reach past the observed range, so a "
                 f"nominal 95% CI covers the true value at most "
                 f"{100 * comp['max_ci_coverage']:.0f}% of the time: the CIs are too narrow.")
    ctx["comparisons"] = text
    c0 = o.comparisons[0] if o.comparisons else {}
    ctx["caption_comparisons"] = (
        f"paired over the same {_seeds(int(_f(c0.get('n_seeds'))))}"
        + (f" (left out: {c0['seeds_left_out']})" if c0.get("seeds_left_out") else "")
        + "; p-values Holm-adjusted "
        f"over the {len(o.comparisons)} comparisons; P(improvement) is the share of seeds on "
        f"which the selected layer wins, rank-biserial the paired effect size")
    ctx["table_comparisons"] = o.tables["comparisons"].strip()

    # ---- results: validity
    ctx["validity_rules"] = claims.rules_text(claims.VALIDITY_RULES)
    p_used = claims.validity_p(o.validity, o.select_by)
    vverdicts = _vverdicts(o)
    n_other = sum(r["score"] != o.select_by for r in o.validity)
    bullets = []
    for r in o.validity:
        v = vverdicts[r["score"]]
        if v == claims.NOT_COMPUTABLE:
            bullets.append(f"- {code(r['score'])}: *{v}*.")
            continue
        if r["score"] == o.select_by:
            p_text = f"p = {fp(r['spearman_p'])}; the selection score"
        else:
            p_text = (f"p = {fp(r['spearman_p'])}, {fp(p_used[r['score']])} after Holm over the "
                      f"{n_other} other scores")
        bullets.append(
            f"- {code(r['score'])}: ρ = {f3(r['spearman'])} "
            f"({ci(r['spearman_ci_low'], r['spearman_ci_high'])}), {p_text}: *{v}*.")
    text = _validity_sentence(o, short=True) + " Per score:\n\n" + "\n".join(bullets)
    top = "is" if best["layer"] == o.selected else "is not"
    text += (f"\n\nThe layer the score selected {top} the layer with the best RL return. ")
    vrow = o.validity[0]
    if _f(vrow.get("smallest_attainable_p", "nan")) > claims.ALPHA:
        text += (f"With {vrow['n_layers']} layers no rank correlation can reach "
                 f"p ≤ {claims.ALPHA:g} (the smallest attainable p is "
                 f"{fp(vrow['smallest_attainable_p'])}). ")
    if facts.get("bank"):
        text += ("The random-bank layers share one shape and score alike, so they weigh heavily "
                 "in a correlation across all layers.")
    ctx["validity"] = text.rstrip()
    ctx["caption_validity"] = (
        f"across the {vrow['n_layers']} layers with both an analysis and RL runs; CIs resample "
        f"seeds and the analysis bootstrap; p from a permutation test over layers")
    ctx["table_validity"] = o.tables["validity"].strip()
    ctx["figure_validity"] = figure(
        o.figures["score_vs_return"], paper_path, 4,
        "Each analysis score against RL final return (mean over seeds), with 95% CIs; the "
        "title of each panel gives Spearman's ρ, its CI and p.")

    # ---- discussion, limitations, conclusion
    ctx["discussion"] = _discussion(o, hyp)
    ctx["limitations"] = _limitations(o, synthetic)
    ctx["conclusion"] = _conclusion(o, hyp, synthetic)
    return ctx


def _discussion(o: Outputs, hyp: str) -> str:
    vv = _vverdict(o, o.select_by)
    best = max(o.summary, key=lambda r: _f(r["mean_last_50"]))
    out = []
    if best["layer"] == o.selected and vv != claims.PREDICTS:
        out.append(f"The selection score picked the layer that did best in RL, but across all "
                   f"layers it {_PREDICATE[vv]}: one correct pick does not show that the "
                   f"score ranks layers, and a score that cannot rank them is not yet a "
                   f"substitute for RL on a new backbone.")
    elif best["layer"] == o.selected:
        out.append("The selection score picked the layer that did best in RL and ranks the "
                   "layers by their RL return, which is what a pre-RL score must do to save RL "
                   "runs on a new backbone.")
    else:
        out.append(f"The selection score did not pick the layer that did best in RL, and "
                   f"across all layers it {_PREDICATE[vv]}.")
    verdicts = _vverdicts(o)
    sel_rho = _f(_validity_row(o, o.select_by)["spearman"]) if _validity_row(
        o, o.select_by) else -math.inf
    good = [r["score"] for r in o.validity if r["score"] != o.select_by
            and verdicts[r["score"]] in (claims.PREDICTS, claims.PREDICTS_NS)
            and _f(r["spearman"]) > sel_rho]
    if good:
        out.append(f"{names_list(good)} rank the layers more like RL does than the selection "
                   f"score (a CI of ρ above zero), which makes "
                   f"{'them candidates' if len(good) > 1 else 'it a candidate'} for selecting "
                   f"layers of a real backbone; as {'they were' if len(good) > 1 else 'it was'} "
                   f"picked after seeing the results, this needs confirming on new layers.")
    if hyp == claims.CONSISTENT and o.facts.get("comparisons", {}).get(
            "smallest_p_holm", 0) > claims.ALPHA:
        out.append("The comparison of layers is limited by the number of seeds, not by the "
                   "size of the differences: more seeds, not more episodes, would settle it.")
    elif hyp == claims.NOT_ESTABLISHED:
        out.append("Some differences are too small for these runs to resolve: more seeds "
                   "would narrow their CIs.")
    return " ".join(out)


def _limitations(o: Outputs, synthetic: bool) -> str:
    tr, env = o.facts["training"], o.facts.get("env", {})
    comp = o.facts.get("comparisons", {})
    items = []
    if synthetic:
        items.append("No video model was used: the layers are synthetic stand-ins"
                     + (", and one of them (`structured_mid`) computes the task's geometry by "
                        "hand" if "structured_mid" in o.facts.get("layers", {}) else "")
                     + ". The results say nothing yet about blocks of CogVideoX, HunyuanVideo "
                       "or VideoMAE.")
    if env.get("name") == "grid":
        items.append("One environment, whose goal does not move within an episode: a single "
                     "frame is enough, so the task cannot reward a video model's sense of "
                     "motion.")
    n = tr["n_seeds"]
    if comp and comp.get("smallest_p_holm", 0) > claims.ALPHA:
        items.append(f"{_seeds(n)} per layer: no paired test can reach p ≤ {claims.ALPHA:g} "
                     f"(at least {comp['min_seeds']} seeds are needed, {comp['min_seeds_holm']} "
                     f"with Holm over {comp['n_comparisons']} comparisons).")
    if n >= 2 and comp.get("max_ci_coverage") is not None and comp["max_ci_coverage"] < 0.95:
        items.append(f"Bootstrap CIs over {n} seeds cover the true value at most "
                     f"{100 * comp['max_ci_coverage']:.0f}% of the time, not 95%.")
    if n < 4:
        items.append(f"With {_seeds(n)} the IQM equals the mean, so it gives no robustness to "
                     f"outlying seeds.")
    items.append(f"Budgets are equal in episodes ({tr['episodes']} per run), not in env steps: "
                 f"layers that learn see fewer env steps.")
    if tr.get("config_differs"):
        items.append(f"Runs differ in {names_list(tr['config_differs'])}.")
    if tr.get("runs_not_ok"):
        items.append(f"{tr['runs_not_ok']} run(s) diverged or failed and are left out.")
    else:
        items.append(f"No run diverged or failed ({tr['runs_not_ok']} runs left out).")
    items.append("The run records name the host but not its processor, so the timings cannot "
                 "be tied to a machine.")
    return "\n".join(f"- {i}" for i in items)


def _conclusion(o: Outputs, hyp: str, synthetic: bool) -> str:
    vv = _vverdict(o, o.select_by)
    comp = o.facts.get("comparisons", {})
    sel = o.row(o.selected)
    out = (f"On {'synthetic layers on ' if synthetic else ''}the seed's grid, the layer chosen "
           f"before RL, {code(o.selected)}, reached a final return of {f3(sel['iqm'])} "
           f"(IQM), and the hypothesis that it beats every other layer choice is *{hyp}*. "
           f"The score that chose it, {code(o.select_by)}, {_PREDICATE[vv]} across layers.")
    nxt = []
    if comp and comp.get("smallest_p_holm", 0) > claims.ALPHA:
        nxt.append(f"at least {comp['min_seeds_holm']} seeds per layer")
    if synthetic:
        nxt.append("real video-model blocks")
    nxt.append("tasks where motion matters")
    need = ", ".join(nxt[:-1]) + " and " + nxt[-1] if len(nxt) > 1 else nxt[0]
    out += f" The next runs need {need}."
    return out


# ----------------------------------------------------------------------------- render
def _cite(keys: Sequence[str], bib: Mapping[str, BibEntry], where: str) -> str:
    missing = [k for k in keys if k not in bib]
    if missing:
        raise CorruptFileError(f"{where} cites {', '.join(missing)}, not in the bibliography; "
                               f"known keys: {', '.join(sorted(bib))}")
    links = [f"[{bib[k].cite_text()}](#ref-{k})" for k in keys]
    return "(" + "; ".join(links) + ")"


def references(keys: Sequence[str], bib: Mapping[str, BibEntry]) -> str:
    """The reference list of ``keys``, sorted by first author and year."""
    entries = sorted((bib[k] for k in dict.fromkeys(keys) if k in bib), key=lambda e: (
        e.cite_text().lower(), e.key))
    return "\n".join(f'- <a id="ref-{e.key}"></a>{e.reference_text()}' for e in entries)


_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _blank(m: re.Match) -> str:
    """A space and the match's line ends: what is removed keeps the line numbers."""
    return " " + "\n" * m.group(0).count("\n")


def _check_template(template: str, context: Mapping[str, str], bib: Mapping[str, BibEntry],
                    template_name: str) -> None:
    """Raise CorruptFileError, naming the line of ``template`` (comments left in place),
    for a placeholder the context does not know or a citation missing from ``bib``."""
    text = _COMMENT.sub(_blank, template)
    for m in PLACEHOLDER.finditer(text):
        kind, arg = m.group(1), (m.group(2) or "").strip()
        line = text.count("\n", 0, m.start()) + 1
        if kind == "CITE":
            keys = [k.strip() for k in arg.split(",") if k.strip()]
            _cite(keys, bib, f"{template_name} line {line}")
            continue
        key = _NAMED.get(kind, arg)
        if key != "references" and key not in context:
            raise CorruptFileError(f"{template_name} line {line}: placeholder {m.group(0)!r} "
                                   f"names no known value; known: {', '.join(sorted(context))}")


def render(template: str, context: Mapping[str, str], bib: Mapping[str, BibEntry],
           template_name: str = "template") -> str:
    """Fill every placeholder of ``template``: values, then citations, then references.

    Raises CorruptFileError for a placeholder the context does not know or a citation
    missing from ``bib`` (a broken template), naming its line in ``template``.
    """
    _check_template(template, context, bib, template_name)
    text = re.sub(r"<!--.*?-->\n?", "", template, flags=re.S)

    def value(m: re.Match) -> str:
        kind, arg = m.group(1), (m.group(2) or "").strip()
        key = _NAMED.get(kind, arg)
        return m.group(0) if kind == "CITE" or key == "references" else context[key]

    text = PLACEHOLDER.sub(value, text)
    cited: list[str] = []

    def cite(m: re.Match) -> str:
        if m.group(1) != "CITE":
            return m.group(0)
        keys = [k.strip() for k in (m.group(2) or "").split(",") if k.strip()]
        cited.extend(k for k in keys if k not in cited)
        return _cite(keys, bib, template_name)

    text = PLACEHOLDER.sub(cite, text)
    text = text.replace("[fill: references]", references(cited, bib))
    return text.strip() + "\n"


# ----------------------------------------------------------------------------- check
def _walk_json(obj, out: list[float]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in EPISODE_ARRAYS:
                _walk_json(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _walk_json(v, out)
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, (int, float)):
        if math.isfinite(obj):
            out.append(float(obj))
    elif isinstance(obj, str):
        out.extend(v for v, _, _, _ in _numbers_in(obj))


def _numbers_in(text: str):
    """(value, quantum, is_integer_literal, is_percent) of each number in ``text``."""
    for m in NUMBER.finditer(text):
        sign, digits, percent = m.group(1), m.group(2), bool(m.group(3))
        try:
            d = Decimal(digits)
        except InvalidOperation:
            continue
        value = float(d) * (-1 if sign in ("-", "−") else 1)
        if not math.isfinite(value):
            continue        # e.g. "65577673e629" inside a commit hash: not a number in prose
        exponent = d.as_tuple().exponent
        integer = "." not in digits and "e" not in digits.lower()
        yield value, 10.0 ** exponent / 2 if not integer else 0.0, integer, percent


def _iter_numbers(text: str):
    for m in NUMBER.finditer(text):
        for item in _numbers_in(m.group(0)):
            yield m.group(0).strip(), *item


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CorruptFileError(f"{path} is not valid JSON: {exc}") from exc


def output_numbers(out_dir: Path) -> list[float]:
    """Sorted numbers found in the output files (CSV, Markdown and JSON, run records
    without their per-episode arrays; the per-episode and per-replicate CSVs are left out,
    see :data:`BULK_FILES`)."""
    out_dir = Path(out_dir)
    values: list[float] = []
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else []:
        if path.name in BULK_FILES or not path.is_file():
            continue
        if path.suffix in (".csv", ".md", ".txt"):
            values.extend(v for v, _, _, _ in _numbers_in(path.read_text(encoding="utf-8")))
        elif path.suffix == ".json":
            _walk_json(_json(path), values)
    for path in sorted((out_dir / "runs").rglob("*.json")):   # run records, both layouts
        _walk_json(_json(path), values)
    return sorted(set(values))


def _has(values: list[float], x: float, quantum: float) -> bool:
    tol = quantum + 1e-9 * max(1.0, abs(x))
    i = bisect_left(values, x - tol)
    return i < len(values) and values[i] <= x + tol


def _prose(text: str) -> str:
    """The paper without what is not prose: comments, code, link targets, anchors,
    citations, table/figure numbers and the reference list."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"^(#+)\s*References\s*$.*?(?=^#{1,2}\s|\Z)", " ", text,
                  flags=re.M | re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\[[^\[\]]*\]\(#ref-[^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "] ", text)
    text = re.sub(r"<[^>\n]*>", " ", text)
    text = re.sub(r"\b(Table|Figure|Fig\.|Section)\s+\d+", " ", text)
    return text


def check_paper(paper_text: str, out_dir: Path, bib_path: Path,
                paper_path: Path | None = None) -> list[str]:
    """Problems of a generated paper (an empty list when there are none):

    * a placeholder left (``[fill: ...]``, ``[CITE ...]``, ``[X%]``, any other bracketed
      text that is not a link or a numeric interval, TODO/TBD/FIXME/XXX);
    * a number that appears in no output file at the precision the paper prints it
      (integers must match exactly; ``N%`` may match N or N/100);
    * a cited key (``](#ref-KEY)`` or ``[@KEY]``) missing from the bibliography at
      ``bib_path`` or from the paper's reference list;
    * with ``paper_path``: an image link that points to no file.
    """
    problems: list[str] = []
    code_free = re.sub(r"```.*?```", _blank, _COMMENT.sub(_blank, paper_text), flags=re.S)
    code_free = re.sub(r"`[^`\n]*`", " ", code_free)     # line numbers stay those of the paper
    for m in re.finditer(r"\[([^\[\]\n]*)\]", code_free):
        inner = m.group(1).strip()
        low = inner.lower()
        line = code_free.count("\n", 0, m.start()) + 1
        follows_link = code_free[m.end():m.end() + 1] == "("
        if any(low == w or low.startswith(w + ":") or low.startswith(w + " ")
               for w in _PLACEHOLDER_WORDS) or low.startswith("cite"):
            problems.append(f"placeholder {m.group(0)!r} remains (line {line})")
        elif not follows_link and not _INTERVAL.match(inner) and not inner.startswith("@"):
            problems.append(f"bracketed text {m.group(0)!r} looks like a placeholder "
                            f"(line {line})")
    for m in _MARKERS.finditer(code_free):
        line = code_free.count("\n", 0, m.start()) + 1
        problems.append(f"marker {m.group(0)!r} remains (line {line})")

    refs = re.search(r"^#+\s*References\s*$(.*?)(?=^#{1,2}\s|\Z)", paper_text,
                     flags=re.M | re.S)
    for line in (refs.group(1).splitlines() if refs else []):
        if line.strip() and not re.match(r'- <a id="ref-[^"]+"></a>', line):
            problems.append(f"the references hold a line that is no bibliography entry: "
                            f"{line.strip()[:60]!r}")

    values = output_numbers(out_dir)
    prose = _prose(paper_text)
    seen = set()
    for token, value, quantum, _integer, percent in _iter_numbers(prose):
        candidates = [(value, quantum)]
        if percent:
            candidates.append((value / 100, quantum / 100))
        if any(_has(values, x, q) for x, q in candidates):
            continue
        if token not in seen:
            seen.add(token)
            problems.append(f"number {token} appears in no output file in {out_dir}")

    bib_path = Path(bib_path)
    try:
        bib = load_bib(bib_path)
    except (MissingInputError, CorruptFileError) as exc:
        return problems + [str(exc)]
    cited = list(dict.fromkeys(re.findall(r"\]\(#ref-([^)\s]+)\)", paper_text)
                               + re.findall(r"\[@([\w:.-]+)", paper_text)))
    anchors = set(re.findall(r'<a id="ref-([^"]+)">', paper_text))
    for key in cited:
        if key not in bib:
            problems.append(f"cited key {key!r} is not in the bibliography {bib_path}")
        elif key not in anchors:
            problems.append(f"cited key {key!r} has no entry in the paper's references")
    for key in sorted(anchors - set(bib)):
        problems.append(f"reference {key!r} is not in the bibliography {bib_path}")
    if paper_path is not None:
        base = Path(paper_path).resolve().parent
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", paper_text):
            if not Path(os.path.normpath(base / target)).is_file():
                problems.append(f"figure {target} does not exist (relative to {base})")
    return problems


# ----------------------------------------------------------------------------- write
def build_paper(out_dir: Path, paper_path: Path = DEFAULT_PAPER,
                template_path: Path | None = None, bib_path: Path | None = None) -> str:
    """The paper's text from the outputs in ``out_dir`` (not checked, not written)."""
    template_path, bib_path = paper_sources(template_path, bib_path)
    outputs = load_outputs(out_dir)
    bib = load_bib(bib_path)
    context = paper_context(outputs, Path(paper_path))
    return render(template_path.read_text(encoding="utf-8"), context, bib, str(template_path))


def write_paper(out_dir: Path, paper_path: Path = DEFAULT_PAPER,
                template_path: Path | None = None, bib_path: Path | None = None) -> Path:
    """Build the paper, check it with :func:`check_paper` and write it atomically.

    Raises PaperCheckError (one line, every problem listed) instead of writing a paper
    that fails the check; nothing is written then.
    """
    template_path, bib_path = paper_sources(template_path, bib_path)
    paper_path = Path(paper_path)
    text = build_paper(out_dir, paper_path, template_path, bib_path)
    problems = check_paper(text, out_dir, bib_path, paper_path=paper_path)
    if problems:
        raise PaperCheckError(f"paper check failed, {paper_path} not written: "
                              f"{len(problems)} problem(s): {'; '.join(problems)}")
    return atomic_write_text(paper_path, text)
