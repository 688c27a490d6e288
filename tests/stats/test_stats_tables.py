import doctest
import importlib

import numpy as np
import pytest

from rl_rosetta_layer import stats
from rl_rosetta_layer.stats import StatsError

FINAL = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [100.0, 5.0]])


def test_summary_columns_hand():
    rows = stats.summary_columns(FINAL, np.random.default_rng(0), layers=["a", "b"])
    assert [r["layer"] for r in rows] == ["a", "b"]
    assert list(rows[0])[1:] == list(stats.SUMMARY_COLUMNS)
    assert rows[0]["iqm"] == 2.5 and rows[1]["iqm"] == 5.0
    assert (rows[1]["iqm_ci_low"], rows[1]["iqm_ci_high"]) == (5.0, 5.0)
    assert rows[1]["ci_note"].endswith("; constant over seeds: zero-width CI")
    assert "covers the true value at most 87.5% of the time, not 95%" in rows[0]["ci_note"]
    assert rows[0]["mean_ci_low"] < 26.5 < rows[0]["mean_ci_high"]
    assert rows[0]["ci_method"] == "expanded"


def test_summary_columns_single_seed():
    rows = stats.summary_columns(FINAL[:1], np.random.default_rng(0))
    assert rows[0]["layer"] == 0 and rows[0]["iqm"] == 1.0
    assert np.isnan(rows[0]["iqm_ci_low"]) and rows[0]["ci_note"].startswith(
        "not computable: 1 seed"
    )


def test_summary_columns_determinism():
    x = np.random.default_rng(1).normal(size=(7, 3))
    a = stats.summary_columns(x, np.random.default_rng(9))
    b = stats.summary_columns(x, np.random.default_rng(9))
    assert a == b


def test_summary_columns_nan():
    x = FINAL.copy()
    x[2, 1] = np.nan
    with pytest.raises(StatsError, match=r"final contains nan at \(seed 2, layer 1\)"):
        stats.summary_columns(x, np.random.default_rng(0))


def test_report_three_seeds_warns():
    g = np.random.default_rng(0)
    x = np.array([[10.0, 7.0, 9.0], [12.0, 10.0, 11.0], [11.0, 9.0, 12.0]])
    comp = stats.compare_to_selected(x, ["a", "b", "c"], "a", g)
    val = stats.score_validity(
        {"composite": np.array([3.0, 1.0, 2.0]), "flat": np.ones(3)}, None, x, g
    )
    summ = stats.summary_columns(x, g, layers=["a", "b", "c"])
    text = stats.format_report(comp, val, summ)
    assert "smallest attainable two-sided p with 3 seed(s): 0.25" in text
    assert "WARNING: with 3 seeds" in text and "needs >= 6 seeds" in text
    assert "flat: not computable" in text and "n/a" in text
    assert "P(impr) is paired" in text


def test_report_ten_seeds_no_warning():
    x = np.random.default_rng(0).normal(size=(10, 3)) + [2.0, 0.0, 0.0]
    text = stats.format_report(
        stats.compare_to_selected(x, ["a", "b", "c"], "a", np.random.default_rng(0))
    )
    assert "WARNING" not in text and "0.00195" in text


def test_report_single_comparison_warns():
    x = np.array([[1.0, 0.0], [2.0, 0.5], [3.0, 1.0]])
    text = stats.format_report(
        stats.compare_to_selected(x, ["a", "b"], "a", np.random.default_rng(0))
    )
    assert "WARNING: with 3 seeds the smallest attainable two-sided p is 0.25" in text
    assert "WARNING: with 3 seeds a bootstrap CI cannot extend past the observed min..max" in text


def test_report_empty():
    assert "(no statistics to report)" in stats.format_report()


@pytest.mark.parametrize(
    "module",
    ["aggregate", "align", "bootstrap", "correlation", "multiple", "paired", "power", "signflip"],
)
def test_doctests(module):
    mod = importlib.import_module(f"rl_rosetta_layer.stats.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
