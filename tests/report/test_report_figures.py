"""Figures: plot functions draw on the ax they get (or a new one) and return it; PNGs are
written with a readable size; the curve maths is checked on hand-made runs."""

import subprocess
import sys

import numpy as np
import pytest

from rl_rosetta_layer.report import figures as F

LAYERS = ["structured_mid", "random_wide", "identity", "random_bank_0", "random_bank_1"]


def episodes(n_seeds=3, n_ep=30):
    """layer -> seed -> (cumulative env steps, returns): a layer that improves and flat ones."""
    out = {}
    for k, layer in enumerate(LAYERS):
        out[layer] = {}
        for s in range(n_seeds):
            lengths = np.full(n_ep, 10 + k + s)
            ret = np.linspace(-0.5, 0.9, n_ep) if k == 0 else np.full(n_ep, -0.3 + 0.01 * s)
            out[layer][s] = (np.cumsum(lengths).astype(float), ret)
    return out


def summary_rows():
    return [{"layer": n, "iqm": 0.1 * k, "iqm_ci_low": 0.1 * k - 0.05,
             "iqm_ci_high": 0.1 * k + 0.05, "mean_last_50": 0.1 * k}
            for k, n in enumerate(LAYERS)]


def analysis_rows():
    rows = []
    for k, n in enumerate(LAYERS):
        row = {"layer": n}
        for m in F.METRICS:
            row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = 0.2 * k, 0.2 * k - 0.1, 0.2 * k + 0.1
        rows.append(row)
    return rows


def png_size(ax, tmp_path, name):
    path = F.save_figure(ax.figure, tmp_path / name)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)


def test_smooth_is_a_trailing_mean():
    x = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    assert F.smooth(x, 1).tolist() == x.tolist()
    assert F.smooth(x, 3).tolist() == [1.0, 2.0, 3.0, 5.0, 7.0]


def test_learning_curves_share_a_grid_and_bound_the_mean():
    curves = F.learning_curves(episodes(), np.random.default_rng(0), points=40,
                               n_resamples=200)
    c = curves["structured_mid"]
    assert c.steps.shape == c.mean.shape == c.low.shape == (40,)
    assert c.steps[0] == 0 and c.n_seeds == 3
    assert np.all(c.low <= c.mean + 1e-12) and np.all(c.mean <= c.high + 1e-12)
    # the grid stops at the shortest seed's last env step
    assert c.steps[-1] == min(r[0][-1] for r in episodes()["structured_mid"].values())


def test_learning_curves_with_one_seed_have_no_band():
    curves = F.learning_curves(episodes(n_seeds=1), np.random.default_rng(0), points=10)
    assert np.isnan(curves["random_wide"].low).all()


def test_plot_learning_curves_returns_the_given_ax(tmp_path):
    fig, axes = F.new_axes()
    curves = F.learning_curves(episodes(), np.random.default_rng(0), points=30,
                               n_resamples=200)
    ax = F.plot_learning_curves(curves, ax=axes[0, 0], selected="structured_mid")
    assert ax is axes[0, 0]
    labels = ax.get_legend_handles_labels()[1]
    assert "structured_mid (selected)" in labels
    assert any(label.startswith("random bank") for label in labels)   # bank as one band
    assert png_size(ax, tmp_path, "curves.png") > 10_000


@pytest.mark.parametrize("draw", [
    lambda ax: F.plot_final_returns(summary_rows(), ax=ax, selected="structured_mid",
                                    seed_values={"identity": [0.1, 0.2, 0.3]}),
    lambda ax: F.plot_probe_scores(analysis_rows(), "value_r2", ax=ax, selected="identity"),
    lambda ax: F.plot_score_vs_return(
        {r["layer"]: (r["state_r2"], r["state_r2_ci_low"], r["state_r2_ci_high"])
         for r in analysis_rows()},
        {r["layer"]: (r["iqm"], r["iqm_ci_low"], r["iqm_ci_high"]) for r in summary_rows()},
        ax=ax, score_name="state_r2", selected="structured_mid",
        validity={"spearman": 0.5, "spearman_p": 0.2, "spearman_ci_low": -0.1,
                  "spearman_ci_high": 0.9}),
], ids=["final_returns", "probe_scores", "score_vs_return"])
def test_plot_functions_return_their_ax(draw, tmp_path):
    given = F.new_axes()[1][0, 0]
    assert draw(given) is given
    new = draw(None)                       # no ax: a new Agg figure
    assert new is not given and new.figure is not given.figure
    assert png_size(new, tmp_path, "plot.png") > 10_000


def test_score_plot_title_has_the_rank_correlation():
    ax = F.plot_score_vs_return({"a": (0.1, 0.0, 0.2)}, {"a": (0.5, 0.4, 0.6)},
                                score_name="value_r2",
                                validity={"spearman": 0.25, "spearman_p": 0.5,
                                          "spearman_ci_low": -0.5, "spearman_ci_high": 0.75})
    assert ax.get_title() == "value R²: Spearman ρ = 0.25 [-0.50, 0.75], p = 0.5"


def test_colours_are_the_same_whatever_the_subset():
    full = F.layer_colors(LAYERS, "structured_mid")
    part = F.layer_colors(["random_wide", "random_bank_0"], "structured_mid")
    assert part["random_wide"] == full["random_wide"]
    assert full["structured_mid"] == F.SELECTED_COLOR
    assert full["random_bank_0"] == full["random_bank_1"] == F.BANK_COLOR


def test_write_figures_says_what_is_missing(tmp_path):
    written, missing = F.write_figures(tmp_path, None)
    assert written == []
    assert len(missing) == 4
    assert any("rosetta train" in m for m in missing)
    assert any("rosetta analyze" in m for m in missing)


def test_importing_the_report_does_not_import_matplotlib():
    code = ("import sys, rl_rosetta_layer, rl_rosetta_layer.report, rl_rosetta_layer.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
