import numpy as np
import pytest

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError

# 3 seeds x layers a, b, c. d_b = a - b = [3, 2, 2]; d_c = a - c = [1, 1, -1]
FINAL = np.array([[10.0, 7.0, 9.0], [12.0, 10.0, 11.0], [11.0, 9.0, 12.0]])
LAYERS = ["a", "b", "c"]


def rows(final=FINAL, layers=LAYERS, selected="a", seed=0, **kw):
    return stats.compare_to_selected(final, layers, selected, np.random.default_rng(seed), **kw)


def test_hand_example():
    b, c = rows()
    assert list(b) == list(stats.COMPARISON_COLUMNS)
    assert (b["selected"], b["other"], c["other"], b["n_seeds"]) == ("a", "b", "c", 3)
    assert b["mean_diff"] == pytest.approx(7 / 3)
    assert c["mean_diff"] == pytest.approx(1 / 3)
    # sign flip: only +-(3+2+2) reach |7| -> 2/8; c: every pattern has |+-1+-1+-1| >= 1 -> 1
    assert b["p_sign_flip"] == 0.25 and c["p_sign_flip"] == 1.0
    assert b["p_wilcoxon"] == 0.25
    # Holm over 2: 0.25 * 2 = 0.5, then max(0.5, 1.0) = 1.0
    assert b["p_sign_flip_holm"] == 0.5 and c["p_sign_flip_holm"] == 1.0
    assert b["prob_improvement"] == 1.0 and c["prob_improvement"] == pytest.approx(2 / 3)
    assert b["effect_size"] == 1.0 and c["effect_size"] == pytest.approx(
        1 / 3
    )  # ranks 2,2,2: (4-2)/6
    assert b["effect_size_name"] == "rank_biserial"
    assert b["cohens_dz"] == pytest.approx((7 / 3) / np.sqrt(1 / 3))
    # expanded interval with 3 seeds reads the extremes of the bootstrap distribution
    assert b["diff_ci_low"] == pytest.approx(2.0) and b["diff_ci_high"] == pytest.approx(3.0)
    assert b["smallest_attainable_p"] == 0.25 and b["smallest_attainable_p_holm"] == 0.5
    assert "needs >= 6 seeds" in b["note"] and "at most 75% of the time" in b["note"]
    assert b["n_comparisons"] == 2


def test_ties_count_half_in_prob_improvement():
    assert stats.prob_improvement([1.0, 2.0, 3.0], [1.0, 1.0, 4.0]) == 0.5


def test_ten_seeds_all_better():
    x = np.column_stack([np.arange(10.0) + 1.0, np.arange(10.0)])
    (r,) = rows(x, ["sel", "base"], "sel", baselines=["base"])
    assert r["p_sign_flip"] == pytest.approx(2 / 1024) and r["p_wilcoxon"] == pytest.approx(
        2 / 1024
    )
    assert r["other_kind"] == "baseline"
    assert r["note"] == "all paired differences are equal: zero-width CI, cohens_dz not computable"
    assert (r["diff_ci_low"], r["diff_ci_high"]) == (1.0, 1.0)
    assert np.isnan(r["cohens_dz"])


def test_identical_layers():
    x = np.column_stack([np.arange(6.0), np.arange(6.0)])
    (r,) = rows(x, ["a", "b"])
    assert r["p_sign_flip"] == 1.0 and r["p_wilcoxon"] == 1.0 and r["effect_size"] == 0.0
    assert "all paired differences are zero" in r["note"]


def test_single_seed_is_not_computable():
    out = rows(FINAL[:1])
    assert all(np.isnan(r["p_sign_flip"]) and np.isnan(r["diff_ci_low"]) for r in out)
    assert all(r["note"].startswith("not computable: 1 seed") for r in out)
    assert out[0]["mean_diff"] == 3.0


def test_single_layer_gives_no_rows():
    assert rows(FINAL[:, :1], ["a"]) == []


def test_determinism():
    x = np.random.default_rng(7).normal(size=(8, 4))
    a = rows(x, list("abcd"), seed=11)
    b = rows(x, list("abcd"), seed=11)
    c = rows(x, list("abcd"), seed=12)
    assert a == b
    assert [r["diff_ci_low"] for r in a] != [r["diff_ci_low"] for r in c]


def test_stratified():
    x = np.random.default_rng(7).normal(size=(8, 3))
    out = rows(x, list("abc"), strata=np.repeat([0, 1], 4))
    assert all(r["diff_ci_low"] < r["mean_diff"] < r["diff_ci_high"] for r in out)


def test_nan_is_an_error():
    x = FINAL.copy()
    x[1, 2] = np.nan
    with pytest.raises(StatsError, match=r"final contains nan at \(seed 1, layer 2\)"):
        rows(x)


def test_unknown_selected():
    with pytest.raises(
        StatsError, match=r"selected layer 'z' is not in layers; accepted: \['a', 'b', 'c'\]"
    ):
        rows(selected="z")


def test_unknown_baseline():
    with pytest.raises(StatsError, match="baseline 'random' is not in layers"):
        rows(baselines=["random"])


def test_layer_count_mismatch():
    with pytest.raises(
        StatsError, match=r"layers has 2 name\(s\) but the array has 3 layer column\(s\)"
    ):
        rows(layers=["a", "b"])


def test_duplicate_layer_names():
    with pytest.raises(StatsError, match="contains 'a' more than once"):
        rows(layers=["a", "a", "c"])


def test_empty_layer():
    with pytest.raises(StatsError, match=r"final has 0 seed\(s\)"):
        rows(np.empty((0, 3)))


def test_prob_improvement_unpaired_input():
    with pytest.raises(StatsError, match="x and y must be paired"):
        stats.prob_improvement([1.0, 2.0], [1.0])
