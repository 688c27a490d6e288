"""The study's report on a study folder with planted returns (:mod:`planted_study`), where
every verdict is known: final returns are final evaluations (training returns for an older
study), differences are fractions of the achievable, controls are judged per task by their
CI, the pooled rows pool only tasks whose control learned, flagged runs are left out beside
the main verdicts, and every table can be recomputed from ``study_runs.csv``."""

import csv
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from planted_study import (  # noqa: E402
    BLOCK,
    BYPASS,
    FLAGGED,
    LAYERS,
    SEEDS,
    SHUFFLED,
    TASKS,
    TWIN,
    write_study,
)

from rl_rosetta_layer import stats  # noqa: E402
from rl_rosetta_layer.report.study import write_study_report  # noqa: E402
from rl_rosetta_layer.report.study.fmt import OUTSIDE  # noqa: E402
from rl_rosetta_layer.report.study.power import min_detectable_effect  # noqa: E402

ENVS = list(TASKS)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def _study(root, **kw):
    plan = write_study(root, **kw)
    answers = write_study_report(root, ENVS, plan)
    return root, answers


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """catch's positive control fails (0.03 of the achievable)."""
    return _study(tmp_path_factory.mktemp("planted") / "study")


@pytest.fixture(scope="module")
def both_learn(tmp_path_factory):
    """Both tasks' positive controls learn (catch's bypass at 0.9)."""
    return _study(tmp_path_factory.mktemp("both") / "study", catch_bypass=0.9)


def _runs(study):
    """(env, layer, seed) -> row of study_runs.csv, numbers as floats."""
    out = {}
    for r in _rows(study / "study_runs.csv"):
        out[(r["env"], r["layer"], int(r["seed"]))] = {
            k: (float(v) if v not in ("", "True", "False") and k not in (
                "env", "layer", "kind", "flags") else v) for k, v in r.items()}
    return out


def test_study_runs_has_one_row_per_run_as_fractions_of_the_achievable(planted):
    study, answers = planted
    assert answers["measure"] == "final_eval"
    assert _header(study / "study_runs.csv") == [
        "env", "layer", "kind", "seed", "final_eval", "auc_eval", "final_train", "flagged",
        "flags", "final_eval_raw", "auc_eval_raw", "final_train_raw"]
    runs = _runs(study)
    assert set(runs) == {(e, n, s) for e in ENVS for n in LAYERS for s in SEEDS}
    raw = {(r["layer"], int(r["seed"])): r for r in _rows(study / "grid" /
                                                         "experiment_runs.csv")}
    lo, hi = TASKS["grid"]
    for (env, layer, seed), r in runs.items():
        if env != "grid":
            continue
        final = float(raw[(layer, seed)]["final_eval"])
        assert r["final_eval_raw"] == pytest.approx(final, rel=1e-5)
        assert r["final_eval"] == pytest.approx((final - lo) / (hi - lo), rel=1e-5)
        # planted: checkpoints 0.1 below the final evaluation, training 0.05 above it
        assert r["auc_eval"] == pytest.approx(r["final_eval"] - 0.1, abs=1e-5)
        assert r["final_train"] == pytest.approx(r["final_eval"] + 0.05, abs=1e-5)
        assert r["flagged"] == str((env, layer, seed) == FLAGGED)
    assert runs[FLAGGED]["flags"] == "constant_policy"


def test_every_table_can_be_recomputed_from_study_runs(planted):
    study, _ = planted
    runs = _runs(study)

    def values(env, layer, key="final_eval"):
        return np.array([runs[(env, layer, s)][key] for s in SEEDS])

    for r in _rows(study / "study_layers.csv"):
        x = values(r["env"], r["layer"])
        assert float(r["final_iqm_frac"]) == pytest.approx(float(stats.iqm(x)), abs=1e-5)
        assert float(r["auc_iqm_frac"]) == pytest.approx(
            float(stats.iqm(values(r["env"], r["layer"], "auc_eval"))), abs=1e-5)
        assert float(r["final_iqm_frac_ci_low"]) <= float(r["final_iqm_frac_ci_high"])
        assert r["measure"] == "final_eval"
    for r in _rows(study / "study_twins.csv") + _rows(study / "study_best.csv"):
        if r["family"] == "pooled":
            continue
        d = values(r["env"], r["a"]) - values(r["env"], r["b"])
        assert float(r["diff_frac"]) == pytest.approx(d.mean(), abs=1e-5)
        assert int(r["n_units"]) == len(SEEDS)
        keep = [s for s in SEEDS if runs[(r["env"], r["a"], s)]["flagged"] == "False"
                and runs[(r["env"], r["b"], s)]["flagged"] == "False"]
        assert int(r["n_units_unflagged"]) == len(keep)
        assert float(r["diff_frac_unflagged"]) == pytest.approx(
            np.mean([runs[(r["env"], r["a"], s)]["final_eval"]
                     - runs[(r["env"], r["b"], s)]["final_eval"] for s in keep]), abs=1e-5)


