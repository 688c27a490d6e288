"""The ``rosetta`` command and the seed's scripts: output files, errors, no torch."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_rosetta_layer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
# One BLAS thread in subprocesses too (see tests/conftest.py).
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
TINY_TRAIN = ["--episodes", "5", "--seeds", "0,1", "--layers", "structured_mid,random_wide",
              "--quiet", "--workers", "1", "--set", "learning_starts=20"]
VALID_SUMMARY = "layer,mean_last_50,std_last_50,mean_auc\nstructured_mid,0.5,0.1,0.4\n"


def run_cli(argv, capsys):
    """Exit status, stdout and stderr of ``rosetta argv`` run in this process."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:         # argparse errors exit from inside the parser
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# ------------------------------------------------------------------------ output files
@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """analyze, train and report once into one folder (in this process, quietly)."""
    out = tmp_path_factory.mktemp("outputs")
    logs = {}
    for name, argv in [
        ("analyze", ["analyze", "--dataset-steps", "400", "--seed", "0", "--bootstrap", "20",
                     "--quiet"]),
        ("train", ["train", *TINY_TRAIN]),
        ("report", ["report"]),
    ]:
        try:
            rc = main([*argv, "--output-dir", str(out)])
        except SystemExit as exc:
            rc = exc.code
        logs[name] = rc
    return out, logs


def test_analyze_writes_seed_compatible_files(outputs):
    out, logs = outputs
    assert logs["analyze"] == 0
    assert header(out / "layer_analysis.csv")[:5] == [
        "layer", "reward_r2", "transition_r2", "effective_rank", "composite_score"]
    table = rows(out / "layer_analysis.csv")
    assert [r["layer"] for r in table] == [
        "random_wide", "random_narrow", "bottleneck", "structured_mid"]
    selected = (out / "selected_layer.txt").read_text()
    best = max(table, key=lambda r: float(r["composite_score"]))["layer"]
    assert selected == best + "\n"
    assert len(rows(out / "layer_analysis_bootstrap.csv")) == 4 * 20


def test_train_writes_seed_compatible_files(outputs):
    out, logs = outputs
    assert logs["train"] == 0
    assert header(out / "experiment_returns.csv")[:5] == [
        "layer", "seed", "episode", "return", "env_steps"]
    returns = rows(out / "experiment_returns.csv")
    assert len(returns) == 2 * 2 * 5
    assert {(r["layer"], r["seed"]) for r in returns} == {
        (layer, seed) for layer in ("structured_mid", "random_wide") for seed in ("0", "1")}
    assert all(r["status"] == "ok" for r in returns)
    assert header(out / "experiment_summary.csv")[:4] == [
        "layer", "mean_last_50", "std_last_50", "mean_auc"]
    summary = rows(out / "experiment_summary.csv")
    assert sorted(r["layer"] for r in summary) == ["random_wide", "structured_mid"]
    assert len([p for p in (out / "runs").iterdir() if (p / "config.json").is_file()]) == 4


def test_train_records_every_runs_health(outputs):
    out, _ = outputs
    runs = rows(out / "experiment_runs.csv")
    assert {(r["layer"], r["seed"]) for r in runs} == {
        (layer, seed) for layer in ("structured_mid", "random_wide") for seed in ("0", "1")}
    assert all(r["status"] == "ok" and float(r["q_spread"]) >= 0 for r in runs)
    summary = rows(out / "experiment_summary.csv")
    assert header(out / "experiment_summary.csv")[-2:] == ["runs_flagged", "flags"]
    for row in summary:
        flagged = [r for r in runs if r["layer"] == row["layer"] and r["flags"]]
        assert int(row["runs_flagged"]) == len(flagged)
    import json

    metrics = [json.loads(p.read_text()) for p in (out / "runs").glob("*/metrics.json")]
    assert all(len(m["health"]) == 4 and isinstance(m["flags"], list) for m in metrics)
    assert [p["budget_used"] for p in metrics[0]["health"]] == [2, 3, 4, 5]   # of 5 episodes


def test_flagged_runs_are_named_under_the_tables(tmp_path):
    from rl_rosetta_layer.report.export import export_summary_table
    from rl_rosetta_layer.report.statistics import flagged_layers

    (tmp_path / "experiment_summary.csv").write_text(
        "layer,mean_last_50,std_last_50,mean_auc,runs_flagged,flags\n"
        "structured_mid,0.5,0.1,0.4,0,\n"
        "random_wide,-0.5,0.1,-0.4,2,constant_policy x2; saturated_head x1\n")
    text = export_summary_table(tmp_path).read_text()
    assert "Flagged by the run-health check" in text
    assert "random_wide: 2 run(s), constant_policy x2; saturated_head x1" in text
    assert "structured_mid:" not in text
    (tmp_path / "experiment_runs.csv").write_text(
        "layer,seed,status,flags\nrandom_wide,0,ok,constant_policy;saturated_head\n"
        "random_wide,1,ok,\nstructured_mid,0,ok,\n")
    assert flagged_layers(tmp_path) == {"random_wide": ["constant_policy", "saturated_head"]}


