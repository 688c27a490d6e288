"""The check of a generated paper: no placeholder left, every number found in an output
file, every citation in the bibliography, every figure on disk.

Numbers in the paper are printed at a fixed precision from the output files (or from
``report_facts.json``, which ``rosetta report`` derives from them), so :func:`check_paper`
can find every one of them again: :func:`output_numbers` collects the numbers of the
output files, and a number of the paper's prose must match one of them at the precision
it is printed.
"""

from __future__ import annotations

import json
import math
import os
import re
from bisect import bisect_left
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ...errors import CorruptFileError, MissingInputError
from ..facts import EPISODE_ARRAYS
from .bib import load_bib
from .render import COMMENT, blank_keeping_lines

#: Words that mark unfinished text wherever they appear (outside code).
_MARKERS = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|\?\?\?")
_PLACEHOLDER_WORDS = ("fill", "cite", "x%", "xx", "hypothesis", "baseline layer", "quantify",
                      "todo", "tbd", "insert")
#: A number as printed: optional sign, digits, decimals, exponent, percent. Not part of a
#: word (``random_bank_0``, ``R2``) and not a piece of a version (``3.11.7``).
NUMBER = re.compile(r"(?<![\w.])([-+−]?)(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\.?\d)(\s?%)?")
#: A CI as the tables print it; '—' is their mark of a value that is not computable.
_INTERVAL = re.compile(r"^\s*(?:[-+−]?\d+(?:\.\d+)?|—)\s*,\s*(?:[-+−]?\d+(?:\.\d+)?|—)\s*$")
#: Output files with thousands of per-episode or per-replicate numbers: any number would
#: match one of them, so the check does not accept numbers from them.
BULK_FILES = ("experiment_returns.csv", "layer_analysis_bootstrap.csv")


# ----------------------------------------------------------------------------- numbers
def _walk_json(obj, out: list[float]) -> None:
    """Append to ``out`` every finite number in the JSON value ``obj`` (numbers in strings
    included), leaving out the per-episode arrays (:data:`.facts.EPISODE_ARRAYS`)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in EPISODE_ARRAYS:
                _walk_json(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _walk_json(v, out)
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, (int, float)):
        if math.isfinite(obj):
            out.append(float(obj))
    elif isinstance(obj, str):
        out.extend(v for v, _, _, _ in _numbers_in(obj))


def _numbers_in(text: str):
    """(value, quantum, is_integer_literal, is_percent) of each number in ``text``."""
    for m in NUMBER.finditer(text):
        sign, digits, percent = m.group(1), m.group(2), bool(m.group(3))
        try:
            d = Decimal(digits)
        except InvalidOperation:
            continue
        value = float(d) * (-1 if sign in ("-", "−") else 1)
        if not math.isfinite(value):
            continue        # e.g. "65577673e629" inside a commit hash: not a number in prose
        exponent = d.as_tuple().exponent
        integer = "." not in digits and "e" not in digits.lower()
        yield value, 10.0 ** exponent / 2 if not integer else 0.0, integer, percent


def _iter_numbers(text: str):
    """(printed token, value, quantum, is_integer_literal, is_percent) of each number."""
    for m in NUMBER.finditer(text):
        for item in _numbers_in(m.group(0)):
            yield m.group(0).strip(), *item


def _json(path: Path):
    """The JSON value in ``path``; CorruptFileError naming it when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CorruptFileError(f"{path} is not valid JSON: {exc}") from exc


def output_numbers(out_dir: Path) -> list[float]:
    """Sorted numbers found in the output files (CSV, Markdown and JSON, run records
    without their per-episode arrays; the per-episode and per-replicate CSVs are left out,
    see :data:`BULK_FILES`)."""
    out_dir = Path(out_dir)
    values: list[float] = []
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else []:
        if path.name in BULK_FILES or not path.is_file():
            continue
        if path.suffix in (".csv", ".md", ".txt"):
            values.extend(v for v, _, _, _ in _numbers_in(path.read_text(encoding="utf-8")))
        elif path.suffix == ".json":
            _walk_json(_json(path), values)
    for path in sorted((out_dir / "runs").rglob("*.json")):   # run records, both layouts
        _walk_json(_json(path), values)
    return sorted(set(values))


def _has(values: list[float], x: float, quantum: float) -> bool:
    """Whether sorted ``values`` hold ``x`` to within ``quantum`` (half the last printed
    digit; 0 for an integer) and a relative 1e-9."""
    tol = quantum + 1e-9 * max(1.0, abs(x))
    i = bisect_left(values, x - tol)
    return i < len(values) and values[i] <= x + tol


