import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError
from rl_rosetta_layer.stats.bootstrap import expanded_level


def rng(seed=0):
    return np.random.default_rng(seed)


def data(n=10, layers=3, seed=1):
    return np.random.default_rng(seed).normal(size=(n, layers)) + np.arange(layers)


def test_two_seeds_percentile_by_hand():
    # resampled means of [0, 1]: 0 (1/4), 0.5 (1/2), 1 (1/4) -> 95 % interval [0, 1]
    lo, hi = stats.bootstrap_ci(
        np.array([[0.0], [1.0]]), "mean", rng(), method="percentile", n_resamples=2000
    )
    assert (lo[0], hi[0]) == (0.0, 1.0)


def test_stratified_by_hand():
    # each environment is constant: resampling within environments never changes the mean
    x = np.array([[1.0], [1.0], [5.0], [5.0]])
    strata = np.array([0, 0, 1, 1])
    for method in stats.METHODS:
        lo, hi = stats.bootstrap_ci(x, "mean", rng(), method=method, strata=strata, n_resamples=500)
        assert (lo[0], hi[0]) == (3.0, 3.0)
    lo, hi = stats.bootstrap_ci(x, "mean", rng(), method="percentile", n_resamples=500)
    assert lo[0] < 3.0 < hi[0]  # unstratified mixes environments


@pytest.mark.parametrize("method", stats.METHODS)
def test_constant_column_gives_zero_width(method):
    x = data()
    x[:, 1] = 7.0
    lo, hi = stats.bootstrap_ci(x, "iqm", rng(), method=method, n_resamples=500)
    assert (lo[1], hi[1]) == (7.0, 7.0)
    assert lo[0] < hi[0]


@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("statistic", ["mean", "iqm", "median"])
def test_one_stratum_matches_scipy(method, statistic):
    # The stratified resampler draws the same index matrix as scipy.stats.bootstrap
    # (rng.integers(0, n, (B, n))), so with one stratum both give the same interval.
    x = data()
    f = {
        "mean": np.mean,
        "median": np.median,
        "iqm": lambda a, axis: st.trim_mean(a, 0.25, axis=axis),
    }[statistic]
    ref = st.bootstrap(
        (x,),
        f,
        n_resamples=2000,
        vectorized=True,
        axis=0,
        rng=rng(3),
        method="BCa" if method == "bca" else "percentile",
    )
    lo, hi = stats.bootstrap_ci(
        x, statistic, rng(3), method=method, n_resamples=2000, strata=np.zeros(10, int)
    )
    np.testing.assert_allclose(lo, ref.confidence_interval.low, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hi, ref.confidence_interval.high, rtol=1e-12, atol=1e-12)


def test_expanded_contains_percentile():
    x = data()
    plo, phi = stats.bootstrap_ci(x, "mean", rng(5), method="percentile", n_resamples=2000)
    elo, ehi = stats.bootstrap_ci(x, "mean", rng(5), method="expanded", n_resamples=2000)
    assert np.all(elo < plo) and np.all(ehi > phi)


def test_expanded_level():
    # Hesterberg (2015): alpha'/2 = Phi(-sqrt(n/(n-1)) t_{0.025, n-1})
    want = 1 - 2 * st.norm.cdf(-np.sqrt(10 / 9) * st.t.ppf(0.975, 9))
    assert expanded_level(0.95, 10, 9) == pytest.approx(want)
    assert 0.98 < want < 0.99


def test_default_method_is_expanded():
    assert stats.DEFAULT_METHOD == "expanded"


@pytest.mark.parametrize("method", stats.METHODS)
@pytest.mark.parametrize("strata", [None, np.repeat([0, 1], 5)])
def test_determinism(method, strata):
    x = data()
    a = stats.bootstrap_ci(x, "iqm", rng(42), method=method, strata=strata, n_resamples=500)
    b = stats.bootstrap_ci(x, "iqm", rng(42), method=method, strata=strata, n_resamples=500)
    c = stats.bootstrap_ci(x, "iqm", rng(43), method=method, strata=strata, n_resamples=500)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(np.r_[a[0], a[1]], np.r_[c[0], c[1]])


@pytest.mark.parametrize("method", stats.METHODS)
def test_interval_contains_point_estimate(method):
    x = data(n=12, layers=5)
    lo, hi = stats.bootstrap_ci(x, "mean", rng(), method=method, n_resamples=1000)
    m = x.mean(axis=0)
    assert np.all(lo <= m) and np.all(m <= hi)


def test_bad_statistic():
    with pytest.raises(
        StatsError, match=r"statistic must be one of \('iqm', 'mean', 'median'\); got 'max'"
    ):
        stats.bootstrap_ci(data(), "max", rng())


def test_bad_method():
    with pytest.raises(StatsError, match=r"method must be one of .*got 'studentized'"):
        stats.bootstrap_ci(data(), "mean", rng(), method="studentized")


def test_missing_rng():
    with pytest.raises(StatsError, match="rng must be a numpy.random.Generator .*got NoneType"):
        stats.bootstrap_ci(data(), "mean")


def test_legacy_random_state_is_rejected():
    with pytest.raises(StatsError, match="got RandomState"):
        stats.bootstrap_ci(data(), "mean", np.random.RandomState(0))


def test_bad_confidence():
    with pytest.raises(StatsError, match="confidence must be strictly between 0 and 1"):
        stats.bootstrap_ci(data(), "mean", rng(), confidence=95)


def test_bad_n_resamples():
    with pytest.raises(StatsError, match="n_resamples must be an integer >= 100; got 10"):
        stats.bootstrap_ci(data(), "mean", rng(), n_resamples=10)


def test_single_seed():
    with pytest.raises(StatsError, match=r"1 seed\(s\) .*need at least 2 seed rows"):
        stats.bootstrap_ci(np.ones((1, 3)), "mean", rng())


def test_nan():
    x = data()
    x[4, 2] = np.nan
    with pytest.raises(StatsError, match=r"nan at \(seed 4, layer 2\)"):
        stats.bootstrap_ci(x, "mean", rng())


def test_strata_wrong_length():
    with pytest.raises(StatsError, match=r"strata must have shape \(10,\)"):
        stats.bootstrap_ci(data(), "mean", rng(), strata=[0, 1])


def test_strata_not_integer():
    with pytest.raises(StatsError, match="strata must be integer environment labels"):
        stats.bootstrap_ci(data(), "mean", rng(), strata=np.linspace(0, 1, 10))


def test_stratum_with_one_seed():
    with pytest.raises(StatsError, match="stratum 1 has 1 seed row"):
        stats.bootstrap_ci(data(), "mean", rng(), strata=[0] * 9 + [1])
