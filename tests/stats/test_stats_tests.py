"""Sign-flip test, Wilcoxon wrapper, Holm."""

from itertools import product

import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError


def test_sign_flip_by_hand():
    # sums of +-1 +-2 +-3: 6, 4, 2, 0, 0, -2, -4, -6
    assert stats.sign_flip_test([1.0, 2.0, 3.0]) == 0.25  # |sum| >= 6: 2 of 8
    assert stats.sign_flip_test([1.0, -2.0, 3.0]) == 0.75  # |sum| >= 2: 6 of 8
    assert stats.sign_flip_test([0.0, 0.0, 0.0]) == 1.0
    assert stats.sign_flip_test([5.0]) == 1.0


@pytest.mark.parametrize("n", [2, 3, 5, 8, 11])
def test_sign_flip_matches_scipy_exact(n):
    g = np.random.default_rng(n)
    for k in range(10):
        d = g.normal(size=n)
        if k % 2:
            d = np.round(d)  # ties and zeros
        ref = st.permutation_test(
            (d,),
            lambda x, axis: np.mean(x, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=np.inf,
        ).pvalue
        assert stats.sign_flip_test(d) == pytest.approx(min(ref, 1.0), abs=1e-12)


@pytest.mark.parametrize("alternative", ["greater", "less"])
@pytest.mark.parametrize("n", [2, 5, 9])
def test_one_sided_sign_flip_matches_scipy_exact(n, alternative):
    g = np.random.default_rng(10 + n)
    for k in range(6):
        d = g.normal(size=n) + 0.3
        if k % 2:
            d = np.round(d)
        ref = st.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis),
                                  permutation_type="samples", vectorized=True,
                                  n_resamples=np.inf, alternative=alternative).pvalue
        assert stats.sign_flip_test(d, alternative=alternative) == pytest.approx(ref, abs=1e-12)
    with pytest.raises(StatsError, match="alternative must be one of two-sided, greater, less"):
        stats.sign_flip_test([1.0], alternative="bigger")


def test_equivalence_by_hand_and_its_limits():
    # 4 differences well inside +-1: every flip of d + 1 (all > 0) sums lower except none,
    # so each one-sided p is 1/16.
    d = [0.1, -0.1, 0.05, 0.0]
    assert stats.equivalence_test(d, 1.0) == 1 / 16
    # a real difference of 0.5 is not equivalent within 0.1, and is within 1.0
    far = np.full(8, 0.5) + np.linspace(-0.01, 0.01, 8)
    assert stats.equivalence_test(far, 0.1) == 1.0
    assert stats.equivalence_test(far, 1.0) == 1 / 256
    # noisy differences cannot show equivalence even when their mean is 0
    noisy = np.array([1.0, -1.0, 2.0, -2.0, 1.5, -1.5])
    assert stats.equivalence_test(noisy, 0.1) > 0.05
    with pytest.raises(StatsError, match="margin must be a positive finite number, got 0"):
        stats.equivalence_test(d, 0)


def test_sign_flip_monte_carlo_is_deterministic():
    d = np.random.default_rng(0).normal(size=35) + 0.3
    a = stats.sign_flip_test(d, np.random.default_rng(1), n_resamples=2000)
    b = stats.sign_flip_test(d, np.random.default_rng(1), n_resamples=2000)
    assert a == b


def test_sign_flip_monte_carlo_needs_rng():
    with pytest.raises(StatsError, match="rng must be a numpy.random.Generator"):
        stats.sign_flip_test(np.ones(35))


def test_sign_flip_nan():
    with pytest.raises(StatsError, match="d contains nan at index 1"):
        stats.sign_flip_test([1.0, np.nan])


def test_wilcoxon_matches_scipy_without_ties():
    d = np.array([1.5, -0.2, 2.1, 0.7, 3.3, 1.1])
    assert stats.wilcoxon_p(d) == st.wilcoxon(d).pvalue


def test_wilcoxon_all_zero_is_one():
    assert stats.wilcoxon_p([0.0, 0.0, 0.0]) == 1.0


def test_wilcoxon_ties_above_13_is_exact():
    # brute force over all 2**14 sign patterns of the signed average ranks
    d = np.array([1, 1, 2, 2, 3, 3, 3, -1, 4, 5, 5, -2, 6, 0], dtype=float)
    nz = d[d != 0]
    r = st.rankdata(np.abs(nz))
    signs = np.array(list(product([1, -1], repeat=nz.size)))
    t = signs @ r
    want = np.mean(np.abs(t) >= abs(np.sum(np.sign(nz) * r)) - 1e-9)
    assert stats.wilcoxon_p(d, np.random.default_rng(0)) == pytest.approx(want, abs=1e-12)


def test_holm_by_hand():
    # sorted 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1) = 0.06
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.5]), [0.5])
    np.testing.assert_allclose(stats.holm([0.4, 0.5]), [0.8, 0.8])


def test_holm_nan_not_counted():
    np.testing.assert_allclose(stats.holm([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])


def test_holm_bad_p():
    with pytest.raises(StatsError, match=r"p-values must lie in \[0, 1\]; got 1.5"):
        stats.holm([0.1, 1.5])
