"""How the paper prints numbers, names and figures.

Numbers are printed at a fixed precision (the precision of the tables), so that
:func:`.check.check_paper` can find every one of them again in an output file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path


def to_float(value) -> float:
    """``float(value)``, NaN when ``value`` is not a number (an empty CSV cell, None)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def f3(v) -> str:
    """Three decimals (the precision of the tables)."""
    return f"{to_float(v):.3f}"


def sg(v) -> str:
    """Three decimals with a sign."""
    return f"{to_float(v):+.3f}"


def fp(p) -> str:
    """A p-value with three significant digits."""
    return f"{to_float(p):.3g}"


def pct(v) -> str:
    """A share as a percentage with one decimal: 0.25 -> '25.0%'."""
    return f"{100 * to_float(v):.1f}%"


def ci(lo, hi) -> str:
    """'95% CI [lo, hi]' at three decimals, or 'CI not computable' when a bound is NaN."""
    lo, hi = to_float(lo), to_float(hi)
    if math.isnan(lo) or math.isnan(hi):
        return "CI not computable"
    return f"95% CI [{lo:.3f}, {hi:.3f}]"


def code(name: str) -> str:
    """``name`` as inline code."""
    return f"`{name}`"


def names_list(names: Sequence[str]) -> str:
    """'`a`, `b` and `c`' (names as code)."""
    items = [code(n) for n in names]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def seeds_text(n: int) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} seed" if n == 1 else f"{n} seeds"


def figure(path: Path, paper_path: Path, number: int, caption: str) -> str:
    """Markdown of figure ``number``: the image at ``path``, linked relative to the paper at
    ``paper_path``, and its caption below it."""
    rel = os.path.relpath(Path(path).resolve(), Path(paper_path).resolve().parent)
    rel = rel.replace(os.sep, "/")
    return f"![Figure {number}: {caption}]({rel})\n\n*Figure {number}. {caption}*"
