"""rliable's performance profile and optimality gap in the report: the summary table's
column and the profile's CSV hold what the final returns give by hand, and the figure is
drawn on the ax it gets."""

import csv

import numpy as np
import pytest

from rl_rosetta_layer.cli import main
from rl_rosetta_layer.envs.grid import GridConfig
from rl_rosetta_layer.report import figures as F
from rl_rosetta_layer.report import profiles as P
from rl_rosetta_layer.report.statistics import final_returns

LAYERS = "structured_mid,identity,random_wide"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("profiles") / "out"
    train = ["train", "--layers", LAYERS, "--episodes", "6", "--seeds", "0,1,2", "--workers",
             "1", "--set", "learning_starts=10", "--grid-size", "4", "--quiet"]
    assert main([*train, "--output-dir", str(out)]) == 0
    assert main(["report", "--output-dir", str(out)]) == 0
    return out


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_summary_table_gives_the_optimality_gap_by_hand(out):
    gamma = GridConfig(size=4).describe()["optimal_return_mean"]
    finals = final_returns(out)
    table = (out / "experiment_summary_table.md").read_text().splitlines()
    assert table[0].endswith("| Seeds | Optimality gap |")
    for layer, seeds in finals.items():
        by_hand = gamma - np.mean([min(v, gamma) for v in seeds.values()])
        line = next(t for t in table if t.startswith(f"| {layer} |"))
        assert line.endswith(f"| {by_hand:.3f} |"), (layer, line)
    assert f"Optimality gap (rliable): the achievable return, {gamma:.3f} (the grid's mean " \
           f"shortest-path return)" in "\n".join(table)


def test_the_profile_csv_counts_the_runs_above_each_threshold(out):
    finals = final_returns(out)
    got = rows(out / "performance_profile.csv")
    assert len(got) == P.N_TAUS * len(finals)
    for r in got[::7]:
        values = list(finals[r["layer"]].values())
        tau = float(r["tau"])
        assert float(r["fraction_above"]) == pytest.approx(
            sum(v > tau for v in values) / len(values), abs=1e-6)
        assert float(r["ci_low"]) <= float(r["fraction_above"]) + 1e-6 <= \
            float(r["ci_high"]) + 2e-6
    assert (out / "figures" / "performance_profile.png").read_bytes()[:4] == b"\x89PNG"


def test_the_profile_plot_returns_its_ax(out):
    curves = P.profiles(out)
    given = F.new_axes()[1][0, 0]
    assert F.plot_performance_profile(curves, ax=given, selected="structured_mid",
                                      achievable=P.Achievable(0.5, "test")) is given
    labels = given.get_legend_handles_labels()[1]
    assert "structured_mid (selected)" in labels and "achievable return 0.500" in labels


def test_without_a_known_optimum_the_gap_is_left_out(tmp_path):
    (tmp_path / "study" / "catch").mkdir(parents=True)
    assert P.achievable_return(tmp_path / "study" / "catch") is None
    (tmp_path / "study" / "tasks.csv").write_text(
        "env,policy,episodes,mean_return\ncatch,random,10,-0.5\ncatch,reference,10,1.0\n")
    assert P.achievable_return(tmp_path / "study" / "catch") == P.Achievable(
        1.0, "the reference policy's mean return (tasks.csv)")
