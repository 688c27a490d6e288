"""Sweep files and command-line grids: expansion, stable ids, and one clear error per mistake."""

import csv
import re
from pathlib import Path

import pytest

from rl_rosetta_layer.agent import DQNConfig
from rl_rosetta_layer.cli import main
from rl_rosetta_layer.errors import ConfigError, MissingInputError, UnknownLayerError
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.experiments.sweep import BUILTIN, find_line, load_sweep, parse_sweep_text

GRID = """\
name = "grid"
layers = "structured_mid,identity"
seeds = "0-1"

[env]
grid_size = [4, 5]

[dqn]
episodes = 6
lr = [1e-3, 3e-3]
"""


def test_builtin_tiny_sweep():
    sweep = load_sweep("tiny")
    assert sweep.name == "tiny" and sweep.single_point and sweep.varied == ()
    assert [(s.layer, s.seed) for s in sweep.specs] == [
        ("structured_mid", 0), ("structured_mid", 1), ("identity", 0), ("identity", 1)]
    assert all(s.env == EnvSpec(grid_size=4) and s.config.episodes == 8 for s in sweep.specs)


def test_grid_expands_in_a_fixed_order_with_content_ids():
    sweep = parse_sweep_text(GRID, "grid.toml")
    assert len(sweep.specs) == 2 * 2 * 2 * 2
    assert sweep.varied == ("env.grid_size", "dqn.lr")
    first = sweep.specs[0]
    assert first == RunSpec(EnvSpec(grid_size=4), "structured_mid", 0,
                            DQNConfig(episodes=6, lr=1e-3))
    assert [(s.env.grid_size, s.config.lr, s.layer, s.seed) for s in sweep.specs[:5]] == [
        (4, 1e-3, "structured_mid", 0), (4, 1e-3, "structured_mid", 1),
        (4, 1e-3, "identity", 0), (4, 1e-3, "identity", 1), (4, 3e-3, "structured_mid", 0)]
    assert sweep.point(sweep.specs[4]) == {"env.grid_size": 4, "dqn.lr": 3e-3}
    assert len(set(sweep.run_ids)) == 16
    # the same content gives the same ids, whatever the file looks like
    again = parse_sweep_text(GRID.replace("seeds = \"0-1\"", "seeds = [0, 1]"), "other.toml")
    assert again.run_ids == sweep.run_ids


def test_an_integer_for_a_float_setting_is_the_same_run():
    a = parse_sweep_text("layers = 'identity'\nseeds = [0]\n[dqn]\nlr = 1\n", "a.toml")
    b = parse_sweep_text("layers = 'identity'\nseeds = [0]\n[dqn]\nlr = 1.0\n", "b.toml")
    assert a.run_ids == b.run_ids


def test_command_line_overrides_the_file(small_sweep):
    sweep = load_sweep(small_sweep(), overrides={("dqn", "lr"): [0.001, 0.002],
                                                 (None, "seeds"): "3"},
                       flags={("dqn", "lr"): "--set lr", (None, "seeds"): "--seeds"})
    assert sweep.varied == ("dqn.lr",)
    assert {s.seed for s in sweep.specs} == {3} and len(sweep.specs) == 3 * 2


def test_find_line():
    text = 'name = "x"\n[env]\n  grid_size = 4\n[dqn]\n"lr" = 1\ndqn.gamma = 0.9\n'
    assert find_line(text, "env", "grid_size") == 3
    assert find_line(text, "dqn", "lr") == 5
    assert find_line(text, None, "dqn.gamma") == 6
    assert find_line(text, "dqn", None) == 4
    assert find_line(text, None, "name") == 1
    assert find_line(text, "dqn", "absent") is None


