"""rliable's performance profile and optimality gap of each layer's final returns.

Beside the IQM, readers of RL papers expect two more of rliable's views (Agarwal et al.
2021): the **performance profile** (the run-score distribution: the fraction of a layer's
runs whose final return is above each threshold tau, with a 95 % bootstrap band over its
runs) and the **optimality gap** (the achievable return minus the mean final return
clipped at it: what the runs leave on the table, 0 when every run is optimal). The
metrics are :mod:`rl_rosetta_layer.stats`' (:func:`~rl_rosetta_layer.stats.score_distribution`,
:func:`~rl_rosetta_layer.stats.optimality_gap`); this module feeds them the report's final
returns (:func:`.statistics.final_returns`, the mean of each run's last 50 episodes).

The achievable return (rliable's ``gamma``) is the task's optimal return where it is
known (:func:`achievable_return`): the grid's mean shortest-path return, or the reference
policy's return in ``tasks.csv`` for a task folder of ``rosetta study``. Without it the
gap is not computed (the profile is).

``performance_profile.csv`` holds the profile the figure draws: layer, tau,
fraction_above, ci_low, ci_high (NaN band with fewer than 2 runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import stats
from ..io import read_csv, write_csv

PROFILE_FILE = "performance_profile.csv"
PROFILE_COLUMNS = ("layer", "tau", "fraction_above", "ci_low", "ci_high")
#: Thresholds the profile is evaluated at, evenly spaced over the returns.
N_TAUS = 101
#: Seed of the generator behind the profile's bands (fixed: same files each time).
PROFILE_SEED = 20_261_206


@dataclass(frozen=True)
class Achievable:
    """The task's optimal return and where it comes from (a few words)."""

    value: float
    source: str


@dataclass(frozen=True)
class Profile:
    """A layer's performance profile: ``taus`` (T,), ``fraction`` (T,) of its runs with a
    final return above each tau, and the band ``low``/``high`` (T,) (NaN with 1 run)."""

    layer: str
    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_runs: int


def achievable_return(out_dir: Path) -> Achievable | None:
    """The optimal return of the task the runs in ``out_dir`` trained on: the grid's mean
    shortest-path return (from its run records' environment), or, for a task folder of
    ``rosetta study``, the reference policy's mean return in the study's ``tasks.csv``;
    None when neither is known."""
    from .facts import env_facts, run_records

    out_dir = Path(out_dir)
    records = run_records(out_dir) if (out_dir / "runs").is_dir() else []
    env = records[0]["spec"].get("env", {}) if records else {}
    if env and env.get("name", "grid") == "grid":
        value = env_facts(env).get("optimal_return_mean")
        if value is not None:
            return Achievable(float(value), "the grid's mean shortest-path return")
    tasks = out_dir.resolve().parent / "tasks.csv"
    if tasks.is_file():
        for row in read_csv(tasks, ("env", "policy", "mean_return"), hint="rosetta study"):
            if row["env"] == out_dir.resolve().name and row["policy"] == "reference":
                return Achievable(float(row["mean_return"]),
                                  "the reference policy's mean return (tasks.csv)")
    return None


def _finals(out_dir: Path) -> dict[str, np.ndarray]:
    """layer -> final returns (runs,) of its finished runs, in seed order."""
    from .statistics import final_returns

    return {layer: np.array([v for _, v in sorted(seeds.items())], float)
            for layer, seeds in final_returns(out_dir).items() if seeds}


def optimality_gaps(out_dir: Path, achievable: Achievable | None = None
                    ) -> dict[str, float] | None:
    """layer -> optimality gap of its final returns against ``achievable`` (default:
    :func:`achievable_return`); None when the achievable return is not known."""
    target = achievable or achievable_return(out_dir)
    if target is None:
        return None
    return {layer: float(stats.optimality_gap(x[:, None], target.value)[0])
            for layer, x in _finals(out_dir).items()}


def profiles(out_dir: Path, achievable: Achievable | None = None) -> dict[str, Profile]:
    """Every layer's performance profile on one grid of :data:`N_TAUS` thresholds from the
    lowest final return to the highest (or the achievable return, when higher)."""
    finals = _finals(out_dir)
    if not finals:
        return {}
    values = np.concatenate(list(finals.values()))
    low, high = float(values.min()), float(values.max())
    if achievable is not None:
        high = max(high, achievable.value)
    pad = 0.02 * (high - low) or 0.01
    taus = np.linspace(low - pad, high + pad, N_TAUS)
    rng = np.random.default_rng(PROFILE_SEED)
    out = {}
    for layer, x in finals.items():
        fraction = stats.score_distribution(x[:, None], taus)[:, 0]
        if len(x) >= 2:
            lo, hi = (b[:, 0] for b in stats.score_distribution_ci(x[:, None], taus, rng))
        else:
            lo = hi = np.full(len(taus), np.nan)
        out[layer] = Profile(layer, taus, fraction, lo, hi, len(x))
    return out


def write_profiles(out_dir: Path, selected: str | None) -> tuple[list[Path], list[str]]:
    """Draw ``figures/performance_profile.png`` and write :data:`PROFILE_FILE` when there
    are finished runs. Returns the files written and a line for each thing left out."""
    from .figures import FIGURE_FILES, FIGURES_DIR, new_axes, plot_performance_profile, save_figure

    out_dir = Path(out_dir)
    if not (out_dir / "experiment_returns.csv").is_file():
        return [], [f"performance profiles need {out_dir / 'experiment_returns.csv'}: run "
                    f"`rosetta train`"]
    achievable = achievable_return(out_dir)
    curves = profiles(out_dir, achievable)
    if not curves:
        return [], [f"performance profiles need a finished run in "
                    f"{out_dir / 'experiment_returns.csv'}"]
    fig, axes = new_axes((8.0, 5.0))
    plot_performance_profile(curves, ax=axes[0, 0], selected=selected, achievable=achievable)
    return [save_figure(fig, out_dir / FIGURES_DIR / FIGURE_FILES["performance_profile"]),
            write_profile(out_dir, curves)], []


def write_profile(out_dir: Path, curves: dict[str, Profile]) -> Path:
    """Write ``performance_profile.csv`` (:data:`PROFILE_COLUMNS`) from ``curves``."""
    rows = [{"layer": p.layer, "tau": float(t), "fraction_above": float(f),
             "ci_low": float(lo), "ci_high": float(hi)}
            for p in curves.values()
            for t, f, lo, hi in zip(p.taus, p.fraction, p.low, p.high)]
    return write_csv(Path(out_dir) / PROFILE_FILE, rows, PROFILE_COLUMNS)
