"""What ``rosetta report`` writes beside the seed's table and the statistics files."""

from __future__ import annotations

from pathlib import Path

from .facts import write_facts
from .figures import write_figures
from .tables import write_analysis_table


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
        missing.append("the analysis table needs outputs/layer_analysis.csv: run "
                       "`rosetta analyze`")
    figures, not_drawn = write_figures(out_dir, selected)
    written += figures
    missing += not_drawn
    written.append(write_facts(out_dir, selected))
    return written, missing
