from itertools import permutations

import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError

# outcome means per layer: [10, 30, 20, 40]; score ranks 1..4
OUTCOME = np.array([[9.0, 29.0, 19.0, 39.0], [11.0, 31.0, 21.0, 41.0]])
SCORE = np.array([1.0, 2.0, 3.0, 4.0])


def validity(scores=None, reps=None, outcome=OUTCOME, seed=0, **kw):
    return stats.score_validity(
        scores or {"composite": SCORE}, reps, outcome, np.random.default_rng(seed), **kw
    )


@pytest.mark.parametrize("n", [3, 5, 9])
def test_vectorised_correlations_match_scipy(n):
    g = np.random.default_rng(n)
    a = np.round(g.normal(size=(40, n)))
    b = np.round(g.normal(size=(40, n)) * 2)
    rho, tau = stats.spearman_rho(a, b), stats.kendall_tau_b(a, b)
    for i in range(40):
        if np.ptp(a[i]) == 0 or np.ptp(b[i]) == 0:
            assert np.isnan(rho[i]) and np.isnan(tau[i])
            continue
        assert rho[i] == pytest.approx(st.spearmanr(a[i], b[i]).statistic, abs=1e-12)
        assert tau[i] == pytest.approx(st.kendalltau(a[i], b[i]).statistic, abs=1e-12)


def test_hand_example():
    (r,) = validity()
    assert list(r) == list(stats.VALIDITY_COLUMNS)
    assert r["spearman"] == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert r["kendall"] == pytest.approx(2 / 3)  # 5 concordant, 1 discordant of 6
    y = OUTCOME.mean(0)
    rhos = [st.spearmanr(SCORE[list(p)], y).statistic for p in permutations(range(4))]
    assert r["spearman_p"] == pytest.approx(np.mean(np.abs(rhos) >= 0.8 - 1e-12))
    assert r["smallest_attainable_p"] == pytest.approx(1 / 12)
    assert "needs >= 5 layers" in r["note"]
    assert r["n_layers"] == 4 and r["n_seeds"] == 2 and r["n_replicates"] == 0


def test_perfect_order_reaches_floor():
    (r,) = validity({"s": np.array([1.0, 3.0, 2.0, 4.0])})
    assert r["spearman"] == 1.0 and r["kendall"] == 1.0
    assert r["spearman_p"] == pytest.approx(2 / 24) and r["kendall_p"] == pytest.approx(2 / 24)


def test_constant_score_not_computable():
    (r,) = validity({"flat": np.ones(4)})
    assert np.isnan(r["spearman"]) and np.isnan(r["kendall_ci_low"])
    assert (
        r["note"]
        == "not computable: score 'flat' is constant across layers (correlation undefined)"
    )


def test_constant_outcome_not_computable():
    (r,) = validity(outcome=np.ones((3, 4)))
    assert np.isnan(r["kendall"]) and r["note"].startswith("not computable: RL outcome is constant")


def test_two_layers_not_computable():
    (r,) = validity({"s": np.array([1.0, 2.0])}, outcome=OUTCOME[:, :2])
    assert np.isnan(r["spearman"]) and "needs >= 3 layers, got 2" in r["note"]


def test_nan_score_not_computable():
    (r,) = validity({"s": np.array([1.0, np.nan, 2.0, 3.0])})
    assert np.isnan(r["spearman"]) and "not finite for layer column(s) [1]" in r["note"]


def test_replicates_and_determinism():
    g = np.random.default_rng(3)
    out = g.normal(size=(6, 8)) + np.arange(8)
    scores = {"composite": np.arange(8.0), "probe": g.normal(size=8)}
    reps = {"composite": np.arange(8.0) + g.normal(size=(20, 8))}
    a = validity(scores, reps, out, seed=5)
    b = validity(scores, reps, out, seed=5)
    c = validity(scores, reps, out, seed=6)
    assert [list(r.values()) for r in a] == [list(r.values()) for r in b]
    keys = [
        "spearman_ci_low",
        "spearman_ci_high",
        "kendall_ci_low",
        "kendall_ci_high",
        "spearman_p",
        "kendall_p",
    ]
    assert [r[k] for r in a for k in keys] != [r[k] for r in c for k in keys]
    assert a[0]["n_replicates"] == 20 and a[0]["spearman_ci_low"] <= a[0]["spearman_ci_high"]
    assert "CI resamples seeds only" in a[1]["note"]


def test_strata():
    g = np.random.default_rng(3)
    out = g.normal(size=(6, 8)) + np.arange(8)
    (r,) = validity({"s": np.arange(8.0)}, outcome=out, strata=np.repeat([0, 1], 3))
    assert -1 <= r["spearman_ci_low"] <= r["spearman_ci_high"] <= 1


def test_single_seed():
    (r,) = validity(outcome=OUTCOME[:1])
    assert r["spearman"] == pytest.approx(0.8) and np.isnan(r["spearman_ci_low"])
    assert "CI not computable: 1 seed and no score replicates" in r["note"]
    (r,) = validity(
        reps={"composite": SCORE + np.random.default_rng(0).normal(size=(10, 4))},
        outcome=OUTCOME[:1],
    )
    assert np.isfinite(r["spearman_ci_low"])


def test_nan_outcome_is_an_error():
    out = OUTCOME.copy()
    out[0, 3] = np.nan
    with pytest.raises(StatsError, match=r"outcome contains nan at \(seed 0, layer 3\)"):
        validity(outcome=out)


def test_score_wrong_length():
    with pytest.raises(StatsError, match=r"scores\['composite'\] must have shape \(4,\)"):
        validity({"composite": np.ones(3)})


def test_replicates_wrong_shape():
    with pytest.raises(
        StatsError,
        match=r"score_replicates\['composite'\] must have shape \(n_rep >= 1, 4 layers\); got \(5, "
        r"3\)",
    ):
        validity(reps={"composite": np.ones((5, 3))})


def test_replicates_unknown_score():
    with pytest.raises(StatsError, match="score_replicates has 'other', which is not in scores"):
        validity(reps={"other": np.ones((5, 4))})


def test_empty_scores():
    with pytest.raises(StatsError, match="scores must be a non-empty mapping"):
        stats.score_validity({}, None, OUTCOME, np.random.default_rng(0))