def test_planted_verdicts_per_task_and_twin(planted):
    study, answers = planted
    twins = {(r["env"], r["twin"], r["family"]): r for r in _rows(study / "study_twins.csv")}
    assert {k[0] for k in twins} == {"grid", "catch"}   # catch failed: nothing is pooled
    random = twins[("grid", "random", "block")]
    assert (random["a"], random["b"]) == (BLOCK, TWIN)
    # the twin's seed-3 run is flagged: no result, but 0.3 better on the other nine seeds
    assert random["verdict"] == "flagged" and random["verdict_unflagged"] == "better"
    assert int(random["n_units_unflagged"]) == 9
    assert float(random["diff_frac"]) == pytest.approx(0.3, abs=0.03)
    assert random["holm_family"] == "random twin: block" and int(random["holm_size"]) == 2
    assert float(random["p_holm_unflagged"]) == pytest.approx(2 * 2 / 2 ** 9)
    shuffled = twins[("grid", "shuffled", "block")]
    assert shuffled["b"] == SHUFFLED
    assert shuffled["verdict"] == shuffled["verdict_unflagged"] == "equivalent"
    for twin in ("random", "shuffled"):                 # catch's positive control failed
        assert twins[("catch", twin, "block")]["verdict"] == "control failed"
    assert answers["pretrained_vs_twin"]["block_verdicts"]["flagged"] == 1
    assert answers["pretrained_vs_twin"]["block_verdicts_unflagged"]["better"] == 1
    assert answers["pretrained_vs_shuffled"]["block_verdicts"]["equivalent"] == 1
    best = {(r["env"], r["b"]): r for r in _rows(study / "study_best.csv")}
    assert best[("grid", "mlp_full")]["verdict"] == "worse"
    assert best[("grid", "structured_mid")]["verdict"] == "better"
    assert best[("grid", "identity")]["verdict"] == "better"
    assert {r["verdict"] for k, r in best.items() if k[0] == "catch"} == {"control failed"}
    assert all(int(r["holm_size"]) == len(LAYERS) - 1 for r in best.values())


def test_controls_are_judged_per_task_by_their_interval(planted):
    study, answers = planted
    rows = {(r["env"], r["control"]): r for r in _rows(study / "study_controls.csv")}
    assert {e for e, _ in rows} == {"grid", "catch"}     # never pooled over tasks
    grid = rows[("grid", "positive control learned")]
    assert grid["layer"] == BYPASS and grid["passed"] == "True"
    assert float(grid["value_frac_ci_low"]) >= 0.5
    catch = rows[("catch", "positive control learned")]
    assert catch["passed"] == "False" and float(catch["value_frac_ci_low"]) < 0.5
    assert answers["control_learned"] == {"grid": True, "catch": False}
    # grid: identity at 0.5 (<= 0.85) and mlp_full 0.4 above it; catch: identity at 0.99
    assert rows[("grid", "identity below ceiling")]["passed"] == "True"
    beats = rows[("grid", "a layer beats identity")]
    assert beats["layer"] == "mlp_full" and float(beats["value_frac_ci_low"]) >= 0.1
    assert rows[("catch", "identity below ceiling")]["passed"] == "False"
    assert answers["tells_layers_apart"] == {"grid": True, "catch": False}
    text = (study / "study.md").read_text()
    assert "On `catch` the positive control (bypass) did NOT learn the task" in text
    assert "It can NOT tell layers apart" in text and "It can tell layers apart" in text


def test_a_positive_control_passes_by_its_interval_not_its_point(tmp_path):
    """The bypass's IQM on catch is just above 0.5, its CI reaches below: not learned."""
    study, answers = _study(tmp_path / "study", catch_bypass=0.505)
    row = next(r for r in _rows(study / "study_controls.csv")
               if r["env"] == "catch" and r["control"] == "positive control learned")
    assert float(row["value_frac"]) > 0.5 > float(row["value_frac_ci_low"])
    assert row["passed"] == "False" and answers["control_learned"]["catch"] is False


