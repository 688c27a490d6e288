"""``import rl_rosetta_layer as rr``: the commands as functions (the same files as the
command line, the same errors, raised), the outputs as tidy tables and as rliable's score
dict, a cheap import, and the notebook example run top to bottom."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rl_rosetta_layer as rr
from rl_rosetta_layer.errors import ConfigError, MissingInputError, UnknownLayerError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
LAYERS = ["structured_mid", "identity", "random_narrow"]
SMALL = {"grid_size": 4, "quiet": True}
TRAIN = {"layers": LAYERS, "seeds": [0, 1], "episodes": 6, "workers": 1,
         "settings": {"learning_starts": 20}, **SMALL}
CLI_TRAIN = ["--layers", ",".join(LAYERS), "--seeds", "0,1", "--episodes", "6", "--workers",
             "1", "--set", "learning_starts=20", "--grid-size", "4", "--quiet"]
ANALYSIS = {"dataset_steps": 300, "bootstrap": 10}
CLI_ANALYSIS = ["--dataset-steps", "300", "--bootstrap", "10"]
TABLES = ("layer_analysis.csv", "layer_analysis_bootstrap.csv", "selected_layer.txt",
          "experiment_returns.csv", "experiment_summary.csv", "experiment_runs.csv",
          "experiment_summary_table.md", "comparisons.csv", "score_validity.csv",
          "run_outcomes.csv")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """One folder written through the API (run), one by the command line (run)."""
    from rl_rosetta_layer.cli import main

    base = tmp_path_factory.mktemp("api")
    done = rr.run(base / "api", analysis_layers=LAYERS, **ANALYSIS, **TRAIN)
    rc = main(["run", "--output-dir", str(base / "cli"), "--analysis-layers",
               ",".join(LAYERS), *CLI_ANALYSIS, *CLI_TRAIN])
    assert rc == 0
    return base, done


def test_the_api_writes_what_the_command_line_writes(outputs):
    base, done = outputs
    assert done.selected == (base / "cli" / "selected_layer.txt").read_text().strip()
    assert done.training.exit_status == 0
    for name in TABLES:
        assert (base / "api" / name).read_bytes() == (base / "cli" / name).read_bytes(), name
    assert sorted(p.name for p in (base / "api" / "runs").iterdir()) == \
        sorted(p.name for p in (base / "cli" / "runs").iterdir())
    assert done.report.summary_table == base / "api" / "experiment_summary_table.md"
    assert "| structured_mid |" in done.training.table()


def test_train_again_trains_nothing_new(outputs, capsys):
    base, _ = outputs
    before = (base / "api" / "experiment_returns.csv").read_bytes()
    again = rr.train(base / "api", **TRAIN)
    assert again.outcome.trained == [] and len(again.outcome.skipped) == 6
    assert (base / "api" / "experiment_returns.csv").read_bytes() == before


def test_errors_are_raised_with_the_line_the_command_prints(rosetta, tmp_path):
    rc, _, err = rosetta(["train", "--layers", "nope", "--output-dir", tmp_path / "a"])
    with pytest.raises(UnknownLayerError) as exc:
        rr.train(tmp_path / "b", layers="nope")
    assert rc == 2 and err == f"rosetta: error: {exc.value}\n"
    with pytest.raises(ConfigError, match=r"^--seeds must be comma-separated non-negative "):
        rr.train(tmp_path / "b", seeds="0,,x")
    with pytest.raises(ConfigError, match=r"^dataset_steps must be a positive integer, got 0$"):
        rr.analyze(tmp_path / "b", dataset_steps=0)
    with pytest.raises(ConfigError, match=r"^--set expects KEY=VALUE with KEY one of "):
        rr.train(tmp_path / "b", settings={"nope": 1})
    with pytest.raises(ConfigError, match=r"^lr must be a finite number, got inf$"):
        rr.train(tmp_path / "b", settings={"lr": float("inf")})
    with pytest.raises(ConfigError, match=r"^unknown video setting\(s\) \['patches'\]"):
        rr.analyze(tmp_path / "b", video={"patches": 2})
    with pytest.raises(MissingInputError, match="experiment_summary.csv does not exist"):
        rr.report(tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_load_gives_tidy_tables_of_numpy_arrays(outputs):
    base, _ = outputs
    results = rr.load(base / "api", pandas=False)
    returns = results.returns
    assert returns["seed"].dtype == np.int64 and returns["return"].dtype == np.float64
    assert set(returns["layer"].tolist()) == set(LAYERS)
    assert len(returns["episode"]) == 3 * 2 * 6
    with open(base / "api" / "experiment_returns.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose(returns["return"], [float(r["return"]) for r in rows])
    with open(base / "api" / "experiment_summary.csv", newline="") as f:
        assert results.summary["layer"].tolist() == [r["layer"] for r in csv.DictReader(f)]
    assert results.selected in LAYERS
    assert set(results.analysis["layer"].tolist()) == set(LAYERS)
    assert results.comparisons is not None and results.runs["status"].tolist() == ["ok"] * 6


def test_load_gives_data_frames_with_pandas(outputs):
    pd = pytest.importorskip("pandas")
    base, _ = outputs
    results = rr.load(base / "api")
    assert isinstance(results.returns, pd.DataFrame)
    assert results.returns.groupby("layer")["return"].count().to_dict() == {
        layer: 12 for layer in LAYERS}


def test_load_says_what_is_missing(tmp_path):
    with pytest.raises(MissingInputError, match=r"does not exist; run `rosetta run`"):
        rr.load(tmp_path / "none")
    with pytest.raises(MissingInputError, match=r"holds none of experiment_returns.csv"):
        rr.load(tmp_path)


def _finals(folder: Path) -> dict[tuple[str, int], float]:
    by: dict = {}
    with open(folder / "experiment_returns.csv", newline="") as f:
        for r in csv.DictReader(f):
            by.setdefault((r["layer"], int(r["seed"])), []).append(float(r["return"]))
    return {k: float(np.mean(v[-50:])) for k, v in by.items()}


def test_to_rliable_gives_runs_by_tasks(outputs, tmp_path):
    base, _ = outputs
    scores = rr.to_rliable(base / "api")
    finals = _finals(base / "api")
    assert sorted(scores) == sorted(LAYERS)
    for layer, x in scores.items():
        assert x.shape == (2, 1)
        np.testing.assert_allclose(x[:, 0], [finals[(layer, 0)], finals[(layer, 1)]])
    with pytest.raises(ConfigError, match="normalize=True needs a study folder"):
        rr.to_rliable(base / "api", normalize=True)
    # A study's folder: one column per task, in the study's order, normalised on request.
    study = tmp_path / "study"
    for task in ("b", "a"):
        (study / task).mkdir(parents=True)
        for name in ("experiment_returns.csv", "experiment_runs.csv", "selected_layer.txt",
                     "layer_analysis.csv", "layer_analysis_bootstrap.csv"):
            (study / task / name).write_bytes((base / "api" / name).read_bytes())
    (study / "study_plan.json").write_text(json.dumps({"envs": [{"name": "b"},
                                                                {"name": "a"}]}))
    (study / "tasks.csv").write_text(
        "env,policy,mean_return,mean_optimal_return\n"
        "a,random,-1.0,1.0\na,reference,1.0,1.0\nb,random,0.0,0.5\nb,reference,0.5,0.5\n")
    raw, norm = rr.to_rliable(study), rr.to_rliable(study, normalize=True)
    for layer in LAYERS:
        assert raw[layer].shape == (2, 2)
        np.testing.assert_allclose(raw[layer][:, 0], raw[layer][:, 1])
        np.testing.assert_allclose(norm[layer][:, 0], raw[layer][:, 0] / 0.5)
        np.testing.assert_allclose(norm[layer][:, 1], (raw[layer][:, 1] + 1.0) / 2.0)


def test_importing_the_package_is_cheap_and_report_stays_callable():
    code = ("import sys, rl_rosetta_layer as rr\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'\n"
            "assert set(rr.__all__) >= {'analyze', 'train', 'report', 'load', 'to_rliable'}\n"
            "from rl_rosetta_layer.report import paper\n"    # the subpackage imported first
            "assert callable(rr.report) and rr.report.paper is paper\n"
            "assert rr.report.__name__ == 'rl_rosetta_layer.report'\n"
            "assert 'torch' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_notebook_example_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook.py"),
                           str(tmp_path / "nb")], cwd=tmp_path, capture_output=True,
                          text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "examples.my_layer:make_layer: 2 runs x 1 task(s)" in proc.stdout
    assert "refused: unknown layer 'no_such_layer'" in proc.stdout
    assert (tmp_path / "nb" / "comparisons.csv").is_file()
