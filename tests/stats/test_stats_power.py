import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError


def test_three_seeds_hand():
    assert stats.smallest_p(3) == {"wilcoxon": 0.25, "sign_flip": 0.25}
    assert stats.smallest_p(6)["wilcoxon"] == 0.03125
    assert stats.smallest_p(1)["sign_flip"] == 1.0


@pytest.mark.parametrize("n", range(2, 11))
def test_smallest_p_is_attained(n):
    d = np.arange(1.0, n + 1)  # all differences positive, distinct
    assert stats.smallest_p(n)["wilcoxon"] == pytest.approx(st.wilcoxon(d).pvalue, rel=1e-12)
    assert stats.smallest_p(n)["sign_flip"] == pytest.approx(stats.sign_flip_test(d), rel=1e-12)


def test_min_seeds():
    assert stats.min_seeds(0.05) == 6
    assert stats.min_seeds(0.05, n_comparisons=2) == 7
    assert stats.min_seeds(0.05, n_comparisons=10) == 9
    assert stats.min_seeds(0.01) == 8


def test_holm_floor():
    assert stats.smallest_p_holm(6, 10) == pytest.approx(0.3125)
    assert stats.smallest_p_holm(3, 10) == 1.0


def test_seed_warning_three_seeds():
    w = stats.seed_warning(3)
    assert "smallest attainable two-sided p is 0.25" in w and "needs >= 6 seeds" in w


def test_seed_warning_holm():
    assert stats.seed_warning(6) == ""
    assert "needs >= 9 seeds" in stats.seed_warning(6, n_comparisons=10)
    assert "(>= 9 with Holm over 10 comparisons)" in stats.seed_warning(3, n_comparisons=10)


def test_rank_correlation_floor():
    assert stats.smallest_p_rank_correlation(3) == pytest.approx(1 / 3)
    assert stats.smallest_p_rank_correlation(4) == pytest.approx(1 / 12)
    assert "needs >= 5 layers" in stats.layer_warning(4)
    assert stats.layer_warning(5) == ""


def test_bad_n_seeds():
    with pytest.raises(StatsError, match="n_seeds must be a positive integer; got 0"):
        stats.smallest_p(0)


def test_bad_n_seeds_type():
    with pytest.raises(StatsError, match="n_seeds must be a positive integer; got 2.5"):
        stats.smallest_p(2.5)


def test_bad_alpha():
    with pytest.raises(StatsError, match="alpha must be strictly between 0 and 1"):
        stats.min_seeds(5)


def test_bootstrap_coverage_cap():
    assert stats.max_bootstrap_coverage(3) == 0.75
    assert stats.max_bootstrap_coverage(5) == 0.9375
    assert "at most 75% of the time, not 95%" in stats.ci_warning(3)
    assert stats.ci_warning(6) == ""
    assert stats.ci_warning(5, confidence=0.9) == ""


def test_bootstrap_coverage_cap_is_real():
    # 3 seeds from N(0, 1): the CI lies in [min, max], which misses 0 with prob 1/4
    x = np.random.default_rng(0).normal(size=(3, 4000))
    lo, hi = stats.bootstrap_ci(x, "mean", np.random.default_rng(1), n_resamples=500)
    assert np.all(lo >= x.min(0) - 1e-12) and np.all(hi <= x.max(0) + 1e-12)
    assert np.mean((lo <= 0) & (0 <= hi)) <= 0.78