def test_report_writes_summary_table(outputs):
    out, logs = outputs
    assert logs["report"] == 0
    lines = (out / "experiment_summary_table.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0].startswith("| Layer | Mean return (last 50) | Std across seeds | Mean AUC |")
    assert table[0].endswith("| Optimality gap |")           # the grid's optimum is known
    assert len(table) == 2 + 2
    assert {line.split("|")[1].strip() for line in table[2:]} == {"structured_mid",
                                                                  "random_wide"}
    assert lines[-1].startswith("Optimality gap (rliable): the achievable return")


def test_scripts_run_in_order(tmp_path):
    """The seed's three scripts, as written, write into ./outputs of their working folder."""
    for script, args in [
        ("run_layer_analysis.py", ["--dataset-steps", "400", "--bootstrap", "20", "--quiet"]),
        ("run_experiments.py", ["--episodes", "3", "--seeds", "0", "--batch-size", "8",
                                "--quiet", "--workers", "1", "--set", "learning_starts=10"]),
        ("export_markdown_tables.py", []),
    ]:
        proc = subprocess.run([sys.executable, str(SCRIPTS / script), *args], cwd=tmp_path,
                              capture_output=True, text=True, env=ENV, timeout=300)
        assert proc.returncode == 0, (script, proc.stderr)
        assert "Traceback" not in proc.stderr
    out = tmp_path / "outputs"
    for name in ("layer_analysis.csv", "selected_layer.txt", "experiment_returns.csv",
                 "experiment_summary.csv", "experiment_summary_table.md"):
        assert (out / name).is_file(), name
    assert len(rows(out / "experiment_returns.csv")) == 4 * 3    # four candidates, one seed


def test_train_does_not_import_torch(tmp_path):
    argv = ["train", *TINY_TRAIN, "--output-dir", str(tmp_path)]
    code = ("import sys, rl_rosetta_layer.cli as c; "
            f"rc = c.main({argv!r}); "
            "assert rc == 0, rc; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "experiment_summary.csv").is_file()


# ------------------------------------------------------------------------------ errors
@pytest.fixture
def out_dir(tmp_path):
    """An output folder with a sentinel and a valid earlier output."""
    (tmp_path / "sentinel.txt").write_bytes(b"do not touch\n")
    (tmp_path / "experiment_summary.csv").write_text(VALID_SUMMARY)
    (tmp_path / "experiment_summary_table.md").write_bytes(b"| earlier table |\n")
    return tmp_path


def check_one_line_error(out_dir, argv, capsys, *names):
    before = snapshot(out_dir)
    rc, out, err = run_cli([*argv, "--output-dir", out_dir], capsys)
    assert rc == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("rosetta")
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    assert snapshot(out_dir) == before
    return err


def test_error_unknown_layer(out_dir, capsys):
    err = check_one_line_error(out_dir, ["train", *TINY_TRAIN[:4], "--layers", "nope"], capsys,
                               "'nope'")
    assert err.startswith("rosetta: error: unknown layer 'nope'; accepted: random_wide")


def test_error_malformed_seeds(out_dir, capsys):
    err = check_one_line_error(out_dir, ["train", "--seeds", "0,,x", "--layers", "identity"],
                               capsys, "'0,,x'")
    assert err == ("rosetta: error: --seeds must be comma-separated non-negative integers or "
                   "ranges like 0-4, got '0,,x'\n")


def test_error_zero_episodes(out_dir, capsys):
    err = check_one_line_error(out_dir, ["train", "--episodes", "0"], capsys, "--episodes", "'0'")
    assert err == "rosetta train: error: argument --episodes: must be a positive integer, got '0'\n"


def test_error_negative_batch_size(out_dir, capsys):
    err = check_one_line_error(out_dir, ["train", "--batch-size", "-1"], capsys,
                               "--batch-size", "'-1'")
    assert err == ("rosetta train: error: argument --batch-size: must be a positive integer, "
                   "got '-1'\n")


def test_error_selected_without_selection_file(out_dir, capsys):
    err = check_one_line_error(out_dir, ["train", "--layers", "selected", "--episodes", "1"],
                               capsys, "selected_layer.txt")
    assert err.endswith("selected_layer.txt does not exist; run `rosetta analyze` (or "
                        "scripts/run_layer_analysis.py) first\n")


def test_error_bad_dqn_setting(out_dir, capsys):
    check_one_line_error(out_dir, ["train", "--layers", "identity", "--set", "gamma=1.0"],
                         capsys, "gamma must be in [0, 1), got 1.0")


def test_error_unknown_dqn_setting(out_dir, capsys):
    check_one_line_error(out_dir, ["train", "--layers", "identity", "--set", "bogus=1"],
                         capsys, "'bogus=1'")


def test_error_report_missing_summary(out_dir, capsys):
    (out_dir / "experiment_summary.csv").unlink()
    err = check_one_line_error(out_dir, ["report"], capsys, "experiment_summary.csv")
    assert err.endswith("experiment_summary.csv does not exist; run `rosetta train (or "
                        "scripts/run_experiments.py)` first\n")


def test_error_report_malformed_summary(out_dir, capsys):
    (out_dir / "experiment_summary.csv").write_text("layer,foo\n")
    err = check_one_line_error(out_dir, ["report"], capsys, "experiment_summary.csv",
                               "['mean_last_50', 'std_last_50', 'mean_auc']")
    assert "lacks column(s)" in err and "found ['layer', 'foo']" in err


def test_error_report_short_row(out_dir, capsys):
    (out_dir / "experiment_summary.csv").write_text(VALID_SUMMARY + "random_wide,0.1\n")
    check_one_line_error(out_dir, ["report"], capsys, "experiment_summary.csv", "line 3")


@pytest.mark.parametrize("argv,named", [
    (["train", "--layers", "nope", "--episodes", "1"], "'nope'"),
    (["train", "--episodes", "0"], "'0'"),
])
def test_error_from_a_real_process(tmp_path, argv, named):
    (tmp_path / "sentinel.txt").write_text("keep\n")
    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "rl_rosetta_layer.cli", *argv,
                           "--output-dir", str(tmp_path)], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("rosetta")
    assert named in proc.stderr
    assert snapshot(tmp_path) == before


def test_error_report_missing_returns_changes_nothing(out_dir, capsys):
    check_one_line_error(out_dir, ["report"], capsys, "experiment_returns.csv")


def test_analyze_takes_layers_as_its_docs_spell_it(tmp_path, capsys):
    # README and docs/video-backbones.md write `rosetta analyze ... --layers ...`
    rc, out, err = run_cli(["analyze", "--dataset-steps", "200", "--bootstrap", "10", "--quiet",
                            "--layers", "identity,random_wide", "--output-dir", tmp_path],
                           capsys)
    assert rc == 0, err
    assert {r["layer"] for r in rows(tmp_path / "layer_analysis.csv")} == {"identity",
                                                                          "random_wide"}


# ------------------------------------------------------------------------------------ help
def _help(argv, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    rc, out, _ = run_cli([*argv, "--help"], capsys)
    assert rc == 0
    return out


def _subcommands():
    from rl_rosetta_layer.cli_parser import COMMANDS

    return list(COMMANDS)


def test_top_level_help_lists_every_command_and_the_version(capsys, monkeypatch):
    from rl_rosetta_layer import __version__
    from rl_rosetta_layer.cli import COMMANDS

    out = _help([], capsys, monkeypatch)
    listed = [line.split()[0] for line in out.split("commands:")[1].split("\n\n")[0]
              .splitlines()[2:] if line.startswith("    ") and not line.startswith("     ")]
    assert listed == list(_subcommands()) and set(listed) == set(COMMANDS)
    assert "tensorboard" in listed and "`" not in out
    rc, out, _ = run_cli(["--version"], capsys)
    assert rc == 0 and out == f"rosetta {__version__}\n"


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_has_a_description_an_example_and_plain_help(command, capsys,
                                                                  monkeypatch):
    from rl_rosetta_layer.cli_parser import COMMANDS

    out = _help([command], capsys, monkeypatch)
    _, description, example = COMMANDS[command]
    assert " ".join(description.split()[:6]) in " ".join(out.split())
    assert f"example:\n  {example.splitlines()[0]}" in out
    assert "`" not in out                          # docstrings' ``literals`` shown plain


def test_help_shows_defaults_and_the_basic_flags_before_the_video_flags(capsys, monkeypatch):
    out = _help(["train"], capsys, monkeypatch)
    flat = " ".join(out.split())
    assert "--episodes EPISODES episodes per run (default: 350)" in flat
    assert "--seeds SEEDS comma list (or ranges like 0-9) (default: 0,1,2)" in flat
    assert "--batch-size BATCH_SIZE transitions per update (default: 64)" in flat
    assert "--device DEVICE cpu, cuda, cuda:N or auto (video blocks) (default: cpu)" in flat
    assert "(default: None)" not in flat and "(default: False)" not in flat
    options = out[out.index("\noptions:"):]
    video = options.index("video blocks (the video extra):")
    assert options.index("--episodes EPISODES") < video < options.index("--weights PATH")
    assert options.index("--run-timeout SECONDS") < video
    usage = flat.split(" Train the same DQN")[0]
    assert usage.index("[--episodes") < usage.index("[--weights")
