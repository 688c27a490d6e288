"""The study report's pure pieces on inputs with known answers: displayed estimates, the
minimum detectable effect, the Spearman table over layers, verdicts and layer kinds."""

import math

import numpy as np
import pytest
from scipy import stats as st

from rl_rosetta_layer.report.markdown import markdown_table
from rl_rosetta_layer.report.study.data import layer_kind, verdict
from rl_rosetta_layer.report.study.fmt import OUTSIDE, estimate, number
from rl_rosetta_layer.report.study.power import min_detectable_effect, t_power
from rl_rosetta_layer.report.study.validity import spearman_over_layers


def test_an_estimate_shows_its_interval_with_the_same_digits():
    assert estimate(0.96812, 0.95, 0.99) == "0.968 [0.950, 0.990]"
    assert estimate(0.5, 0.1, 0.2, 2, sign=True) == f"+0.50{OUTSIDE} [+0.10, +0.20]"
    # the mark follows the rounded numbers: 0.2004 shows as 0.200, inside [0.100, 0.200]
    assert OUTSIDE not in estimate(0.2004, 0.1, 0.2)
    assert estimate(float("nan"), 0.1, 0.2) == "\u2014"
    assert number(-0.0004, sign=True) == "+0.000" and number(math.inf) == "inf"


def test_verbatim_tables_keep_the_digits_they_were_given():
    rows = [{"a": "1.000", "b": "0.500"}]
    assert markdown_table(rows, ["a", "b"]).splitlines()[-1] == "| 1 | 0.500 |"
    assert markdown_table(rows, ["a", "b"], verbatim=True).splitlines()[-1] == \
        "| 1.000 | 0.500 |"


def test_the_minimum_detectable_effect_has_the_power_it_claims():
    for sd, n, m in ((1.0, 10, 1), (0.05, 10, 21), (0.2, 20, 4)):
        mde = min_detectable_effect(sd, n, m)
        assert t_power(mde, sd, n, 0.05 / m) == pytest.approx(0.8, abs=1e-6)
        assert t_power(0.9 * mde, sd, n, 0.05 / m) < 0.8
    # large n: the normal approximation (z_{1-a/2} + z_{power}) sd / sqrt(n)
    z = st.norm.ppf(0.975) + st.norm.ppf(0.8)
    assert min_detectable_effect(1.0, 2000) == pytest.approx(z / math.sqrt(2000), rel=0.01)
    # more tests or fewer units cost power; an SD twice as large doubles it
    assert min_detectable_effect(1.0, 10, 5) > min_detectable_effect(1.0, 10, 1)
    assert min_detectable_effect(2.0, 10) == pytest.approx(2 * min_detectable_effect(1.0, 10))


def test_no_effect_is_detectable_below_the_sign_flip_floor():
    assert min_detectable_effect(1.0, 5, 1) == math.inf        # 2 / 2**5 = 0.0625 > 0.05
    assert min_detectable_effect(1.0, 10, 26) == math.inf      # 26 * 2 / 1024 > 0.05
    assert math.isfinite(min_detectable_effect(1.0, 10, 25))
    assert math.isnan(min_detectable_effect(0.0, 10)) and math.isnan(
        min_detectable_effect(1.0, 1))


def test_spearman_over_layers_on_known_orders():
    rng = np.random.default_rng(0)
    r = spearman_over_layers([1, 2, 3, 4, 5], [10, 20, 30, 40, 50], rng)
    assert r["spearman"] == pytest.approx(1.0) and r["ci_low"] == r["ci_high"] == 1.0
    assert r["p"] == pytest.approx(2 / math.factorial(5))       # exact: 5! pairings
    r = spearman_over_layers([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], rng)
    assert r["spearman"] == pytest.approx(-1.0) and r["p"] == pytest.approx(2 / math.factorial(5))
    for score, outcome in (([1, 1, 1, 1], [1, 2, 3, 4]), ([1, 2], [1, 2])):
        r = spearman_over_layers(score, outcome, rng)
        assert math.isnan(r["spearman"]) and math.isnan(r["p"])


def test_spearman_over_layers_resamples_layers_and_is_seeded():
    score = np.arange(12.0)
    outcome = score + np.random.default_rng(3).normal(0, 4, 12)
    a = spearman_over_layers(score, outcome, np.random.default_rng(1))
    b = spearman_over_layers(score, outcome, np.random.default_rng(1))
    assert a == b
    assert a["spearman"] == pytest.approx(st.spearmanr(score, outcome).statistic)
    assert a["ci_low"] < a["spearman"] < a["ci_high"] <= 1.0
    assert 0 < a["p"] < 0.05


def test_a_task_whose_control_failed_gives_no_answer():
    assert verdict(0.1, 0.3, 0.001, informative=False) == "control failed"
    assert verdict(0.1, 0.3, 0.001, flagged=True, informative=False) == "control failed"
    assert verdict(-0.05, 0.04, 0.5, 0.01, 0.1) == "equivalent"
    assert verdict(0.1, 0.3, 0.001, flagged=True) == "flagged"


def test_twins_have_their_own_kinds():
    block = "tiny-video:transformer_blocks.1"
    assert [layer_kind(f"{block}{s}") for s in ("", ":random", ":shuffled", ":prefix")] == [
        "pretrained", "twin", "shuffled", "prefix"]