def _prose(text: str) -> str:
    """The paper without what is not prose: comments, code, link targets, anchors,
    citations, table/figure numbers and the reference list."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"^(#+)\s*References\s*$.*?(?=^#{1,2}\s|\Z)", " ", text,
                  flags=re.M | re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\[[^\[\]]*\]\(#ref-[^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "] ", text)
    text = re.sub(r"<[^>\n]*>", " ", text)
    text = re.sub(r"\b(Table|Figure|Fig\.|Section)\s+\d+", " ", text)
    return text


# ----------------------------------------------------------------------------- check
def _placeholder_problems(paper_text: str) -> list[str]:
    """Placeholders, bracketed text that is no link, interval or citation, and markers
    (TODO ...) left outside comments and code, each with its line in the paper."""
    problems: list[str] = []
    code_free = re.sub(r"```.*?```", blank_keeping_lines,
                       COMMENT.sub(blank_keeping_lines, paper_text), flags=re.S)
    code_free = re.sub(r"`[^`\n]*`", " ", code_free)     # line numbers stay those of the paper
    for m in re.finditer(r"\[([^\[\]\n]*)\]", code_free):
        inner = m.group(1).strip()
        low = inner.lower()
        line = code_free.count("\n", 0, m.start()) + 1
        follows_link = code_free[m.end():m.end() + 1] == "("
        if any(low == w or low.startswith(w + ":") or low.startswith(w + " ")
               for w in _PLACEHOLDER_WORDS) or low.startswith("cite"):
            problems.append(f"placeholder {m.group(0)!r} remains (line {line})")
        elif not follows_link and not _INTERVAL.match(inner) and not inner.startswith("@"):
            problems.append(f"bracketed text {m.group(0)!r} looks like a placeholder "
                            f"(line {line})")
    for m in _MARKERS.finditer(code_free):
        line = code_free.count("\n", 0, m.start()) + 1
        problems.append(f"marker {m.group(0)!r} remains (line {line})")
    return problems


def _reference_list_problems(paper_text: str) -> list[str]:
    """Lines of the References section that are no bibliography entry."""
    problems: list[str] = []
    refs = re.search(r"^#+\s*References\s*$(.*?)(?=^#{1,2}\s|\Z)", paper_text,
                     flags=re.M | re.S)
    for line in (refs.group(1).splitlines() if refs else []):
        if line.strip() and not re.match(r'- <a id="ref-[^"]+"></a>', line):
            problems.append(f"the references hold a line that is no bibliography entry: "
                            f"{line.strip()[:60]!r}")
    return problems


def _number_problems(paper_text: str, out_dir: Path) -> list[str]:
    """Numbers of the prose found in no output file in ``out_dir`` (each token once)."""
    problems: list[str] = []
    values = output_numbers(out_dir)
    prose = _prose(paper_text)
    seen = set()
    for token, value, quantum, _integer, percent in _iter_numbers(prose):
        candidates = [(value, quantum)]
        if percent:
            candidates.append((value / 100, quantum / 100))
        if any(_has(values, x, q) for x, q in candidates):
            continue
        if token not in seen:
            seen.add(token)
            problems.append(f"number {token} appears in no output file in {out_dir}")
    return problems


def _citation_problems(paper_text: str, bib: dict, bib_path: Path) -> list[str]:
    """Cited keys missing from the bibliography or the reference list, and references
    that are not in the bibliography."""
    problems: list[str] = []
    cited = list(dict.fromkeys(re.findall(r"\]\(#ref-([^)\s]+)\)", paper_text)
                               + re.findall(r"\[@([\w:.-]+)", paper_text)))
    anchors = set(re.findall(r'<a id="ref-([^"]+)">', paper_text))
    for key in cited:
        if key not in bib:
            problems.append(f"cited key {key!r} is not in the bibliography {bib_path}")
        elif key not in anchors:
            problems.append(f"cited key {key!r} has no entry in the paper's references")
    for key in sorted(anchors - set(bib)):
        problems.append(f"reference {key!r} is not in the bibliography {bib_path}")
    return problems


def _figure_problems(paper_text: str, paper_path: Path) -> list[str]:
    """Image links that point to no file, relative to the paper at ``paper_path``."""
    base = Path(paper_path).resolve().parent
    return [f"figure {target} does not exist (relative to {base})"
            for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", paper_text)
            if not Path(os.path.normpath(base / target)).is_file()]


def check_paper(paper_text: str, out_dir: Path, bib_path: Path,
                paper_path: Path | None = None) -> list[str]:
    """Problems of a generated paper (an empty list when there are none):

    * a placeholder left (``[fill: ...]``, ``[CITE ...]``, ``[X%]``, any other bracketed
      text that is not a link or a numeric interval, TODO/TBD/FIXME/XXX);
    * a number that appears in no output file at the precision the paper prints it
      (integers must match exactly; ``N%`` may match N or N/100);
    * a cited key (``](#ref-KEY)`` or ``[@KEY]``) missing from the bibliography at
      ``bib_path`` or from the paper's reference list;
    * with ``paper_path``: an image link that points to no file.
    """
    problems = (_placeholder_problems(paper_text) + _reference_list_problems(paper_text)
                + _number_problems(paper_text, out_dir))
    bib_path = Path(bib_path)
    try:
        bib = load_bib(bib_path)
    except (MissingInputError, CorruptFileError) as exc:
        return problems + [str(exc)]
    problems += _citation_problems(paper_text, bib, bib_path)
    if paper_path is not None:
        problems += _figure_problems(paper_text, paper_path)
    return problems
