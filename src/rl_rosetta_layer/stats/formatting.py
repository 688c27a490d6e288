"""Plain-text summary of summary, comparison and validity rows (for ``rosetta report``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .paired import EFFECT_SIZE_NAME
from .power import smallest_p_holm

__all__ = ["format_report"]


def _f(v, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return format(v, spec)


def _ci(lo, hi, spec: str = "+.3g") -> str:
    return f"[{_f(lo, spec)}, {_f(hi, spec)}]"


def _parts(row: dict, key: str = "note") -> list[str]:
    return [s for s in str(row.get(key, "")).split("; ") if s]


def _common_parts(rows: Sequence[dict]) -> list[str]:
    first = _parts(rows[0])
    return [s for s in first if all(s in _parts(r) for r in rows[1:])]


def _summary_block(summary: Sequence[dict]) -> list[str]:
    method = summary[0].get("ci_method", "?")
    out = [
        f"Per-layer final return (CIs: bootstrap over seeds, method '{method}')",
        f"  {'layer':<24} {'IQM':>9}  {'IQM CI':<22} {'mean CI':<22}",
    ]
    for r in summary:
        out.append(
            f"  {str(r['layer']):<24} {_f(r['iqm']):>9}  "
            f"{_ci(r['iqm_ci_low'], r['iqm_ci_high'], '.3g'):<22} "
            f"{_ci(r['mean_ci_low'], r['mean_ci_high'], '.3g'):<22}"
        )
    notes = []
    for r in summary:
        for part in _parts(r, "ci_note"):
            line = f"WARNING: {part}" if part.startswith("with ") else f"note: {part}"
            if part.startswith("constant"):
                line = f"note: {r['layer']}: {part}"
            if line not in notes:
                notes.append(line)
    out += [f"  {n}" for n in notes]
    return out


def _comparison_block(rows: Sequence[dict], alpha: float) -> list[str]:
    r0 = rows[0]
    n, m = int(r0["n_seeds"]), len(rows)
    conf = int(round(100 * float(r0["confidence"])))
    out = [
        f"Paired comparisons: selected '{r0['selected']}' vs {m} other layer(s), same {n} seed(s)",
        f"  smallest attainable two-sided p with {n} seed(s): {_f(r0['smallest_attainable_p'])} "
        f"(exact Wilcoxon and sign-flip); after Holm over {m}: {_f(smallest_p_holm(n, m))}",
    ]
    common = _common_parts(rows)
    out += [f"  WARNING: {s}" for s in common if s.startswith("with ")]
    out.append(
        f"  {'other (kind)':<28} {'mean diff':>9}  {f'{conf}% CI':<22} {'p_flip':>7} {'p_wil':>7} "
        f"{'flip_H':>7} {'wil_H':>7} {'P(impr)':>7} {'r_rb':>6}"
    )
    for r in rows:
        out.append(
            f"  {r['other'] + ' (' + r['other_kind'] + ')':<28} {_f(r['mean_diff'], '+.3g'):>9}  "
            f"{_ci(r['diff_ci_low'], r['diff_ci_high']):<22} {_f(r['p_sign_flip']):>7} "
            f"{_f(r['p_wilcoxon']):>7} "
            f"{_f(r['p_sign_flip_holm']):>7} {_f(r['p_wilcoxon_holm']):>7} "
            f"{_f(r['prob_improvement'], '.2f'):>7} "
            f"{_f(r['effect_size'], '+.2f'):>6}"
        )
        out += [f"      note: {s}" for s in _parts(r) if s not in common]
    out += [f"  note (all rows): {s}" for s in common if not s.startswith("with ")]
    wins = [
        r["other"]
        for r in rows
        if r["p_sign_flip_holm"] <= alpha and r["p_wilcoxon_holm"] <= alpha and r["mean_diff"] > 0
    ]
    out.append(
        f"  => selected better at Holm p <= {alpha:g} (both tests) than {len(wins)} of {m}"
        + (f": {', '.join(wins)}" if wins else "")
    )
    out.append(
        f"  P(impr) is paired: share of seeds where selected beats other (ties 1/2), not rliable's "
        f"unpaired one; "
        f"r_rb = {EFFECT_SIZE_NAME} effect size (+1: selected wins on every seed)"
    )
    return out


def _validity_block(rows: Sequence[dict], alpha: float) -> list[str]:
    r0 = rows[0]
    conf = int(round(100 * float(r0["confidence"])))
    out = [
        f"Score validity: rank correlation of pre-RL score with RL outcome across {r0['n_layers']} "
        f"layers "
        f"({r0['n_seeds']} seed(s); {conf}% CI resamples seeds and datasets)",
        f"  smallest attainable two-sided p: {_f(r0['smallest_attainable_p'])} (permutation over "
        f"layers)",
        f"  {'score':<24} {'spearman':>8}  {'CI':<18} {'p':>7}  {'kendall':>8}  {'CI':<18} "
        f"{'p':>7}",
    ]
    for r in rows:
        out.append(
            f"  {str(r['score']):<24} {_f(r['spearman'], '+.2f'):>8}  "
            f"{_ci(r['spearman_ci_low'], r['spearman_ci_high'], '+.2f'):<18} "
            f"{_f(r['spearman_p']):>7}  "
            f"{_f(r['kendall'], '+.2f'):>8}  "
            f"{_ci(r['kendall_ci_low'], r['kendall_ci_high'], '+.2f'):<18} "
            f"{_f(r['kendall_p']):>7}"
        )
    notes = []
    for r in rows:
        for s in _parts(r):
            line = f"WARNING: {s}" if s.startswith("with ") else f"{r['score']}: {s}"
            if line not in notes:
                notes.append(line)
    out += [f"  {s}" for s in notes]
    return out


def format_report(
    comparisons: Sequence[dict] = (),
    validity: Sequence[dict] = (),
    summary: Sequence[dict] = (),
    *,
    alpha: float = 0.05,
    title: str = "Statistics",
) -> str:
    """Readable multi-line text of the row lists (any may be empty).

    States the smallest attainable p for the seed / layer counts used and warns
    when a claim at p <= alpha needs more seeds or layers.
    """
    lines = [f"== {title} =="]
    if summary:
        lines += _summary_block(summary) + [""]
    if comparisons:
        lines += _comparison_block(comparisons, alpha) + [""]
    if validity:
        lines += _validity_block(validity, alpha) + [""]
    if len(lines) == 1:
        lines.append("(no statistics to report)")
    return "\n".join(lines).rstrip() + "\n"
