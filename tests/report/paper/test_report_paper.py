"""The paper generated from a small real output folder, and the check that guards it."""

import json
import re
import shutil
from pathlib import Path

import pytest

from rl_rosetta_layer.cli import main
from rl_rosetta_layer.errors import CorruptFileError, MissingInputError, RosettaError
from rl_rosetta_layer.report import paper as P
from rl_rosetta_layer.report.claims import CONSISTENT
from rl_rosetta_layer.report.figures import FIGURE_FILES
from rl_rosetta_layer.report.paper.bib import load_bib, parse_bib

ROOT = Path(__file__).resolve().parents[3]
BIB = ROOT / "paper" / "references.bib"
TEMPLATE = ROOT / "paper" / "dummy_paper.md"
SHARED_REFERENCES = ROOT.parent / "shared" / "references.md"


def run(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:       # argparse errors exit inside the parser
        return exc.code


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """analyze, train (tiny budgets) and `rosetta paper` (report included) into one folder."""
    root = tmp_path_factory.mktemp("paper_run")
    out, paper = root / "outputs", root / "paper" / "paper.md"
    steps = [
        ["analyze", "--dataset-steps", "400", "--bootstrap", "20", "--quiet"],
        ["train", "--episodes", "8", "--seeds", "0,1,2", "--layers", "candidates",
         "--workers", "1", "--quiet", "--set", "learning_starts=30"],
        ["paper", "--paper", paper],
    ]
    codes = [run([*argv, "--output-dir", out]) for argv in steps]
    return {"out": out, "paper": paper, "codes": codes}


@pytest.fixture
def paper_text(built):
    assert built["codes"] == [0, 0, 0]
    return built["paper"].read_text(encoding="utf-8")


def copy_outputs(built, tmp_path):
    dest = tmp_path / "outputs"
    shutil.copytree(built["out"], dest)
    return dest


# ------------------------------------------------------------------- the generated paper
def test_report_writes_figures_and_the_analysis_table(built):
    assert built["codes"][:2] == [0, 0]
    for name in FIGURE_FILES.values():
        path = built["out"] / "figures" / name
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 20_000, name
    table = (built["out"] / "layer_analysis_table.md").read_text().splitlines()
    assert table[0].startswith("| Layer | reward R² (95% CI) |")
    assert len(table) == 2 + 4 + 2                   # header, 4 layers, blank, the CI note
    assert table[-1].startswith("CIs are 95% basic bootstrap intervals")
    assert re.search(r"\| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \|", table[2])


def test_paper_has_no_placeholder_and_passes_the_check(built, paper_text):
    assert P.check_paper(paper_text, built["out"], BIB, paper_path=built["paper"]) == []
    assert not P.PLACEHOLDER.search(paper_text)
    for section in ("Abstract", "Introduction", "Related Work", "Method", "Experimental Setup",
                    "Results", "Discussion and Limitations", "Conclusion", "References"):
        assert f"## {section}\n" in paper_text, section


def test_paper_reports_the_outputs(built, paper_text):
    summary = (built["out"] / "experiment_summary_table.md").read_text().strip()
    assert summary in paper_text                      # the seed's table, copied
    assert (built["out"] / "layer_analysis_table.md").read_text().strip() in paper_text
    selected = (built["out"] / "selected_layer.txt").read_text().strip()
    assert f"The selected layer, `{selected}`," in paper_text
    facts = json.loads((built["out"] / "report_facts.json").read_text())
    assert f"Seeds 0, 1, 2 for every layer (3 per layer, {facts['training']['n_runs']} runs" \
        in paper_text
    assert "`numpy " in paper_text               # the versions the runs recorded
    hosts = facts["training"]["hosts"]
    assert hosts and all(f"`{h}`" in paper_text for h in hosts)
    assert "The run records name the host" in paper_text


def test_paper_says_what_three_seeds_cannot_show(paper_text):
    # with 3 seeds no paired test reaches p < 0.05: the paper never claims significance
    assert "With 3 seeds no paired test can reach p ≤ 0.05" in paper_text
    claim = next(line for line in paper_text.splitlines() if line.startswith("Of the 3 comp"))
    assert "significantly" not in claim
    assert "*not established*" in claim or f"*{CONSISTENT}*" in claim
    # 4 layers: no rank correlation can reach p <= 0.05 either
    assert "With 4 layers no rank correlation can reach p ≤ 0.05" in paper_text


def test_figures_are_linked_relative_to_the_paper(built, paper_text):
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", paper_text)
    assert sorted(Path(link).name for link in links) == sorted(FIGURE_FILES.values())
    for link in links:
        assert (built["paper"].parent / link).resolve().is_file()


def test_related_work_cites_only_the_bibliography(paper_text):
    bib = load_bib(BIB)
    cited = set(re.findall(r"\]\(#ref-([^)]+)\)", paper_text))
    assert len(cited) >= 10 and cited <= set(bib)
    references = paper_text.split("## References")[1]
    assert set(re.findall(r'<a id="ref-([^"]+)">', references)) == cited


def test_regenerating_gives_the_same_paper(built, paper_text, tmp_path):
    again = tmp_path / "paper.md"
    assert run(["paper", "--skip-report", "--output-dir", built["out"], "--paper", again]) == 0
    body = again.read_text(encoding="utf-8")
    rel = re.compile(r"\]\([^)]*figures/")        # figure links are relative to each paper
    assert rel.sub("](figures/", body) == rel.sub("](figures/", paper_text)


def test_a_paper_with_a_diverged_run_says_so_and_passes_the_check(built, tmp_path):
    import numpy as np

    from rl_rosetta_layer.experiments.outputs import load_run, write_experiment_outputs

    out = copy_outputs(built, tmp_path)
    results = [load_run(p) for p in sorted((out / "runs").iterdir()) if p.is_dir()]
    bad = next(r for r in results if r.layer == "bottleneck" and r.seed == 2)
    bad.diverged, bad.error = True, "non-finite loss"
    write_experiment_outputs(out, results, np.random.default_rng(0))
    paper = tmp_path / "paper.md"
    assert run(["paper", "--output-dir", out, "--paper", paper]) == 0
    text = paper.read_text(encoding="utf-8")
    assert "1 run(s) diverged or failed and are left out of every number (bottleneck: " \
        "diverged 1 of 3)." in text
    assert "paired over the same 2 seeds (left out: seed 2: bottleneck diverged)" in text
    assert "| bottleneck |" in text and "diverged (1 of 3 runs)" in text
    assert P.check_paper(text, out, BIB, paper_path=paper) == []


# ------------------------------------------------------------------- the check
def test_check_catches_a_left_placeholder(built, paper_text):
    text = paper_text.replace("## Conclusion\n", "## Conclusion\n\nWe beat [baseline layer] "
                                                 "by [X%].\n", 1)
    problems = P.check_paper(text, built["out"], BIB)
    assert any("'[baseline layer]'" in p for p in problems), problems
    assert any("'[X%]'" in p for p in problems), problems


def test_check_catches_an_invented_number(built, paper_text):
    assert 987.654 not in P.output_numbers(built["out"])
    text = paper_text.replace("## Conclusion\n", "## Conclusion\n\nThe agent reached "
                                                 "987.654 on average.\n", 1)
    problems = P.check_paper(text, built["out"], BIB)
    assert problems == [f"number 987.654 appears in no output file in {built['out']}"]


def test_check_reads_text_after_the_references(built, paper_text):
    problems = P.check_paper(paper_text + "\nWe also ran 987654 steps.\n", built["out"], BIB)
    assert len(problems) == 1 and "no bibliography entry" in problems[0]


def test_check_catches_a_missing_citation_key(built, paper_text):
    text = paper_text.replace("(#ref-holm1979)", "(#ref-nobody2099)", 1)
    problems = P.check_paper(text, built["out"], BIB)
    assert problems == [f"cited key 'nobody2099' is not in the bibliography {BIB}"]


def test_check_matches_numbers_at_their_printed_precision(tmp_path):
    (tmp_path / "summary.csv").write_text("layer,value,share\nstructured_mid,0.123456,0.25\n")
    (tmp_path / "layer_analysis_bootstrap.csv").write_text("replicate\n0.777\n")  # bulk: ignored
    bib = tmp_path / "refs.bib"
    bib.write_text("@misc{k, author = {A}, title = {T}, year = {2020}}\n")
    ok = "Value 0.123, 0.12 and 0.1235; share 25% or 0.25; section `random_bank_7` Table 9.\n"
    assert P.check_paper(ok, tmp_path, bib) == []
    bad = P.check_paper("Value 0.124 and 0.777 and 2 and -0.123.\n", tmp_path, bib)
    assert [p.split()[1] for p in bad] == ["0.124", "0.777", "2", "-0.123"]


def test_a_paper_that_fails_the_check_is_not_written(built, tmp_path):
    template = tmp_path / "template.md"
    template.write_text(TEMPLATE.read_text().replace(
        "## Conclusion\n", "## Conclusion\n\nWe also ran 987654 extra steps.\n"))
    paper = tmp_path / "paper.md"
    with pytest.raises(P.PaperCheckError, match="number 987654 appears in no output file"):
        P.write_paper(built["out"], paper, template, BIB)
    assert not paper.exists()


def test_an_unknown_template_placeholder_is_an_error(built, tmp_path):
    template = tmp_path / "template.md"
    template.write_text("# T\n\n[fill: no_such_value]\n")
    with pytest.raises(CorruptFileError, match=r"line 3: placeholder '\[fill: no_such_value\]'"):
        P.build_paper(built["out"], tmp_path / "paper.md", template, BIB)


# ------------------------------------------------------------------- missing outputs
def test_missing_experiments_give_a_typed_one_line_error(built, tmp_path, capsys):
    out = tmp_path / "outputs"
    out.mkdir()
    for name in ("layer_analysis.csv", "layer_analysis_bootstrap.csv", "selected_layer.txt",
                 "analysis_config.json"):
        shutil.copy(built["out"] / name, out / name)
    with pytest.raises(MissingInputError, match="experiment_summary.csv.*rosetta train"):
        P.write_paper(out, tmp_path / "paper.md", TEMPLATE, BIB)
    capsys.readouterr()
    rc = run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("rosetta: error: ")
    assert "experiment_summary.csv" in err and "rosetta train" in err
    assert not (tmp_path / "paper.md").exists()


def test_a_layer_without_runs_gives_a_typed_error(built, tmp_path, capsys):
    out = copy_outputs(built, tmp_path)
    for name in ("experiment_summary.csv", "experiment_returns.csv"):
        lines = (out / name).read_text().splitlines(keepends=True)
        (out / name).write_text("".join(x for x in lines if not x.startswith("random_wide,")))
    rc = run(["paper", "--output-dir", out, "--paper", tmp_path / "paper.md"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "layer(s) random_wide have no finished runs" in err
    layers = re.search(r"rosetta train --layers (\S+)`", err).group(1).split(",")
    assert sorted(layers) == ["bottleneck", "random_narrow", "random_wide", "structured_mid"]
    assert not (tmp_path / "paper.md").exists()


def test_a_stale_report_is_refused(built, tmp_path):
    out = copy_outputs(built, tmp_path)
    (out / "report_facts.json").unlink()
    with pytest.raises(MissingInputError, match="report_facts.json.*rosetta report"):
        P.load_outputs(out)
    assert issubclass(P.PaperCheckError, RosettaError)


# ------------------------------------------------------------------- bibliography
def test_bibliography_parses_and_formats():
    bib = load_bib(BIB)
    assert bib["parisi2022unsurprising"].cite_text() == "Parisi et al., 2022"
    assert bib["roy2007erank"].cite_text() == "Roy and Vetterli, 2007"
    assert bib["vanhasselt2016double"].cite_text() == "van Hasselt et al., 2016"
    entry = parse_bib('@misc{x, author = "Doe and Roe", title = {On {B}races}, year = 2001}')
    assert entry["x"].reference_text() == "Doe and Roe (2001). On Braces."


@pytest.mark.skipif(not SHARED_REFERENCES.is_file(), reason="needs ../shared/references.md")
def test_bibliography_keeps_only_checked_ids():
    text = SHARED_REFERENCES.read_text(encoding="utf-8")
    for key, entry in load_bib(BIB).items():
        eprint = entry.fields.get("eprint")
        if eprint:
            where = text.index(f"arXiv:{eprint}")
            assert "(id unchecked)" not in text[where:where + 40], key
        assert entry.fields["title"].split(":")[0] in text.replace("\n  ", " "), key


def test_a_hex_word_that_reads_as_a_huge_number_is_not_a_number():
    # a commit hash in a run manifest ("65577673e629b8...") once overflowed 10.0 ** 629
    from rl_rosetta_layer.report.paper import _numbers_in

    assert [v for v, *_ in _numbers_in("commit 65577673e629b854, lr 3e-3, 0.5")] == [0.003, 0.5]


@pytest.mark.parametrize("settings, says, never", [
    ({}, ["low-rank residual map x + tanh(xU)V of rank 16", "one tanh hidden layer of 64 units",
          "5 Q-values"], ["LayerNorm", "no input adapter"]),
    ({"adapter": "none", "head_norm": "layer"},
     ["There is no input adapter: the frozen layer reads the observation itself",
      "one tanh hidden layer of 64 units, normalised by a LayerNorm without affine"],
     ["near-identity", "low-rank"]),
    ({"adapter": "dense", "head": "mlp", "head_activation": "relu", "head_hidden": 32},
     ["dense near-identity map tanh(xA + c)", "one relu hidden layer of 32 units followed"],
     ["tanh hidden", "LayerNorm"]),
    ({"head": "linear"}, ["the output adapter is a linear map to the Q-values"], ["hidden"]),
])
def test_the_adapters_sentence_describes_the_runs_own_settings(settings, says, never):
    from rl_rosetta_layer.agent import DQNConfig
    from rl_rosetta_layer.report.paper.methods import adapters_sentence

    text = adapters_sentence(DQNConfig(**settings).to_dict(), {"n_actions": 5})
    for phrase in says:
        assert phrase in text
    for phrase in never:
        assert phrase not in text