def test_pooled_rows_pool_only_tasks_whose_control_learned(planted, both_learn):
    study, answers = planted
    assert answers["pooled_envs"] == []
    assert {r["env"] for r in _rows(study / "study_layers.csv")} == {"grid", "catch"}
    study, answers = both_learn
    assert answers["pooled_envs"] == ["grid", "catch"]
    runs = _runs(study)
    pooled = next(r for r in _rows(study / "study_twins.csv")
                  if r["env"] == "all" and r["twin"] == "random" and r["family"] == "block")
    d = [runs[(e, BLOCK, s)]["final_eval"] - runs[(e, TWIN, s)]["final_eval"]
         for e in ENVS for s in SEEDS]
    assert int(pooled["n_units"]) == 20 and pooled["units"] == "task x seed"
    assert float(pooled["diff_frac"]) == pytest.approx(np.mean(d), abs=1e-5)
    assert int(pooled["n_units_unflagged"]) == 19
    assert (pooled["verdict"], pooled["verdict_unflagged"]) == ("flagged", "better")
    layers = [r for r in _rows(study / "study_layers.csv") if r["env"] == "all"]
    assert len(layers) == len(LAYERS) and all(r["final_iqm_raw"] == "" for r in layers)


def test_validity_table_correlates_every_score_with_the_final_evaluation(planted):
    study, _ = planted
    assert _header(study / "study_validity.csv") == [
        "env", "score", "n_layers", "spearman", "ci_low", "ci_high", "p"]
    rows = {(r["env"], r["score"]): r for r in _rows(study / "study_validity.csv")}
    # planted: the composite ranks the analysed layers as their final returns do, the
    # behaviour-cloning accuracy in reverse; the other acting probes are constant
    comp, bc = rows[("grid", "composite_score")], rows[("grid", "bc_accuracy")]
    assert int(comp["n_layers"]) == len(LAYERS) - 1           # mlp_full is not analysed
    assert float(comp["spearman"]) == 1.0 and float(bc["spearman"]) == -1.0
    assert float(comp["p"]) == pytest.approx(2 / math.factorial(6))
    assert math.isnan(float(rows[("grid", "q_return")]["spearman"]))
    text = (study / "study.md").read_text()
    assert "### Which analysis score tracks RL return?" in text
    assert "On `grid`, by Spearman: `composite_score`" in text


def test_similarity_table_has_each_task_that_measured_it(planted):
    study, _ = planted
    rows = _rows(study / "study_similarity.csv")
    assert _header(study / "study_similarity.csv") == [
        "env", "layer", "kind", "block", "cka_to_block", "cka_to_bypass"]
    assert [(r["env"], r["layer"], r["kind"]) for r in rows] == [
        ("grid", BLOCK, "pretrained"), ("grid", TWIN, "random"), ("grid", SHUFFLED, "shuffled")]
    assert "### What each twin removes" in (study / "study.md").read_text()


def test_power_rows_give_the_minimum_detectable_effect_of_each_family(planted):
    study, answers = planted
    rows = {r["holm_family"]: r for r in _rows(study / "study_power.csv")}
    assert set(rows) == {"random twin: block", "random twin: pooled", "shuffled twin: block",
                         "shuffled twin: pooled", "best: grid", "best: catch"}
    best = rows["best: grid"]
    assert int(best["n_units"]) == 10 and int(best["holm_size"]) == 6
    assert float(best["mde_frac"]) == pytest.approx(
        min_detectable_effect(float(best["diff_frac_sd"]), 10, 6), rel=1e-5)
    assert "### What these seeds can detect" in (study / "study.md").read_text()


def test_every_displayed_estimate_lies_in_its_interval_or_is_marked(planted, both_learn):
    for study, _ in (planted, both_learn):
        text = (study / "study.md").read_text()
        found = re.findall(r"([+-]?\d+\.\d+)(\u2020?) \[([+-]?\d+\.\d+), ([+-]?\d+\.\d+)\]",
                           text)
        assert len(found) > 50
        for v, mark, lo, hi in found:
            assert len(v.split(".")[1]) == len(lo.split(".")[1]) == len(hi.split(".")[1])
            assert (float(lo) <= float(v) <= float(hi)) != (mark == OUTSIDE)
        if OUTSIDE in text:
            assert "The point estimate lies outside its own 95% bootstrap interval" in text


