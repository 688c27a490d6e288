"""A reduced ``rosetta study``: two tasks, one tiny-video block, its random and shuffled
twins, its prefix stack and the bypass, two numpy layers and the torch-learner control, two
seeds, a few hundred env steps. Checks the files, recomputes the headline numbers from the
per-task runs (final evaluations, as fractions of the achievable), and checks resume and
--report-only."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from rl_rosetta_layer.report.study.data import layer_kind, verdict  # noqa: E402

BLOCK = "tiny-video:transformer_blocks.1"
LAYERS = [BLOCK, f"{BLOCK}:random", f"{BLOCK}:shuffled", f"{BLOCK}:prefix",
          "tiny-video:bypass", "identity", "random_wide", "random_wide@torch"]
VERDICTS = ("better", "worse", "equivalent", "inconclusive", "flagged", "control failed")


def _args(out, *extra):
    return ["study", "--output-dir", out, "--envs", "catch,grid", "--layers", ",".join(LAYERS),
            "--seeds", "0,1", "--env-steps", 300, "--dataset-steps", 200, "--bootstrap", 20,
            "--task-episodes", 100, "--workers", 1, "--quiet", "--set", "learning_starts=50",
            *extra]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _finals(folder):
    """(layer, seed) -> the run's final evaluation, from experiment_runs.csv, as a fraction
    of the achievable (tasks.csv one folder up)."""
    tasks = {r["policy"]: r for r in _rows(folder.parent / "tasks.csv")
             if r["env"] == folder.name}
    lo = float(tasks["random"]["mean_return"])
    hi = float(tasks["reference"]["mean_optimal_return"])
    assert hi > lo
    return {(r["layer"], int(r["seed"])): (float(r["final_eval"]) - lo) / (hi - lo)
            for r in _rows(folder / "experiment_runs.csv")}


def _row_envs(study):
    """The tasks, and 'all' when two tasks' positive controls learned."""
    pooled = json.loads((study / "study_answers.json").read_text())["pooled_envs"]
    return ("catch", "grid") + (("all",) if len(pooled) > 1 else ())


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from rl_rosetta_layer.cli import main

    out = tmp_path_factory.mktemp("study") / "tiny-video"
    assert main([str(a) for a in _args(out)]) == 0
    return out


def test_the_study_writes_every_file(study):
    for name in ("tasks.csv", "study_plan.json", "study_run.json", "study_layers.csv",
                 "study_runs.csv", "study_controls.csv", "study_health.csv",
                 "study_twins.csv", "study_prefix.csv", "study_best.csv",
                 "study_similarity.csv", "study_validity.csv", "study_power.csv",
                 "study_answers.json", "study.md", "figures/study_returns.png",
                 "figures/study_twins.png", "figures/study_shuffled_twins.png"):
        assert (study / name).is_file(), name
    for env in ("catch", "grid"):
        for name in ("layer_analysis.csv", "experiment_returns.csv", "experiment_summary.csv",
                     "experiment_runs.csv", "experiment_evaluations.csv",
                     "layer_similarity.csv", "selected_layer.txt", "comparisons.csv",
                     "score_validity.csv"):
            assert (study / env / name).is_file(), f"{env}/{name}"
    for env in ("catch", "grid"):                 # each task keeps its own runs
        assert len(list((study / env / "runs").glob("*/metrics.json"))) == len(LAYERS) * 2
    plan = json.loads((study / "study_plan.json").read_text())
    assert plan["config"]["env_steps"] == 300 and plan["backbone"] == "tiny-video"
    rows = _rows(study / "study_layers.csv")
    assert {(r["env"], r["layer"]) for r in rows} == {
        (e, n) for e in _row_envs(study) for n in LAYERS}
    assert {r["layer"]: r["kind"] for r in rows} == {
        BLOCK: "pretrained", f"{BLOCK}:random": "twin", f"{BLOCK}:shuffled": "shuffled",
        f"{BLOCK}:prefix": "prefix", "tiny-video:bypass": "control",
        "random_wide@torch": "control", "identity": "baseline", "random_wide": "synthetic"}
    assert {r["measure"] for r in rows} == {"final_eval"}
    runs = _rows(study / "study_runs.csv")
    assert len(runs) == 2 * len(LAYERS) * 2
    for env in ("catch", "grid"):
        final = _finals(study / env)
        for r in (r for r in runs if r["env"] == env):
            assert float(r["final_eval"]) == pytest.approx(
                final[(r["layer"], int(r["seed"]))], rel=1e-4, abs=1e-6)
    similarity = _rows(study / "study_similarity.csv")
    assert {(r["env"], r["kind"]) for r in similarity} == {
        (e, k) for e in ("catch", "grid") for k in ("pretrained", "random", "shuffled")}
    run = json.loads((study / "study_run.json").read_text())
    assert run["runs"] == run["runs_trained"] == 2 * len(LAYERS) * 2 and run["wall_seconds"] > 0


