"""Numbers as ``study.md`` shows them: a point estimate and its interval always with the
same digits, and a mark (:data:`OUTSIDE`) on a point estimate that, so rounded, lies
outside its own displayed interval (a bootstrap interval need not contain the estimate of
the observed seeds), which :data:`OUTSIDE_NOTE` explains wherever the mark appears.

>>> estimate(0.1234, 0.1, 0.2)
'0.123 [0.100, 0.200]'
>>> estimate(0.3, 0.1, 0.2, sign=True)
'+0.300\u2020 [+0.100, +0.200]'
>>> number(-0.0001, sign=True)
'+0.000'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..markdown import markdown_table

OUTSIDE = "\u2020"
OUTSIDE_NOTE = (f"{OUTSIDE} The point estimate lies outside its own 95% bootstrap interval: "
                f"the interval is a percentile interval of resampled seeds, and when a few "
                f"seeds sit far from the rest the resampled statistic (an IQM or a mean) can "
                f"fall on one side of the observed one most of the time.")
DASH = "\u2014"


def _value(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def number(v, digits: int = 3, *, sign: bool = False) -> str:
    """``v`` with ``digits`` decimals (a sign when ``sign``); a dash when not a number. A
    value that rounds to zero is shown without a minus sign."""
    x = _value(v)
    if not math.isfinite(x):
        return DASH if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if round(x, digits) == 0:
        x = 0.0
    return format(x, f"{'+' if sign else ''}.{digits}f")


def interval(lo, hi, digits: int = 3, *, sign: bool = False) -> str:
    return f"[{number(lo, digits, sign=sign)}, {number(hi, digits, sign=sign)}]"


def estimate(v, lo, hi, digits: int = 3, *, sign: bool = False) -> str:
    """'v [lo, hi]' with the same digits; :data:`OUTSIDE` after ``v`` when, rounded, it
    lies outside the rounded interval."""
    if math.isnan(_value(v)):
        return DASH
    x, a, b = (round(_value(t), digits) for t in (v, lo, hi))
    mark = OUTSIDE if all(map(math.isfinite, (x, a, b))) and not a <= x <= b else ""
    return f"{number(v, digits, sign=sign)}{mark} {interval(lo, hi, digits, sign=sign)}"


def p_value(p) -> str:
    """A p-value with 3 significant digits (a dash when not computed)."""
    x = _value(p)
    return DASH if not math.isfinite(x) else format(x, ".3g")


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def table(rows: Sequence[Mapping[str, object]]) -> str:
    """A Markdown table of ``rows`` (the first row's keys as columns), string cells as they
    are: the digits are those this module gave them. '' when there are no rows."""
    return markdown_table(rows, list(rows[0]), verbatim=True) if rows else ""