def bad(text: str, tmp_path, name: str = "bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = "layers = ['identity']\nseeds = [0]\n"


@pytest.mark.parametrize("text, message", [
    (BASE + "[dqn]\nepisodes = 5\nlrr = 0.1\n",
     r"line 5: unknown key 'lrr' in \[dqn\]; accepted: adam_eps, adapter, "),
    (BASE + "[env]\ngrid = 4\n", r"line 4: unknown key 'grid' in \[env\]; accepted: "
                                 r"grid_size, history, max_steps, name$"),
    ("layers = ['identity']\nseed = [0]\n", r"line 2: unknown key 'seed'; accepted: name, "
                                            r"layers, seeds, selected, env, dqn$"),
    (BASE + "[dqnn]\nlr = 1\n", r"line 3: unknown key 'dqnn'; accepted: "),
    (BASE + "[dqn]\nlr = 'fast'\n",
     r"line 4: \[dqn\] lr must be a number or a list of them, got 'fast' \(str\)$"),
    (BASE + "[dqn]\nepisodes = 5.5\n",
     r"line 4: \[dqn\] episodes must be an integer or a list of them, got 5.5 \(float\)$"),
    (BASE + "[dqn]\ndouble_dqn = 1\n",
     r"line 4: \[dqn\] double_dqn must be true or false or a list of them, got 1 \(int\)$"),
    (BASE + "[dqn]\nepisodes = true\n",
     r"line 4: \[dqn\] episodes must be an integer or a list of them, got True \(bool\)$"),
    (BASE + "[dqn]\nlr = []\n",
     r"line 4: \[dqn\] lr is an empty grid; give one value or a non-empty list$"),
    ("layers = ['identity']\nseeds = []\n", r"line 2: seeds is an empty grid; "),
    ("layers = []\nseeds = [0]\n", r"line 1: layers must be a non-empty list of layer "),
    (BASE + "[dqn]\nlr = [0.001, 0.001]\n",
     r"line 4: \[dqn\] lr lists 0.001 twice; the runs of a sweep must all differ$"),
    (BASE + "[dqn]\nlr = [1, 1.0]\n", r"line 4: \[dqn\] lr lists 1.0 twice; "),
    ("layers = ['identity']\nseeds = [0, 1, 0]\n", r"line 2: seeds lists 0 twice; "),
    ("layers = ['candidates', 'bottleneck']\nseeds = [0]\n",
     r"line 1: layers lists 'bottleneck' twice \(directly or through a group\); "),
    ("layers = ['identity']\nseeds = [-1]\n",
     r"line 2: seeds must be non-negative integers \(or a string like \"0-4\"\), got -1$"),
    ("layers = ['identity']\nseeds = '0,,x'\n", r"line 2: seeds: --seeds must be "),
    (BASE + "[dqn]\nlearning_starts = 10\nbatch_size = 64\nbuffer_size = 32\n",
     r"line 5: \[dqn\] batch_size \(64\) must not exceed buffer_size \(32\)$"),
    (BASE + "[dqn]\nepisodes = 10\ngamma = [0.9, 1.5]\n",
     r"line 5: \[dqn\] gamma must be in \[0, 1\), got 1.5$"),
    (BASE + "[env]\ngrid_size = [4, 1]\n",
     r"line 4: \[env\] grid size must be an integer in \[2, 64\], got 1$"),
    (BASE + "[env]\nname = 'atari'\n",
     r"line 4: \[env\] unknown environment 'atari'; accepted: grid, moving-goal, catch, "
     r"gym:<id>, minigrid:<id>$"),
    (BASE + "env = 3\n", r"line 3: env must be a table \(\[env\]\), got 3$"),
    ("name = 'a b'\n" + BASE, r"line 1: name must be letters, digits"),
    ("layers = ['random_bank_0']\nseeds = [0]\nselected = 'random_bank_1'\n",
     r"line 3: selected must be a layer whose shape the random bank copies"),
    (BASE + "[dqn\nlr = 1\n", r": not valid TOML: .*\(at line 3, column 5\)$"),
    (BASE + "[dqn]\nlr = inf\n", r"line 4: \[dqn\] lr must be a finite number, got inf$"),
    (BASE + "[dqn]\ngrad_clip = nan\n", r"line 4: \[dqn\] grad_clip must be a finite number"),
])
def test_malformed_sweep_files(tmp_path, text, message):
    path = bad(text, tmp_path)
    prefix = re.escape(str(path)) + (" " if message.startswith("line") else "")
    with pytest.raises(ConfigError, match="^" + prefix + message) as info:
        load_sweep(path)
    assert "\n" not in str(info.value)


def test_unknown_layer_names_the_line(tmp_path):
    path = bad("seeds = [0]\nlayers = ['identity', 'resnet']\n", tmp_path)
    with pytest.raises(UnknownLayerError, match=re.escape(f"{path} line 2: layers: unknown "
                                                          f"layer 'resnet'; accepted: ")):
        load_sweep(path)


def test_bank_layers_need_a_selection(tmp_path):
    path = bad("layers = ['bank']\nseeds = [0]\n", tmp_path)
    with pytest.raises(ConfigError, match=re.escape(f"{path} line 1: layers needs a selected "
                                                    f"layer; add selected = ")):
        load_sweep(path)
    with pytest.raises(MissingInputError, match="selected_layer.txt does not exist"):
        load_sweep(path, out_dir=tmp_path)
    (tmp_path / "selected_layer.txt").write_text("bottleneck\n")
    sweep = load_sweep(path, out_dir=tmp_path)
    assert {s.selected for s in sweep.specs} == {"bottleneck"} and len(sweep.specs) == 8


def test_missing_and_yaml_files(tmp_path):
    with pytest.raises(MissingInputError, match=r"^sweep file 'nope.toml' does not exist; give "
                                                r"a TOML file or a built-in sweep: tiny$"):
        load_sweep("nope.toml")
    path = bad("layers: [identity]\n", tmp_path, "s.yaml")
    with pytest.raises(ConfigError, match=r"s.yaml: sweep files are TOML \(.toml\), got a "
                                          r"\.yaml file$"):
        load_sweep(path)


def test_command_line_flags_are_named_in_errors():
    with pytest.raises(ConfigError, match=r"^--set lr: \[dqn\] lr lists 0.1 twice"):
        load_sweep(None, overrides={("dqn", "lr"): [0.1, 0.1]},
                   flags={("dqn", "lr"): "--set lr"})


def test_cli_prints_one_line_exits_2_and_writes_nothing(tmp_path, capsys):
    path = bad(BASE + "[dqn]\nepisodes = 5\nlrr = 0.1\n", tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--output-dir", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rosetta: error: {path} line 5: unknown key 'lrr' in [dqn]; ")
    assert err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--set", "lr=0.1,x"], "--set lr: 'x' is not a valid float"),
    (["--set", "nope=1"], "--set expects KEY=VALUE[,VALUE...] with KEY one of "),
    (["--episodes", "0"], "--episodes: [dqn] episodes must be a positive integer, got 0"),
    (["--grid-size", "4,4"], "--grid-size: [env] grid_size lists 4 twice"),
    (["--layers", "resnet"], "--layers: layers: unknown layer 'resnet'"),
    (["--seeds", "1,1"], "--seeds: seeds: --seeds lists a seed twice"),
    (["--ray-address", "auto"], "--ray-address needs --executor ray"),
])
def test_cli_grid_errors(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["sweep", *argv, "--output-dir", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rosetta: error: {message}"), err
    assert err.count("\n") == 1
    assert not out.exists()


def test_cli_dry_run_lists_runs(capsys, tmp_path):
    assert main(["sweep", "tiny", "--output-dir", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "sweep tiny: 4 runs, 0 finished, 4 to run"
    assert [line.split()[0] for line in lines[:-1]] == load_sweep("tiny").run_ids
    assert not (tmp_path / "runs").exists()


def test_builtin_sweeps_parse():
    for name in BUILTIN:
        assert load_sweep(name).specs


def test_cli_env_flag_takes_names(capsys, tmp_path):
    # the sweep's --env was once converted to int like the size flags
    assert main(["sweep", "tiny", "--env", "catch,moving-goal", "--output-dir", str(tmp_path),
                 "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "sweep tiny: 8 runs, 0 finished, 8 to run"
    assert {s.env.name for s in load_sweep("tiny", overrides={("env", "name"): "catch"}).specs} \
        == {"catch"}


def test_the_shipped_example_sweep_file_dry_runs(rosetta, tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "lr-study.toml"
    rc, out, err = rosetta(["sweep", example, "--dry-run", "--output-dir", tmp_path / "out"])
    assert rc == 0, err
    assert out.strip().splitlines()[-1] == "sweep lr-study: 100 runs, 0 finished, 100 to run"
    assert not (tmp_path / "out").exists()


def test_setting_types_come_from_the_dataclass_fields():
    from dataclasses import dataclass, fields

    from rl_rosetta_layer.experiments.sweep import DQN_TYPES, ENV_TYPES, setting_types
    from rl_rosetta_layer.experiments.sweep_cli import FLAGS

    @dataclass(frozen=True)
    class Settings:
        steps: int | None = None
        rate: float = 0.5
        name: str = "a"
        on: bool = True

    assert setting_types(Settings) == {"steps": "int", "rate": "float", "name": "str",
                                       "on": "bool"}
    assert list(ENV_TYPES) == [f.name for f in fields(EnvSpec)]
    assert list(DQN_TYPES) == [f.name for f in fields(DQNConfig)]
    assert DQN_TYPES["env_steps"] == "int" and DQN_TYPES["double_dqn"] == "bool"
    # every [env] field has a flag, named after the field (the name is --env)
    assert {key for table, key, _ in FLAGS.values() if table == "env"} == set(ENV_TYPES)
    assert FLAGS["env"] == ("env", "name", "str")


def test_a_field_a_sweep_cannot_set_is_named():
    from dataclasses import dataclass

    from rl_rosetta_layer.experiments.sweep import setting_types

    @dataclass(frozen=True)
    class Odd:
        sizes: tuple[int, ...] = (1,)

    with pytest.raises(TypeError, match=r"^Odd.sizes has the type tuple\[int, \.\.\.\]; a "
                                        r"sweep setting must be one of int, float, str, bool"):
        setting_types(Odd)


# ------------------------------------------------ env-step budgets, settings, summaries
def test_sweep_takes_env_steps_like_train(capsys, tmp_path):
    assert main(["sweep", "tiny", "--env-steps", "200,300", "--output-dir", str(tmp_path),
                 "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["settings that vary: dqn.env_steps",
                          "sweep tiny: 8 runs, 0 finished, 8 to run"]
    sweep = load_sweep("tiny", overrides={("dqn", "env_steps"): [200, 300]})
    assert [line.split() for line in lines[:-2]] == [
        [s.run_id, "to", "run", f"dqn.env_steps={s.config.env_steps}"] for s in sweep.specs]
    assert {s.config.env_steps for s in sweep.specs} == {200, 300}


def test_an_episodes_axis_under_an_env_step_budget_is_one_run(tmp_path):
    with pytest.raises(ConfigError, match="two runs of the sweep are the same run"):
        load_sweep("tiny", overrides={("dqn", "env_steps"): 200, ("dqn", "episodes"): [5, 6]})


def test_a_sweep_ends_with_its_summary_by_setting(tmp_path, rosetta):
    argv = ["sweep", "tiny", "--set", "lr=0.001,0.003", "--seeds", "0", "--workers", "1",
            "--quiet", "--output-dir", tmp_path]
    rc, out, err = rosetta(argv)
    assert rc == 0, err
    folder = tmp_path / "sweeps" / "tiny"
    rows = (folder / "summary.csv").read_text().splitlines()
    assert rows[0] == ("dqn.lr,layer,runs,runs_ok,runs_failed,runs_diverged,runs_flagged,"
                       "mean_last_50,std_last_50,mean_auc,success_last_50")
    assert [r.split(",")[:7] for r in rows[1:]] == [
        ["0.001", "structured_mid", "1", "1", "0", "0", "0"],
        ["0.001", "identity", "1", "1", "0", "0", "0"],
        ["0.003", "structured_mid", "1", "1", "0", "0", "0"],
        ["0.003", "identity", "1", "1", "0", "0", "0"]]
    with open(folder / "runs.csv", newline="") as f:     # one seed: the run's own numbers
        runs = list(csv.DictReader(f))
    assert [float(r.split(",")[7]) for r in rows[1:]] == pytest.approx(
        [float(r["mean_last_50"]) for r in runs], abs=1e-5)
    table = out.splitlines()
    assert table[0].startswith("| dqn.lr | layer | runs | runs_ok |")
    assert table[2].startswith("| 0.001 | structured_mid | 1 | 1 | 0 | 0 | 0 |")


def test_report_on_a_sweep_folder_says_what_to_do(tmp_path, rosetta):
    assert rosetta(["sweep", "tiny", "--set", "lr=0.001,0.003", "--seeds", "0", "--workers",
                    "1", "--quiet", "--output-dir", tmp_path])[0] == 0
    folder = tmp_path / "sweeps" / "tiny"
    rc, _, err = rosetta(["report", "--output-dir", folder])
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith(f"rosetta: error: {folder} is the folder of a sweep whose runs vary "
                          f"dqn.lr: ")
    assert f"summary by setting is {folder / 'summary.csv'}" in err
    assert "run `rosetta train` first" not in err
    rc, _, err = rosetta(["report", "--output-dir", tmp_path])
    assert rc == 2 and err == (f"rosetta: error: {tmp_path} has no experiment_summary.csv "
                               f"(rosetta train writes it) but holds the sweep(s) tiny: report "
                               f"one with rosetta report --output-dir {folder}\n")


def test_the_sweep_docs_give_the_exit_statuses_the_command_uses():
    from rl_rosetta_layer.experiments.train import EXIT_DIVERGED, EXIT_FAILED

    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "sweeps.md")
                    .read_text().split())
    assert "1 some runs failed" not in text
    assert f"{EXIT_FAILED} some runs failed" in text
    assert f"{EXIT_DIVERGED} none failed but some diverged" in text
