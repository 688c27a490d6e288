"""Figures of a comparison, as PNG files under ``outputs/figures/``.

Three layers, kept apart as in rliable: loaders read the output files into plain arrays,
pure functions turn them into what is drawn (:func:`learning_curves`), and plot functions
draw on an ``ax`` (a new one when ``ax`` is None) and return it.

* :func:`plot_learning_curves`: smoothed return against env steps, one line per layer with
  a bootstrap CI band across seeds; the random layer bank as one grey band (range of its
  layers' mean curves).
* :func:`plot_final_returns`: IQM of the final return per layer with its CI and the seeds
  as dots; baselines marked, the bank's range shaded.
* :func:`plot_score_vs_return`: an analysis score against RL return, with both CIs and
  the rank correlation in the title.
* :func:`plot_probe_scores`: one probe score per layer with its CI.
* :func:`plot_performance_profile`: rliable's performance profile, the fraction of a
  layer's runs with a final return above each threshold, with a bootstrap band
  (:mod:`.profiles`).

matplotlib is imported inside the functions (``import rl_rosetta_layer`` stays light) and
never through pyplot: figures are :class:`matplotlib.figure.Figure` objects drawn by the
Agg canvas, so no global backend is changed.
"""

from __future__ import annotations

import io
import math
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import stats
from ..analysis.score import DEFAULT_SELECTION_METRIC, METRICS
from ..errors import CorruptFileError
from ..experiments.outputs import LAST
from ..io import atomic_write_bytes, read_csv
from ..layers.registry import BANK_NAMES, BASELINES, SEED_CANDIDATES
from .tables import METRIC_HEADERS

FIGURES_DIR = "figures"
#: Figure name -> file name under ``outputs/figures/``.
FIGURE_FILES = {
    "learning_curves": "learning_curves.png",
    "final_returns": "final_returns.png",
    "score_vs_return": "score_vs_return.png",
    "probe_scores": "probe_scores.png",
    "performance_profile": "performance_profile.png",
}
DPI = 130
#: Seed of the generator behind the learning curves' CI bands (fixed: same figure each time).
FIGURE_SEED = 20_240_603
CANDIDATE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:cyan",
                    "tab:olive", "tab:pink")
SELECTED_COLOR = "tab:red"
BANK_COLOR = "0.55"


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Curve:
    """A layer's learning curve on a grid of env steps.

    ``steps`` (P,), ``mean`` (P,) the mean over seeds of each seed's smoothed return, and
    ``low``/``high`` (P,) its bootstrap CI across seeds (NaN with fewer than 2 seeds).
    """

    layer: str
    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int
    window: int


def layer_kind(name: str) -> str:
    """'bank', 'baseline' or 'candidate'."""
    if name in BANK_NAMES:
        return "bank"
    return "baseline" if name in BASELINES else "candidate"


