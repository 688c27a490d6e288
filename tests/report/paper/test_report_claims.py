"""The rules that turn statistics into claims, on rows whose verdict is known by hand."""

import math

import pytest

from rl_rosetta_layer.report import claims as C

NAN = math.nan


def comp(diff, lo, hi, p1, p2):
    return {"mean_diff": diff, "diff_ci_low": lo, "diff_ci_high": hi, "p_sign_flip_holm": p1,
            "p_wilcoxon_holm": p2}


@pytest.mark.parametrize("row,verdict", [
    (comp(0.5, 0.2, 0.8, 0.01, 0.02), C.SIG_BETTER),
    (comp(-0.5, -0.8, -0.2, 0.01, 0.05), C.SIG_WORSE),
    (comp(0.5, 0.2, 0.8, 0.01, 0.06), C.CONSISTENT_BETTER),   # one test above alpha
    (comp(0.5, 0.2, 0.8, 1.0, 1.0), C.CONSISTENT_BETTER),     # 3 seeds: p cannot be small
    (comp(-0.5, -0.8, -0.2, 1.0, 1.0), C.CONSISTENT_WORSE),
    (comp(0.1, -0.2, 0.4, 1.0, 1.0), C.UNCLEAR),
    (comp(0.1, NAN, NAN, NAN, NAN), C.NOT_COMPUTABLE),        # one seed
    ("strings", None),
])
def test_comparison_verdicts(row, verdict):
    if row == "strings":   # values as read from a CSV
        row = {k: str(v) for k, v in comp(0.5, 0.2, 0.8, 1.0, 1.0).items()}
        verdict = C.CONSISTENT_BETTER
    assert C.comparison_verdict(row) == verdict


@pytest.mark.parametrize("verdicts,hypothesis", [
    ([C.SIG_BETTER, C.SIG_BETTER], C.SUPPORTED),
    ([C.SIG_BETTER, C.CONSISTENT_BETTER], C.CONSISTENT),
    ([C.CONSISTENT_BETTER, C.UNCLEAR], C.NOT_ESTABLISHED),
    ([C.SIG_BETTER, C.CONSISTENT_WORSE], C.NOT_SUPPORTED),
    ([C.SIG_BETTER, C.NOT_COMPUTABLE], C.NOT_ESTABLISHED),
    ([], C.NOT_ESTABLISHED),
])
def test_hypothesis_verdicts(verdicts, hypothesis):
    assert C.hypothesis_verdict(verdicts) == hypothesis


def val(score, rho, p, lo, hi=0.9):
    return {"score": score, "spearman": rho, "spearman_p": p, "spearman_ci_low": lo,
            "spearman_ci_high": hi}


@pytest.mark.parametrize("row,verdict", [
    (val("s", 0.8, 0.01, 0.3), C.PREDICTS),
    (val("s", 0.8, 0.2, 0.3), C.PREDICTS_NS),
    (val("s", 0.4, 0.19, 0.0), C.NOT_RELIABLE),      # CI reaching zero is not above it
    (val("s", 0.4, 0.01, NAN, NAN), C.NOT_RELIABLE),
    (val("s", 0.0, 1.0, -0.5), C.DOES_NOT),
    (val("s", -0.6, 0.01, -0.9), C.DOES_NOT),
    (val("s", NAN, NAN, NAN, NAN), C.NOT_COMPUTABLE),
])
def test_validity_verdicts(row, verdict):
    assert C.validity_verdict(row) == verdict


def test_other_scores_are_judged_after_holm_the_selection_score_is_not():
    rows = [val("composite_score", 0.8, 0.03, 0.2), val("state_r2", 0.8, 0.03, 0.2),
            val("value_r2", 0.5, 0.5, 0.1)]
    p = C.validity_p(rows, "composite_score")
    assert p == {"composite_score": 0.03, "state_r2": 0.06, "value_r2": 0.5}
    v = C.validity_verdicts(rows, "composite_score")
    assert v == {"composite_score": C.PREDICTS, "state_r2": C.PREDICTS_NS,
                 "value_r2": C.PREDICTS_NS}


def test_rules_text_fills_alpha():
    text = C.rules_text(C.COMPARISON_RULES, 0.01)
    assert "{alpha}" not in text and "at most 0.01" in text
    assert text.count("\n- ") == len(C.COMPARISON_RULES) - 1
