"""Calibration on simulated data (slow; run with -m slow or RL_ROSETTA_RUN_SLOW=1).

Smaller version of bench/stats_calibration.py: the bands are the issue's
targets, wide enough for the simulation noise at these sizes.
"""

import numpy as np
import pytest

from rl_rosetta_layer import stats

SIMS = 2000


@pytest.mark.slow
def test_paired_tests_reject_at_nominal_rate_under_null():
    rng = np.random.default_rng(2024)
    seed_effect = rng.normal(scale=2.0, size=(10, SIMS))
    d = (seed_effect + rng.normal(size=(10, SIMS))) - (seed_effect + rng.normal(size=(10, SIMS)))
    flip = np.mean([stats.sign_flip_test(d[:, i]) <= 0.05 for i in range(SIMS)])
    wil = np.mean([stats.wilcoxon_p(d[:, i], rng) <= 0.05 for i in range(SIMS)])
    assert 0.03 <= flip <= 0.07
    assert 0.03 <= wil <= 0.07


@pytest.mark.slow
@pytest.mark.parametrize("statistic", ["mean", "iqm"])
def test_default_ci_covers_known_mean_at_10_seeds(statistic):
    rng = np.random.default_rng(7)
    x = rng.normal(loc=3.0, size=(10, SIMS))
    lo, hi = stats.bootstrap_ci(x, statistic, rng, n_resamples=2000)
    assert 0.92 <= np.mean((lo <= 3.0) & (3.0 <= hi)) <= 0.98


@pytest.mark.slow
def test_percentile_undercovers_at_10_seeds():
    # documents why the default is 'expanded': the plain percentile interval is too narrow
    rng = np.random.default_rng(8)
    x = rng.normal(size=(10, SIMS))
    lo, hi = stats.bootstrap_ci(x, "mean", rng, method="percentile", n_resamples=2000)
    assert np.mean((lo <= 0) & (0 <= hi)) < 0.925