def test_twin_differences_match_the_runs_files(study):
    rows = _rows(study / "study_twins.csv")
    twins = {(r["env"], r["twin"], r["family"]): r for r in rows}
    assert {(r["twin"], r["b"]) for r in rows if r["family"] == "block"} == {
        ("random", f"{BLOCK}:random"), ("shuffled", f"{BLOCK}:shuffled")}
    answers = json.loads((study / "study_answers.json").read_text())
    pooled = {"random": [], "shuffled": []}
    for env in ("catch", "grid"):
        final = _finals(study / env)
        for twin in pooled:
            diffs = [final[(BLOCK, s)] - final[(f"{BLOCK}:{twin}", s)] for s in (0, 1)]
            row = twins[(env, twin, "block")]
            assert float(row["diff_frac"]) == pytest.approx(np.mean(diffs), rel=1e-4,
                                                            abs=1e-6)
            assert int(row["n_units"]) == 2 and row["holm_family"] == f"{twin} twin: block"
            assert row["verdict"] in VERDICTS and row["verdict_unflagged"] in VERDICTS
            # a task whose positive control failed gives no answer
            if answers["control_learned"][env] is False:
                assert row["verdict"] == "control failed"
            if env in answers["pooled_envs"]:
                pooled[twin] += diffs
    text = (study / "study.md").read_text()
    if len(answers["pooled_envs"]) > 1:
        overall = twins[("all", "random", "pooled")]
        assert float(overall["diff_frac"]) == pytest.approx(np.mean(pooled["random"]),
                                                            rel=1e-4, abs=1e-6)
        assert int(overall["n_units"]) == 2 * len(answers["pooled_envs"])
    else:
        assert not [r for r in rows if r["env"] == "all"]
    row = twins[("grid", "random", "pooled")]
    assert (f"{float(row['diff_frac']):+.3f}".replace("-0.000", "+0.000") in text)
    for heading in ("Controls: can this pipeline learn, and can each task tell layers apart?",
                    "Does a pretrained block beat its random twin?",
                    "Does a pretrained block beat its shuffled twin?",
                    "What each twin removes", "What these seeds can detect",
                    "Does the best pretrained block beat the other layers?",
                    "Is one isolated block the right unit?", "Did the analysis pick it?",
                    "Which analysis score tracks RL return?"):
        assert heading in text
    assert "mean return of its last greedy evaluation" in text


def test_the_best_block_and_the_analysis_pick(study):
    answers = json.loads((study / "study_answers.json").read_text())
    layers = _rows(study / "study_layers.csv")
    for pick in answers["analysis_picked_it"]:
        env = pick["env"]
        scores = {r["layer"]: float(r["selection_score"]) for r in layers if r["env"] == env}
        assert {r["select_by"] for r in layers if r["env"] == env} == {pick["select_by"]}
        assert pick["analysis_selected"] == (study / env / "selected_layer.txt").read_text().strip()
        assert pick["analysis_top_block"] == BLOCK          # the only pretrained block
        assert pick["picked_best_block"] is True
        assert set(scores) == set(LAYERS)
    best = _rows(study / "study_best.csv")
    assert {r["a"] for r in best} == {BLOCK}
    assert {(r["env"], r["b"]) for r in best} == {
        (e, n) for e in _row_envs(study) for n in LAYERS[1:]}
    assert all(r["verdict"] in VERDICTS for r in best)


def test_prefix_controls_and_health_tables(study):
    prefix = _rows(study / "study_prefix.csv")
    assert {(r["env"], r["a"], r["b"]) for r in prefix} == {
        (e, f"{BLOCK}:prefix", BLOCK) for e in _row_envs(study)}
    final = _finals(study / "catch")
    row = next(r for r in prefix if r["env"] == "catch")
    diffs = [final[(f"{BLOCK}:prefix", s)] - final[(BLOCK, s)] for s in (0, 1)]
    assert float(row["diff_frac"]) == pytest.approx(np.mean(diffs), rel=1e-4, abs=1e-6)
    controls = {(r["env"], r["control"]): r for r in _rows(study / "study_controls.csv")}
    assert set(controls) == {(e, c) for e in ("catch", "grid") for c in (   # never pooled
        "positive control learned", "bypass vs identity", "torch vs numpy learner",
        "identity below ceiling", "a layer beats identity")}
    control = controls[("catch", "positive control learned")]
    assert control["layer"] == "tiny-video:bypass"
    answers = json.loads((study / "study_answers.json").read_text())
    assert answers["control_learned"]["catch"] == (float(control["value_frac_ci_low"]) >= 0.5)
    learner = controls[("catch", "torch vs numpy learner")]
    assert (learner["layer"], learner["reference"]) == ("random_wide@torch", "random_wide")
    health = _rows(study / "study_health.csv")
    assert {(r["env"], r["layer"]) for r in health} == {
        (e, n) for e in ("catch", "grid") for n in LAYERS}
    assert all(int(r["runs"]) == 2 for r in health)
    flagged = {(r["layer"], int(r["seed"])) for r in _rows(study / "catch" /
                                                          "experiment_runs.csv") if r["flags"]}
    assert sum(int(r["runs_flagged"]) for r in health if r["env"] == "catch") == len(flagged)
    answers = json.loads((study / "study_answers.json").read_text())
    assert answers["health"]["recorded"] is True and answers["margin"] == 0.1
    assert answers["health"]["runs"] == 2 * len(LAYERS) * 2


