"""One meaning of ``--layers``: ``rosetta run --layers X`` analyses X as well as training
it (so a layer of one's own is scored and score validity is computed), and an analysis of
other layers already in the folder is never replaced silently."""

import csv
import os
import subprocess
import sys

import pytest

from rl_rosetta_layer.api import run_analysis_layers

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
SMALL = ["--grid-size", "4", "--dataset-steps", "200", "--bootstrap", "10", "--quiet"]
TRAIN = ["--episodes", "4", "--seeds", "0,1", "--workers", "1", "--set", "learning_starts=10"]
LAYERS = "structured_mid,identity,random_narrow"


def rosetta(args, cwd):
    return subprocess.run([sys.executable, "-m", "rl_rosetta_layer.cli", *map(str, args)],
                          cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)


def layers_of(path):
    with open(path, newline="") as f:
        return [r["layer"] for r in csv.DictReader(f)]


def snapshot(folder):
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    out = tmp_path_factory.mktemp("run_layers") / "out"
    got = rosetta(["run", "--layers", LAYERS, *TRAIN, *SMALL, "--output-dir", out], out.parent)
    return out, got


def test_run_analyses_the_layers_it_trains(ran):
    out, got = ran
    assert got.returncode == 0, got.stderr
    assert layers_of(out / "layer_analysis.csv") == LAYERS.split(",")
    assert sorted(set(layers_of(out / "experiment_summary.csv"))) == sorted(LAYERS.split(","))
    with open(out / "score_validity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["n_layers"] for r in rows} == {"3"}
    assert "not computed: score validity" not in got.stdout


def test_run_refuses_to_replace_an_analysis_of_other_layers(ran, tmp_path):
    out = tmp_path / "out"
    first = rosetta(["analyze", "--layers", "candidates", *SMALL, "--output-dir", out], tmp_path)
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    got = rosetta(["run", "--layers", "structured_mid,identity", *TRAIN, *SMALL,
                   "--output-dir", out], tmp_path)
    assert got.returncode == 2
    assert got.stderr == (
        f"rosetta: error: {out / 'layer_analysis.csv'} holds the analysis of random_wide, "
        f"random_narrow, bottleneck, structured_mid; this would replace it with one of "
        f"structured_mid, identity: pass --replace-analysis to replace it, or give another "
        f"--output-dir\n")
    assert snapshot(out) == before
    again = rosetta(["run", "--layers", "structured_mid,identity", *TRAIN, *SMALL,
                     "--replace-analysis", "--output-dir", out], tmp_path)
    assert again.returncode == 0, again.stderr
    assert layers_of(out / "layer_analysis.csv") == ["structured_mid", "identity"]


def test_analyze_says_which_setting_would_change(tmp_path):
    out = tmp_path / "out"
    assert rosetta(["analyze", "--layers", "identity,structured_mid", *SMALL,
                    "--output-dir", out], tmp_path).returncode == 0
    same = rosetta(["analyze", "--layers", "identity,structured_mid", *SMALL,
                    "--output-dir", out], tmp_path)
    assert same.returncode == 0, same.stderr      # the same analysis again: a rerun
    other = rosetta(["analyze", "--layers", "identity,structured_mid", *SMALL,
                     "--seed", "3", "--output-dir", out], tmp_path)
    assert other.returncode == 2
    assert "(seed 0 -> 3): pass --replace-analysis" in other.stderr
    assert other.stderr.count("\n") == 1


@pytest.mark.parametrize("trained, analysed", [
    ("candidates", "candidates"),
    ("examples.my_layer:make_layer,identity", "examples.my_layer:make_layer,identity"),
    ("selected,identity", "candidates,identity"),
    ("baselines", "candidates,baselines"),
    ("structured_mid@torch,structured_mid", "structured_mid"),
])
def test_the_analysis_of_run_follows_its_layers(trained, analysed):
    assert run_analysis_layers(trained) == analysed
