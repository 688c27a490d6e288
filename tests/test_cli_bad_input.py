"""Every flag of every subcommand, given a bad value: one line naming it, exit status 2, no
traceback, and the output folder byte for byte as it was (no file changed, none added).

The table must name every flag the parser has (a test checks it), so a new flag comes with
its bad values.
"""

import argparse
import re
import shutil
import time
from pathlib import Path

import pytest

from rl_rosetta_layer.cli import build_parser

FILE = "@file"          # stands for a regular file where a folder is expected
MISSING = "@missing"    # stands for a path that does not exist

#: flag -> bad values, for every subcommand that has the flag.
BAD = {
    "--output-dir": [FILE],
    "--backbone": ["nope", "tiny-video-x"],
    "--weights": [MISSING],
    "--timestep": ["-1", "1000", "x"],
    "--device": ["gpu7", "cuda:x"],
    "--dtype": ["float16x"],
    "--patch": ["0", "x"],
    "--feature-norm": ["nope"],
    "--readout": ["nope"],
    "--readout-dim": ["0"],
    "--learner": ["nope"],
    "--env": ["nope", "gym:NoSuchEnv-v0"],
    "--envs": ["nope", "catch,,grid"],
    "--grid-size": ["1", "1000", "x"],
    "--history": ["0", "17"],
    "--max-steps": ["0", "x"],
    "--dataset-steps": ["0"],
    "--seed": ["-1", "x"],
    "--analysis-layers": ["nope"],
    "--select-by": ["nope"],
    "--bootstrap": ["0"],
    "--episodes": ["0", "x"],
    "--env-steps": ["0"],
    "--seeds": ["0,,x", "-1", "0-99999999999"],
    "--batch-size": ["0"],
    "--layers": ["nope", "identity,,x"],
    "--workers": ["0"],
    "--lockstep": ["0"],
    "--set": ["lr=inf", "grad_clip=nan", "init_noise=inf", "nope=1", "lr"],
    "--executor": ["nope"],
    "--ray-address": ["127.0.0.1:1", "no-port"],
    "--task-episodes": ["0"],
    "--run-timeout": ["0", "-1", "x", "inf", "nan"],
    "--paper": [FILE + "/paper.md"],
    "--template": [MISSING],
    "--bib": [MISSING],
    "sweep": [MISSING, "nope"],
}
#: Flags that take no value (nothing to get wrong).
SWITCHES = {"--quiet", "--dry-run", "--report-only", "--skip-report", "--force",
            "--tensorboard", "--replace-analysis"}
#: Per subcommand: flags whose values another subcommand's row does not cover.
OWN = {"sweep": {"--episodes": ["0", "x"], "--env-steps": ["0", "x"], "--batch-size": ["0"],
                 "--grid-size": ["1", "x"],
                 "--history": ["0"], "--max-steps": ["0"], "--env": ["nope"]},
       "tensorboard": {"output_dir": [FILE, MISSING]},
       "evaluate": {"output_dir": [FILE, MISSING], "--epsilon": ["2", "x", "nan"]},
       "pretrain": {"--output": [FILE], "--steps": ["0", "x"], "--lr": ["inf", "-1"],
                    "--frames": ["0"], "--size": ["1"], "--batch": ["0"],
                    "--t-min": ["-1"], "--t-max": ["5000"], "--threads": ["0"],
                    "--grad-clip": ["nan"], "--weight-decay": ["-1"], "--channels": ["0"],
                    "--max-sprites": ["0"], "--max-speed": ["-1"], "--heads": ["0"],
                    "--head-dim": ["0"], "--time-embed-dim": ["0"], "--text-dim": ["0"],
                    "--warmup": ["-1"], "--bands": ["0"], "--val-videos": ["0"],
                    "--eval-every": ["0"], "--reference-timestep": ["1000"],
                    "--reference-videos": ["0"], "--shard-bytes": ["0"]}}
