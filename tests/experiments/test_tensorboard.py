"""TensorBoard logs per run: off by default, written as runs are saved (--tensorboard) or
afterwards from the run store (rosetta tensorboard), never changing a run's files."""

import csv
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboardX")

from tensorboardX.proto import event_pb2  # noqa: E402

from rl_rosetta_layer.cli import main  # noqa: E402
from rl_rosetta_layer.experiments import tensorboard  # noqa: E402

TRAIN = ["train", "--layers", "identity,structured_mid", "--seeds", "0,1", "--episodes", "12",
         "--grid-size", "4", "--quiet", "--workers", "1", "--set", "learning_starts=20"]


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] read back from the event files of one run's log (TFRecord:
    length, its CRC, the event, its CRC)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in event.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def test_off_by_default_and_on_with_the_flag_without_changing_the_runs(tmp_path):
    plain, logged = tmp_path / "plain", tmp_path / "logged"
    assert main([*TRAIN, "--output-dir", str(plain)]) == 0
    assert not (plain / "tensorboard").exists()
    assert main([*TRAIN, "--output-dir", str(logged), "--tensorboard"]) == 0
    for name in ("experiment_returns.csv", "experiment_summary.csv"):
        assert (plain / name).read_bytes() == (logged / name).read_bytes()
    assert sorted(p.name for p in (plain / "runs").iterdir()) == \
        sorted(p.name for p in (logged / "tensorboard").iterdir())
    run = next((logged / "tensorboard").glob("identity-s0-*"))
    tags = scalars(run)
    with open(logged / "runs" / run.name / "returns.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = tags["episode/return"]
    assert [v for _, v in got] == pytest.approx([float(r["return"]) for r in rows], abs=1e-6)
    assert [s for s, _ in got] == np.cumsum([int(r["length"]) for r in rows]).tolist()
    assert {"health/q_spread", "health/grad_norm_mean", "health/greedy_actions"} <= set(tags)
    assert not list((logged / "tensorboard").glob(".*"))       # no temporary folder left


def test_the_command_writes_the_logs_of_a_finished_store(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TRAIN, "--output-dir", str(out)]) == 0
    capsys.readouterr()
    assert main(["tensorboard", str(out)]) == 0
    assert f"wrote 4 TensorBoard logs in {out / 'tensorboard'}" in capsys.readouterr().out
    assert len(list((out / "tensorboard").iterdir())) == 4
    # again: each log is replaced, not doubled
    assert main(["tensorboard", str(out)]) == 0
    run = next((out / "tensorboard").glob("structured_mid-s1-*"))
    assert len(list(run.glob("events.*"))) == 1


def test_no_runs_and_no_tensorboardx_are_one_line_errors(tmp_path, capsys, monkeypatch):
    assert main(["tensorboard", str(tmp_path)]) == 2
    assert f"no finished runs in {tmp_path / 'runs'}" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(tensorboard.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboardX" else real(name, *a))
    assert main([*TRAIN, "--output-dir", str(tmp_path / "o"), "--tensorboard"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("--tensorboard needs tensorboardX: pip install -e "
                                "'.[tensorboard]'")
    assert not (tmp_path / "o" / "runs").exists() or not any((tmp_path / "o" / "runs").iterdir())


def test_a_folder_whose_config_is_another_run_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TRAIN, "--output-dir", str(out)]) == 0
    run = next((out / "runs").glob("identity-s0-*"))
    stale = run.with_name("identity-s0-000000000000")      # an id this content does not give
    run.rename(stale)
    capsys.readouterr()
    assert main(["tensorboard", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"rosetta: error: {stale}: its config.json is the run {run.name}, not "
                   f"{stale.name}; delete the folder (the run trains again under its id)\n")
