"""Resume: a sweep killed with SIGKILL and run again ends byte for byte like one never killed."""

import os
import signal
import subprocess
import sys
import time

from rl_rosetta_layer.cli import main
from rl_rosetta_layer.experiments import units
from rl_rosetta_layer.experiments.store import RunStore
from rl_rosetta_layer.experiments.sweep import load_sweep
from rl_rosetta_layer.experiments.train import EXIT_FAILED

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1"}


def finished(out):
    return RunStore(out / "runs").finished_ids()


def sweep_cli(path, out, *extra):
    return main(["sweep", str(path), "--output-dir", str(out), "--quiet", *extra])


def kill_after(path, out, n_finished, total):
    """Start the sweep in its own process group; SIGKILL it once ``n_finished`` runs are done."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rl_rosetta_layer.cli", "sweep", str(path), "--output-dir",
         str(out), "--workers", "2", "--quiet"], env=ENV, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(finished(out)) < n_finished:
            assert proc.poll() is None, f"the sweep ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no run finished in time"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)          # the sweep itself, with no warning
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)    # its orphaned workers, to free the cores
        except ProcessLookupError:
            pass
        proc.stderr.close()
    done = len(finished(out))
    assert n_finished <= done < total, f"{done} of {total} runs finished before the kill"
    return done


def test_sigkill_and_resume_gives_identical_outputs(tmp_path, small_sweep, same_outputs,
                                                    capsys):
    path = small_sweep(episodes=30)
    total = len(load_sweep(path).specs)
    reference = tmp_path / "reference"
    assert sweep_cli(path, reference, "--workers", "1") == 0

    out = tmp_path / "killed"
    kill_after(path, out, 2, total)
    done = kill_after(path, out, len(finished(out)) + 1, total)    # killed twice
    capsys.readouterr()
    assert sweep_cli(path, out, "--workers", "2") == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith(f"sweep small: {total} runs: {total - done} trained, {done} "
                              f"already finished, 0 failed, 0 diverged; ")
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    same_outputs(reference, out)


def test_rerunning_a_finished_sweep_trains_nothing_and_changes_nothing(tmp_path, small_sweep,
                                                                       capsys):
    path = small_sweep()
    assert sweep_cli(path, tmp_path, "--workers", "1") == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert sweep_cli(path, tmp_path, "--workers", "1") == 0
    assert "6 runs: 0 trained, 6 already finished, 0 failed" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_changed_config_is_a_different_run(tmp_path, small_sweep, capsys):
    assert sweep_cli(small_sweep(episodes=6), tmp_path, "--workers", "1") == 0
    old = set(finished(tmp_path))
    old_bytes = {p: p.read_bytes() for p in (tmp_path / "runs").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert sweep_cli(small_sweep(episodes=7), tmp_path, "--workers", "1") == 0
    assert "6 runs: 6 trained, 0 already finished" in capsys.readouterr().out
    new = set(finished(tmp_path)) - old
    assert len(new) == 6
    runs_csv = (tmp_path / "sweeps" / "small" / "runs.csv").read_text()
    assert all(i in runs_csv for i in new) and not any(i in runs_csv for i in old)
    for p, data in old_bytes.items():          # the old runs are kept as they were
        assert p.read_bytes() == data


def test_a_failed_run_is_reported_the_others_finish_and_resume_retries_it(
        tmp_path, small_sweep, monkeypatch, capsys):
    path = small_sweep()
    real = units.train_unit

    def flaky(specs, progress=None):
        if specs[0].layer == "identity" and specs[0].seed == 1:
            raise RuntimeError("out of GPU memory (simulated)")
        return real(specs, progress)

    monkeypatch.setattr(units, "train_unit", flaky)
    # one seed per unit, so the planted failure takes one run only
    assert sweep_cli(path, tmp_path, "--workers", "1", "--lockstep", "1") == EXIT_FAILED
    captured = capsys.readouterr()
    bad = next(s.run_id for s in load_sweep(path).specs
               if (s.layer, s.seed) == ("identity", 1))
    assert f"run {bad} failed: RuntimeError: out of GPU memory (simulated)" in captured.err
    assert "6 runs: 5 trained, 0 already finished, 1 failed" in captured.out
    assert f"failed: {bad}: RuntimeError: out of GPU memory (simulated)" in captured.out
    assert len(finished(tmp_path)) == 5 and bad not in finished(tmp_path)
    assert (tmp_path / "runs" / "_failed" / f"{bad}.json").is_file()
    rows = (tmp_path / "sweeps" / "small" / "runs.csv").read_text().splitlines()
    assert any(r.startswith(bad) and ",failed," in r for r in rows)

    monkeypatch.setattr(units, "train_unit", real)
    assert sweep_cli(path, tmp_path, "--workers", "1") == 0
    assert "6 runs: 1 trained, 5 already finished, 0 failed" in capsys.readouterr().out
    assert not (tmp_path / "runs" / "_failed" / f"{bad}.json").exists()


TRAIN = ["train", "--episodes", "5", "--seeds", "0,1", "--layers", "structured_mid,identity",
         "--grid-size", "4", "--batch-size", "8", "--set", "learning_starts=20",
         "--set", "buffer_size=500", "--quiet"]


def test_rosetta_train_uses_the_store_and_resumes(tmp_path, same_outputs, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*TRAIN, "--output-dir", str(a), "--workers", "1"]) == 0
    assert len(finished(a)) == 4
    csvs = {n: (a / n).read_bytes() for n in ("experiment_returns.csv",
                                              "experiment_summary.csv")}
    # lose one run (as if killed before it finished): only that one is trained again
    victim = finished(a)[0]
    for f in (a / "runs" / victim).iterdir():
        f.unlink()
    (a / "runs" / victim).rmdir()
    (a / "experiment_returns.csv").unlink()
    capsys.readouterr()
    assert main([*TRAIN, "--output-dir", str(a), "--workers", "1"]) == 0
    assert main([*TRAIN, "--output-dir", str(b), "--workers", "2", "--lockstep", "2"]) == 0
    for n, data in csvs.items():
        assert (a / n).read_bytes() == data
    same_outputs(a, b)