def test_a_rerun_trains_nothing_and_report_only_rebuilds_the_same_tables(study, rosetta):
    before = {p.name: p.read_bytes() for p in study.glob("study_*.csv")}
    stamps = {p: p.stat().st_mtime_ns for p in study.glob("*/runs/*/metrics.json")}
    rc, out, err = rosetta(_args(study))
    assert rc == 0, err
    assert len(stamps) == 2 * len(LAYERS) * 2
    assert {p: p.stat().st_mtime_ns for p in study.glob("*/runs/*/metrics.json")} == stamps
    assert {p.name: p.read_bytes() for p in study.glob("study_*.csv")} == before
    # --report-only reads the plan the files came from, whatever this command's flags say
    rc, out, err = rosetta(["study", "--output-dir", study, "--report-only", "--quiet"])
    assert rc == 0, err
    assert {p.name: p.read_bytes() for p in study.glob("study_*.csv")} == before
    assert "## Study: frozen blocks of `tiny-video`" in out
    assert "300 env steps per run" in out


def test_report_only_without_a_study_is_one_line(tmp_path, rosetta):
    rc, out, err = rosetta(["study", "--output-dir", tmp_path / "none", "--report-only"])
    assert rc == 2 and "study_plan.json does not exist" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag, value, message", [
    ("--envs", "grid,minigrid:MiniGrid-Empty-5x5-v0", "study tasks must be grid-format"),
    ("--envs", "catch,catch", "lists a task twice"),
    ("--seeds", "0", "at least 2 seeds"),
    ("--envs", "pong", "unknown environment"),
    ("--layers", "blocks,baselines", "the random bank"),
    ("--layers", "selected,identity", "'selected'"),
    ("--layers", "tiny-video:transformer_blocks.9", "has no candidate block"),
])
def test_bad_study_input_is_one_line_and_writes_nothing(tmp_path, rosetta, flag, value,
                                                        message):
    out = tmp_path / "study"
    rc, text, err = rosetta(["study", "--output-dir", out, flag, value, "--quiet"])
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_verdicts_need_both_the_interval_and_the_corrected_p():
    nan = float("nan")
    assert verdict(0.1, 0.3, 0.01) == "better"
    assert verdict(-0.3, -0.1, 0.01) == "worse"
    assert verdict(0.1, 0.3, 0.06) == "inconclusive"       # CI excludes 0, p does not pass
    assert verdict(-0.1, 0.3, 0.001) == "inconclusive"     # p passes, CI includes 0
    assert verdict(nan, nan, nan) == "inconclusive"
    # equivalence: both one-sided tests pass and the CI lies inside the margin ...
    assert verdict(-0.05, 0.04, 0.5, 0.01, 0.1) == "equivalent"
    assert verdict(-0.05, 0.12, 0.5, 0.01, 0.1) == "inconclusive"
    assert verdict(-0.05, 0.04, 0.5, 0.2, 0.1) == "inconclusive"
    # ... on a task where the positive control learned: elsewhere the task gives no answer
    assert verdict(-0.05, 0.04, 0.5, 0.01, 0.1, informative=False) == "control failed"
    assert verdict(0.1, 0.3, 0.01, informative=False) == "control failed"
    # a flagged run makes any difference a non-result
    assert verdict(0.1, 0.3, 0.01, flagged=True) == "flagged"


def test_layer_kinds():
    assert [layer_kind(n) for n in (
        BLOCK, f"{BLOCK}:random", f"{BLOCK}:shuffled", f"{BLOCK}:prefix", "tiny-video:bypass",
        "identity@torch", "structured_mid", "mlp_full", "random_bank_3")] == [
        "pretrained", "twin", "shuffled", "prefix", "control", "control", "synthetic",
        "baseline", "baseline"]


def test_a_study_whose_runs_all_fail_exits_3_and_writes_no_table(tmp_path, monkeypatch,
                                                                   rosetta):
    from rl_rosetta_layer.experiments import units

    def train_unit(specs, progress=None):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(units, "train_unit", train_unit)
    out = tmp_path / "tiny-video"
    rc, _, err = rosetta(["study", "--output-dir", out, "--envs", "catch", "--layers",
                          "identity", "--seeds", "0,1", "--env-steps", 100, "--dataset-steps",
                          100, "--bootstrap", 10, "--task-episodes", 100, "--workers", 1,
                          "--quiet"])
    assert rc == 3
    assert err.strip().splitlines()[-1].startswith("rosetta: error: all 2 runs failed")
    assert not list(out.glob("study_*.csv")) and not (out / "catch" / "comparisons.csv").exists()
