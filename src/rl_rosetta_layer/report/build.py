"""What ``rosetta report`` writes beside the seed's table and the statistics files."""

from __future__ import annotations

from pathlib import Path

from ..analysis.run import SELECTED_FILE
from .facts import write_facts
from .figures import write_figures
from .profiles import write_profiles
from .tables import write_analysis_table


def check_report_inputs(out_dir: Path) -> None:
    """Read and check every file ``rosetta report`` reads, so that a missing or corrupt
    one (a CSV cut short, malformed JSON) raises MissingInputError or CorruptFileError
    before anything is written. Optional inputs are checked only when present."""
    from ..analysis.run import read_selected
    from .export import read_summary
    from .facts import read_analysis_config, run_records
    from .statistics import final_returns, load_scores, run_health, run_outcomes
    from .tables import read_analysis_rows

    out_dir = Path(out_dir)
    read_summary(out_dir)
    final_returns(out_dir)
    run_outcomes(out_dir)
    run_health(out_dir)
    if (out_dir / "layer_analysis.csv").is_file():
        read_analysis_rows(out_dir)
        load_scores(out_dir)
    read_analysis_config(out_dir)
    run_records(out_dir)
    if (out_dir / SELECTED_FILE).is_file():
        read_selected(out_dir)


def write_report_extras(out_dir: Path, selected: str | None) -> tuple[list[Path], list[str]]:
    """Write the analysis table, the figures and ``report_facts.json`` from the outputs
    present. Returns the files written and a line for each thing left out (what is
    missing and which command writes it)."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    missing: list[str] = []
    if (out_dir / "layer_analysis.csv").is_file():
        written.append(write_analysis_table(out_dir, selected))
    else:
        missing.append(f"the analysis table needs {out_dir / 'layer_analysis.csv'}: run "
                       f"`rosetta analyze --output-dir {out_dir}`")
    for write in (write_figures, write_profiles):
        files, not_drawn = write(out_dir, selected)
        written += files
        missing += not_drawn
    written.append(write_facts(out_dir, selected))
    return written, missing
