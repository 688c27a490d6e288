"""Linear CKA: known answers on built features."""

import numpy as np
import pytest

from rl_rosetta_layer.analysis.similarity import linear_cka
from rl_rosetta_layer.errors import ConfigError


def test_cka_is_one_up_to_rotation_scale_and_shift_and_low_for_unrelated_features():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6))
    q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    assert linear_cka(x, 2.5 * x @ q + 7.0) == pytest.approx(1.0)
    assert linear_cka(x, rng.normal(size=(400, 6))) < 0.1
    half = np.concatenate([x[:, :3], rng.normal(size=(400, 3))], axis=1)
    assert 0.3 < linear_cka(x, half) < 0.7


def test_wide_and_tall_features_give_the_same_number():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 80))      # y wider than its rows
    xc, yc = x - x.mean(0), y - y.mean(0)
    direct = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc)
                                               * np.linalg.norm(yc.T @ yc))
    assert linear_cka(x, y) == pytest.approx(direct)
    assert linear_cka(y, x) == pytest.approx(direct)


def test_constant_features_give_nan_and_bad_shapes_are_refused():
    x = np.ones((10, 3))
    assert np.isnan(linear_cka(x, np.random.default_rng(0).normal(size=(10, 2))))
    with pytest.raises(ConfigError, match=r"the same N >= 2 rows, got \(10, 3\) and \(9, 3\)"):
        linear_cka(x, np.ones((9, 3)))
