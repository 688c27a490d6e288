"""What the paper reads: the template, the bibliography and the output folder, cross-checked.

:func:`load_outputs` raises :class:`~rl_rosetta_layer.errors.MissingInputError` (naming
the command that writes the missing file) rather than let the paper invent a number, and
:class:`~rl_rosetta_layer.errors.CorruptFileError` when the files disagree (a stale report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...analysis.score import DEFAULT_SELECTION_METRIC, METRICS
from ...errors import CorruptFileError, MissingInputError
from ...io import read_csv
from ..facts import FACTS_FILE, json_field, read_json_object, run_paths
from ..figures import FIGURE_FILES, FIGURES_DIR
from ..tables import ANALYSIS_TABLE
from .formatting import to_float

TEMPLATE_NAME = "dummy_paper.md"
BIB_NAME = "references.bib"
#: Markdown tables the paper copies: key -> file written by ``rosetta report``.
TABLE_FILES = {"analysis": ANALYSIS_TABLE, "summary": "experiment_summary_table.md",
               "comparisons": "comparisons_table.md", "validity": "score_validity_table.md"}


# ----------------------------------------------------------------------------- sources
def find_paper_file(name: str) -> Path:
    """``paper/<name>`` of the source tree this package runs from (an editable install),
    else ``./paper/<name>``."""
    here = Path(__file__).resolve()
    source = next((p for p in here.parents if (p / "pyproject.toml").is_file()), None)
    candidates = ([source / "paper" / name] if source else []) + [Path.cwd() / "paper" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise MissingInputError(f"cannot find paper/{name}; looked in "
                            f"{', '.join(str(p) for p in candidates)} (pass its path)")


def paper_sources(template_path: Path | None = None,
                  bib_path: Path | None = None) -> tuple[Path, Path]:
    """(template, bibliography): the given paths, or the defaults of :func:`find_paper_file`;
    MissingInputError when one is not a file (checked before anything is written)."""
    template_path = Path(template_path) if template_path else find_paper_file(TEMPLATE_NAME)
    bib_path = Path(bib_path) if bib_path else find_paper_file(BIB_NAME)
    for what, path in (("paper template", template_path), ("bibliography", bib_path)):
        if not path.is_file():
            raise MissingInputError(f"{what} {path} does not exist; give an existing file")
    return template_path, bib_path


# ----------------------------------------------------------------------------- outputs
@dataclass
class Outputs:
    """Everything the paper reads from an output folder: the CSV files as lists of rows
    (dicts of strings), ``report_facts.json`` as ``facts``, the Markdown tables by key
    (:data:`TABLE_FILES`) and the figure files by key."""

    out_dir: Path
    selected: str
    analysis: list[dict]
    summary: list[dict]
    comparisons: list[dict]
    validity: list[dict]
    facts: dict
    tables: dict[str, str]
    figures: dict[str, Path]
    select_by: str = DEFAULT_SELECTION_METRIC
    extra: dict = field(default_factory=dict)

    def row(self, layer: str) -> dict:
        """The row of ``layer`` in ``experiment_summary.csv``."""
        return next(r for r in self.summary if r["layer"] == layer)


def _need(path: Path, command: str) -> Path:
    """``path``; MissingInputError naming ``command`` (which writes it) when it is absent."""
    if not path.is_file():
        raise MissingInputError(f"the paper needs {path}: run `{command}` first")
    return path


def _trained_layers(out_dir: Path, analysis: list[dict], summary: list[dict],
                    selected: str) -> dict[str, dict]:
    """Summary rows of the layers with finished runs, by name; MissingInputError when the
    selected layer or any analysed layer has none."""
    trained = {r["layer"]: r for r in summary if to_float(r["n_seeds"]) > 0}
    no_runs = [r["layer"] for r in summary if r["layer"] not in trained]
    missing_layers = [r["layer"] for r in analysis if r["layer"] not in trained
                      and r["layer"] not in no_runs]
    if selected not in trained:
        raise MissingInputError(f"the selected layer {selected!r} has no finished runs in "
                                f"{out_dir / 'experiment_summary.csv'}: run `rosetta train "
                                f"--layers {selected}` (with the other layers' seeds)")
    if no_runs or missing_layers:
        names = no_runs + missing_layers
        every = list(dict.fromkeys([r["layer"] for r in analysis] + list(trained)))
        raise MissingInputError(
            f"layer(s) {', '.join(names)} have no finished runs in "
            f"{out_dir / 'experiment_summary.csv'} (analysed but not trained, or every run "
            f"diverged); the paper compares every analysed layer: run `rosetta train --layers "
            f"{','.join(every)}` with the same seeds and settings (the summary holds the layers "
            f"of the last `rosetta train` only)")
    return trained


def _read_facts(out_dir: Path) -> dict:
    """``report_facts.json`` with the sections the paper reads checked to be objects."""
    facts_path = _need(out_dir / FACTS_FILE, "rosetta report")
    facts = read_json_object(facts_path, "report facts file written by `rosetta report`")
    for key in ("analysis", "training", "env", "layers", "comparisons", "validity", "bank"):
        json_field(facts, key, dict, None, facts_path)
    return facts


def _check_fresh(out_dir: Path, selected: str, summary: list[dict], trained: dict,
                 facts: dict, comp: list[dict]) -> None:
    """CorruptFileError when the report files were written for other runs or another
    selected layer than the ones in ``out_dir`` now."""
    stale = []
    if facts.get("selected") != selected or any(r["selected"] != selected for r in comp):
        stale.append(f"the selected layer is {selected!r}")
    if {r["other"] for r in comp} != set(trained) - {selected}:
        stale.append("comparisons.csv does not cover the trained layers")
    if "training" not in facts or facts["training"].get("n_layers") != len(summary):
        stale.append(f"{FACTS_FILE} does not match experiment_summary.csv")
    if stale:
        raise CorruptFileError(f"the report in {out_dir} is out of date ({'; '.join(stale)}): "
                               f"run `rosetta report` (or `rosetta paper` without "
                               f"--skip-report)")


#: The study's table of controls, in the folder above its tasks' folders.
STUDY_CONTROLS = "study_controls.csv"


def study_controls(out_dir: Path) -> list[dict]:
    """The rows of ``study_controls.csv`` for the task whose folder ``out_dir`` is, when it
    is a task folder of ``rosetta study`` (the table is in the folder above, written by
    the study's report, and names the task as the folder does); [] otherwise."""
    out_dir = Path(out_dir).resolve()
    path = out_dir.parent / STUDY_CONTROLS
    if not path.is_file():
        return []
    rows = read_csv(path, ("env", "control", "layer", "passed"), hint="rosetta study")
    return [r for r in rows if r["env"] == out_dir.name]


#: Score validity (a section of the paper) needs RL runs of this many analysed layers.
MIN_VALIDITY_LAYERS = 3


def _enough_layers(out_dir: Path, analysis: list[dict]) -> None:
    """MissingInputError when fewer than :data:`MIN_VALIDITY_LAYERS` layers were analysed
    (every one is trained by now): no report can compute score validity then, so the line
    says what would (more layers, analysed and trained), not to run the report."""
    names = [r["layer"] for r in analysis]
    if len(names) >= MIN_VALIDITY_LAYERS:
        return
    extra = [n for n in ("identity", "random_wide", "structured_mid") if n not in names]
    more = ",".join(names + extra[:MIN_VALIDITY_LAYERS - len(names)])
    raise MissingInputError(
        f"the paper tests whether each analysis score predicts RL return, which needs RL "
        f"runs of >= {MIN_VALIDITY_LAYERS} analysed layers; {out_dir} has {len(names)} "
        f"({', '.join(names) or 'none'}): analyse and train more, e.g. `rosetta run "
        f"--layers {more} --replace-analysis --output-dir {out_dir}` with the same seeds "
        f"and budget")


def check_runs(out_dir: Path) -> tuple[list[dict], str, list[dict], dict[str, dict]]:
    """What the paper needs from ``rosetta analyze`` and ``rosetta train`` (checked before
    ``rosetta paper`` regenerates the report, so a paper refused for these changes no
    file): (analysis rows, selected layer, summary rows, trained layers by name).

    Raises MissingInputError naming the missing file or layer and what writes it."""
    from ...analysis.run import read_selected

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise MissingInputError(f"output folder {out_dir} does not exist; run `rosetta "
                                f"analyze`, `rosetta train` and `rosetta report` first")
    analysis = read_csv(_need(out_dir / "layer_analysis.csv", "rosetta analyze"),
                        ("layer",) + METRICS, hint="rosetta analyze")
    selected = read_selected(out_dir)
    summary = read_csv(_need(out_dir / "experiment_summary.csv", "rosetta train"),
                       ("layer", "mean_last_50", "std_last_50", "mean_auc", "n_seeds",
                        "success_last_50", "iqm", "iqm_ci_low", "iqm_ci_high"),
                       hint="rosetta train")
    _need(out_dir / "experiment_returns.csv", "rosetta train")
    if not run_paths(out_dir):
        raise MissingInputError(f"the paper needs the run records in {out_dir / 'runs'}: run "
                                f"`rosetta train` first")
    trained = _trained_layers(out_dir, analysis, summary, selected)
    _enough_layers(out_dir, analysis)
    return analysis, selected, summary, trained


def load_outputs(out_dir: Path) -> Outputs:
    """Read and cross-check the outputs the paper needs (:func:`check_runs`, then the
    report's files).

    Raises MissingInputError, naming the missing file or layer and the command that
    produces it, and CorruptFileError when files disagree (e.g. a stale report).
    """
    out_dir = Path(out_dir)
    analysis, selected, summary, trained = check_runs(out_dir)
    facts = _read_facts(out_dir)
    comp = read_csv(_need(out_dir / "comparisons.csv", "rosetta report"),
                    ("selected", "other", "mean_diff", "diff_ci_low", "diff_ci_high",
                     "p_sign_flip_holm", "p_wilcoxon_holm"), hint="rosetta report")
    valid = read_csv(_need(out_dir / "score_validity.csv", "rosetta report"),
                     ("score", "n_layers", "spearman", "spearman_p", "spearman_ci_low",
                      "spearman_ci_high"), hint="rosetta report")
    _check_fresh(out_dir, selected, summary, trained, facts, comp)
    tables = {key: _need(out_dir / name, "rosetta report").read_text(encoding="utf-8")
              for key, name in TABLE_FILES.items()}
    figures = {key: _need(out_dir / FIGURES_DIR / name, "rosetta report")
               for key, name in FIGURE_FILES.items()}
    select_by = facts.get("analysis", {}).get("select_by") or DEFAULT_SELECTION_METRIC
    return Outputs(out_dir, selected, analysis, summary, comp, valid, facts, tables, figures,
                   select_by, {"controls": study_controls(out_dir)})