def load_episodes(out_dir: Path) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """layer -> seed -> (cumulative env steps (E,), returns (E,)) of every finished run,
    from ``experiment_returns.csv`` (runs marked diverged or failed are left out)."""
    path = Path(out_dir) / "experiment_returns.csv"
    rows = read_csv(path, ("layer", "seed", "episode", "return", "env_steps"),
                    hint="rosetta train (or scripts/run_experiments.py)")
    runs: dict[tuple[str, int], list[tuple[int, float, float]]] = defaultdict(list)
    for row in rows:
        if row.get("status", "ok") != "ok":
            continue
        try:
            key = (row["layer"], int(row["seed"]))
            runs[key].append((int(row["episode"]), float(row["env_steps"]), float(row["return"])))
        except ValueError as exc:
            raise CorruptFileError(f"{path}: a seed, episode, env_steps or return is not a "
                                   f"number in row {row}") from exc
    out: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for (layer, seed), items in runs.items():
        items.sort()
        out[layer][seed] = (np.array([i[1] for i in items]), np.array([i[2] for i in items]))
    return dict(out)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first ``window - 1`` points average what exists so far.

    >>> smooth(np.array([0.0, 2.0, 4.0, 6.0]), 2).tolist()
    [0.0, 1.0, 3.0, 5.0]
    """
    values = np.asarray(values, float)
    c = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (c[idx] - c[start]) / (idx - start)


def default_window(n_episodes: int) -> int:
    """Smoothing window in episodes: 20, or a fifth of a short run."""
    return int(max(1, min(20, n_episodes // 5)))


def learning_curves(episodes: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray]]],
                    rng: np.random.Generator, *, window: int | None = None,
                    points: int = 150, n_resamples: int = 1000) -> dict[str, Curve]:
    """Smoothed learning curves per layer on a common env-step grid across its seeds.

    Each seed's returns are smoothed over ``window`` episodes and interpolated at
    ``points`` env-step values from 0 to the fewest env steps any seed of the layer ran.
    """
    curves = {}
    for layer, seeds in episodes.items():
        runs = [seeds[s] for s in sorted(seeds)]
        n_ep = min(len(r[1]) for r in runs)
        if n_ep == 0:
            continue
        w = window or default_window(n_ep)
        end = min(float(r[0][-1]) for r in runs)
        grid = np.linspace(0.0, end, points)
        ys = np.stack([np.interp(grid, r[0], smooth(r[1], w)) for r in runs])
        mean = ys.mean(axis=0)
        if len(runs) >= 2:
            low, high = stats.bootstrap_ci(ys, "mean", rng, n_resamples=n_resamples)
        else:
            low = high = np.full(points, np.nan)
        curves[layer] = Curve(layer, grid, mean, low, high, len(runs), w)
    return curves


def layer_colors(layers: Sequence[str], selected: str | None) -> dict[str, str]:
    """One colour per layer, the same in every figure: the selected layer red, the bank
    grey, the seed's candidates by their order, other layers by a hash of their name."""
    colors = {}
    for name in layers:
        if name == selected:
            colors[name] = SELECTED_COLOR
        elif layer_kind(name) == "bank":
            colors[name] = BANK_COLOR
        elif name == "identity":
            colors[name] = "black"
        elif name == "mlp_full":
            colors[name] = "tab:brown"
        elif name in SEED_CANDIDATES:
            colors[name] = CANDIDATE_COLORS[SEED_CANDIDATES.index(name)]
        else:
            k = len(SEED_CANDIDATES) + zlib.crc32(name.encode()) % (
                len(CANDIDATE_COLORS) - len(SEED_CANDIDATES))
            colors[name] = CANDIDATE_COLORS[k]
    return colors


def _label(name: str, selected: str | None) -> str:
    kind = layer_kind(name)
    if name == selected:
        return f"{name} (selected)"
    return f"{name} (baseline)" if kind == "baseline" else name


