"""Diverged and failed runs in the report: compared on the seeds every layer finished, named
wherever a run is left out, counted per layer; inputs cut short or malformed are refused."""

import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_outputs import FINALS, write_outputs  # noqa: E402

from rl_rosetta_layer.cli import main  # noqa: E402
from rl_rosetta_layer.errors import CorruptFileError  # noqa: E402
from rl_rosetta_layer.report.build import check_report_inputs  # noqa: E402
from rl_rosetta_layer.report.facts import collect_facts, run_records  # noqa: E402
from rl_rosetta_layer.report.statistics import (  # noqa: E402
    final_returns,
    run_outcomes,
    write_statistics,
)


def report(out, capsys):
    rc = main(["report", "--output-dir", str(out)])
    return rc, *capsys.readouterr()


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# ------------------------------------------------------------------- diverged runs
def test_a_diverged_run_leaves_its_seed_out_of_the_comparisons(tmp_path, capsys):
    out = write_outputs(tmp_path / "out")
    rc, stdout, _ = report(out, capsys)
    assert rc == 0
    comp = {r["other"]: r for r in rows(out / "comparisons.csv")}
    assert set(comp) == {"random_wide", "identity"}
    for r in comp.values():
        assert r["n_seeds"] == "2" and r["seeds_left_out"] == "seed 2: identity diverged"
    # seeds 0 and 1 only: (1.0 - 0.0 + 0.8 - 0.1) / 2 and (0.5 + 0.4) / 2
    assert float(comp["identity"]["mean_diff"]) == pytest.approx(0.85)
    assert float(comp["random_wide"]["mean_diff"]) == pytest.approx(0.45)
    table = (out / "comparisons_table.md").read_text()
    assert "Seeds left out of every comparison" in table and "seed 2: identity diverged" in table
    validity = rows(out / "score_validity.csv")
    assert validity and all(r["seeds_left_out"] == "seed 2: identity diverged"
                            for r in validity)
    assert "seed 2: identity diverged" in (out / "score_validity_table.md").read_text()
    assert "identity: diverged (1 of 3 runs)" in stdout


def test_divergence_is_counted_per_layer(tmp_path, capsys):
    finals = {**FINALS, "random_wide": (0.5, "failed", None)}
    out = write_outputs(tmp_path / "out", finals)
    assert report(out, capsys)[0] == 0
    outcomes = {r["layer"]: r for r in rows(out / "run_outcomes.csv")}
    assert outcomes["identity"] == {"layer": "identity", "runs": "3", "runs_ok": "2",
                                    "runs_diverged": "1", "runs_failed": "0",
                                    "seeds_diverged": "2", "seeds_failed": ""}
    assert outcomes["random_wide"]["runs_failed"] == "1"
    assert outcomes["random_wide"]["seeds_failed"] == "1"
    assert outcomes["random_wide"]["seeds_diverged"] == "2"
    assert outcomes["structured_mid"]["runs_ok"] == "3"
    comp = rows(out / "comparisons.csv")
    assert {r["n_seeds"] for r in comp} == {"1"}
    assert comp[0]["seeds_left_out"] == ("seed 1: random_wide failed; "
                                         "seed 2: random_wide diverged, identity diverged")
    facts = json.loads((out / "report_facts.json").read_text())["training"]
    assert facts["runs_diverged"] == 2 and facts["runs_failed"] == 1
    assert facts["runs_left_out_by_layer"]["random_wide"] == {"diverged": 1, "failed": 1,
                                                              "runs": 3}


def test_the_summary_table_says_which_runs_are_left_out(tmp_path, capsys):
    finals = {**FINALS, "random_wide": (None, None, None)}
    out = write_outputs(tmp_path / "out", finals)
    rc, stdout, _ = report(out, capsys)
    assert rc == 0
    lines = (out / "experiment_summary_table.md").read_text().splitlines()
    assert lines[0].endswith("| Runs left out |")
    cells = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in lines[2:]
             if line.startswith("| ")}
    assert cells == {"structured_mid": "none", "identity": "diverged (1 of 3 runs)",
                     "random_wide": "diverged (3 of 3 runs)"}
    assert "random_wide: diverged (3 of 3 runs)" in lines[-1]
    table = (out / "comparisons_table.md").read_text()
    assert "Not compared (no finished run): random_wide: diverged (3 of 3 runs)." in table
    assert {r["other"] for r in rows(out / "comparisons.csv")} == {"identity"}


def test_a_summary_table_without_left_out_runs_has_no_extra_column(tmp_path, capsys):
    out = write_outputs(tmp_path / "out", {k: (0.1, 0.2, 0.3) for k in FINALS})
    assert report(out, capsys)[0] == 0
    assert "Runs left out" not in (out / "experiment_summary_table.md").read_text()
    assert rows(out / "comparisons.csv")[0]["seeds_left_out"] == ""
    assert "Seeds left out" not in (out / "comparisons_table.md").read_text()


def test_a_selected_layer_whose_runs_all_diverged_is_named(tmp_path):
    out = write_outputs(tmp_path / "out", {**FINALS, "structured_mid": (None, None, None)})
    _, missing = write_statistics(out, "structured_mid")
    assert any("selected layer 'structured_mid'; its runs diverged (3 of 3 runs)" in m
               for m in missing), missing
    assert not (out / "comparisons.csv").exists()


