"""Stored runs keep their greedy evaluations and final network; ``rosetta evaluate`` plays
the last checkpoint again from the saved network and gets the numbers training recorded."""

import csv
import json

import numpy as np
import pytest

from rl_rosetta_layer import api
from rl_rosetta_layer.cli import main
from rl_rosetta_layer.errors import CorruptFileError, MissingInputError
from rl_rosetta_layer.experiments.outputs import EVALUATIONS_FILE
from rl_rosetta_layer.experiments.store import NETWORK_FILE, RunStore

PLAIN = ["train", "--env", "catch", "--layers", "identity,structured_mid", "--seeds", "0,1",
         "--env-steps", "300", "--workers", "1", "--quiet", "--set", "adapter=none",
         "--set", "learning_starts=60"]
TRAIN = [*PLAIN, "--set", "eval_checkpoints=3", "--set", "eval_episodes=6"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluated")
    assert main([*TRAIN, "--output-dir", str(out)]) == 0
    return out


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_runs_store_their_checkpoints_and_network(trained):
    store = RunStore(trained / "runs")
    assert len(store.finished_ids()) == 4
    for run_id in store.finished_ids():
        folder = store.path(run_id)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert [e["env_steps"] for e in metrics["evaluations"]] == [100, 200, 300]
        assert metrics["final_eval"] == pytest.approx(
            np.mean(metrics["evaluations"][-1]["returns"]))
        assert (folder / NETWORK_FILE).is_file() and len(metrics["network_sha256"]) == 64
        spec = store.load_spec(run_id)
        assert store.load(spec).evaluations == metrics["evaluations"]
        assert set(store.load_network(spec)) == {"W2", "b2", "Wo", "bo"}
    evals = rows(trained / EVALUATIONS_FILE)
    assert len(evals) == 4 * 3 and {r["checkpoint"] for r in evals} == {"0", "1", "2"}
    runs = rows(trained / "experiment_runs.csv")
    assert all(r["final_eval"] != "" and r["auc_eval"] != "" for r in runs)


def test_evaluate_plays_the_last_checkpoint_again_exactly(trained, capsys):
    assert main(["evaluate", str(trained), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4 runs played again, 0 not as training recorded" in out
    got = rows(trained / "reevaluation.csv")
    assert len(got) == 4 and all(r["same"] == "True" for r in got)
    assert all(float(r["final_eval"]) == float(r["stored_final_eval"]) for r in got)
    more = api.evaluate(trained, episodes=12, epsilon=0.0, quiet=True)
    assert all(r["episodes"] == 12 and r["epsilon"] == 0.0 for r in more)


def test_a_tampered_network_is_refused_and_a_folder_without_evaluations_too(trained, tmp_path,
                                                                           capsys):
    store = RunStore(trained / "runs")
    run_id = store.finished_ids()[0]
    path = store.path(run_id) / NETWORK_FILE
    saved = path.read_bytes()
    try:
        path.write_bytes(saved[:-4] + b"\0\0\0\0")
        with pytest.raises(CorruptFileError, match="is not the network metrics.json was "
                                                   "written with"):
            store.load_network(store.load_spec(run_id))
        assert main(["evaluate", str(trained), "--quiet"]) == 2
        assert "is not the network metrics.json was written with" in capsys.readouterr().err
    finally:
        path.write_bytes(saved)
    with pytest.raises(MissingInputError, match="holds no finished run trained with "
                                                "evaluation checkpoints"):
        api.evaluate(tmp_path, quiet=True)


def test_a_later_train_without_evaluations_leaves_no_stale_evaluations_file(tmp_path):
    out = tmp_path / "o"
    assert main([*TRAIN, "--output-dir", str(out)]) == 0
    assert (out / EVALUATIONS_FILE).is_file()
    assert main([*PLAIN, "--output-dir", str(out)]) == 0
    assert not (out / EVALUATIONS_FILE).exists()
