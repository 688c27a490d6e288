"""``paper/paper.md`` from ``paper/dummy_paper.md`` and the outputs: the entry point.

The work is split by job; this module ties it together and keeps the names other code
imports from here:

* :mod:`.inputs`: :func:`load_outputs` reads and cross-checks everything the paper
  needs, raising :class:`~rl_rosetta_layer.errors.MissingInputError` (naming the command
  that writes the missing file) rather than let the paper invent a number;
* :mod:`.context`: :func:`paper_context` turns the outputs into the text of every
  placeholder, with words from :mod:`.findings` (claims chosen by the rules in
  :mod:`.claims`), :mod:`.methods` and :mod:`.environment`, and numbers printed by
  :mod:`.formatting`;
* :mod:`.render`: :func:`render` fills the template;
* :mod:`.check`: :func:`check_paper` lists the problems of a paper: a placeholder
  left, a number that appears in no output file, a citation key missing from the
  bibliography;
* :mod:`.staging`: :func:`restored_on_error` puts the report back as it was when the
  paper is refused after ``rosetta paper`` regenerated it;
* here: :func:`build_paper` renders, :func:`write_paper` renders, checks and writes.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import RosettaError
from ...io import atomic_write_text
from .bib import load_bib
from .check import (
    BULK_FILES,
    NUMBER,
    _numbers_in,  # noqa: F401  (tests import it from here)
    check_paper,
    output_numbers,
)
from .context import HYPOTHESIS, paper_context
from .formatting import ci, code, f3, figure, fp, names_list, pct, sg
from .inputs import (
    BIB_NAME,
    TEMPLATE_NAME,
    Outputs,
    check_runs,
    find_paper_file,
    load_outputs,
    paper_sources,
)
from .methods import LAYER_DESCRIPTIONS
from .render import PLACEHOLDER, references, render
from .staging import restored_on_error

DEFAULT_PAPER = Path("paper") / "paper.md"

__all__ = ["BIB_NAME", "BULK_FILES", "DEFAULT_PAPER", "HYPOTHESIS", "LAYER_DESCRIPTIONS",
           "NUMBER", "PLACEHOLDER", "TEMPLATE_NAME", "Outputs", "PaperCheckError",
           "build_paper", "check_paper", "check_runs", "ci", "code", "f3", "figure",
           "find_paper_file", "fp", "load_outputs", "names_list", "output_numbers",
           "paper_context", "paper_sources", "pct", "references", "render",
           "restored_on_error", "sg", "write_paper"]


class PaperCheckError(RosettaError, ValueError):
    """The generated paper failed :func:`check_paper`."""


def build_paper(out_dir: Path, paper_path: Path = DEFAULT_PAPER,
                template_path: Path | None = None, bib_path: Path | None = None) -> str:
    """The paper's text from the outputs in ``out_dir`` (not checked, not written)."""
    template_path, bib_path = paper_sources(template_path, bib_path)
    outputs = load_outputs(out_dir)
    bib = load_bib(bib_path)
    context = paper_context(outputs, Path(paper_path))
    return render(template_path.read_text(encoding="utf-8"), context, bib, str(template_path))


def write_paper(out_dir: Path, paper_path: Path = DEFAULT_PAPER,
                template_path: Path | None = None, bib_path: Path | None = None) -> Path:
    """Build the paper, check it with :func:`check_paper` and write it atomically.

    Raises PaperCheckError (one line, every problem listed) instead of writing a paper
    that fails the check; nothing is written then.
    """
    template_path, bib_path = paper_sources(template_path, bib_path)
    paper_path = Path(paper_path)
    text = build_paper(out_dir, paper_path, template_path, bib_path)
    problems = check_paper(text, out_dir, bib_path, paper_path=paper_path)
    if problems:
        raise PaperCheckError(f"paper check failed, {paper_path} not written: "
                              f"{len(problems)} problem(s): {'; '.join(problems)}")
    return atomic_write_text(paper_path, text)
