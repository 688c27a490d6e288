"""The study's figures: returns per layer and task, and pretrained minus twin per block
(one figure for the random twins, one for the shuffled twins).

They are drawn from rows of ``study_layers.csv`` / ``study_twins.csv`` (see
:mod:`rl_rosetta_layer.report.study`) on Agg figures (no pyplot), and written under
``figures/``; every value is a fraction of the achievable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..figures import FIGURES_DIR, new_axes, save_figure

#: Colour per layer kind, the same in every study figure.
KIND_COLORS = {"pretrained": "tab:blue", "twin": "tab:orange", "shuffled": "tab:brown",
               "prefix": "tab:purple", "control": "tab:gray", "synthetic": "tab:green",
               "baseline": "black"}
KIND_MARKERS = {"pretrained": "D", "twin": "o", "shuffled": "v", "prefix": "P", "control": "X",
                "synthetic": "^", "baseline": "s"}
FILES = {"returns": "study_returns.png", "twins": "study_twins.png",
         "shuffled": "study_shuffled_twins.png"}
VERDICT_COLORS = {"better": "tab:blue", "worse": "tab:orange", "equivalent": "tab:green",
                  "flagged": "tab:red"}


def short_name(layer: str) -> str:
    """``tiny-video:transformer_blocks.1:random`` -> ``block 1 (twin)``, ``...:shuffled``
    -> ``block 1 (shuffled)``; ``...:prefix`` -> ``blocks 0-1``; ``tiny-video:bypass`` ->
    ``bypass``.

    >>> [short_name(n) for n in ("x:transformer_blocks.2:prefix", "x:bypass", "identity",
    ...                          "x:transformer_blocks.2:shuffled")]
    ['blocks 0-2', 'bypass', 'identity', 'block 2 (shuffled)']
    """
    parts = layer.split(":")
    if len(parts) == 1:
        return layer
    block = parts[1].rsplit(".", 1)
    numbered = len(block) == 2 and block[1].isdigit()
    if len(parts) == 3 and parts[2] == "prefix" and numbered:
        return f"blocks 0-{block[1]}"
    label = f"block {block[1]}" if numbered else parts[1]
    suffix = {"random": " (twin)", "shuffled": " (shuffled)"}
    return label + (suffix.get(parts[2], "") if len(parts) == 3 else "")


def plot_study_returns(rows: Sequence[Mapping], envs: Sequence[str], *, axes=None):
    """One panel per task: normalised IQM (0 random policy, 1 reference) with its CI per
    layer, coloured by kind, best at the top of each panel. Returns the axes."""
    if axes is None:
        _, grid = new_axes((4.2 * len(envs), 5.5), 1, len(envs))
        axes = list(grid[0])
    for ax, env in zip(axes, envs):
        panel = sorted((r for r in rows if r["env"] == env), key=lambda r: r["final_iqm_frac"])
        for y, r in enumerate(panel):
            color, marker = KIND_COLORS[r["kind"]], KIND_MARKERS[r["kind"]]
            lo, hi = r["final_iqm_frac_ci_low"], r["final_iqm_frac_ci_high"]
            if math.isfinite(lo) and math.isfinite(hi):
                ax.plot([lo, hi], [y, y], color=color, lw=2.2, alpha=0.7,
                        solid_capstyle="butt")
            ax.plot([r["final_iqm_frac"]], [y], marker, color=color, ms=6)
        ax.axvline(0.0, color="0.5", lw=0.8, ls="--")
        ax.axvline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_yticks(range(len(panel)), [short_name(r["layer"]) for r in panel], fontsize=7)
        ax.set_ylim(-0.7, len(panel) - 0.3)
        title = "pooled over tasks" if env == "all" else env
        ax.set_title(title, fontsize=10)
        what = ("final evaluation" if panel and panel[0].get("measure") == "final_eval"
                else "final return")
        ax.set_xlabel(f"IQM of the {what}, fraction of achievable\n"
                      "(0 = random policy, 1 = reference)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    handles = [axes[0].plot([], [], KIND_MARKERS[k], color=c, label=k)[0]
               for k, c in KIND_COLORS.items()]
    axes[-1].legend(handles=handles, fontsize=7, loc="lower right")
    return axes


def plot_twin_differences(rows: Sequence[Mapping], *, twin: str = "random", ax=None):
    """Pretrained minus its ``twin`` ('random' or 'shuffled'; mean over seeds of the
    paired difference, fraction of the achievable, 95 % CI) per task and block; the pooled
    rows in bold. Returns ``ax``."""
    if ax is None:
        ax = new_axes((7.0, 0.9 + 0.33 * max(len(rows), 1)))[1][0, 0]
    for y, r in enumerate(rows):
        pooled = r["family"] == "pooled"
        color = VERDICT_COLORS.get(r["verdict"], "0.3")
        lo, hi = r["diff_frac_ci_low"], r["diff_frac_ci_high"]
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [y, y], color=color, lw=3.0 if pooled else 2.0,
                    solid_capstyle="butt")
        ax.plot([r["diff_frac"]], [y], "D" if pooled else "o", color=color,
                ms=7 if pooled else 5)
    labels = [f"{'all tasks' if r['env'] == 'all' else r['env']}: "
              + (short_name(f"x:{r['a'].split(':')[1]}") if r["family"] == "block"
                 else "all blocks") for r in rows]
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.axvline(0.0, color="0.4", lw=0.9)
    ax.set_xlabel(f"pretrained minus {twin} twin: final return, fraction of the achievable",
                  fontsize=8)
    ax.set_title(f"Pretrained block minus its {twin} twin: mean paired difference, 95% CI\n"
                 "(blue better, orange worse, green equivalent within the margin,\n"
                 "red flagged runs, grey inconclusive or not answered)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return ax


def write_study_figures(out_dir: Path, data, layer_rows: Sequence[Mapping],
                        twin_rows: Sequence[Mapping]) -> dict[str, Path]:
    """Write the figures under ``out_dir/figures`` (a twin figure only where that twin was
    run); returns name -> path."""
    folder = Path(out_dir) / FIGURES_DIR
    envs = sorted({r["env"] for r in layer_rows}, key=lambda e: (e == "all", e))
    envs = [e for e in data.envs if e in envs] + (["all"] if "all" in envs else [])
    axes = plot_study_returns(layer_rows, envs)
    written = {"returns": save_figure(axes[0].figure, folder / FILES["returns"])}
    for key, twin in (("twins", "random"), ("shuffled", "shuffled")):
        rows = [r for r in twin_rows if r["twin"] == twin]
        if rows:
            ax = plot_twin_differences(rows, twin=twin)
            written[key] = save_figure(ax.figure, folder / FILES[key])
    return written
