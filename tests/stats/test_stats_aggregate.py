import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError

X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [100.0, 40.0]])


def test_hand_values():
    agg = stats.aggregate(X)
    assert agg["mean"].tolist() == [26.5, 25.0]
    assert agg["median"].tolist() == [2.5, 25.0]
    assert agg["iqm"].tolist() == [2.5, 25.0]
    assert stats.iqm(X).tolist() == [2.5, 25.0]
    assert stats.mean(X).tolist() == [26.5, 25.0]
    assert stats.median(X).tolist() == [2.5, 25.0]


def test_iqm_trims_a_quarter_each_end():
    x = np.arange(1.0, 9.0)[:, None]  # 8 seeds: drop 2 each end -> mean(3, 4, 5, 6)
    assert stats.iqm(x)[0] == 4.5
    assert stats.iqm(np.array([[1.0], [2.0], [30.0]]))[0] == 11.0  # < 4 seeds: IQM == mean


def test_iqm_is_rliable_definition():
    rng = np.random.default_rng(0)
    runs = rng.normal(size=(10, 5))  # rliable: (runs, tasks), trim_mean over all
    assert stats.iqm(runs.reshape(-1, 1))[0] == pytest.approx(st.trim_mean(runs, 0.25, axis=None))


def test_iqm_other_axis_and_1d():
    assert stats.iqm(X.T, axis=1).tolist() == [2.5, 25.0]
    assert stats.iqm([1.0, 2.0, 3.0, 100.0]) == 2.5


def test_nan_is_an_error():
    x = X.copy()
    x[1, 0] = np.nan
    with pytest.raises(StatsError, match=r"nan at \(seed 1, layer 0\)"):
        stats.aggregate(x)


def test_nan_is_an_error_in_iqm():
    with pytest.raises(StatsError, match="must be finite"):
        stats.iqm(np.array([[1.0], [np.nan]]))


def test_1d_is_rejected_by_aggregate():
    with pytest.raises(StatsError, match=r"2-D array of shape \(seeds, layers\); got shape \(3,\)"):
        stats.aggregate([1.0, 2.0, 3.0])


def test_no_seeds():
    with pytest.raises(StatsError, match=r"0 seed\(s\)"):
        stats.aggregate(np.empty((0, 3)))


def test_no_layers():
    with pytest.raises(StatsError, match="0 layers"):
        stats.iqm(np.empty((3, 0)))


def test_stats_error_is_value_error_and_rosetta_error():
    from rl_rosetta_layer.errors import RosettaError

    assert issubclass(StatsError, ValueError) and issubclass(StatsError, RosettaError)
