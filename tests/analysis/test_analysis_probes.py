"""Ridge probes, R^2 (point and bootstrap) and effective rank on built inputs."""

import re

import numpy as np
import pytest

from rl_rosetta_layer.analysis import effective_rank, fit_ridge_cv, r2_score
from rl_rosetta_layer.analysis.probes import r2_replicates
from rl_rosetta_layer.analysis.rank import effective_rank_replicates
from rl_rosetta_layer.analysis.score import composite, select_layer, split_rows
from rl_rosetta_layer.errors import ConfigError


def planted(n, rng, noise):
    X = rng.normal(size=(n, 6)) * [1, 2, 0.5, 3, 1, 10] + 5.0
    W = rng.normal(size=(6, 2))
    return X, X @ W + 1.5 + noise * rng.normal(size=(n, 2))


def test_ridge_recovers_planted_linear_signal():
    rng = np.random.default_rng(0)
    X, Y = planted(600, rng, noise=0.01)
    fit = fit_ridge_cv(X[:500], Y[:500], np.random.default_rng(1))
    assert r2_score(Y[500:], fit.predict(X[500:])) > 0.999
    assert fit.alpha == pytest.approx(1e-6)     # the least regularised alpha wins


def test_ridge_on_pure_noise_scores_near_zero_held_out():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 6))
    Y = rng.normal(size=600)
    fit = fit_ridge_cv(X[:500], Y[:500], np.random.default_rng(3))
    assert abs(r2_score(Y[500:], fit.predict(X[500:]))) < 0.05


def test_ridge_handles_constant_feature():
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=200), np.ones(200)])
    Y = 2.0 * X[:, 0]
    fit = fit_ridge_cv(X, Y, np.random.default_rng(0))
    assert np.isfinite(fit.coef).all()
    assert r2_score(Y, fit.predict(X)) > 0.999


def test_r2_score_known_answers():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, 2.5)) == 0.0
    assert r2_score(y, y + 1.0) == pytest.approx(1.0 - 4.0 / 5.0)
    assert r2_score(np.ones(3), np.zeros(3)) == 0.0      # constant target: defined as 0
    # pooled over columns: SSE and SST summed before the ratio
    Y = np.array([[1.0, 0.0], [3.0, 10.0]])
    P = np.array([[1.0, 1.0], [3.0, 9.0]])
    assert r2_score(Y, P) == pytest.approx(1.0 - 2.0 / (2.0 + 50.0))


def test_r2_replicates_with_unit_counts_reproduces_r2_score():
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(50, 3))
    P = Y + rng.normal(scale=0.5, size=(50, 3))
    reps = r2_replicates(Y, P, np.ones((2, 50)))
    np.testing.assert_allclose(reps, r2_score(Y, P), rtol=1e-12)


def test_r2_replicates_counts_equal_resampled_rows():
    rng = np.random.default_rng(6)
    Y = rng.normal(size=20)
    P = Y + rng.normal(scale=0.3, size=20)
    counts = rng.multinomial(20, np.full(20, 1 / 20), size=4).astype(float)
    expected = [r2_score(np.repeat(Y, c.astype(int)), np.repeat(P, c.astype(int)))
                for c in counts]
    np.testing.assert_allclose(r2_replicates(Y, P, counts), expected, rtol=1e-10)


def test_effective_rank_identity_and_rank_one():
    assert effective_rank(np.eye(4)) == pytest.approx(0.75)      # rank 3 once centred
    rng = np.random.default_rng(7)
    Z = np.outer(rng.normal(size=100), [1.0, -2.0, 0.5, 3.0])
    assert effective_rank(Z) == pytest.approx(0.25, abs=1e-6)


def test_effective_rank_isotropic_is_one():
    # all 8 sign patterns of 3 columns: covariance is a multiple of the identity
    Z = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], float)
    assert effective_rank(Z) == pytest.approx(1.0)


def test_effective_rank_of_two_equal_directions():
    Z = np.zeros((4, 4))
    Z[:, 0] = [1, -1, 0, 0]
    Z[:, 1] = [0, 0, 1, -1]
    assert effective_rank(Z) == pytest.approx(0.5)


def test_effective_rank_replicates_with_unit_counts():
    Z = np.random.default_rng(8).normal(size=(30, 5))
    np.testing.assert_allclose(effective_rank_replicates(Z, np.ones((2, 30))),
                               effective_rank(Z), rtol=1e-9)


def test_composite_known_answer():
    assert composite(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert composite(-1.0, -3.0, 0.0) == pytest.approx(0.0)   # clipped at 0
    assert composite(0.0, 0.5, 0.5) == pytest.approx(0.45 * 0.5 + 0.45 * 0.75 + 0.05)


def test_split_rows_partition():
    train, test = split_rows(100, 0.2, np.random.default_rng(0))
    assert len(test) == 20 and len(train) == 80
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(100))


def test_split_rows_bad_fraction():
    with pytest.raises(ConfigError, match=re.escape("test fraction must be in (0, 1), got 1.0")):
        split_rows(10, 1.0, np.random.default_rng(0))


def test_select_layer_unknown_metric():
    with pytest.raises(ConfigError, match="^unknown selection metric 'bogus'; accepted: "):
        select_layer([], "bogus")


def test_select_layer_no_results():
    with pytest.raises(ConfigError, match="^no layers were analysed, so none can be selected$"):
        select_layer([])


def noisy_constant(n=400, seed=11):
    """0.1 plus noise of about one ulp (1e-17): constant up to rounding."""
    rng = np.random.default_rng(seed)
    return 0.1 + 1e-17 * rng.normal(size=n), rng


def test_r2_score_of_a_target_constant_up_to_rounding_is_zero():
    y, rng = noisy_constant()
    assert np.ptp(y) > 0 and ((y - y.mean()) ** 2).sum() > 0    # the old `sst > 0` passed
    pred = y + 1e-9 * rng.normal(size=y.size)
    old = 1.0 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert old < -1e10                                            # what it used to report
    assert r2_score(y, pred) == 0.0
    assert r2_score(np.column_stack([y, y]), np.column_stack([pred, pred])) == 0.0
    counts = rng.multinomial(y.size, np.full(y.size, 1 / y.size), size=5).astype(float)
    np.testing.assert_array_equal(r2_replicates(y, pred, counts), 0.0)
    assert r2_score(np.zeros(5), np.ones(5)) == 0.0


def test_r2_score_of_a_small_but_real_spread_is_not_zeroed():
    rng = np.random.default_rng(12)
    y = 1000.0 + 1e-3 * rng.normal(size=300)          # relative spread 1e-6: a real target
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full_like(y, y.mean())) == pytest.approx(0.0, abs=1e-9)
    assert r2_score(y, y + 2e-3 * rng.normal(size=300)) < -2.0     # about 1 - 4
    counts = np.ones((2, 300))
    np.testing.assert_allclose(r2_replicates(y, y + 1e-4, counts),
                               r2_score(y, y + 1e-4), rtol=1e-6)
