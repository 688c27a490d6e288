"""``report_facts.json`` describes exactly the runs behind the tables, and a run record
missing a number is refused, never filled with 0."""

import csv
import json

TRAIN = ["train", "--seeds", "0,1", "--layers", "structured_mid,identity", "--quiet",
         "--workers", "1", "--grid-size", "4", "--set", "learning_starts=20"]


def facts(out):
    return json.loads((out / "report_facts.json").read_text())["training"]


def table_steps(out):
    with open(out / "experiment_runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return sum(int(r["env_steps"]) for r in rows), {r["episodes"] for r in rows}


def test_facts_follow_the_tables_when_older_runs_of_other_budgets_are_in_the_folder(
        tmp_path, rosetta):
    out = tmp_path / "o"
    for episodes in (20, 30, 20):           # the last reuses the first runs (written first)
        assert rosetta([*TRAIN, "--episodes", episodes, "--output-dir", out])[0] == 0
    assert rosetta(["report", "--output-dir", out])[0] == 0
    steps, episodes = table_steps(out)
    assert episodes == {"20"}
    got = facts(out)
    assert got["episodes"] == 20 and got["env_steps_total"] == steps and got["n_runs"] == 4
    assert len(list((out / "runs").glob("[!_.]*"))) == 8          # both budgets are stored


def test_a_run_record_missing_a_number_is_refused_in_one_line(tmp_path, rosetta):
    out = tmp_path / "o"
    assert rosetta([*TRAIN, "--episodes", 8, "--output-dir", out])[0] == 0
    run = next(p for p in (out / "runs").iterdir() if p.is_dir() and p.name[0] not in "._")
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["env_steps"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    before = (out / "report_facts.json").exists()
    rc, _, err = rosetta(["report", "--output-dir", out])
    assert rc == 2 and err.count("\n") == 1
    assert "metrics.json lacks 'env_steps'" in err
    assert (out / "report_facts.json").exists() == before