def test_no_shared_seed_is_reported_not_raised(tmp_path):
    finals = {"structured_mid": (1.0, None, None), "random_wide": (None, 0.5, None),
              "identity": (0.1, 0.2, 0.3)}
    out = write_outputs(tmp_path / "out", finals)
    _, missing = write_statistics(out, "structured_mid")
    assert any(m.startswith("paired comparisons need a seed every layer finished; none is "
                            "shared (seed 0: random_wide diverged") for m in missing), missing


# ------------------------------------------------------------------- the output folder
def test_every_reader_uses_the_given_output_dir(tmp_path, capsys, monkeypatch):
    # a different selection in ./outputs must not leak into a report on another folder
    monkeypatch.chdir(tmp_path)
    write_outputs(tmp_path / "outputs", selected="random_wide")
    sweep = write_outputs(tmp_path / "outputs" / "sweeps" / "tiny", selected="structured_mid")
    assert report(sweep, capsys)[0] == 0
    assert {r["selected"] for r in rows(sweep / "comparisons.csv")} == {"structured_mid"}
    assert not (tmp_path / "outputs" / "comparisons.csv").exists()
    (sweep / "selected_layer.txt").unlink()
    (sweep / "layer_analysis.csv").unlink()
    rc, stdout, _ = report(sweep, capsys)
    assert rc == 0
    mine = [line for line in stdout.splitlines() if "paired comparisons" in line
            or "score validity" in line or "analysis table" in line]
    assert len(mine) == 3
    assert all(str(sweep) in line and " outputs/" not in line for line in mine), mine


# ------------------------------------------------------------------- inputs cut short
def test_a_returns_file_cut_mid_row_is_refused_naming_the_line(tmp_path, capsys):
    out = write_outputs(tmp_path / "out")
    path = out / "experiment_returns.csv"
    text = path.read_bytes()
    path.write_bytes(text[:-9])
    n_lines = text.count(b"\n")
    with pytest.raises(CorruptFileError, match=rf"experiment_returns.csv line {n_lines} ends "
                                               r"without a line end: the file was cut short"):
        final_returns(out)
    before = snapshot(out)
    rc, stdout, err = report(out, capsys)
    assert rc == 2 and stdout == "" and err.count("\n") == 1
    assert f"{path} line {n_lines}" in err
    assert snapshot(out) == before


def test_a_short_row_and_a_run_cut_at_a_line_end_are_refused(tmp_path):
    out = write_outputs(tmp_path / "out")
    path = out / "experiment_returns.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5] + ["structured_mid,0,4\n"] + lines[6:]))
    with pytest.raises(CorruptFileError, match=r"experiment_returns.csv line 6 has 3 cells, "
                                               r"the header 8"):
        final_returns(out)
    path.write_text("".join(lines[:-2]))     # the last run (diverged) lost 2 of 6 episodes
    with pytest.raises(CorruptFileError, match=r"has 4 episodes of layer 'identity' seed 2 "
                                               r"but .*experiment_runs.csv line 10 says 6"):
        run_outcomes(out)


def test_a_bad_status_is_refused(tmp_path):
    out = write_outputs(tmp_path / "out")
    path = out / "experiment_runs.csv"
    path.write_text(path.read_text().replace(",ok,", ",exploded,", 1))
    with pytest.raises(CorruptFileError, match=r"experiment_runs.csv line 2: status "
                                               r"'exploded' is not one of ok, diverged, failed"):
        run_outcomes(out)


# ------------------------------------------------------------------- JSON inputs
def test_malformed_json_inputs_are_refused_before_anything_is_written(tmp_path):
    out = write_outputs(tmp_path / "out")
    check_report_inputs(out)
    (out / "analysis_config.json").write_text("[1, 2]\n")
    with pytest.raises(CorruptFileError, match=r"analysis_config.json is not a readable "
                                               r"analysis config .*found list"):
        check_report_inputs(out)
    (out / "analysis_config.json").write_text('{"seed": "zero"}\n')
    with pytest.raises(CorruptFileError,
                       match=r"analysis_config.json: seed='zero' is not of type int"):
        collect_facts(out, "structured_mid")
    (out / "analysis_config.json").unlink()
    run = out / "runs" / "identity-s0"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"layer": "identity", "seed": 0}\n')
    (run / "manifest.json").write_text('{"wall_seconds": 1.5, '
                                       '"written_at": "2026-12-06T00:00:00+00:00"}\n')
    (run / "metrics.json").write_text('{"updates": "many"}\n')
    with pytest.raises(CorruptFileError, match=r"metrics.json: updates='many' is not of type int"):
        check_report_inputs(out)
    (run / "metrics.json").write_text('{"updates": 3, "status": "ok"')
    with pytest.raises(CorruptFileError, match=r"metrics.json is not a readable run record"):
        run_records(out)
    (run / "metrics.json").write_text('{"updates": 3, "status": "ok"}\n')
    with pytest.raises(CorruptFileError, match=r"metrics.json lacks 'episodes'; it is not a "
                                               r"complete run record"):
        run_records(out)                          # a missing number is refused, not 0
    (run / "metrics.json").write_text('{"updates": 3, "status": "ok", "episodes": 5, '
                                      '"env_steps": 40}\n')
    assert [r["updates"] for r in run_records(out)] == [3]
