"""Runs that fail or diverge are never reported as success: distinct exit statuses, said in
every summary, and earlier tables are not replaced by empty ones."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


# ------------------------------------------------------------------- interrupts by signals
def _process_table() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    table, found, todo = _process_table(), [], [pid]
    while todo:
        kids = table.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("name, whole_group, status, line", [
    ("SIGTERM", False, 143, "rosetta: interrupted by SIGTERM"),    # kill -TERM PID
    ("SIGHUP", True, 129, "rosetta: interrupted by SIGHUP"),       # the terminal closed
    ("SIGINT", True, 130, "rosetta: interrupted"),                 # Ctrl-C
])
def test_a_signal_ends_the_workers_with_one_line(tmp_path, name, whole_group, status, line):
    sig = getattr(signal, name)
    argv = [sys.executable, "-m", "rl_rosetta_layer.cli", "train", "--episodes", "100000",
            "--seeds", "0-3", "--layers", "structured_mid,identity", "--workers", "2",
            "--quiet", "--output-dir", str(tmp_path / "out")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    spawned: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:       # both workers started and training
            workers = [p for p in _descendants(proc.pid) if "spawn_main" in _cmdline(p)]
            if len(workers) == 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        spawned = _descendants(proc.pid)          # the workers and the resource tracker
        assert len(workers) == 2 and len(spawned) >= 3, (workers, spawned)
        (os.killpg if whole_group else os.kill)(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while any(map(_running, spawned)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in spawned if _running(p)] == []     # none left with parent 1
    finally:                                      # a failure leaves no process behind
        for pid in spawned + [proc.pid]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == status
    assert err.decode() == line + "\n"                       # no worker traceback
