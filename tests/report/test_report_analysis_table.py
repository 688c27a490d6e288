"""The analysis table says what its intervals are, and why an estimate can lie outside
its own: basic bootstrap intervals correct for the bias that resampling adds."""

import numpy as np

from rl_rosetta_layer.analysis.score import METRICS
from rl_rosetta_layer.report.tables import CI_NOTE, analysis_table, outside_ci


def row(layer, value=0.5, low=0.4, high=0.6, **override):
    out = {"layer": layer}
    for m in METRICS:
        out[m], out[f"{m}_ci_low"], out[f"{m}_ci_high"] = value, low, high
    out.update(override)
    return out


def test_every_table_says_its_intervals_are_basic_bootstrap_intervals():
    text = analysis_table([row("identity"), row("structured_mid")])
    assert text.endswith("\n" + CI_NOTE + "\n")
    assert "basic bootstrap intervals" in CI_NOTE and "excludes it" in CI_NOTE
    assert "lie outside" not in text


def test_an_estimate_outside_its_interval_is_named_in_the_note():
    rows = [row("identity"),
            row("random_wide", effective_rank=0.605, effective_rank_ci_low=0.615,
                effective_rank_ci_high=0.628),
            row("bottleneck", state_r2=0.9)]                    # 0.9 above [0.4, 0.6]
    text = analysis_table(rows)
    assert "| random_wide | " in text and "0.605 [0.615, 0.628]" in text
    assert text.rstrip().endswith(
        f"Here 2 of {3 * len(METRICS)} estimates lie outside their interval, e.g. the state "
        f"R² of bottleneck, 0.900 [0.400, 0.600]: the resamples say the estimate is biased by "
        f"more than its spread.")
    assert [(round(d, 3), r["layer"], m) for d, r, m in outside_ci(rows)] == [
        (0.3, "bottleneck", "state_r2"), (0.01, "random_wide", "effective_rank")]


def test_a_basic_interval_excludes_a_biased_estimate_and_corrects_it():
    # Replicates biased low (as resampling biases the effective rank): the basic interval
    # 2 * estimate - (upper, lower quantile) lies above the estimate, where the bias-free
    # value is, and the percentile interval below it: neither holds the estimate.
    estimate, reps = 0.605, np.random.default_rng(0).normal(0.588, 0.003, 2000)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    basic = (2 * estimate - hi, 2 * estimate - lo)
    assert basic[0] > estimate and hi < estimate
    assert basic[0] < 2 * estimate - reps.mean() < basic[1]