def test_study_md_says_which_return_it_uses_and_where_the_runs_are(planted):
    study, _ = planted
    text = (study / "study.md").read_text()
    assert "mean return of its last greedy evaluation" in text
    assert "`study_runs.csv` has one row per run" in text
    assert "without flagged runs" in text
    assert "### Does a pretrained block beat its shuffled twin?" in text
    for name in ("study_twins.png", "study_shuffled_twins.png", "study_returns.png"):
        assert (study / "figures" / name).is_file()


def test_a_study_made_before_evaluations_uses_its_training_returns(tmp_path):
    study, answers = _study(tmp_path / "study", evaluations=False, similarity=False)
    assert answers["measure"] == "mean_last_50"
    runs = _runs(study)
    assert all(r["final_eval"] == "" and r["auc_eval"] == "" for r in runs.values())
    layers = {(r["env"], r["layer"]): r for r in _rows(study / "study_layers.csv")}
    train = np.array([runs[("grid", BLOCK, s)]["final_train"] for s in SEEDS])
    row = layers[("grid", BLOCK)]
    assert row["measure"] == "mean_last_50" and row["auc_iqm_frac"] == ""
    assert float(row["final_iqm_frac"]) == pytest.approx(float(stats.iqm(train)), abs=1e-5)
    text = (study / "study.md").read_text()
    assert "mean return of its last 50 training episodes (`mean_last_50`)" in text
    assert "sample efficiency, fraction" not in text
    assert "feature similarity of the twins was not measured" in text
    assert _rows(study / "study_similarity.csv") == []


def test_the_report_is_the_same_each_time(planted, tmp_path):
    study, _ = planted
    copy = shutil.copytree(study, tmp_path / "again")
    write_study_report(copy, ENVS, json.loads((study / "study_plan.json").read_text()))
    for path in study.glob("study_*.csv"):
        assert (copy / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_copy_of_the_study_tables_alone_is_one_line(tmp_path, rosetta):
    """docs/study-results holds the study tables without the tasks' folders."""
    docs = Path(__file__).parents[3] / "docs" / "study-results"
    copy = shutil.copytree(docs, tmp_path / "results")
    before = {p.name: p.read_bytes() for p in copy.glob("study_*")}
    rc, _, err = rosetta(["study", "--output-dir", copy, "--report-only", "--quiet"])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    first = json.loads((docs / "study_plan.json").read_text())["envs"][0]["name"]
    assert f"{first} does not exist: a study's report needs each task's folder" in err
    assert {p.name: p.read_bytes() for p in copy.glob("study_*")} == before


def test_the_selection_columns_follow_the_score_the_analysis_selected_by(tmp_path):
    """A task analysed with ``--select-by bc_accuracy`` (planted: it ranks the layers in
    reverse of their returns) is reported by that score, not by the composite."""
    root = tmp_path / "study"
    plan = write_study(root)
    (root / "grid" / "analysis_config.json").write_text(json.dumps({"select_by":
                                                                    "bc_accuracy"}))
    answers = write_study_report(root, ENVS, plan)
    layers = [r for r in _rows(root / "study_layers.csv") if r["env"] in ("grid", "catch")]
    by_env = {env: {r["select_by"] for r in layers if r["env"] == env} for env in
              ("grid", "catch")}
    assert by_env == {"grid": {"bc_accuracy"}, "catch": {"composite_score"}}
    grid = [r for r in layers if r["env"] == "grid" and r["score_rank"]]
    ranks = [(int(r["score_rank"]), int(r["return_rank"])) for r in grid]
    # bc_accuracy is highest for the lowest return: the ranks run in opposite directions
    assert float(stats.spearman_rho(np.array([a for a, _ in ranks], float),
                                    np.array([b for _, b in ranks], float))) < 0
    picked = {r["env"]: r for r in answers["analysis_picked_it"]}
    assert picked["grid"]["select_by"] == "bc_accuracy"
    assert picked["grid"]["spearman"] == pytest.approx(-1.0)
    assert picked["catch"]["spearman"] == pytest.approx(1.0)
    assert "`bc_accuracy`" in (root / "study.md").read_text()
