"""Runs that fail or diverge are never reported as success: distinct exit statuses, said in
every summary, and earlier tables are not replaced by empty ones."""

import csv

import pytest

from rl_rosetta_layer.experiments import units
from rl_rosetta_layer.experiments.train import EXIT_DIVERGED, EXIT_FAILED

TINY = ["--episodes", "6", "--seeds", "0", "--quiet", "--workers", "1",
        "--set", "learning_starts=20", "--batch-size", "16"]
#: An input-adapter step size that overflows within a few updates (see test_agent_training).
DIVERGE = ["--set", "adapter_lr=1e30", "--set", "learning_starts=50", "--set", "buffer_size=500",
           "--episodes", "12", "--seeds", "0", "--batch-size", "16", "--quiet", "--workers", "1"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fail_layer(monkeypatch, bad: str):
    real = units.train_unit

    def train_unit(specs, progress=None):
        if specs[0].layer == bad:
            raise RuntimeError(f"boom in {bad}")
        return real(specs, progress)

    monkeypatch.setattr(units, "train_unit", train_unit)


def test_all_runs_failing_exits_3_and_keeps_the_earlier_tables(tmp_path, monkeypatch, rosetta):
    earlier = "layer,mean_last_50,std_last_50,mean_auc\nidentity,0.5,0.1,0.4\n"
    (tmp_path / "experiment_summary.csv").write_text(earlier)
    (tmp_path / "experiment_returns.csv").write_text("kept\n")
    fail_layer(monkeypatch, "identity")
    rc, _, err = rosetta(["train", *TINY, "--layers", "identity", "--output-dir", tmp_path])
    assert rc == EXIT_FAILED == 3
    last = err.strip().splitlines()[-1]
    assert last.startswith("rosetta: error: all 1 runs failed") and "boom in identity" in last
    assert (tmp_path / "experiment_summary.csv").read_text() == earlier
    assert (tmp_path / "experiment_returns.csv").read_text() == "kept\n"
    assert list((tmp_path / "runs" / "_failed").glob("*.json"))


def test_some_runs_failing_exits_3_and_names_them(tmp_path, monkeypatch, rosetta):
    fail_layer(monkeypatch, "identity")
    rc, out, err = rosetta(["train", *TINY, "--layers", "identity,random_wide",
                        "--output-dir", tmp_path])
    assert rc == EXIT_FAILED
    assert "1 of 2 runs failed: identity" in err
    summary = {r["layer"]: r for r in rows(tmp_path / "experiment_summary.csv")}
    assert summary["identity"]["runs_not_ok"] == "1" and summary["random_wide"]["n_seeds"] == "1"


def test_diverged_runs_exit_4_in_train_and_sweep(tmp_path, rosetta):
    with pytest.warns(RuntimeWarning):      # the overflow is reported, not silenced
        rc, _, err = rosetta(["train", *DIVERGE, "--layers", "structured_mid",
                          "--output-dir", tmp_path / "train"])
    assert rc == EXIT_DIVERGED == 4
    assert "1 of 1 runs diverged: structured_mid" in err
    assert rows(tmp_path / "train" / "experiment_runs.csv")[0]["status"] == "diverged"

    rc, out, _ = rosetta(["sweep", *DIVERGE, "--layers", "structured_mid",
                      "--output-dir", tmp_path / "train"])   # the stored run: no retrain
    assert rc == EXIT_DIVERGED
    assert "0 failed, 1 diverged" in out and "diverged: structured_mid" in out
    (runs_csv,) = (tmp_path / "train" / "sweeps").glob("*/runs.csv")
    (row,) = rows(runs_csv)
    assert row["status"] == "diverged" and row["mean_last_50"] == "" and row["error"]
