"""Markdown tables from rows of dicts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def cell(value: object, digits: int = 3, *, verbatim: bool = False) -> str:
    """Text of one cell: numbers rounded, NaN as an em dash, strings as they are (a
    string that reads as a number is rounded too, unless ``verbatim``)."""
    if isinstance(value, str) and verbatim:
        return value.replace("|", "\\|")
    if isinstance(value, str):
        try:
            value = float(value) if value.strip() not in ("",) else value
        except ValueError:
            return value.replace("|", "\\|")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: Iterable[Mapping[str, object]], columns: Sequence[str],
                   headers: Sequence[str] | None = None, digits: int = 3, *,
                   verbatim: bool = False) -> str:
    """A GitHub-flavoured Markdown table of ``columns`` of ``rows``; ``verbatim`` keeps
    string cells as they are (numbers formatted by the caller keep their digits).

    >>> print(markdown_table([{"a": 1, "b": 0.5}], ["a", "b"]), end="")
    | a | b |
    |---|---|
    | 1 | 0.500 |
    """
    headers = list(headers or columns)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(row[c], digits, verbatim=verbatim)
                                       for c in columns) + " |")
    return "\n".join(lines) + "\n"