#: Flags a bad value only matters with.
NEEDS = {"--ray-address": ["--executor", "ray"], "--weights": ["--backbone", "tiny-video"]}
#: Cheap settings each subcommand runs with, so that no case trains for long.
BASE = {
    "analyze": ["--dataset-steps", "50", "--bootstrap", "10", "--quiet"],
    "train": ["--episodes", "2", "--seeds", "0", "--layers", "identity", "--quiet",
              "--workers", "1"],
    "run": ["--dataset-steps", "50", "--bootstrap", "10", "--episodes", "2", "--seeds", "0",
            "--layers", "identity", "--quiet", "--workers", "1"],
    "report": [],
    "paper": [],
    "sweep": ["--layers", "identity", "--seeds", "0", "--episodes", "2", "--quiet",
              "--workers", "1"],
    "study": ["--envs", "catch", "--layers", "identity", "--seeds", "0", "--env-steps", "100",
              "--dataset-steps", "50", "--task-episodes", "5", "--quiet", "--workers", "1"],
    "pretrain": ["--steps", "1", "--quiet"],
    "tensorboard": [],
    "evaluate": ["--quiet"],
}
#: Arguments given by position, not as a flag.
POSITIONAL = {"sweep", "output_dir"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def flags_of(sub: argparse.ArgumentParser) -> list[str]:
    return [(a.option_strings or [a.dest])[0] for a in sub._actions if a.dest != "help"]


def cases():
    for command, sub in subcommands().items():
        for flag in flags_of(sub):
            if flag in SWITCHES:
                continue
            values = OWN.get(command, {}).get(flag, BAD.get(flag, []))
            for value in values:
                yield pytest.param(command, flag, value, id=f"{command} {flag} {value}")


def test_every_flag_has_bad_values():
    missing = [f"{command} {flag}" for command, sub in subcommands().items()
               for flag in flags_of(sub) if flag not in SWITCHES
               and flag not in OWN.get(command, {}) and flag not in BAD]
    assert not missing, f"add bad values for {missing} to BAD or OWN"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working folder with earlier outputs in it (a report to protect) and a file."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "experiment_summary.csv").write_text("layer,mean_last_50,std_last_50,mean_auc\n"
                                                "identity,0.5,0.1,0.4\n")
    (out / "selected_layer.txt").write_text("identity\n")
    (tmp_path / "a_file").write_text("not a folder\n")
    return tmp_path


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("command, flag, value", list(cases()))
def test_bad_value_is_one_line_and_changes_nothing(workspace, rosetta, command, flag, value):
    value = value.replace(FILE, str(workspace / "a_file")).replace(
        MISSING, str(workspace / "no_such_path"))
    argv = [command, *BASE[command], *NEEDS.get(flag, [])]
    if command == "pretrain":
        argv += ["--output", str(workspace / "outputs" / "pretrained")]
    elif flag not in POSITIONAL:
        argv += ["--output-dir", str(workspace / "outputs")]
    argv += [value] if flag in POSITIONAL else [flag, value]  # last: it wins over the base
    before = snapshot(workspace)
    rc, _, err = rosetta(argv)
    assert rc == 2, f"{argv}: exit status {rc}, stderr {err!r}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0], f"{argv}: {err!r}"
    assert "Traceback" not in err
    assert snapshot(workspace) == before, f"{argv} changed the working folder"


# ------------------------------------------------------------ files that are not what they say
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Outputs of a tiny ``rosetta train`` (two layers, one seed)."""
    from rl_rosetta_layer.cli import main

    out = tmp_path_factory.mktemp("trained")
    assert main(["train", "--episodes", "4", "--seeds", "0", "--layers", "identity,random_wide",
                 "--quiet", "--workers", "1", "--grid-size", "4", "--batch-size", "8", "--set",
                 "learning_starts=10", "--output-dir", str(out)]) == 0
    return out


def _stats(folder: Path) -> dict:
    """Path -> (size, modification time) of every file (cheaper than reading a GiB)."""
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_and_nothing_changed(rosetta, argv, folder, expected):
    before = _stats(folder)
    rc, _, err = rosetta(argv)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(expected, err), err
    assert _stats(folder) == before


def _long_cell(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = "x" * 140_000 + lines[1][lines[1].index(","):]
    path.write_text("".join(lines))


@pytest.mark.parametrize("name", ["experiment_returns.csv", "experiment_runs.csv"])
def test_report_refuses_a_cell_over_the_csv_limit_in_one_line(trained, tmp_path, rosetta, name):
    out = tmp_path / "out"
    shutil.copytree(trained, out)
    _long_cell(out / name)
    _one_line_and_nothing_changed(rosetta, ["report", "--output-dir", out], out,
                                  rf"{name} line 2 is not a CSV row this package wrote: field "
                                  rf"larger than field limit \(131072\)")


def test_train_refuses_a_run_whose_returns_file_has_a_cell_over_the_limit(trained, tmp_path,
                                                                          rosetta):
    out = tmp_path / "out"
    shutil.copytree(trained, out)
    (run,) = (out / "runs").glob("identity-*")
    _long_cell(run / "returns.csv")
    _one_line_and_nothing_changed(
        rosetta, ["train", "--episodes", "4", "--seeds", "0", "--layers", "identity", "--quiet",
                  "--workers", "1", "--grid-size", "4", "--batch-size", "8", "--set",
                  "learning_starts=10", "--output-dir", out], out,
        rf"{run / 'returns.csv'} is \d+ bytes, more than \d+, the most 4 episodes take")


def test_report_refuses_a_sparse_gib_in_place_of_a_csv_at_once(trained, tmp_path, rosetta):
    out = tmp_path / "out"
    shutil.copytree(trained, out)
    with open(out / "experiment_returns.csv", "r+b") as f:
        f.truncate(1 << 30)
    start = time.perf_counter()
    _one_line_and_nothing_changed(rosetta, ["report", "--output-dir", out], out,
                                  r"experiment_returns.csv line \d+ is longer than 1048576 "
                                  r"characters: not a CSV this package wrote")
    assert time.perf_counter() - start < 10      # it took 17 s and 2.2 GB when read whole
