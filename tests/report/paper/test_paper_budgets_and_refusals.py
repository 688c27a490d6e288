"""The paper on env-step runs says env steps, answers 'not answered' where the study's
positive control failed, gives advice that can help, and leaves the report files as they
were when it is refused."""

import shutil
from pathlib import Path

import pytest

from rl_rosetta_layer.cli import main
from rl_rosetta_layer.report.paper import find_paper_file

ROOT = Path(__file__).resolve().parents[3]
LAYERS = "structured_mid,identity,random_wide"
SMALL = ["--grid-size", "4", "--quiet"]


def run(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def snapshot(folder: Path) -> dict:
    """Bytes and modification time of every file but the run store's."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and "runs" not in p.parts}


@pytest.fixture(scope="module")
def env_steps(tmp_path_factory):
    """analyze and train three layers on an env-step budget (no report yet)."""
    out = tmp_path_factory.mktemp("paper_env_steps") / "catch_like"
    codes = [run(["analyze", "--layers", LAYERS, "--dataset-steps", 300, "--bootstrap", 10,
                  *SMALL, "--output-dir", out]),
             run(["train", "--layers", LAYERS, "--env-steps", 300, "--seeds", "0,1,2",
                  "--workers", 1, "--set", "learning_starts=20", *SMALL, "--output-dir", out])]
    assert codes == [0, 0]
    return out


def copy(out: Path, dest: Path) -> Path:
    shutil.copytree(out, dest)
    return dest


def test_env_step_runs_are_described_by_their_env_steps(env_steps, tmp_path):
    out = copy(env_steps, tmp_path / "catch_like")
    assert run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"]) == 0
    text = (tmp_path / "paper.md").read_text()
    assert "an identical budget of 300 env steps per run" in text
    assert "Every run has the same budget of 300 env steps. A layer that learns plays " \
           "shorter episodes and so finishes more of them: runs finished between " in text
    assert "350 episodes" not in text and "between 300 and 300 env steps" not in text
    assert "| `episodes` |" not in text and "| `env_steps` | 300 |" in text
    assert "Budgets are equal in env steps (300 env steps per run)" in text


def test_a_failed_positive_control_of_the_study_leaves_the_question_unanswered(env_steps,
                                                                              tmp_path):
    study = tmp_path / "study"
    out = copy(env_steps, study / "catch_like")
    (study / "study_controls.csv").write_text(
        "env,control,layer,reference,n_units,value_frac,value_frac_ci_low,value_frac_ci_high,"
        "target,passed,note\n"
        "catch_like,positive control learned,identity,,3,0.2,0.1,0.3,lower end >= 0.5,False,"
        "IQM\n"
        "other_task,positive control learned,identity,,3,0.9,0.8,1.0,lower end >= 0.5,True,"
        "IQM\n")
    assert run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"]) == 0
    text = (tmp_path / "paper.md").read_text()
    assert "On this testbed the hypothesis is *not answered*" in text
    assert "The study's positive control `identity` did not learn this task" in text
    assert "not supported" not in text and "*consistent with the data" not in text


def test_two_layers_are_refused_with_advice_that_helps_and_no_file_changes(tmp_path):
    out = tmp_path / "out"
    assert run(["analyze", "--layers", "structured_mid,identity", "--dataset-steps", 200,
                "--bootstrap", 10, *SMALL, "--output-dir", out]) == 0
    assert run(["train", "--layers", "structured_mid,identity", "--episodes", 3, "--seeds",
                "0,1", "--workers", 1, "--set", "learning_starts=10", *SMALL,
                "--output-dir", out]) == 0
    before = snapshot(out)
    assert run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"]) == 2
    assert snapshot(out) == before
    assert not (tmp_path / "paper.md").exists()


def test_two_layers_message(tmp_path, capsys):
    out = tmp_path / "out"
    run(["analyze", "--layers", "structured_mid,identity", "--dataset-steps", 200,
         "--bootstrap", 10, *SMALL, "--output-dir", out])
    run(["train", "--layers", "structured_mid,identity", "--episodes", 3, "--seeds", "0",
         "--workers", 1, "--set", "learning_starts=10", *SMALL, "--output-dir", out])
    capsys.readouterr()
    assert run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"]) == 2
    err = capsys.readouterr().err
    assert err == (f"rosetta: error: the paper tests whether each analysis score predicts RL "
                   f"return, which needs RL runs of >= 3 analysed layers; {out} has 2 "
                   f"(structured_mid, identity): analyse and train more, e.g. `rosetta run "
                   f"--layers structured_mid,identity,random_wide --replace-analysis "
                   f"--output-dir {out}` with the same seeds and budget\n")
    assert "rosetta report" not in err


def test_a_paper_refused_after_the_report_leaves_the_report_as_it_was(env_steps, tmp_path):
    out = copy(env_steps, tmp_path / "out")
    assert run(["report", "--output-dir", out]) == 0
    before = snapshot(out)
    template = tmp_path / "template.md"
    template.write_text((ROOT / "paper" / "dummy_paper.md").read_text()
                        + "\n[fill: no_such_key]\n")
    assert run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md",
                "--template", template]) == 2
    assert snapshot(out) == before
    assert not (tmp_path / "paper.md").exists()


def test_the_template_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_paper_file("dummy_paper.md") == ROOT / "paper" / "dummy_paper.md"