# ----------------------------------------------------------------------------- plots
def new_axes(figsize=(8.0, 5.0), nrows: int = 1, ncols: int = 1):
    """A figure drawn by the Agg canvas (no pyplot) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _ax(ax, figsize=(8.0, 5.0)):
    return ax if ax is not None else new_axes(figsize)[1][0, 0]


def plot_learning_curves(curves: Mapping[str, Curve], *, ax=None, selected: str | None = None,
                         layers: Sequence[str] | None = None, title: str | None = None):
    """Mean smoothed return against env steps, with a CI band per layer. Returns ``ax``.

    ``layers`` limits the plot to those layers (default: all). Bank layers are drawn as
    one grey band: the range of their mean curves.
    """
    ax = _ax(ax, (9.0, 5.5))
    if layers is not None:
        curves = {n: curves[n] for n in layers if n in curves}
    names = [n for n in curves if layer_kind(n) != "bank"]
    names.sort(key=lambda n: (n != selected, layer_kind(n) == "baseline", n))
    colors = layer_colors(names, selected)
    bank = [curves[n] for n in curves if layer_kind(n) == "bank"]
    if bank:
        end = min(c.steps[-1] for c in bank)
        grid = np.linspace(0.0, end, len(bank[0].steps))
        ys = np.stack([np.interp(grid, c.steps, c.mean) for c in bank])
        ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=BANK_COLOR, alpha=0.35,
                        lw=0, label=f"random bank: range of {len(bank)} layers' means")
    for name in names:
        c = curves[name]
        style = "--" if layer_kind(name) == "baseline" else "-"
        lw = 2.4 if name == selected else 1.6
        ax.plot(c.steps, c.mean, style, color=colors[name], lw=lw, label=_label(name, selected))
        if np.isfinite(c.low).all():
            ax.fill_between(c.steps, c.low, c.high, color=colors[name], alpha=0.18, lw=0)
    some = next(iter(curves.values()), None)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return" + (f" (moving average of {some.window} episodes)"
                                      if some and some.window > 1 else ""))
    n_seeds = sorted({c.n_seeds for c in curves.values()})
    seeds = "/".join(str(n) for n in n_seeds)
    ax.set_title(title or f"Learning curves: mean over {seeds} seeds, band = 95% bootstrap "
                 "CI across seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_final_returns(rows: Sequence[Mapping], *, ax=None, selected: str | None = None,
                       seed_values: Mapping[str, Sequence[float]] | None = None):
    """IQM of the final return per layer with its CI (rows of ``experiment_summary.csv``),
    best at the top; seeds as dots; the bank's range of IQMs shaded. Returns ``ax``."""
    ax = _ax(ax, (8.0, 0.9 + 0.38 * max(len(rows), 1)))
    rows = sorted(rows, key=lambda r: _f(r["iqm"]) if math.isfinite(_f(r["iqm"])) else -np.inf)
    names = [str(r["layer"]) for r in rows]
    colors = layer_colors(names, selected)
    bank = [_f(r["iqm"]) for r in rows if layer_kind(str(r["layer"])) == "bank"]
    if bank:
        ax.axvspan(min(bank), max(bank), color=BANK_COLOR, alpha=0.2, lw=0,
                   label=f"random bank: range of {len(bank)} IQMs")
    for y, r in enumerate(rows):
        name = str(r["layer"])
        iqm, lo, hi = _f(r["iqm"]), _f(r["iqm_ci_low"]), _f(r["iqm_ci_high"])
        marker = {"baseline": "s", "bank": "o", "candidate": "D"}[layer_kind(name)]
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [y, y], color=colors[name], lw=2.5, solid_capstyle="butt")
        ax.plot([iqm], [y], marker, color=colors[name], ms=7 if name == selected else 6,
                mec="black" if name == selected else colors[name])
        if seed_values and name in seed_values:
            vals = np.asarray(seed_values[name], float)
            ax.plot(vals, np.full(len(vals), y + 0.22), "|", color=colors[name], ms=6, alpha=0.8)
    ax.set_yticks(range(len(rows)), [_label(n, selected) for n in names], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"final return (mean of the last {LAST} episodes of a run)")
    ax.set_title("Final return per layer: IQM (marker) with 95% bootstrap CI (bar); "
                 "ticks = seeds", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if bank:
        ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_score_vs_return(scores: Mapping[str, tuple[float, float, float]],
                         returns: Mapping[str, tuple[float, float, float]], *, ax=None,
                         score_name: str = DEFAULT_SELECTION_METRIC,
                         validity: Mapping | None = None, selected: str | None = None,
                         annotate: bool = True):
    """An analysis score (x) against RL final return (y), each (value, low, high) per
    layer; the title carries Spearman's rho with its CI and p from ``validity`` (a row of
    ``score_validity.csv``). Returns ``ax``."""
    ax = _ax(ax, (6.0, 4.5))
    names = [n for n in scores if n in returns]
    colors = layer_colors(names, selected)
    for name in names:
        x, xlo, xhi = (_f(v) for v in scores[name])
        y, ylo, yhi = (_f(v) for v in returns[name])
        marker = {"baseline": "s", "bank": "o", "candidate": "D"}[layer_kind(name)]
        if math.isfinite(xlo) and math.isfinite(xhi):
            ax.plot([xlo, xhi], [y, y], color=colors[name], lw=1.2)
        if math.isfinite(ylo) and math.isfinite(yhi):
            ax.plot([x, x], [ylo, yhi], color=colors[name], lw=1.2)
        ax.plot([x], [y], marker, color=colors[name], ms=8 if name == selected else 5,
                mec="black" if name == selected else colors[name], zorder=3)
        if annotate and layer_kind(name) != "bank":
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(f"{METRIC_HEADERS.get(score_name, score_name)} (analysis, before RL)")
    ax.set_ylabel("final return (RL)")
    title = METRIC_HEADERS.get(score_name, score_name)
    if validity is not None and math.isfinite(_f(validity.get("spearman", "nan"))):
        rho, p = _f(validity["spearman"]), _f(validity["spearman_p"])
        lo, hi = _f(validity["spearman_ci_low"]), _f(validity["spearman_ci_high"])
        ci = f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
        title += f": Spearman ρ = {rho:.2f}{ci}, p = {p:.3g}"
    elif validity is not None:
        title += ": rank correlation not computable"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    _few_ticks(ax)
    return ax


def plot_probe_scores(rows: Sequence[Mapping], metric: str, *, ax=None,
                      selected: str | None = None, show_labels: bool = True):
    """One score per layer (rows of ``layer_analysis.csv``) with its bootstrap CI, in the
    file's order. Returns ``ax``."""
    ax = _ax(ax, (5.0, 4.0))
    names = [str(r["layer"]) for r in rows]
    colors = layer_colors(names, selected)
    for y, r in enumerate(rows):
        name = str(r["layer"])
        v, lo, hi = _f(r[metric]), _f(r[f"{metric}_ci_low"]), _f(r[f"{metric}_ci_high"])
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [y, y], color=colors[name], lw=3, alpha=0.6, solid_capstyle="butt")
        ax.plot([v], [y], "o", color=colors[name], ms=5,
                mec="black" if name == selected else colors[name])
    ax.set_yticks(range(len(rows)), [_label(n, selected) for n in names] if show_labels
                  else [], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_title(METRIC_HEADERS.get(metric, metric), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _few_ticks(ax)
    return ax


def plot_performance_profile(curves: Mapping, *, ax=None, selected: str | None = None,
                             achievable=None):
    """rliable's performance profile: per layer, the fraction of its runs whose final
    return is above each threshold tau (``curves``: layer -> :class:`.profiles.Profile`),
    with its 95 % bootstrap band; the bank's layers thin and grey, the achievable return
    (an :class:`.profiles.Achievable`) as a dashed line. Returns ``ax``."""
    ax = _ax(ax, (8.0, 5.0))
    names = sorted(curves, key=lambda n: (n != selected, layer_kind(n), n))
    colors = layer_colors(names, selected)
    for name in names:
        c, bank = curves[name], layer_kind(name) == "bank"
        ax.step(c.taus, c.fraction, where="post", color=colors[name],
                lw=0.8 if bank else (2.4 if name == selected else 1.6),
                ls="--" if layer_kind(name) == "baseline" else "-",
                label=None if bank else _label(name, selected))
        if not bank and np.isfinite(c.low).all():
            ax.fill_between(c.taus, c.low, c.high, step="post", color=colors[name],
                            alpha=0.12, lw=0)
    if achievable is not None:
        ax.axvline(achievable.value, color="0.3", ls=":", lw=1.2,
                   label=f"achievable return {achievable.value:.3f}")
    ax.set_xlabel(f"final return threshold τ (mean of a run's last {LAST} episodes)")
    ax.set_ylabel("fraction of runs with final return > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Performance profiles (rliable's run-score distribution), band = 95% "
                 "bootstrap CI over runs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def _few_ticks(ax) -> None:
    """At most five x ticks, so small ranges (reward R² ~ 0.005) do not overlap."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# ----------------------------------------------------------------------------- files
def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write_bytes(path, buf.getvalue())


def write_figures(out_dir: Path, selected: str | None) -> tuple[list[Path], list[str]]:
    """Write every figure the available outputs allow under ``out_dir/figures`` (but the
    performance profile, which :func:`.profiles.write_profiles` draws).

    Returns the files written and, for each figure left out, what is missing and which
    command writes it.
    """
    from .statistics import final_returns

    out_dir = Path(out_dir)
    fig_dir = out_dir / FIGURES_DIR
    written: list[Path] = []
    missing: list[str] = []
    has_runs = (out_dir / "experiment_returns.csv").is_file()
    has_summary = (out_dir / "experiment_summary.csv").is_file()
    has_analysis = (out_dir / "layer_analysis.csv").is_file()
    analysis_rows = (read_csv(out_dir / "layer_analysis.csv", ("layer",) + METRICS)
                     if has_analysis else [])
    if has_runs:
        curves = learning_curves(load_episodes(out_dir), np.random.default_rng(FIGURE_SEED))
        candidates = [n for n in curves if layer_kind(n) == "candidate"]
        others = [n for n in curves if layer_kind(n) != "candidate" or n == selected]
        if len(others) > 1:
            fig, axes = new_axes((15.0, 5.5), 1, 2)
            fig.get_layout_engine().set(w_pad=0.1)
            plot_learning_curves(curves, ax=axes[0, 0], selected=selected, layers=candidates,
                                 title="Candidate layers")
            plot_learning_curves(curves, ax=axes[0, 1], selected=selected, layers=others,
                                 title="Selected layer against the baselines")
            axes[0, 1].sharey(axes[0, 0])
            fig.suptitle("Learning curves: mean over seeds, band = 95% bootstrap CI across "
                         "seeds", fontsize=11)
        else:
            fig, axes = new_axes((9.0, 5.5))
            plot_learning_curves(curves, ax=axes[0, 0], selected=selected)
        written.append(save_figure(fig, fig_dir / FIGURE_FILES["learning_curves"]))
    else:
        missing.append(f"learning curves need {out_dir / 'experiment_returns.csv'}: run "
                       "`rosetta train`")
    if has_runs and has_summary:
        summary = read_csv(out_dir / "experiment_summary.csv",
                           ("layer", "iqm", "iqm_ci_low", "iqm_ci_high"))
        finals = {k: list(v.values()) for k, v in final_returns(out_dir).items()}
        fig, axes = new_axes((8.0, 0.9 + 0.38 * max(len(summary), 1)))
        plot_final_returns(summary, ax=axes[0, 0], selected=selected, seed_values=finals)
        written.append(save_figure(fig, fig_dir / FIGURE_FILES["final_returns"]))
    else:
        missing.append(f"the final-return plot needs {out_dir / 'experiment_summary.csv'} and "
                       "experiment_returns.csv: run `rosetta train`")
    if has_analysis:
        fig, axes = new_axes((12.0, 1.6 + 0.55 * len(analysis_rows)), 2, 3)
        for k, (ax, metric) in enumerate(zip(axes.flat, METRICS)):
            plot_probe_scores(analysis_rows, metric, ax=ax, selected=selected,
                              show_labels=k % 3 == 0)
        fig.suptitle("Analysis scores per layer (held-out data), 95% bootstrap CI", fontsize=11)
        written.append(save_figure(fig, fig_dir / FIGURE_FILES["probe_scores"]))
    else:
        missing.append(f"probe-score plots need {out_dir / 'layer_analysis.csv'}: run "
                       "`rosetta analyze`")
    validity_path = out_dir / "score_validity.csv"
    if has_analysis and has_runs and has_summary and validity_path.is_file():
        validity = {r["score"]: r for r in read_csv(validity_path, ("score", "spearman"))}
        summary = {r["layer"]: (r["mean_last_50"], r.get("mean_ci_low", "nan"),
                                r.get("mean_ci_high", "nan"))
                   for r in read_csv(out_dir / "experiment_summary.csv",
                                     ("layer", "mean_last_50"))}
        fig, axes = new_axes((14.0, 8.5), 2, 3)
        for ax, metric in zip(axes.flat, METRICS):
            scores = {r["layer"]: (r[metric], r[f"{metric}_ci_low"], r[f"{metric}_ci_high"])
                      for r in analysis_rows}
            plot_score_vs_return(scores, summary, ax=ax, score_name=metric,
                                 validity=validity.get(metric), selected=selected)
        fig.suptitle("Analysis score (x) against RL final return (y, mean over seeds), "
                     "95% CIs", fontsize=11)
        written.append(save_figure(fig, fig_dir / FIGURE_FILES["score_vs_return"]))
    else:
        missing.append("the score-against-return plot needs layer_analysis.csv (`rosetta "
                       "analyze`), RL runs (`rosetta train`) and score_validity.csv "
                       "(`rosetta report` with runs of >= 3 analysed layers)")
    return written, missing
